import { yieldToAppends } from './yield-to-appends';

const counter = (n: number) => {
  const shared = new Int32Array(new SharedArrayBuffer(8));
  shared[0] = n;
  return shared;
};

describe('yieldToAppends', () => {
  it('does not wait without appends in flight, or without a counter', async () => {
    await expect(yieldToAppends(undefined, 50)).resolves.toBe(0);
    await expect(yieldToAppends(counter(0), 50)).resolves.toBe(0);
  });

  it('waits until the appends in flight settle', async () => {
    // Asserted on the counter, not on the timers' delays: a timer counts from the event loop's
    // cached clock, which can lag the real one on a busy machine (once waited 9 ms for a 30 ms timer).
    const appends = counter(2);
    setTimeout(() => Atomics.sub(appends, 0, 1), 10);
    setTimeout(() => Atomics.sub(appends, 0, 1), 30);
    const waited = await yieldToAppends(appends, 5_000);
    expect(Atomics.load(appends, 0)).toBe(0);
    expect(waited).toBeGreaterThan(0);
    expect(waited).toBeLessThan(1_000);
  });

  it('waits at most maxWaitMs while appends never stop', async () => {
    const waited = await yieldToAppends(counter(1), 40);
    expect(waited).toBeGreaterThanOrEqual(40);
    expect(waited).toBeLessThan(1_000);
  });
});
