import fc from 'fast-check';
import { DEFAULT_BACKOFF, backoffDelay, decide, parseRetryAfter } from './retry-policy';

describe('which answers are retried', () => {
  it('retries network errors, 408, 429, 503 and every other 5xx', () => {
    expect(decide({ kind: 'network' })).toBe('retry');
    for (const status of [408, 429, 500, 502, 503, 504, 599]) expect(decide({ kind: 'http', status })).toBe('retry');
  });

  it('never retries another 4xx: the same request would be refused again', () => {
    for (const status of [400, 401, 403, 404, 409, 413, 415, 422])
      expect(decide({ kind: 'http', status })).toBe('permanent');
    fc.assert(
      fc.property(fc.integer({ min: 400, max: 499 }), (status) => {
        const d = decide({ kind: 'http', status });
        return status === 408 || status === 429 ? d === 'retry' : d === 'permanent';
      }),
    );
  });

  it('is done on an acknowledgement', () => {
    expect(decide({ kind: 'acknowledged' })).toBe('done');
    expect(decide({ kind: 'http', status: 201 })).toBe('done');
  });
});

describe('backoff', () => {
  const policy = { baseMs: 100, maxMs: 10_000, factor: 2 };

  it('grows exponentially, with full jitter below the ceiling', () => {
    expect(backoffDelay(1, policy, () => 0.999999)).toBe(99);
    expect(backoffDelay(2, policy, () => 0.999999)).toBe(199);
    expect(backoffDelay(4, policy, () => 0.999999)).toBe(799);
    expect(backoffDelay(4, policy, () => 0)).toBe(0);
    expect(backoffDelay(4, policy, () => 0.5)).toBe(400);
  });

  it('never exceeds the cap, never goes negative, whatever the attempt and the draw', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2000 }), fc.double({ min: 0, max: 0.9999999, noNaN: true }), (n, r) => {
        const d = backoffDelay(n, policy, () => r);
        return d >= 0 && d <= policy.maxMs && Number.isInteger(d);
      }),
    );
  });

  it('spreads emitters that failed together (the jitter is drawn)', () => {
    const draws = new Set(Array.from({ length: 50 }, () => backoffDelay(6, DEFAULT_BACKOFF)));
    expect(draws.size).toBeGreaterThan(10);
  });

  it("waits at least the service's Retry-After, capped by the maximum", () => {
    expect(backoffDelay(1, policy, () => 0, 3_000)).toBe(3_000);
    expect(backoffDelay(1, policy, () => 0, 60_000)).toBe(10_000);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 30 }), fc.integer({ min: 0, max: 9_000 }), (n, after) => {
        return backoffDelay(n, policy, Math.random, after) >= after;
      }),
    );
  });

  it('counts attempts from 1', () => {
    expect(() => backoffDelay(0, policy)).toThrow(RangeError);
  });
});

describe('Retry-After', () => {
  const now = Date.parse('2026-12-04T10:00:00Z');
  it('reads seconds and HTTP dates', () => {
    expect(parseRetryAfter('7', now)).toBe(7_000);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
    expect(parseRetryAfter('Fri, 04 Dec 2026 10:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Fri, 04 Dec 2026 09:00:00 GMT', now)).toBe(0);
  });
  it('ignores what is absent or unreadable', () => {
    expect(parseRetryAfter(null, now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter('-3', now)).toBeUndefined();
  });
});
