import { JsonValue, LedgerEntry, PLATFORM_LOG, personalDigest } from '@audit/ledger';
import { randomBytes } from 'node:crypto';
import { EventToAppend, SERVICE_SOURCE } from '../ledger';
import { EntryRef, SubjectRequestEvent } from './subject-request.decider';

/**
 * Subject-request events as ledger entries of the service (category `privacy`, type the event
 * type), all in the `platform` log: a request may span tenants, and its record must outlive an
 * erasure of them. The subject is personal: it is the entry's `personal.subject`, beside the leaf
 * and erasable, never in `context` or `target`; the reason is recorded as given (the caller must
 * not put personal data in it).
 */
export const PRIVACY_CATEGORY = 'privacy';

/** The type of the entry that corrects another (written to the corrected entry's log). */
export const CORRECTION_TYPE = 'audit.correction';

function personalOf(subject: string, data: { [member: string]: JsonValue }): NonNullable<EventToAppend['personal']> {
  const salt = randomBytes(32);
  return { subject, data, salt, digest: personalDigest(salt, data) };
}

function json(value: unknown): JsonValue {
  return JSON.parse(JSON.stringify(value)) as JsonValue;
}

/** The entry of `event` on the request about `subject`, acting as `actor`. */
export function subjectRequestEntry(
  event: SubjectRequestEvent,
  subject: string,
  actor: { type: string; id: string },
): EventToAppend {
  const { type, id, at, ...rest } = event;
  const context: { [member: string]: JsonValue } = {};
  for (const [member, value] of Object.entries(rest)) if (member !== 'subject') context[member] = json(value);
  return {
    log: PLATFORM_LOG,
    source: SERVICE_SOURCE,
    type,
    category: PRIVACY_CATEGORY,
    actor,
    target: { type: 'subject_request', id },
    outcome: 'success',
    occurredAt: at,
    context,
    personal: personalOf(subject, { subject }),
  };
}

/**
 * The correction of `corrects` (an entry of `corrects.log` with service id `originalId` and leaf
 * hash `leafHash`), carrying the corrected personal data of `subject`. The original never changes:
 * reads of it find this entry by its target (the original's id).
 */
export function correctionEntry(
  request: string,
  corrects: EntryRef & { readonly id: string; readonly leafHash: string },
  subject: string,
  data: { [member: string]: JsonValue },
  actor: { type: string; id: string },
  at: string,
): EventToAppend {
  return {
    log: corrects.log,
    source: SERVICE_SOURCE,
    type: CORRECTION_TYPE,
    category: PRIVACY_CATEGORY,
    actor,
    target: { type: 'event', id: corrects.id },
    outcome: 'success',
    occurredAt: at,
    context: { corrects: { log: corrects.log, index: corrects.index, leafHash: corrects.leafHash }, request },
    personal: personalOf(subject, data),
  };
}

/**
 * The event an entry of a subject request records (a `privacy.*` entry of the `platform` log), with
 * the subject from its `personal.subject`. Requires such an entry.
 */
export function fromSubjectRequestEntry(entry: LedgerEntry): SubjectRequestEvent {
  const base = { ...(entry.context ?? {}), id: (entry.target as { id: string }).id, at: entry.occurredAt };
  switch (entry.type) {
    case 'privacy.request.received':
      return { ...base, type: entry.type, subject: entry.personal?.subject } as unknown as SubjectRequestEvent;
    case 'privacy.erasure.parts_opened':
    case 'privacy.rectification.corrected':
    case 'privacy.access.delivered':
      return { ...base, type: entry.type } as unknown as SubjectRequestEvent;
    default:
      throw new Error(`entry ${entry.log}/${entry.index} is not a subject request event (${entry.type})`);
  }
}
