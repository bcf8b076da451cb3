import { BeforeApplicationShutdown, Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, AppConfig, DatabasePool } from '../platform';
import { AppendPressure } from './append-pressure';
import { CheckpointMirror } from './checkpoint-mirror';
import { UnknownLogError, VerificationBusyError } from './ledger.errors';
import { LogStore } from './log-store';
import { SigningKey } from './signing-key';
import { StoredLogVerification, VerificationReport, verifyStoredLog } from './stored-log-verification';
import { VerificationGate } from './verification-gate';
import { ReusableWorkers } from './reusable-workers';
import { verificationThreads, verifyOnWorker } from './verification-worker';

export type { VerificationReport } from './stored-log-verification';

// A worker thread runs compiled JavaScript only. Under Jest, which runs these TypeScript sources,
// the same verification runs on the calling thread instead; the built service always uses a worker.
const ON_WORKER = __filename.endsWith('.js');

/**
 * Full verification of a log as stored (stored-log-verification.ts says what it checks), in one
 * snapshot, on a worker thread of its own (verification-worker.ts says why).
 */
@Injectable()
export class LogVerification implements BeforeApplicationShutdown {
  private readonly gate: VerificationGate;
  private readonly threads: ReusableWorkers;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly store: LogStore,
    private readonly pool: DatabasePool,
    private readonly key: SigningKey,
    private readonly mirror: CheckpointMirror,
    private readonly pressure: AppendPressure,
  ) {
    this.gate = new VerificationGate(config.verifyConcurrency, config.verifyQueue);
    this.threads = verificationThreads(config.verifyConcurrency);
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.threads.close();
  }

  /**
   * Verifies `log` with every read scoped to `tenants` (the caller's scope; `['*']` for the
   * operator's command line): a log outside them is unknown.
   */
  async verify(log: string, tenants: readonly string[]): Promise<VerificationReport> {
    const turn = await this.gate.run(() => this.verifyNow(log, tenants));
    if (!turn.ran) throw new VerificationBusyError();
    return turn.value;
  }

  private async verifyNow(log: string, tenants: readonly string[]): Promise<VerificationReport> {
    // One snapshot: the head, the checkpoints and every page of entries as of one moment, so
    // appends committed while a long verification runs are neither half seen nor reported as a
    // head behind its entries.
    // The mirror is read first: a checkpoint is mirrored only after it committed, so whatever the
    // mirror holds now is in the snapshot. Read after, it could name one signed since the snapshot
    // and make a sound database look behind its mirror.
    const mirrored = await this.mirror.latest(log);
    const origin = `${this.config.logOriginPrefix}/${log}`;
    const report = ON_WORKER
      ? await verifyOnWorker(this.threads, {
          connection: this.pool.clientConfig(),
          tenants,
          log,
          origin,
          verifierKey: this.key.verifierKey,
          mirrored,
          pausePercent: this.config.verifyPausePercent,
          appends: this.pressure.shared,
        })
      : await this.store.tenantScoped(
          tenants,
          (sql) =>
            verifyStoredLog(sql, {
              log,
              origin,
              verifier: this.key.verifier,
              mirrored,
              pausePercent: this.config.verifyPausePercent,
              appends: this.pressure.shared,
            } satisfies StoredLogVerification),
          { oneSnapshot: true },
        );
    if (!report) throw new UnknownLogError();
    return report;
  }
}
