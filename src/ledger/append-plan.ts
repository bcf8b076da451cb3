import { JsonValue, LeafTemplate, LedgerEntry, StoredNode, TreeBuilder, leafHash, prevLink } from '@audit/ledger';
import { EntryRow, LogHead } from './log-store';

/** Personal data planned beside an entry, in clear: sealed by the sequencer before it is written. */
export interface PlannedPersonal {
  readonly idx: number;
  readonly subject: string;
  readonly salt: Buffer;
  readonly data: unknown;
}

/** The `source` of the entries the service writes about its own work (keys, reads, holds). */
export const SERVICE_SOURCE = 'audit-trail';

/** An event ready to be sequenced: validated, attributed to its source, personal data salted. */
export interface EventToAppend extends Pick<
  LedgerEntry,
  'log' | 'source' | 'type' | 'category' | 'actor' | 'target' | 'outcome' | 'context'
> {
  /** The emitter's time, RFC 3339 UTC with milliseconds; the recorded time when absent. */
  readonly occurredAt?: string;
  readonly personal?: {
    readonly subject: string;
    readonly data: JsonValue;
    readonly salt: Buffer;
    readonly digest: string;
  };
  readonly idempotency?: { readonly key: string; readonly digest: Buffer };
}

/** What an append acknowledges for one event. */
export interface AppendedEntry {
  readonly id: string;
  readonly log: string;
  readonly index: number;
  readonly leafHash: string;
  readonly recordedAt: string;
  /** The leaf bytes, standard base64: the emitter checks leafHash = SHA-256(0x00 ‖ leaf) and the members. */
  readonly leaf: string;
}

/** The rows one append writes, the new head, and the acknowledgement of each event. */
export interface AppendPlan {
  readonly entries: EntryRow[];
  readonly personal: PlannedPersonal[];
  readonly head: LogHead;
  readonly appended: AppendedEntry[];
}

/**
 * The leaf of `event` with its position open (the one place an event becomes leaf members).
 * Checks the members as encodeLeaf does. Made when the event arrives, for its size check
 * (event-request.ts), and again when the plan places it: kept with the event in between (a
 * WeakMap), its text lived through the queue and cost more garbage collection than the second
 * pass costs (service CPU per event 7-15% higher under batches, measured).
 */
export function leafTemplateOf(event: EventToAppend): LeafTemplate {
  return LeafTemplate.of({
    log: event.log,
    source: event.source,
    type: event.type,
    category: event.category,
    actor: event.actor,
    ...(event.target ? { target: event.target } : {}),
    outcome: event.outcome,
    ...(event.occurredAt !== undefined ? { occurredAt: event.occurredAt } : {}),
    ...(event.context ? { context: event.context } : {}),
    ...(event.personal ? { personal: { subject: event.personal.subject, digest: event.personal.digest } } : {}),
  });
}

/**
 * Plans the append of `events` (all of one log) after `head`: indices, chain links, leaves, the
 * tree nodes each leaf completes and the new head. Pure: the time and the id source are passed
 * in. `recordedAt` is `now`, or the head's last time when the clock went backwards, so it never
 * decreases within a log.
 */
export function planAppend(
  head: LogHead,
  events: readonly EventToAppend[],
  now: Date,
  newId: () => string,
): AppendPlan {
  const last = head.lastRecordedAt;
  const recorded = last !== null && last.getTime() > now.getTime() ? last : now;
  const recordedAt = recorded.toISOString();
  const tree = TreeBuilder.resume(head.size, head.frontier);
  const entries: EntryRow[] = [];
  const personal: PlannedPersonal[] = [];
  const appended: AppendedEntry[] = [];
  let previous = head.lastLeafHash;
  const completed: StoredNode[] = [];
  for (const event of events) {
    const index = tree.size;
    const prev = prevLink(previous);
    const id = newId();
    const leaf = leafTemplateOf(event).leafAt({ index, prev, id, recordedAt });
    const hash = leafHash(leaf);
    completed.length = 0;
    tree.append(hash, completed);
    entries.push({
      idx: index,
      id,
      recordedAt,
      prev: previous ?? Buffer.alloc(32),
      leafHash: hash,
      // completed[0] is the leaf itself; the rest are interior nodes, lowest level first.
      treeNodes: Buffer.concat(completed.slice(1).map((n) => n.hash)),
      leaf,
    });
    if (event.personal)
      personal.push({
        idx: index,
        subject: event.personal.subject,
        salt: event.personal.salt,
        data: event.personal.data,
      });
    appended.push({
      id,
      log: head.log,
      index,
      leafHash: hash.toString('base64'),
      recordedAt,
      leaf: leaf.toString('base64'),
    });
    previous = hash;
  }
  return {
    entries,
    personal,
    appended,
    head: {
      ...head,
      size: tree.size,
      root: tree.root(),
      frontier: tree.frontierHashes(),
      lastLeafHash: previous,
      lastRecordedAt: events.length > 0 ? recorded : head.lastRecordedAt,
    },
  };
}

/**
 * Events planned (leaves encoded, hashed, tree nodes) or sealed in one turn of the event loop. A
 * statement of thousands of events planned in one turn kept timers (the checkpoint signer's)
 * waiting for a large part of a second; between chunks other work runs. The logs stay busy and
 * nothing is written before every chunk is planned, so order and all-or-nothing are unchanged.
 */
export const PLAN_CHUNK = 250;

/**
 * `planAppend` of `events` in chunks of PLAN_CHUNK with a turn of the event loop between them:
 * each chunk resumes from the head the previous one planned, which is exactly what one pass
 * computes (same time, since a chunk's head carries the time the first one recorded).
 */
export async function planAppendInTurns(
  head: LogHead,
  events: readonly EventToAppend[],
  now: Date,
  newId: () => string,
  turn: () => Promise<void> = () => new Promise<void>((resolve) => setImmediate(resolve)),
): Promise<AppendPlan> {
  if (events.length <= PLAN_CHUNK) return planAppend(head, events, now, newId);
  const plan: AppendPlan = { entries: [], personal: [], appended: [], head };
  let at = head;
  for (let from = 0; from < events.length; from += PLAN_CHUNK) {
    if (from > 0) await turn();
    const part = planAppend(at, events.slice(from, from + PLAN_CHUNK), now, newId);
    for (const row of part.entries) plan.entries.push(row);
    for (const row of part.personal) plan.personal.push(row);
    for (const ack of part.appended) plan.appended.push(ack);
    at = part.head;
  }
  return { ...plan, head: at };
}
