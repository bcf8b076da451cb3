import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '../platform';
import { isConnectionFailure } from '../platform';
import { Dependencies } from '../platform';
import { ProjectionsHealth } from '../platform';
import { MetricsService } from '../platform';
import { EventSearchStore } from './event-search.store';
import { within } from '../platform';

// How often the projector looks for new entries, and how much one statement projects: up to
// CHUNK entries of each of up to LOGS logs, enough to amortise the statement, few enough that a
// search waiting to catch up one of those logs waits a few milliseconds, not seconds. (32 logs of
// 1,000 made the projector fall 250,000 entries behind a 100-tenant load, against none.)
const TICK_MS = 200;
const PASS_MS = 1_000;
const CHUNK = 2_000;
const LOGS = 8;

/**
 * Keeps the search read model behind the ledger, off the append path: every tick it projects
 * what was appended since (by any process), a log at a time under a row lock so processes share
 * the work. A search calls `catchUp` first for the logs it reads, so the read model it reads
 * holds every entry acknowledged before the search began, however far behind the projector is.
 */
@Injectable()
export class SearchProjector implements OnApplicationBootstrap, BeforeApplicationShutdown, ProjectionsHealth {
  private readonly logger = new Logger(SearchProjector.name);
  private timer?: NodeJS.Timeout;
  private tick?: Promise<void>;
  private stopping = false;
  /** How this process's last background pass ended; 'off' where the projector does not run. */
  private lastPass: 'off' | 'ok' | 'failing' = 'off';

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly store: EventSearchStore,
    private readonly metrics: MetricsService,
    private readonly dependencies: Dependencies,
  ) {
    // At each scrape; a database that does not answer must not hold /metrics up (the gauge then
    // keeps its last figure).
    metrics.quarantinedEntriesReader = () => within(this.store.quarantinedCount(), 1000);
  }

  onApplicationBootstrap(): void {
    if (!this.config.components.has('projector')) return;
    this.timer = setInterval(() => {
      if (!this.tick) this.tick = this.projectPending().finally(() => (this.tick = undefined));
    }, TICK_MS);
    this.timer.unref();
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearInterval(this.timer);
    await this.tick;
  }

  /**
   * Projects every log's pending entries, chunk by chunk, skipping logs another process holds, for
   * up to a second; then reports the lag, so the gauge moves even while appends never let up.
   */
  async projectPending(): Promise<void> {
    const until = Date.now() + PASS_MS;
    let failed = false;
    try {
      // A pass takes each log once, and again only while it kept entries back: under a steady
      // stream of appends to many logs, a pass is one statement per LOGS logs, not a statement
      // for every handful of entries that arrived since the last one.
      const caughtUp: string[] = [];
      while (!this.stopping && Date.now() < until) {
        const projected = await this.store.project({
          logs: null,
          skip: caughtUp,
          wait: false,
          perLog: CHUNK,
          maxLogs: LOGS,
        });
        caughtUp.push(...projected.caughtUp);
        if (!projected.more) break;
      }
    } catch (e) {
      // Not one entry's fault (those are quarantined): the whole pass failed, and will again until
      // mended. The lag is still set below (it used to stay 0), then the failure counted and shown
      // by /health: whoever sees the count sees the lag of the same pass.
      failed = true;
      // PostgreSQL away: told once by its tracker, not on every tick.
      if (isConnectionFailure(e)) this.dependencies.postgres.unreachable();
      else this.logger.error(`search projection failed: ${(e as Error).message}`);
    }
    try {
      this.metrics.searchLagEntries.set(await this.store.lag());
    } catch {
      // Unreadable too (database down): the gauge keeps its last figure; the failure is counted.
    }
    this.lastPass = failed ? 'failing' : 'ok';
    if (failed) this.metrics.searchProjectionFailures.inc();
  }

  /** ProjectionsHealth: the quarantined entries of every log, and this process's projector. */
  async projectionsHealth(): Promise<{ degraded: boolean; details: Record<string, unknown> }> {
    const quarantined = await this.store.quarantinedCount();
    return {
      degraded: quarantined > 0 || this.lastPass === 'failing',
      details: { quarantined, projector: this.lastPass },
    };
  }

  /** Brings the read model of `logs` (null: every log) up to their heads, waiting for other projectors. */
  async catchUp(logs: readonly string[] | null): Promise<void> {
    await this.store.project({ logs, wait: true, perLog: Number.MAX_SAFE_INTEGER, maxLogs: Number.MAX_SAFE_INTEGER });
  }
}
