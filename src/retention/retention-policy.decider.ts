import { Principal, actorOf } from '../access';
import {
  ComplianceMinimumError,
  ComplianceModeError,
  ReasonRequiredError,
  RetentionPeriodError,
} from './retention.errors';

/**
 * Retention policies as plain functions (docs/domain.md "Retention and deletion jobs"): the rules
 * for changing a policy, and the two clocks the deletion worker reads. No clock, storage or
 * framework inside: time and state are passed in. Every retention clock runs on the
 * entry's `recordedAt` (the service's time), never on `occurredAt`, which the emitter chose.
 */

export const RETENTION_MODES = ['compliance', 'governance'] as const;
/** `compliance`: the minimum can never be shortened, by anyone. `governance`: an admin can, with a reason. */
export type RetentionMode = (typeof RETENTION_MODES)[number];

/** A day of retention: 24 hours of UTC, so a period never depends on time zones or DST. */
export const DAY_MS = 86_400_000;

/** What a policy says about one category. */
export interface RetentionTerms {
  /** Days after `recordedAt` during which personal data may not be erased; an integer ≥ 0. */
  readonly minDays: number;
  /** Days after `recordedAt` after which personal data is purged automatically; null: never. ≥ minDays. */
  readonly maxDays: number | null;
  readonly mode: RetentionMode;
}

export interface RetentionPolicy extends RetentionTerms {
  readonly category: string;
}

/** A requested change: the new terms, and why (required when it shortens the minimum). */
export interface PolicyChange extends RetentionTerms {
  readonly reason?: string;
}

export interface RetentionPolicyChanged {
  readonly type: 'retention.policy_changed';
  readonly category: string;
  readonly before: RetentionTerms;
  readonly after: RetentionTerms;
  /** The reason given, or null (a change that does not shorten the minimum may give none). */
  readonly reason: string | null;
  /** The acting key (`api_key`) or operator, as the ledger entry's actor. */
  readonly by: { readonly type: string; readonly id: string };
  readonly at: string;
}

/** Event type strings are permanent record. */
export type RetentionEvent = RetentionPolicyChanged;

export function termsOf(policy: RetentionTerms): RetentionTerms {
  return { minDays: policy.minDays, maxDays: policy.maxDays, mode: policy.mode };
}

function sameTerms(a: RetentionTerms, b: RetentionTerms): boolean {
  return a.minDays === b.minDays && a.maxDays === b.maxDays && a.mode === b.mode;
}

/** Refuses terms that cannot be a policy (the same rule the table's CHECKs enforce). */
export function assertValidTerms(terms: RetentionTerms): void {
  if (!Number.isSafeInteger(terms.minDays) || terms.minDays < 0)
    throw new RetentionPeriodError('/minDays', 'must be a whole number of days, 0 or more');
  if (terms.maxDays === null) return;
  if (!Number.isSafeInteger(terms.maxDays) || terms.maxDays < 0)
    throw new RetentionPeriodError('/maxDays', 'must be a whole number of days, or null');
  if (terms.maxDays < terms.minDays)
    throw new RetentionPeriodError(
      '/maxDays',
      `must be at least minDays (${terms.minDays}), or null for no automatic purge`,
    );
}

/**
 * A change of `current` to `change`, by `by` at `now`. Returns no event when nothing changes (a
 * repeated PUT records nothing). Throws, in this order:
 * - RetentionPeriodError: minDays not an integer ≥ 0, maxDays neither null nor an integer ≥ minDays;
 * - ComplianceMinimumError: a compliance minimum shortened (whatever the reason, whoever asks);
 * - ComplianceModeError: a compliance policy switched to governance;
 * - ReasonRequiredError: a governance minimum shortened without a reason.
 * Lengthening, setting maxDays and governance → compliance need no reason (one is recorded if given).
 * Who may ask at all (admins) is the route's permission, not this function's.
 */
export function decideChange(
  by: Principal,
  current: RetentionPolicy,
  change: PolicyChange,
  now: Date,
): RetentionEvent[] {
  const after = termsOf(change);
  assertValidTerms(after);
  if (sameTerms(current, after)) return [];
  const shortens = after.minDays < current.minDays;
  if (current.mode === 'compliance') {
    if (shortens) throw new ComplianceMinimumError(current.category, current.minDays);
    if (after.mode !== 'compliance') throw new ComplianceModeError(current.category);
  }
  const reason = change.reason?.trim() ? change.reason : null;
  if (shortens && reason === null) throw new ReasonRequiredError(current.minDays);
  return [
    {
      type: 'retention.policy_changed',
      category: current.category,
      before: termsOf(current),
      after,
      reason,
      by: actorOf(by),
      at: now.toISOString(),
    },
  ];
}

export function evolve(policy: RetentionPolicy, event: RetentionEvent): RetentionPolicy {
  switch (event.type) {
    case 'retention.policy_changed':
      return { category: policy.category, ...event.after };
    default: {
      const never: never = event.type;
      throw new Error(`unknown retention event ${String(never)}`);
    }
  }
}

function timeOf(recordedAt: string): number {
  const ms = Date.parse(recordedAt);
  if (Number.isNaN(ms)) throw new RangeError(`not a time: ${recordedAt}`);
  return ms;
}

/**
 * The instant before which the personal data of an entry recorded at `recordedAt` may not be
 * erased: `recordedAt` + `minDays` days, RFC 3339 UTC with milliseconds. Always an instant, also
 * when it has passed (then erasure is allowed; compare it with now). Requires `recordedAt` to be an
 * RFC 3339 time (the entry's `recordedAt`, never its `occurredAt`); throws RangeError otherwise.
 */
export function minimumUntil(policy: RetentionTerms, recordedAt: string): string {
  return new Date(timeOf(recordedAt) + policy.minDays * DAY_MS).toISOString();
}

/**
 * The instant from which the personal data of an entry recorded at `recordedAt` is due for the
 * automatic purge: `recordedAt` + `maxDays` days; null when the policy never purges (maxDays null).
 * Same precondition as `minimumUntil`.
 */
export function purgeAt(policy: RetentionTerms, recordedAt: string): string | null {
  return policy.maxDays === null ? null : new Date(timeOf(recordedAt) + policy.maxDays * DAY_MS).toISOString();
}

/**
 * Whether the maximum of `policy` has run out at `now` for an entry recorded at `recordedAt`
 * (`now` ≥ `purgeAt`, inclusive), so the purge should erase its personal data unless a hold keeps
 * it. Never true before the minimum ran out, even for terms that break maxDays ≥ minDays. Same
 * precondition as `minimumUntil`.
 */
export function purgeDue(policy: RetentionTerms, recordedAt: string, now: Date): boolean {
  const at = purgeAt(policy, recordedAt);
  return (
    at !== null && now.getTime() >= Date.parse(at) && now.getTime() >= Date.parse(minimumUntil(policy, recordedAt))
  );
}
