/**
 * How many full verifications run at once, and how many may wait for a turn. Each one is a worker
 * thread, a database connection beside the pool and a snapshot held open for seconds: without a
 * bound, one client sending verifications in a loop (a script gone wrong, or an insider) would open
 * threads and connections until PostgreSQL refused everyone's. Beyond `running + waiting` a
 * verification is refused at once (429), so a flood costs nothing but the refusals. Pure: no I/O.
 */
export class VerificationGate {
  private running = 0;
  private readonly queue: Array<() => void> = [];

  constructor(
    private readonly limit: number,
    private readonly waiting: number,
  ) {}

  /** Runs `work` when a turn is free (turns go in arrival order); false, without running it, when none is free and the queue is full. */
  async run<T>(work: () => Promise<T>): Promise<{ ran: true; value: T } | { ran: false }> {
    if (this.running >= this.limit) {
      if (this.queue.length >= this.waiting) return { ran: false };
      // The turn is handed over by the one finishing (below): `running` stays counted for it.
      await new Promise<void>((resolve) => this.queue.push(resolve));
    } else {
      this.running++;
    }
    try {
      return { ran: true, value: await work() };
    } finally {
      const next = this.queue.shift();
      if (next) next();
      else this.running--;
    }
  }

  /** Verifications running and waiting now. */
  get load(): { readonly running: number; readonly waiting: number } {
    return { running: this.running, waiting: this.queue.length };
  }
}
