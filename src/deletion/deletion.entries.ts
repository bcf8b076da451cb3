import { LedgerEntry, PLATFORM_LOG } from '@audit/ledger';
import type { EventToAppend } from '../ledger';
import { SERVICE_SOURCE } from '../ledger';
import type { DeletionActor, DeletionEvent, DeletionKind, OutcomeEventType } from './deletion-request.decider';
import type { BlockReason } from './erasure-plan';

/**
 * The deletion request's ledger entries (category `deletion`): the decider's events that the
 * ledger is told of, and back. Their shape is permanent record: fields are only ever added.
 */

type RequestedEvent = Extract<DeletionEvent, { type: 'deletion.requested' }>;
type OutcomeEvent = Extract<DeletionEvent, { type: OutcomeEventType }>;

const OUTCOMES: readonly string[] = ['deletion.completed', 'deletion.partially_blocked', 'deletion.blocked'];

/** The events the ledger hears of; the others (started, finished, failed, requeued) change the row only. */
export function isOutcomeEvent(event: DeletionEvent): event is OutcomeEvent {
  return OUTCOMES.includes(event.type);
}

const logOf = (tenant: string) => (tenant === '*' ? PLATFORM_LOG : tenant);

export function requestedEntry(event: RequestedEvent, actor: { type: string; id: string }): EventToAppend {
  return {
    log: logOf(event.tenant),
    source: SERVICE_SOURCE,
    type: event.type,
    category: 'deletion',
    actor,
    target: { type: 'deletion_request', id: event.id },
    outcome: 'success',
    // requestedBy and requestedAt were added so that the row can be rebuilt from the ledger: the
    // actor lacks a key's name, and the entry's recordedAt is the sequencer's time, not the request's.
    context: {
      kind: event.kind,
      reason: event.reason,
      ...(event.subject !== null ? { subject: event.subject } : {}),
      requestedBy: { keyId: event.requestedBy.keyId, name: event.requestedBy.name },
      requestedAt: event.at,
    },
  };
}

export function outcomeEntry(event: OutcomeEvent, tenant: string, kind: DeletionKind): EventToAppend {
  return {
    log: logOf(tenant),
    source: SERVICE_SOURCE,
    type: event.type,
    category: 'deletion',
    actor: { type: 'service', id: 'deletion-worker' },
    target: { type: 'deletion_request', id: event.id },
    outcome: 'success',
    context: {
      kind,
      erased: event.erased,
      blocked: event.blocked,
      blockedBy: JSON.parse(JSON.stringify(event.blockedBy)) as BlockReason[],
      receiptDigest: event.receiptDigest,
    },
  };
}

interface RequestedContext {
  kind: DeletionKind;
  reason: string;
  subject?: string;
  requestedBy?: DeletionActor;
  requestedAt?: string;
}

interface OutcomeContext {
  erased: number;
  blocked: number;
  blockedBy: BlockReason[];
  receiptDigest: string | null;
}

/**
 * The decider's event of a ledger entry of category `deletion`. Entries written before
 * `requestedBy`/`requestedAt` were in the context give the actor's id as the name and the entry's
 * time as the request's: the best the ledger knows of them.
 */
export function fromDeletionEntry(entry: LedgerEntry): DeletionEvent {
  const id = (entry.target as { id: string }).id;
  const tenant = entry.log === PLATFORM_LOG ? '*' : entry.log;
  if (entry.type === 'deletion.requested') {
    const c = entry.context as unknown as RequestedContext;
    const actor = entry.actor as { type: string; id: string };
    return {
      type: 'deletion.requested',
      id,
      tenant,
      kind: c.kind,
      subject: c.subject ?? null,
      reason: c.reason,
      requestedBy: c.requestedBy ?? { keyId: actor.type === 'api_key' ? actor.id : null, name: actor.id },
      at: c.requestedAt ?? entry.recordedAt,
    };
  }
  if (OUTCOMES.includes(entry.type)) {
    const c = entry.context as unknown as OutcomeContext;
    return {
      type: entry.type as OutcomeEventType,
      id,
      erased: c.erased,
      blocked: c.blocked,
      blockedBy: c.blockedBy,
      receiptDigest: c.receiptDigest,
      at: entry.recordedAt,
    };
  }
  throw new Error(`unknown deletion entry type ${entry.type}`);
}
