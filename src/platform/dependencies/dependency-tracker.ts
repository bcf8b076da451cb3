/** Where a tracker writes its two lines (Nest's Logger fits). */
export interface DependencyLog {
  error(message: string): void;
  log(message: string): void;
}

export interface DependencyTrackerOptions {
  readonly log: DependencyLog;
  /** Resolves once the dependency answers again (for PostgreSQL: `SELECT 1`); rejects while it does not. */
  readonly probe: () => Promise<unknown>;
  /** Pause between two probes while the dependency is down. */
  readonly probeEveryMs: number;
  /** What happens while it is down, for the "unreachable" line: "requests that need it are answered 503". */
  readonly whileDown: string;
  /** What `refused()` counts, for the "back" line: "request(s) refused". */
  readonly counted: string;
  readonly now?: () => number;
}

/**
 * The state of one dependency (PostgreSQL, Redis) as this process sees it, so that an outage is
 * told once, not once per refused request: the first failure logs that the dependency is
 * unreachable, later ones only count; a probe, started by that first failure, logs that it is
 * back with the count and the duration. The lines name the dependency and carry counts only:
 * nothing of the requests, their keys or their data.
 */
export class DependencyTracker {
  private downSince: number | null = null;
  private count = 0;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private readonly now: () => number;

  constructor(
    readonly name: string,
    private readonly options: DependencyTrackerOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  /** True between the first failure seen and the probe that found the dependency back. */
  get down(): boolean {
    return this.downSince !== null;
  }

  /** A request (or a job) was refused because the dependency is unreachable: counted, and the outage logged if it is new. */
  refused(): void {
    this.unreachable();
    this.count++;
  }

  /** Background work found the dependency unreachable (nothing refused): the outage is logged if it is new. */
  unreachable(): void {
    if (this.downSince !== null || this.stopped) return;
    this.downSince = this.now();
    this.count = 0;
    this.options.log.error(`${this.name} is unreachable: ${this.options.whileDown} until it is back`);
    this.scheduleProbe();
  }

  /** The dependency answered: the outage, if any, ends with one line. */
  reachable(): void {
    if (this.downSince === null) return;
    const seconds = ((this.now() - this.downSince) / 1000).toFixed(1);
    this.options.log.log(`${this.name} is back after ${seconds} s: ${this.count} ${this.options.counted} meanwhile`);
    this.downSince = null;
    this.count = 0;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** No more probes (shutdown). */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private scheduleProbe(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.options.probe().then(
        () => {
          if (!this.stopped) this.reachable();
        },
        () => {
          if (this.downSince !== null) this.scheduleProbe();
        },
      );
    }, this.options.probeEveryMs);
    // A probe never keeps the process alive on its own.
    this.timer.unref();
  }
}
