import { Worker } from 'node:worker_threads';

/**
 * Worker threads kept for the next job instead of one started per job. Starting a thread and
 * loading its modules took 100-150 ms: most of a verification of a log of a thousand entries, and
 * all of the difference between verifying one large log and a hundred small ones (bench --scale).
 *
 * A worker runs one job at a time: it answers each message posted to it with exactly one message.
 * A worker that fails or exits during a job fails that job and is not used again. An idle worker
 * does not keep the process alive, and ends after `idleMs` or when the pool closes; at most
 * `maxIdle` wait at once.
 */
export class ReusableWorkers {
  private readonly idle: { worker: Worker; timer: NodeJS.Timeout }[] = [];
  private readonly busy = new Set<Worker>();
  private closed = false;

  constructor(
    private readonly start: () => Worker,
    private readonly options: { readonly idleMs: number; readonly maxIdle: number },
  ) {}

  /** Posts `message` to an idle worker (or a new one) and resolves with its answer. */
  run<T>(message: unknown): Promise<T> {
    if (this.closed) return Promise.reject(new Error('the worker pool is closed'));
    const reused = this.idle.pop();
    if (reused) clearTimeout(reused.timer);
    const worker = reused?.worker ?? this.spawn();
    worker.ref();
    this.busy.add(worker);
    return new Promise<T>((resolve, reject) => {
      const onMessage = (answer: T) => {
        done();
        this.release(worker);
        resolve(answer);
      };
      const onError = (e: Error) => {
        done();
        void worker.terminate();
        reject(e);
      };
      const onExit = (code: number) => {
        done();
        reject(new Error(`the worker exited with code ${code} before answering`));
      };
      const done = () => {
        this.busy.delete(worker);
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
      };
      worker.on('message', onMessage);
      worker.once('error', onError);
      worker.once('exit', onExit);
      worker.postMessage(message);
    });
  }

  /** Ends every idle worker and refuses new jobs; jobs under way finish on their workers, which then end. */
  async close(): Promise<void> {
    this.closed = true;
    const idle = this.idle.splice(0);
    for (const { timer } of idle) clearTimeout(timer);
    await Promise.all(idle.map(({ worker }) => worker.terminate()));
  }

  /** Workers alive now, idle or busy (for tests and diagnostics). */
  get size(): number {
    return this.idle.length + this.busy.size;
  }

  private spawn(): Worker {
    const worker = this.start();
    // An idle worker that fails or ends is dropped (an 'error' nobody listens to would throw here);
    // during a job, the job's own listeners say so.
    worker.on('error', () => undefined);
    worker.on('exit', () => {
      const at = this.idle.findIndex((entry) => entry.worker === worker);
      if (at === -1) return;
      clearTimeout(this.idle[at].timer);
      this.idle.splice(at, 1);
    });
    return worker;
  }

  private release(worker: Worker): void {
    if (this.closed || this.idle.length >= this.options.maxIdle) {
      void worker.terminate();
      return;
    }
    worker.unref();
    // Its 'exit' takes it off the idle list.
    const timer = setTimeout(() => void worker.terminate(), this.options.idleMs);
    timer.unref();
    this.idle.push({ worker, timer });
  }
}
