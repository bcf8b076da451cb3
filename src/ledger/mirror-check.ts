import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import {
  APP_CONFIG,
  AppConfig,
  Dependencies,
  LedgerHealth,
  MIRROR_CHECK_EVERY_MS,
  MetricsService,
  isConnectionFailure,
} from '../platform';
import { CheckpointMirror } from './checkpoint-mirror';
import { LedgerBehindMirrorError } from './ledger.errors';
import { CheckpointRow, LogStore } from './log-store';
import {
  ACKNOWLEDGE_HOW,
  AppendKind,
  MirrorDisagreement,
  compareWithMirror,
  describeDisagreement,
  refusesAppend,
} from './mirror-agreement';

export type { MirrorDisagreement } from './mirror-agreement';

/**
 * How often every process compares the database with the mirror on its own, besides at start and
 * the deployment's minute job: the longest a process appends after another found the database
 * behind, and the longest it refuses appends after the operator acknowledged it.
 */
export const MIRROR_RECHECK_MS = 5_000;

/**
 * Compares the database with the checkpoints mirrored outside it, and keeps this process's view
 * of the answer, which decides whether it appends (mirror-agreement.ts). A chain inside the
 * database cannot see its own missing tail or a restore from an old backup; this can, and says so
 * loudly (error log, metric audit_checkpoint_mirror_mismatch, `/health`, 503 ledger_behind_mirror).
 *
 * The state lives in the mirror, not in this process nor in the database (which may be the
 * restored one): every process derives it from the same mirror and database, at start (before
 * its first append), every MIRROR_RECHECK_MS, and in the minute job of the maintenance queue.
 * Nothing clears a disagreement but the mirror itself changing: the signer never signs a log the
 * mirror contradicts, so only an operator's acknowledgement, which moves the contradicting
 * checkpoints aside, ends it, in every process within MIRROR_RECHECK_MS.
 */
@Injectable()
export class MirrorCheck implements OnApplicationBootstrap, BeforeApplicationShutdown, LedgerHealth {
  private readonly logger = new Logger(MirrorCheck.name);
  private current: readonly MirrorDisagreement[] = [];
  private checked = false;
  // Checks run one after another, so an older answer never replaces a newer one.
  private queue: Promise<unknown> = Promise.resolve();
  private first?: Promise<void>;
  private timer?: NodeJS.Timeout;
  private tick?: Promise<void>;
  // When each disagreement was last logged: again after MIRROR_CHECK_EVERY_MS, not every check.
  private readonly told = new Map<string, number>();
  private recheckFailure?: string;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly mirror: CheckpointMirror,
    private readonly store: LogStore,
    private readonly metrics: MetricsService,
    private readonly dependencies: Dependencies,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.settled();
    // The command line (no component) lives for one command: its start-up check is enough.
    if (this.config.components.size === 0) return;
    this.timer = setInterval(() => {
      if (!this.tick) this.tick = this.recheck().finally(() => (this.tick = undefined));
    }, MIRROR_RECHECK_MS);
    this.timer.unref();
  }

  async beforeApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.tick;
  }

  /** Compares now; returns what disagrees and makes it this process's view. */
  check(): Promise<MirrorDisagreement[]> {
    const next = this.queue.catch(() => undefined).then(() => this.compare());
    this.queue = next;
    return next;
  }

  /** Resolves once this process has compared at least once (the first append waits for it). */
  async settled(): Promise<void> {
    if (this.checked) return;
    this.first ??= this.check().then(
      () => undefined,
      (e: unknown) => {
        this.first = undefined;
        throw e;
      },
    );
    await this.first;
  }

  /** Whether this process has compared at least once, so `refusal` answers from a real view. */
  get hasChecked(): boolean {
    return this.checked;
  }

  /** The error an append of `kind` is refused with now, or null when it may go ahead. */
  refusal(kind: AppendKind): LedgerBehindMirrorError | null {
    return refusesAppend(this.current, kind) ? new LedgerBehindMirrorError(this.current) : null;
  }

  /** What disagrees, as this process last saw it. */
  disagreements(): readonly MirrorDisagreement[] {
    return this.current;
  }

  /**
   * Throws LedgerBehindMirrorError unless the database holds the mirror's latest checkpoint of
   * `log` (or the mirror has none): a log the mirror contradicts is never signed, so its mirror
   * cannot move on along another history and no fork is published. `latest`: the database's
   * latest checkpoint of the log, as the caller just read it (spares a read when it is that one).
   * A disagreement found here becomes this process's view at once.
   */
  async assertSignable(log: string, latest: CheckpointRow | null): Promise<void> {
    const mirrored = await this.mirror.latest(log);
    if (mirrored === null) return;
    const recorded =
      latest !== null && latest.size === mirrored.size
        ? latest.note
        : ((await this.store.checkpointNotesAt([{ log, size: mirrored.size }])).get(log) ?? null);
    const found = compareWithMirror(log, mirrored, recorded);
    if (found === null) return;
    if (!this.current.some((d) => d.log === log)) this.settle([...this.current, found]);
    throw new LedgerBehindMirrorError(this.current);
  }

  ledgerHealth(): { degraded: boolean; details: Record<string, unknown> } {
    if (this.current.length === 0) return { degraded: false, details: {} };
    const behind = this.current.filter((d) => d.problem === 'database_behind').length;
    return {
      degraded: true,
      details: {
        code: 'ledger_behind_mirror',
        appends: 'refused',
        behind,
        forked: this.current.length - behind,
        message:
          `the database is behind or forked from the checkpoint mirror in ${this.current.length} log(s) ` +
          '(the service log names them): appends are refused until an operator acknowledges it ' +
          '(npm run cli -- ledger acknowledge-rollback); reads and verification work',
      },
    };
  }

  private async compare(): Promise<MirrorDisagreement[]> {
    const mirrored: { log: string; size: number; note: string }[] = [];
    for (const log of await this.mirror.logs()) {
      const latest = await this.mirror.latest(log);
      if (latest) mirrored.push({ log, ...latest });
    }
    const recorded = await this.store.checkpointNotesAt(mirrored);
    const found = mirrored
      .map((m) => compareWithMirror(m.log, m, recorded.get(m.log) ?? null))
      .filter((d): d is MirrorDisagreement => d !== null);
    this.settle(found);
    this.checked = true;
    return found;
  }

  /** Makes `found` this process's view: logged (new ones at once, the rest now and then), counted. */
  private settle(found: readonly MirrorDisagreement[]): void {
    const now = Date.now();
    const keys = new Set<string>();
    let told = 0;
    for (const d of found) {
      const key = `${d.log}/${d.problem}/${d.mirroredSize}`;
      keys.add(key);
      const last = this.told.get(key);
      if (last !== undefined && now - last < MIRROR_CHECK_EVERY_MS) continue;
      this.told.set(key, now);
      this.logger.error(describeDisagreement(d));
      told++;
    }
    for (const key of this.told.keys()) if (!keys.has(key)) this.told.delete(key);
    if (told > 0) {
      this.logger.error(
        `appends are refused (503 ledger_behind_mirror) while ${found.length} log(s) disagree with the checkpoint mirror: ${ACKNOWLEDGE_HOW}`,
      );
    } else if (found.length === 0 && this.current.length > 0) {
      this.logger.warn('the database agrees with the checkpoint mirror again: appends are taken');
    }
    this.current = found;
    this.metrics.mirrorMismatch.set(found.length > 0 ? 1 : 0);
  }

  /** A periodic check; its failure keeps the last view (fail closed stays closed) and is told once. */
  private async recheck(): Promise<void> {
    try {
      await this.check();
      this.recheckFailure = undefined;
    } catch (e) {
      if (isConnectionFailure(e)) {
        this.dependencies.postgres.unreachable();
        return;
      }
      const why =
        e instanceof Error
          ? `${e.name}${(e as NodeJS.ErrnoException).code ? ` ${(e as NodeJS.ErrnoException).code}` : ''}`
          : 'unknown';
      if (this.recheckFailure !== why)
        this.logger.error(`comparing the database with the checkpoint mirror failed (${why}); the last answer stands`);
      this.recheckFailure = why;
    }
  }
}
