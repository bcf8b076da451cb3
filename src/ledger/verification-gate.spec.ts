import { VerificationGate } from './verification-gate';

/** A piece of work that ends when the test says so. */
function held<T>(value: T): { work: () => Promise<T>; started: () => boolean; finish: () => void } {
  let started = false;
  let finish: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (finish = resolve));
  return {
    work: async () => {
      started = true;
      await done;
      return value;
    },
    started: () => started,
    finish: () => finish(),
  };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('VerificationGate', () => {
  it('runs at most `limit` at once, queues up to `waiting`, and refuses the rest without running them', async () => {
    const gate = new VerificationGate(2, 1);
    const works = [held('a'), held('b'), held('c'), held('d')];
    const results = works.map((w) => gate.run(w.work));
    await turn();
    expect(works.map((w) => w.started())).toEqual([true, true, false, false]);
    expect(gate.load).toEqual({ running: 2, waiting: 1 });
    await expect(results[3]).resolves.toEqual({ ran: false });

    works[1].finish();
    await expect(results[1]).resolves.toEqual({ ran: true, value: 'b' });
    await turn();
    // The waiting one took the freed turn.
    expect(works[2].started()).toBe(true);
    expect(gate.load).toEqual({ running: 2, waiting: 0 });

    works[0].finish();
    works[2].finish();
    await expect(Promise.all([results[0], results[2]])).resolves.toEqual([
      { ran: true, value: 'a' },
      { ran: true, value: 'c' },
    ]);
    expect(gate.load).toEqual({ running: 0, waiting: 0 });
  });

  it('frees the turn of a verification that failed', async () => {
    const gate = new VerificationGate(1, 0);
    await expect(gate.run(() => Promise.reject(new Error('database gone')))).rejects.toThrow('database gone');
    expect(gate.load).toEqual({ running: 0, waiting: 0 });
    await expect(gate.run(async () => 1)).resolves.toEqual({ ran: true, value: 1 });
  });

  it('hands turns over in arrival order', async () => {
    const gate = new VerificationGate(1, 3);
    const first = held(0);
    const order: number[] = [];
    const runs = [gate.run(first.work), ...[1, 2, 3].map((n) => gate.run(async () => void order.push(n)))];
    await turn();
    first.finish();
    await Promise.all(runs);
    expect(order).toEqual([1, 2, 3]);
  });
});
