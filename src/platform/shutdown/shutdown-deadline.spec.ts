import {
  SHUTDOWN_DEADLINE_EXIT_CODE,
  ShutdownProgress,
  armShutdownDeadline,
  deadlineMessage,
  trackShutdownHooks,
} from './shutdown-deadline';

describe('ShutdownProgress', () => {
  it('lists what started and has not settled, in the order it started, counting repeats', async () => {
    const progress = new ShutdownProgress();
    let finishA!: () => void;
    const a = progress.track('A', () => new Promise<void>((r) => (finishA = r)));
    const endB1 = progress.begin('B');
    const endB2 = progress.begin('B');
    expect(progress.track('sync', () => 7)).toBe(7);
    expect(progress.pending()).toEqual(['A', 'B']);
    endB1();
    endB1();
    expect(progress.pending()).toEqual(['A', 'B']);
    endB2();
    finishA();
    await a;
    expect(progress.pending()).toEqual([]);
  });

  it('settles a step that throws or rejects', async () => {
    const progress = new ShutdownProgress();
    expect(() =>
      progress.track('throws', () => {
        throw new Error('x');
      }),
    ).toThrow('x');
    await expect(progress.track('rejects', () => Promise.reject(new Error('y')))).rejects.toThrow('y');
    expect(progress.pending()).toEqual([]);
  });
});

describe('trackShutdownHooks', () => {
  it('reports each shutdown hook as <name>.<hook> while it runs, keeping this, arguments and result', async () => {
    const progress = new ShutdownProgress();
    let release!: () => void;
    class Pool {
      ended = false;
      onModuleInit(): void {}
      onApplicationShutdown(signal?: string): Promise<string> {
        return new Promise((r) => (release = () => r(`${signal}:${(this.ended = true)}`)));
      }
    }
    const pool = new Pool();
    const queue = { onApplicationShutdown: () => undefined, beforeApplicationShutdown: () => 'sync' };
    // The pool again under an alias: wrapped once.
    expect(
      trackShutdownHooks(
        [
          { name: 'DatabasePool', instance: pool },
          { name: 'Alias', instance: pool },
          { name: 'BullQueue_x', instance: queue },
          { name: 'CONFIG', instance: null },
          { name: 'N', instance: 3 },
        ],
        progress,
      ),
    ).toBe(3);
    expect(queue.beforeApplicationShutdown()).toBe('sync');
    const running = pool.onApplicationShutdown('SIGTERM');
    expect(progress.pending()).toEqual(['DatabasePool.onApplicationShutdown']);
    release();
    await expect(running).resolves.toBe('SIGTERM:true');
    expect(progress.pending()).toEqual([]);
  });
});

describe('armShutdownDeadline', () => {
  it('when the deadline passes, logs the pending steps once and exits with the deadline code', () => {
    const progress = new ShutdownProgress();
    progress.begin('Sequencer.beforeApplicationShutdown');
    const fired: { ms: number; fire: () => void }[] = [];
    let unrefed = false;
    const log = jest.fn();
    const exit = jest.fn();
    armShutdownDeadline({
      deadlineMs: 3000,
      progress,
      log,
      exit,
      setTimer: (fire, ms) => {
        fired.push({ ms, fire });
        return { unref: () => (unrefed = true) };
      },
    });
    expect(fired.map((f) => f.ms)).toEqual([3000]);
    expect(unrefed).toBe(true);
    expect(exit).not.toHaveBeenCalled();
    fired[0].fire();
    expect(log).toHaveBeenCalledTimes(1);
    expect(log.mock.calls[0][0]).toMatch(/deadline of 3000 ms.*still pending: Sequencer\.beforeApplicationShutdown$/);
    expect(exit).toHaveBeenCalledWith(SHUTDOWN_DEADLINE_EXIT_CODE);
    expect(SHUTDOWN_DEADLINE_EXIT_CODE).not.toBe(0);
  });

  it('exits even when logging fails', () => {
    const exit = jest.fn();
    let fire!: () => void;
    armShutdownDeadline({
      deadlineMs: 1,
      progress: new ShutdownProgress(),
      log: () => {
        throw new Error('stdout gone');
      },
      exit,
      setTimer: (f) => ((fire = f), {}),
    });
    expect(() => fire()).toThrow('stdout gone');
    expect(exit).toHaveBeenCalledWith(SHUTDOWN_DEADLINE_EXIT_CODE);
  });
});

describe('deadlineMessage', () => {
  it('says when nothing tracked was pending', () => {
    expect(deadlineMessage(500, [])).toMatch(/no tracked shutdown step was pending/);
    expect(deadlineMessage(500, ['a', 'b'])).toMatch(/still pending: a, b$/);
  });
});
