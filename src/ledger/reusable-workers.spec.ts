import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import { ReusableWorkers } from './reusable-workers';

// A worker that answers each message with its thread id, and fails or ends when told to.
const ECHO = `
const { parentPort, threadId } = require('node:worker_threads');
parentPort.on('message', (m) => {
  if (m === 'fail') throw new Error('failed on purpose');
  if (m === 'exit') process.exit(3);
  setTimeout(() => parentPort.postMessage({ threadId, echo: m }), m === 'slow' ? 50 : 0);
});`;

type Answer = { threadId: number; echo: unknown };

describe('ReusableWorkers', () => {
  let started: number;
  const pool = (idleMs = 10_000, maxIdle = 1) => {
    started = 0;
    return new ReusableWorkers(
      () => {
        started++;
        return new Worker(ECHO, { eval: true });
      },
      { idleMs, maxIdle },
    );
  };

  it('answers jobs one after another on the same thread, started once', async () => {
    const workers = pool();
    const first = await workers.run<Answer>('a');
    const second = await workers.run<Answer>('b');
    expect(second.echo).toBe('b');
    expect(second.threadId).toBe(first.threadId);
    expect(started).toBe(1);
    await workers.close();
  });

  it('runs jobs at once on threads of their own, and keeps at most maxIdle afterwards', async () => {
    const workers = pool(10_000, 1);
    const answers = await Promise.all([workers.run<Answer>('slow'), workers.run<Answer>('slow')]);
    expect(new Set(answers.map((a) => a.threadId)).size).toBe(2);
    await sleep(20);
    expect(workers.size).toBe(1);
    await workers.close();
  });

  it('fails the job of a thread that fails or exits, and runs the next on a new thread', async () => {
    const workers = pool();
    const before = await workers.run<Answer>('a');
    await expect(workers.run('fail')).rejects.toThrow('failed on purpose');
    const after = await workers.run<Answer>('b');
    expect(after.threadId).not.toBe(before.threadId);
    await expect(workers.run('exit')).rejects.toThrow(/exited with code 3/);
    expect((await workers.run<Answer>('c')).echo).toBe('c');
    expect(started).toBe(3);
    await workers.close();
  });

  it('ends a thread idle longer than idleMs, and every idle thread when closed', async () => {
    const workers = pool(30);
    await workers.run('a');
    expect(workers.size).toBe(1);
    await sleep(200);
    expect(workers.size).toBe(0);
    await workers.run('b');
    await workers.close();
    expect(workers.size).toBe(0);
    await expect(workers.run('c')).rejects.toThrow(/closed/);
  });
});
