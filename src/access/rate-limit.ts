/**
 * Token buckets, one per caller id, framework-free: the caller passes the time in, so the
 * arithmetic is testable without a clock. A bucket holds up to `burst` tokens, refills at
 * `perSecond` tokens a second, and each admitted request takes one.
 */

/** A bucket's shape: requires `perSecond > 0` and `burst >= 1`. */
export interface BucketLimit {
  readonly perSecond: number;
  readonly burst: number;
}

/** Admitted, or refused with the whole seconds (at least 1) after which a request is admitted again. */
export type Admission = { readonly admitted: true } | { readonly admitted: false; readonly retryAfterSeconds: number };

interface Bucket {
  tokens: number;
  updatedMs: number;
  /** When the bucket is full again if nothing more is taken; from then on it equals no bucket. */
  fullAtMs: number;
}

// Float refill can land a hair under a whole token exactly when Retry-After said it would be there.
const EPSILON = 1e-9;
const ADMITTED: Admission = { admitted: true };

export interface TokenBucketsOptions {
  /** Most buckets kept; past it the least recently used ones go (that caller starts full again). */
  readonly maxBuckets?: number;
  /** How often, at most, full buckets are swept out. */
  readonly sweepIntervalMs?: number;
}

/**
 * Buckets by id with bounded memory: a bucket that has refilled to full is indistinguishable
 * from a new one and is dropped by a periodic sweep; past `maxBuckets` the least recently used
 * bucket is dropped too. Time only moves forward: a clock that steps back refills nothing.
 */
export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();
  private readonly maxBuckets: number;
  private readonly sweepIntervalMs: number;
  private lastSweepMs = -Infinity;

  constructor(options: TokenBucketsOptions = {}) {
    this.maxBuckets = options.maxBuckets ?? 100_000;
    this.sweepIntervalMs = options.sweepIntervalMs ?? 10_000;
    if (!(this.maxBuckets >= 1)) throw new RangeError('maxBuckets must be at least 1');
  }

  /** Takes one token from `id`'s bucket at `nowMs` (milliseconds, any epoch, same for every call). */
  take(id: string, limit: BucketLimit, nowMs: number): Admission {
    if (!(limit.perSecond > 0) || !(limit.burst >= 1))
      throw new RangeError('a bucket needs perSecond > 0 and burst >= 1');
    if (nowMs - this.lastSweepMs >= this.sweepIntervalMs) this.sweep(nowMs);
    const found = this.buckets.get(id);
    let bucket: Bucket;
    if (found === undefined) {
      bucket = { tokens: limit.burst, updatedMs: nowMs, fullAtMs: nowMs };
    } else {
      bucket = found;
      const elapsedMs = Math.max(0, nowMs - bucket.updatedMs);
      bucket.tokens = Math.min(limit.burst, bucket.tokens + (elapsedMs * limit.perSecond) / 1000);
      bucket.updatedMs = Math.max(bucket.updatedMs, nowMs);
      // Delete and set again so that Map order is least recently used first.
      this.buckets.delete(id);
    }
    let admission: Admission;
    if (bucket.tokens >= 1 - EPSILON) {
      bucket.tokens -= 1;
      admission = ADMITTED;
    } else {
      admission = { admitted: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / limit.perSecond)) };
    }
    bucket.fullAtMs = bucket.updatedMs + ((limit.burst - bucket.tokens) / limit.perSecond) * 1000;
    while (this.buckets.size >= this.maxBuckets) this.buckets.delete(this.buckets.keys().next().value as string);
    this.buckets.set(id, bucket);
    return admission;
  }

  /** How many buckets are held (for tests and metrics). */
  get size(): number {
    return this.buckets.size;
  }

  /** Drops every bucket that is full again at `nowMs`. */
  sweep(nowMs: number): void {
    this.lastSweepMs = nowMs;
    for (const [id, bucket] of this.buckets) if (bucket.fullAtMs <= nowMs) this.buckets.delete(id);
  }
}
