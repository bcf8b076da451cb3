/** How a send ended, as the retry policy sees it. */
export type SendOutcome =
  | { readonly kind: 'acknowledged' }
  | { readonly kind: 'network' }
  | { readonly kind: 'http'; readonly status: number; readonly retryAfter?: string | null };

/** What to do next. `permanent`: the service refused the request for good; sending it again changes nothing. */
export type Decision = 'done' | 'retry' | 'permanent';

/**
 * Network errors, 408, 429, 503 and every other 5xx are retried; every other 4xx is permanent
 * (a bad event, a closed tenant, personal data outside `personal`, a key that may not write).
 */
export function decide(outcome: SendOutcome): Decision {
  if (outcome.kind === 'acknowledged') return 'done';
  if (outcome.kind === 'network') return 'retry';
  const { status } = outcome;
  if (status >= 200 && status < 300) return 'done';
  if (status === 408 || status === 429 || status >= 500) return 'retry';
  return 'permanent';
}

export interface BackoffPolicy {
  /** First delay, ms. */
  readonly baseMs: number;
  /** No delay is longer, ms (a Retry-After too is capped by it). */
  readonly maxMs: number;
  /** Growth per attempt. */
  readonly factor: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 100, maxMs: 30_000, factor: 2 };

/**
 * Seconds or an HTTP date in a `Retry-After` header, as milliseconds from `now`; undefined when
 * absent or unreadable. A date in the past is 0.
 */
export function parseRetryAfter(header: string | null | undefined, now: number): number | undefined {
  if (header === null || header === undefined) return undefined;
  const text = header.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // An HTTP date names its day and month (RFC 9110 IMF-fixdate); bare numbers are not dates.
  const at = /^[A-Za-z]{3}, /.test(text) ? Date.parse(text) : NaN;
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

/**
 * The wait before retry number `attempt` (1 for the first retry): "full jitter", a uniform draw
 * in [0, min(max, base * factor^(attempt-1))], so many emitters that failed together do not
 * return together. When the service named a `Retry-After`, the wait is at least that (capped by
 * `maxMs`). `random` returns [0, 1).
 */
export function backoffDelay(
  attempt: number,
  policy: BackoffPolicy = DEFAULT_BACKOFF,
  random: () => number = Math.random,
  retryAfterMs?: number,
): number {
  if (!Number.isInteger(attempt) || attempt < 1) throw new RangeError('attempt counts from 1');
  const ceiling = Math.min(policy.maxMs, policy.baseMs * policy.factor ** (attempt - 1));
  const jittered = Math.floor(random() * ceiling);
  if (retryAfterMs === undefined) return jittered;
  return Math.min(policy.maxMs, Math.max(jittered, retryAfterMs));
}
