import fc from 'fast-check';
import { Admission, TokenBuckets } from './rate-limit';

const refused = (retryAfterSeconds: number): Admission => ({ admitted: false, retryAfterSeconds });

describe('TokenBuckets', () => {
  it('admits a full burst at once, then refuses with the seconds until the next token', () => {
    const buckets = new TokenBuckets();
    const limit = { perSecond: 2, burst: 3 };
    for (let i = 0; i < 3; i++) expect(buckets.take('k', limit, 0).admitted).toBe(true);
    expect(buckets.take('k', limit, 0)).toEqual(refused(1));
    expect(buckets.take('k', limit, 499)).toEqual(refused(1));
    expect(buckets.take('k', limit, 500).admitted).toBe(true);
    expect(buckets.take('k', limit, 500).admitted).toBe(false);
  });

  it('says how long a slow bucket needs, in whole seconds', () => {
    const buckets = new TokenBuckets();
    const limit = { perSecond: 0.25, burst: 1 };
    expect(buckets.take('k', limit, 0).admitted).toBe(true);
    expect(buckets.take('k', limit, 0)).toEqual(refused(4));
    expect(buckets.take('k', limit, 1_000)).toEqual(refused(3));
    expect(buckets.take('k', limit, 3_500)).toEqual(refused(1));
    expect(buckets.take('k', limit, 4_000).admitted).toBe(true);
  });

  it('keeps ids apart', () => {
    const buckets = new TokenBuckets();
    const limit = { perSecond: 1, burst: 1 };
    expect(buckets.take('a', limit, 0).admitted).toBe(true);
    expect(buckets.take('a', limit, 0).admitted).toBe(false);
    expect(buckets.take('b', limit, 0).admitted).toBe(true);
  });

  it('refills nothing when the clock steps back', () => {
    const buckets = new TokenBuckets();
    const limit = { perSecond: 1, burst: 1 };
    expect(buckets.take('k', limit, 10_000).admitted).toBe(true);
    expect(buckets.take('k', limit, 0).admitted).toBe(false);
    expect(buckets.take('k', limit, 10_999).admitted).toBe(false);
    expect(buckets.take('k', limit, 11_000).admitted).toBe(true);
  });

  it('drops buckets that are full again', () => {
    const buckets = new TokenBuckets({ sweepIntervalMs: 1_000 });
    const limit = { perSecond: 10, burst: 10 };
    buckets.take('a', limit, 0);
    buckets.take('b', limit, 0);
    expect(buckets.size).toBe(2);
    buckets.take('c', limit, 1_000);
    expect(buckets.size).toBe(1);
  });

  it('holds at most maxBuckets, dropping the least recently used', () => {
    const buckets = new TokenBuckets({ maxBuckets: 2 });
    const limit = { perSecond: 1, burst: 1 };
    buckets.take('a', limit, 0);
    buckets.take('b', limit, 0);
    buckets.take('a', limit, 0);
    buckets.take('c', limit, 0);
    expect(buckets.size).toBe(2);
    expect(buckets.take('a', limit, 0).admitted).toBe(false);
    // 'b' was dropped, so it starts full.
    expect(buckets.take('b', limit, 0).admitted).toBe(true);
  });

  it('refuses a limit it cannot honour', () => {
    expect(() => new TokenBuckets().take('k', { perSecond: 0, burst: 1 }, 0)).toThrow(RangeError);
    expect(() => new TokenBuckets().take('k', { perSecond: 1, burst: 0.5 }, 0)).toThrow(RangeError);
  });

  const limits = fc.record({
    perSecond: fc.double({ min: 0.01, max: 5_000, noNaN: true }),
    burst: fc.integer({ min: 1, max: 5_000 }),
  });
  const gaps = fc.array(fc.integer({ min: 0, max: 2_000 }), { minLength: 1, maxLength: 300 });

  it('never admits more than burst + perSecond × elapsed', () => {
    fc.assert(
      fc.property(limits, gaps, (limit, steps) => {
        // A short sweep interval, so dropping full buckets is exercised too.
        const buckets = new TokenBuckets({ sweepIntervalMs: 500 });
        let now = 1_000_000;
        let admitted = 0;
        for (const gap of steps) {
          now += gap;
          if (buckets.take('k', limit, now).admitted) admitted++;
        }
        const elapsedSeconds = (now - 1_000_000) / 1000;
        expect(admitted).toBeLessThanOrEqual(limit.burst + limit.perSecond * elapsedSeconds + 1e-6);
      }),
    );
  });

  it('admits again once Retry-After has passed, and not much before', () => {
    fc.assert(
      fc.property(limits, gaps, (limit, steps) => {
        const buckets = new TokenBuckets();
        let now = 0;
        for (const gap of steps) {
          now += gap;
          const admission = buckets.take('k', limit, now);
          if (admission.admitted) continue;
          expect(Number.isInteger(admission.retryAfterSeconds)).toBe(true);
          expect(admission.retryAfterSeconds).toBeGreaterThanOrEqual(1);
          // Rounded up to whole seconds, so at most one second (or 1/perSecond) too long.
          expect(admission.retryAfterSeconds).toBeLessThanOrEqual(Math.ceil(1 / limit.perSecond) + 1);
          expect(buckets.take('k', limit, now + admission.retryAfterSeconds * 1000).admitted).toBe(true);
          now += admission.retryAfterSeconds * 1000;
        }
      }),
    );
  });
});
