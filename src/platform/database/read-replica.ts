import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { Pool, PoolClient } from 'pg';
import { setTimeout as sleep } from 'node:timers/promises';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { runtimeConnection } from './database-bootstrap';
import { DatabasePool } from './database-pool';
import { isConnectionFailure } from './dependency-failure';
import { ReadFrom, parseLsn, replicaUsable, replicaVerdict } from './replica-freshness';

/** Where a read runs: the pool to take its connection from, and which server that is. */
export interface ReadTarget {
  readonly from: ReadFrom;
  readonly db: { connect(): Promise<PoolClient> };
}

/** How often a read waiting for the standby asks how far it has replayed. */
const POLL_MS = 5;

/** How long a standby that failed to answer is left alone before reads try it again. */
const RETRY_AFTER_MS = 5_000;

/**
 * The streaming-replication standby of DATABASE_URL that investigation reads may be served from
 * (DATABASE_REPLICA_URL; docs/architecture.md "Read replicas"), as the runtime role, and the
 * choice between it and the primary for one read (replica-freshness.ts decides). Without
 * DATABASE_REPLICA_URL there is no pool and every read goes to the primary, as before.
 *
 * Only reads come here: whatever a read writes (its read record, the search read model's
 * catch-up, a checkpoint signed for it) is written on the primary by the code that writes it.
 */
@Injectable()
export class ReadReplica implements OnApplicationShutdown {
  private readonly logger = new Logger(ReadReplica.name);
  private readonly pool: Pool | null;
  private readonly maxWaitMs: number;
  /** When the standby last failed to answer (null: never since it last did). */
  private failedAt: number | null = null;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly primary: DatabasePool,
  ) {
    this.maxWaitMs = config.replicaMaxWaitMs;
    if (!config.databaseReplicaUrl) {
      this.pool = null;
      return;
    }
    // The standby holds the primary's roles: its reads run as the runtime role, switched to the
    // reader role per transaction (withTenantScope) exactly as on the primary.
    const connection = runtimeConnection(config.databaseReplicaUrl);
    this.pool = new Pool({
      connectionString: connection.url,
      ...connection.extra,
      max: 16,
      keepAlive: true,
      // A standby that cannot be reached sends reads to the primary quickly, not after 5 s each.
      connectionTimeoutMillis: 1_000,
    });
    this.pool.on('error', () => undefined);
  }

  /** Whether a standby is configured at all. */
  get configured(): boolean {
    return this.pool !== null;
  }

  /** The primary, for reads that must not (or need not) go elsewhere. */
  get onPrimary(): ReadTarget {
    return { from: 'primary', db: this.primary };
  }

  /**
   * Where a read that needs everything the primary has committed so far runs: the standby once it
   * has replayed the primary's current WAL position (waiting up to AUDIT_REPLICA_MAX_WAIT_MS), else
   * the primary. Call it after what the read writes first (the read model's catch-up) has committed.
   */
  async caughtUp(): Promise<ReadTarget> {
    const pool = this.pool;
    if (pool === null || !replicaUsable(Date.now(), this.failedAt, RETRY_AFTER_MS)) return this.onPrimary;
    const current = await this.primary.query('SELECT pg_current_wal_lsn()::text AS lsn');
    const needed = parseLsn(current[0].lsn as string);
    const started = Date.now();
    for (;;) {
      let held: bigint | null;
      try {
        const replayed = (await pool.query('SELECT pg_last_wal_replay_lsn()::text AS lsn')).rows[0].lsn as
          string | null;
        held = replayed === null ? null : parseLsn(replayed);
        this.failedAt = null;
      } catch (e) {
        return this.unavailable(e);
      }
      const verdict = replicaVerdict(needed, held, Date.now() - started, this.maxWaitMs);
      if (verdict === 'replica') return { from: 'replica', db: pool };
      if (verdict === 'primary') return this.onPrimary;
      await sleep(POLL_MS);
    }
  }

  /**
   * Runs `read` on the standby, and again on the primary when the standby lacks what it needs
   * (`lacks` says which failures mean that: a tree size beyond the log as the standby holds it)
   * or cannot be reached. For reads whose need the data itself tells: what a standby answers
   * without such a failure is what the primary would.
   */
  async orPrimary<T>(
    read: (target: ReadTarget) => Promise<T>,
    lacks: (error: unknown) => boolean,
  ): Promise<{ value: T; from: ReadFrom }> {
    const pool = this.pool;
    if (pool !== null && replicaUsable(Date.now(), this.failedAt, RETRY_AFTER_MS)) {
      try {
        const value = await read({ from: 'replica', db: pool });
        this.failedAt = null;
        return { value, from: 'replica' };
      } catch (e) {
        if (isConnectionFailure(e)) this.unavailable(e);
        else if (!lacks(e)) throw e;
      }
    }
    return { value: await read(this.onPrimary), from: 'primary' };
  }

  /**
   * Runs `read` on `target` (from `caughtUp`); a standby that stops answering during it hands the
   * read to the primary, which holds at least as much, instead of failing the request with 503.
   */
  async within<T>(target: ReadTarget, read: (on: ReadTarget) => Promise<T>): Promise<{ value: T; from: ReadFrom }> {
    if (target.from === 'primary') return { value: await read(target), from: 'primary' };
    try {
      return { value: await read(target), from: 'replica' };
    } catch (e) {
      return { value: await read(this.unavailable(e)), from: 'primary' };
    }
  }

  /** A standby that failed to answer: left alone for a while, told once, and the primary answers. */
  private unavailable(error: unknown): ReadTarget {
    if (!isConnectionFailure(error)) throw error;
    if (this.failedAt === null) this.logger.warn('the read replica does not answer: reads go to the primary');
    this.failedAt = Date.now();
    return this.onPrimary;
  }

  async onApplicationShutdown(): Promise<void> {
    await this.pool?.end();
  }
}
