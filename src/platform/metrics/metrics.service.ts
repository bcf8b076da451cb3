import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The service's Prometheus metrics, one registry per application instance (tests run several in
 * one process). Labels stay low-cardinality: no tenant, key or event ids.
 */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();

  readonly appendedEntries = new Counter({
    name: 'audit_appended_entries_total',
    help: 'Entries appended and acknowledged',
    registers: [this.registry],
  });

  readonly appendBatchSize = new Histogram({
    name: 'audit_append_batch_entries',
    help: 'Entries per group-committed transaction',
    buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000],
    registers: [this.registry],
  });

  readonly appendQueuedRequests = new Gauge({
    name: 'audit_append_queued_requests',
    help: 'Append requests waiting in the sequencer for a group-commit statement',
    registers: [this.registry],
  });

  readonly commitSeconds = new Histogram({
    name: 'audit_append_commit_seconds',
    help: 'Duration of a group-commit transaction',
    buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2],
    registers: [this.registry],
  });

  readonly consoleSignInFailures = new Counter({
    name: 'audit_console_sign_in_failures_total',
    help: 'Console sign-ins refused (an unknown, revoked or expired key), recorded in the ledger or not',
    registers: [this.registry],
  });

  readonly checkpointsSigned = new Counter({
    name: 'audit_checkpoints_signed_total',
    help: 'Checkpoints signed by this process',
    registers: [this.registry],
  });

  readonly checkpointAgeSeconds = new Gauge({
    name: 'audit_checkpoint_lag_seconds',
    help: 'Age of the oldest entry not yet covered by a signed checkpoint (0 when all are)',
    registers: [this.registry],
  });

  readonly searchLagEntries = new Gauge({
    name: 'audit_search_lag_entries',
    help: 'Entries appended but not yet in the search read model (searches catch up before they read)',
    registers: [this.registry],
  });

  /**
   * Read from the database at each scrape through `quarantinedEntriesReader` (the search
   * projection sets it), so every process reports the same figure, projector or not.
   */
  readonly searchQuarantinedEntries: Gauge = new Gauge({
    name: 'audit_search_quarantined_entries',
    help: 'Entries the search projection could not write and set aside (GET /v1/logs/{log}/quarantine); searches and exports covering them say incomplete',
    registers: [this.registry],
    collect: async () => {
      const count = await this.quarantinedEntriesReader?.().catch(() => undefined);
      // Unreadable (database down): the last figure stays rather than a false 0.
      if (count !== undefined) this.searchQuarantinedEntries.set(count);
    },
  });

  /** How `audit_search_quarantined_entries` is read; unset, the gauge stays at 0. */
  quarantinedEntriesReader?: () => Promise<number>;

  readonly searchProjectionFailures = new Counter({
    name: 'audit_search_projection_failures_total',
    help: 'Background projection passes that failed for a reason other than one entry (those are quarantined); the lag gauge keeps being set',
    registers: [this.registry],
  });

  readonly queueDepth = new Gauge({
    name: 'audit_queue_jobs',
    help: 'BullMQ jobs by queue and state',
    labelNames: ['queue', 'state'],
    registers: [this.registry],
  });

  readonly mirrorMismatch = new Gauge({
    name: 'audit_checkpoint_mirror_mismatch',
    help: '1 when the database is behind or forked from the checkpoint mirror',
    registers: [this.registry],
  });

  readonly notifications = new Counter({
    name: 'audit_notifications_total',
    help: 'Webhook notifications by outcome: delivered, attempt_failed (will retry), failed (gave up), not_queued',
    labelNames: ['outcome'],
    registers: [this.registry],
  });

  readonly personalDataOutside = new Counter({
    name: 'audit_personal_data_outside_total',
    help: 'Values that look like personal data outside personal.data (email, ip, phone, card, or a field the type declares personal), by field pattern and outcome: refused (enforce) or reported (report mode, accepted)',
    labelNames: ['kind', 'field', 'outcome'],
    registers: [this.registry],
  });

  /**
   * The witnesses' cosignatures of this deployment's checkpoints (AUDIT_WITNESS_POLICY), read
   * from the database at each scrape through `witnessCosignaturesReader` (the witness context sets
   * it), so every process reports the same figures. `witness` is the policy's name for it.
   */
  readonly witnessCosignedSize: Gauge = new Gauge({
    name: 'audit_witness_cosigned_size',
    help: 'Size of the latest checkpoint of the log this witness cosigned (stored and verified)',
    labelNames: ['log', 'witness'],
    registers: [this.registry],
    collect: async () => {
      const rows = await this.witnessCosignaturesReader?.().catch(() => undefined);
      // Unreadable (database down): the last figures stay rather than a false 0.
      if (rows === undefined) return;
      this.witnessCosignedSize.reset();
      for (const row of rows) this.witnessCosignedSize.set({ log: row.log, witness: row.witness }, row.size);
    },
  });

  readonly witnessCosignedAgeSeconds: Gauge = new Gauge({
    name: 'audit_witness_cosigned_age_seconds',
    help: 'Age of the latest cosignature of the log by this witness (its cosignature timestamp)',
    labelNames: ['log', 'witness'],
    registers: [this.registry],
    collect: async () => {
      const rows = await this.witnessCosignaturesReader?.().catch(() => undefined);
      if (rows === undefined) return;
      this.witnessCosignedAgeSeconds.reset();
      for (const row of rows)
        this.witnessCosignedAgeSeconds.set({ log: row.log, witness: row.witness }, row.ageSeconds);
    },
  });

  /** How the two witness cosignature gauges are read; unset (no witness policy), they stay empty. */
  witnessCosignaturesReader?: () => Promise<
    readonly { log: string; witness: string; size: number; ageSeconds: number }[]
  >;

  readonly witnessQuorumLagSeconds: Gauge = new Gauge({
    name: 'audit_witness_quorum_lag_seconds',
    help: "Age of the log's oldest signed checkpoint beyond its latest one that met the witness quorum (0 when none is)",
    labelNames: ['log'],
    registers: [this.registry],
    collect: async () => {
      const rows = await this.witnessQuorumLagReader?.().catch(() => undefined);
      if (rows === undefined) return;
      this.witnessQuorumLagSeconds.reset();
      for (const row of rows) this.witnessQuorumLagSeconds.set({ log: row.log }, row.lagSeconds);
    },
  });

  /** How `audit_witness_quorum_lag_seconds` is read; unset (no witness policy), it stays empty. */
  witnessQuorumLagReader?: () => Promise<readonly { log: string; lagSeconds: number }[]>;

  readonly witnessSubmissionFailures = new Counter({
    name: 'audit_witness_submission_failures_total',
    help: 'Checkpoint submissions a witness refused or did not answer, by witness and status (the HTTP status, unreachable, or invalid_cosignature: a 200 without a valid cosignature by its key)',
    labelNames: ['witness', 'status'],
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }
}
