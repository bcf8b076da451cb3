import fc from 'fast-check';
import { DeliveryRefusedError, failureMessage, givesUp, retryDelayMs } from './delivery-backoff';

describe('delivery backoff', () => {
  it('doubles per failure, capped, with the wait in [½, 1] of the ceiling', () => {
    expect(retryDelayMs(1, 1000, 60_000, 1)).toBe(1000);
    expect(retryDelayMs(1, 1000, 60_000, 0)).toBe(500);
    expect(retryDelayMs(3, 1000, 60_000, 1)).toBe(4000);
    expect(retryDelayMs(30, 1000, 60_000, 1)).toBe(60_000);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1000 }), fc.double({ min: 0, max: 1, noNaN: true }), (failures, draw) => {
        const ceiling = Math.min(60_000, 1000 * 2 ** Math.min(failures - 1, 40));
        const wait = retryDelayMs(failures, 1000, 60_000, draw);
        expect(wait).toBeGreaterThanOrEqual(Math.floor(ceiling / 2));
        expect(wait).toBeLessThanOrEqual(ceiling);
      }),
    );
  });

  it('gives up after the configured number of failures', () => {
    expect(givesUp(9, 10)).toBe(false);
    expect(givesUp(10, 10)).toBe(true);
  });

  it('says what failed without the URL or anything the receiver sent', () => {
    expect(failureMessage(new DeliveryRefusedError(503))).toBe('the receiver answered 503');
    expect(failureMessage(Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } }))).toBe(
      'delivery failed: ECONNREFUSED',
    );
    expect(failureMessage(new Error('https://user:secret@x.example/?token=abc'))).toBe('delivery failed');
  });
});
