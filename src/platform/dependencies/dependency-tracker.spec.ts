import { DependencyTracker } from './dependency-tracker';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function given(probe: () => Promise<unknown>) {
  const lines: { level: 'error' | 'log'; message: string }[] = [];
  let now = 1_000_000;
  const tracker = new DependencyTracker('postgres', {
    log: {
      error: (message) => lines.push({ level: 'error', message }),
      log: (message) => lines.push({ level: 'log', message }),
    },
    probe,
    probeEveryMs: 5,
    whileDown: 'requests that need it are answered 503 unavailable',
    counted: 'request(s) refused',
    now: () => now,
  });
  return { tracker, lines, advance: (ms: number) => (now += ms) };
}

describe('DependencyTracker', () => {
  it('says once that the dependency is down and once that it is back, with the count and the duration', async () => {
    let reachable = false;
    const { tracker, lines, advance } = given(async () => {
      if (!reachable) throw new Error('ECONNREFUSED');
    });
    for (let i = 0; i < 1000; i++) tracker.refused();
    tracker.unreachable(); // background work failing too counts nothing and says nothing more
    expect(tracker.down).toBe(true);
    await sleep(30); // several failed probes: still one line
    expect(lines).toEqual([
      {
        level: 'error',
        message: 'postgres is unreachable: requests that need it are answered 503 unavailable until it is back',
      },
    ]);
    advance(4_200);
    reachable = true;
    for (let i = 0; i < 200 && tracker.down; i++) await sleep(5);
    expect(tracker.down).toBe(false);
    expect(lines).toHaveLength(2);
    expect(lines[1]).toEqual({
      level: 'log',
      message: 'postgres is back after 4.2 s: 1000 request(s) refused meanwhile',
    });
    tracker.stop();
  });

  it('counts a second outage from zero', async () => {
    let reachable = false;
    const { tracker, lines } = given(async () => {
      if (!reachable) throw new Error('down');
    });
    tracker.refused();
    tracker.refused();
    reachable = true;
    for (let i = 0; i < 200 && tracker.down; i++) await sleep(5);
    reachable = false;
    tracker.refused();
    reachable = true;
    for (let i = 0; i < 200 && tracker.down; i++) await sleep(5);
    expect(lines.map((l) => l.message.replace(/after [0-9.]+ s/, 'after n s'))).toEqual([
      'postgres is unreachable: requests that need it are answered 503 unavailable until it is back',
      'postgres is back after n s: 2 request(s) refused meanwhile',
      'postgres is unreachable: requests that need it are answered 503 unavailable until it is back',
      'postgres is back after n s: 1 request(s) refused meanwhile',
    ]);
    tracker.stop();
  });

  it('says nothing while the dependency answers, and probes nothing after stop()', async () => {
    let probes = 0;
    const { tracker, lines } = given(async () => {
      probes++;
      throw new Error('down');
    });
    tracker.reachable();
    expect(lines).toEqual([]);
    tracker.refused();
    await sleep(20);
    tracker.stop();
    const after = probes;
    await sleep(30);
    expect(probes).toBe(after);
    tracker.refused();
    expect(lines).toHaveLength(1);
  });
});
