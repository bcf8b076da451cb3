import { Inject, Injectable } from '@nestjs/common';
import { quorumMet } from '@audit/ledger';
import { LogStore } from '../ledger';
import { APP_CONFIG, AppConfig, CLOCK, Clock, MetricsService, WitnessHealth, within } from '../platform';
import { CosignatureStore } from './cosignature.store';
import { SubmissionPolicy } from './submission-policy';

/** How long a log's quorum lag is: its oldest signed checkpoint the quorum does not yet cover. */
export interface QuorumLag {
  readonly log: string;
  readonly lagSeconds: number;
}

const seconds = (ms: number) => Math.max(0, Math.round(ms / 1000));

/**
 * The witnesses seen from the database, for `/metrics` and `/health` of every process (the
 * submitter runs in one worker; these read what it stored, so any process answers the same):
 * per log and witness the latest cosigned size and its age, and per log the quorum lag — how
 * long its oldest signed checkpoint beyond the latest one that met the quorum has waited. An idle
 * log whose latest checkpoint met the quorum has no lag, however old that checkpoint.
 */
@Injectable()
export class WitnessMonitor implements WitnessHealth {
  /**
   * Per log, the largest size known to meet the quorum: cosignatures are never removed and the
   * policy is read once, so later reads start there instead of at 0.
   */
  private readonly quorumSizes = new Map<string, number>();

  constructor(
    private readonly policy: SubmissionPolicy,
    private readonly store: CosignatureStore,
    private readonly logs: LogStore,
    metrics: MetricsService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {
    // At each scrape; a database that does not answer must not hold /metrics up (the gauges then
    // keep their last figures). Nothing is read without a policy.
    metrics.witnessCosignaturesReader = () => within(this.cosignatures(), 1000);
    metrics.witnessQuorumLagReader = () => within(this.quorumLags(), 1000);
  }

  witnessed(): boolean {
    return this.policy.policy !== null;
  }

  /** Per log and witness of the policy, its latest cosigned size and that cosignature's age. */
  async cosignatures(): Promise<{ log: string; witness: string; size: number; ageSeconds: number }[]> {
    const names = this.witnessNames();
    if (names.size === 0) return [];
    const now = this.clock.now().getTime();
    return (await this.store.latestCosignatures()).flatMap((row) => {
      const witness = names.get(row.witnessKey);
      // A key no longer in the policy is not one of its witnesses any more.
      if (witness === undefined) return [];
      return [{ log: row.log, witness, size: row.size, ageSeconds: seconds(now - row.cosignedAt.getTime()) }];
    });
  }

  /** Every log with a signed checkpoint and its quorum lag (0 when its latest checkpoint met the quorum). */
  async quorumLags(): Promise<QuorumLag[]> {
    const policy = this.policy.policy;
    // No policy, or `quorum none`: every checkpoint meets it.
    if (policy === null || policy.quorum.kind === 'none') return [];
    const names = this.witnessNames();
    for (const [log, sizes] of await this.store.cosignersFrom(this.quorumSizes)) {
      let best = this.quorumSizes.get(log) ?? 0;
      for (const [size, keys] of sizes) {
        if (size <= best) continue;
        const cosigners = new Set(keys.flatMap((key) => names.get(key) ?? []));
        if (quorumMet(policy.quorum, cosigners)) best = size;
      }
      if (best > 0) this.quorumSizes.set(log, best);
    }
    const now = this.clock.now().getTime();
    const lags = new Map<string, number>();
    for (const log of this.quorumSizes.keys()) lags.set(log, 0);
    for (const row of await this.logs.firstCheckpointsAfter(this.quorumSizes))
      lags.set(row.log, seconds(now - row.signedAt.getTime()));
    return [...lags].map(([log, lagSeconds]) => ({ log, lagSeconds }));
  }

  async witnessHealth(): Promise<{ degraded: boolean; details: Record<string, unknown> }> {
    const maxAgeSeconds = this.config.witnessQuorumMaxAgeSeconds;
    const lags = await this.quorumLags();
    const late = lags.filter((l) => l.lagSeconds > maxAgeSeconds);
    const names = this.witnessNames();
    const failing = [...new Set((await this.store.failingWitnessKeys()).flatMap((key) => names.get(key) ?? []))].sort();
    const details: Record<string, unknown> = { logs: lags.length, maxAgeSeconds, failing };
    if (late.length === 0) return { degraded: false, details };
    return {
      degraded: true,
      details: {
        ...details,
        code: 'witness_quorum_late',
        late: late.length,
        oldestSeconds: Math.max(...late.map((l) => l.lagSeconds)),
        message:
          `${late.length} log(s) have a signed checkpoint that has waited longer than ${maxAgeSeconds} s for the ` +
          'witness quorum (audit_witness_quorum_lag_seconds names them; failing lists the witnesses whose last ' +
          'submission failed): their checkpoints are served, not yet witnessed',
      },
    };
  }

  private witnessNames(): Map<string, string> {
    const policy = this.policy.policy;
    return new Map((policy?.witnesses ?? []).map((w) => [w.verifier.verifierKey, w.name]));
  }
}
