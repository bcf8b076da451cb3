import { LOG_NAME_PATTERN } from '@audit/ledger';

/**
 * Every kind of notification. Strings are permanent record for receivers: add new ones, never
 * rename one. A new kind is one more member here (and a line in docs/api.md).
 */
export const NOTIFICATION_TYPES = [
  'hold.placed',
  'hold.amended',
  'hold.released',
  'deletion.blocked',
  'ledger.rollback_acknowledged',
] as const;
export type NotificationType = (typeof NOTIFICATION_TYPES)[number];

/**
 * Something that happened which legal and security tools should hear about, as handed to
 * `Notifier.notify`.
 *
 * NO PERSONAL DATA, EVER: only ids, types, times and ledger positions. No names, emails, IP
 * addresses, user agents, matter descriptions, reasons or other free text, and no data-subject
 * ids. Notifications leave the service (to the webhook) and wait in Redis in clear text; a
 * receiver that wants details reads them through the API with its own key, which is recorded.
 * Only the members below are delivered: anything else on the object is dropped.
 */
export interface Notification {
  readonly type: NotificationType;
  /**
   * Unique id of the thing that happened, such as the id of its ledger entry. It is the BullMQ
   * job id and the `x-audit-delivery` header: notifying twice with one id delivers once (while
   * the first job is kept, 7 days). 1–200 characters of `A-Z a-z 0-9 . _ -`, not only digits.
   */
  readonly id: string;
  /** The tenant concerned (a log name), or `*` for a hold on every tenant or the whole ledger. */
  readonly tenant: string;
  /** When it happened, RFC 3339 (the ledger entry's `recordedAt`). */
  readonly at: string;
  /**
   * What the notification is about: `{type: 'hold', id}`, `{type: 'deletion_request', id}`,
   * `{type: 'checkpoint_mirror', id: '_superseded/<time>'}`.
   * Never a person: "subject" here is not the data subject of an erasure.
   */
  readonly subjectRef: { readonly type: string; readonly id: string };
  /** The ledger entry that records it, for receivers that verify it with a proof. */
  readonly ledger?: { readonly log: string; readonly index: number };
}

/** The JSON body of a delivery: the notification's members in a fixed order, with a format version. */
export interface NotificationPayload extends Notification {
  readonly v: 1;
}

/** A notification that does not meet the rules above: a programming error of the caller. */
export class InvalidNotificationError extends Error {
  readonly code = 'invalid_notification';

  constructor(readonly problems: string[]) {
    super(`invalid notification: ${problems.join('; ')}`);
    this.name = 'InvalidNotificationError';
  }
}

const ID = /^(?!\d+$)[A-Za-z0-9._-]{1,200}$/;
const REF_TYPE = /^[a-z][a-z0-9_.-]{0,63}$/;
const REF_ID = /^[\x21-\x7e]{1,256}$/;
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/**
 * The payload delivered for a notification: validated, its known members copied in a fixed order
 * (so the body is the same bytes wherever it is built), everything else dropped.
 * Throws InvalidNotificationError naming every bad member.
 */
export function notificationPayload(n: Notification): NotificationPayload {
  const problems: string[] = [];
  const input = n as unknown as Record<string, unknown>;
  if (!(NOTIFICATION_TYPES as readonly unknown[]).includes(input.type))
    problems.push(`type must be one of ${NOTIFICATION_TYPES.join(', ')}`);
  if (typeof input.id !== 'string' || !ID.test(input.id))
    problems.push('id must be 1-200 characters of A-Z a-z 0-9 . _ - and not only digits');
  if (typeof input.tenant !== 'string' || !(input.tenant === '*' || LOG_NAME_PATTERN.test(input.tenant)))
    problems.push('tenant must be a log name or *');
  if (typeof input.at !== 'string' || !RFC3339.test(input.at) || Number.isNaN(Date.parse(input.at)))
    problems.push('at must be an RFC 3339 time');
  const ref = input.subjectRef;
  if (
    !isObject(ref) ||
    typeof ref.type !== 'string' ||
    !REF_TYPE.test(ref.type) ||
    typeof ref.id !== 'string' ||
    !REF_ID.test(ref.id)
  ) {
    problems.push(
      'subjectRef must be {type, id} with type ^[a-z][a-z0-9_.-]{0,63}$ and id 1-256 printable ASCII characters',
    );
  }
  const ledger = input.ledger;
  if (
    ledger !== undefined &&
    (!isObject(ledger) ||
      typeof ledger.log !== 'string' ||
      !LOG_NAME_PATTERN.test(ledger.log) ||
      !Number.isSafeInteger(ledger.index) ||
      (ledger.index as number) < 0)
  ) {
    problems.push('ledger must be {log, index} with a log name and an index from 0');
  }
  if (problems.length > 0) throw new InvalidNotificationError(problems);
  return {
    v: 1,
    type: n.type,
    id: n.id,
    tenant: n.tenant,
    at: n.at,
    subjectRef: { type: n.subjectRef.type, id: n.subjectRef.id },
    ...(n.ledger ? { ledger: { log: n.ledger.log, index: n.ledger.index } } : {}),
  };
}
