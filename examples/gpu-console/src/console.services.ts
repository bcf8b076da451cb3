import { AsyncLocalStorage } from 'node:async_hooks';
import {
  CallHandler,
  ExecutionContext,
  Injectable,
  Logger,
  NestInterceptor,
  OnApplicationBootstrap,
  OnApplicationShutdown,
} from '@nestjs/common';
import {
  AuditAlarm,
  AuditEvent,
  Acknowledgement,
  OUTBOX_MIGRATION_SQL,
  OutboxRelay,
  ReceiptVerifier,
  writeToOutbox,
} from '@audit/client';
import { HoldCheckClient, withHoldGuard } from '@audit/hold-guard';
import { AuditService, AuditSink } from '@audit/nestjs';
import { Processor, Queue, Worker } from 'bullmq';
import { Pool, PoolClient } from 'pg';
import { Observable, from, lastValueFrom } from 'rxjs';

/** The console's configuration, from its environment (README "Configuration"). */
export class ConsoleConfig {
  readonly databaseUrl = required('DATABASE_URL');
  readonly redisUrl = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  readonly queuePrefix = process.env.QUEUE_PREFIX ?? 'gpu-console';
  readonly auditUrl = required('AUDIT_URL');
  /** An emitter key of the audit service for the tenant: sends the events, asks for holds. */
  readonly auditApiKey = required('AUDIT_API_KEY');
  readonly tenant = process.env.AUDIT_TENANT ?? 'acme';
  /** Optional: an investigator key, the log's pinned verifier key and AUDIT_LOG_ORIGIN, to prove receipts. */
  readonly auditReadKey = process.env.AUDIT_READ_KEY;
  readonly auditVerifierKey = process.env.AUDIT_VERIFIER_KEY;
  readonly auditLogOrigin = process.env.AUDIT_LOG_ORIGIN ?? 'audit-trail.localhost';
}

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
}

/** The business transaction of the request being handled, if any. */
const requestTransaction = new AsyncLocalStorage<PoolClient>();

/** The console's own PostgreSQL database: its business tables and the audit outbox. */
@Injectable()
export class Database implements OnApplicationShutdown {
  readonly pool: Pool;

  constructor(config: ConsoleConfig) {
    this.pool = new Pool({ connectionString: config.databaseUrl, application_name: 'gpu-console' });
  }

  async migrate(): Promise<void> {
    await this.pool.query(OUTBOX_MIGRATION_SQL);
    await this.pool.query(`
      CREATE TABLE IF NOT EXISTS sessions (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), user_id text NOT NULL);
      CREATE TABLE IF NOT EXISTS api_keys (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), owner text NOT NULL, name text NOT NULL);
      CREATE TABLE IF NOT EXISTS role_grants (user_id text NOT NULL, role text NOT NULL, PRIMARY KEY (user_id, role));
      CREATE TABLE IF NOT EXISTS deployments (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), owner text NOT NULL, region text NOT NULL);`);
  }

  /** The request's transaction (opened by {@link BusinessTransaction}). */
  tx(): PoolClient {
    const tx = requestTransaction.getStore();
    if (!tx) throw new Error('no business transaction: the route needs @UseInterceptors(BusinessTransaction)');
    return tx;
  }

  /** Runs `work` in a transaction of its own. */
  async transaction<T>(work: (tx: PoolClient) => Promise<T>): Promise<T> {
    const tx = await this.pool.connect();
    try {
      await tx.query('BEGIN');
      const result = await work(tx);
      await tx.query('COMMIT');
      return result;
    } catch (error) {
      await tx.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      tx.release();
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await this.pool.end();
  }
}

/**
 * Runs a route in one transaction, with the @Audited interceptor inside it: the business rows and
 * the outbox row commit together, or neither does. Registered on the controller, so it wraps the
 * routes' own interceptors.
 */
@Injectable()
export class BusinessTransaction implements NestInterceptor {
  constructor(private readonly db: Database) {}

  intercept(_context: ExecutionContext, next: CallHandler): Observable<unknown> {
    return from(this.db.transaction((tx) => requestTransaction.run(tx, () => lastValueFrom(next.handle()))));
  }
}

/**
 * Where @Audited's events go: the outbox, in the request's transaction. A failed action's event is
 * written on its own, since its transaction rolls back.
 */
export function outboxSink(db: Database): AuditSink {
  return {
    emit: (event: AuditEvent) => {
      const tx = requestTransaction.getStore();
      return writeToOutbox(tx && event.outcome !== 'failure' ? tx : db.pool, [event]);
    },
  };
}

/**
 * Sends the outbox to the audit service (one relay per process; several processes may run it) and
 * proves the acknowledged events' receipts against the log's pinned key when one is configured.
 */
@Injectable()
export class AuditRelay implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('AuditRelay');
  private readonly relay: OutboxRelay;
  private readonly verifier?: ReceiptVerifier;
  private readonly unproven: Acknowledgement[] = [];
  private proving?: NodeJS.Timeout;
  private roundRunning = false;
  readonly receipts = { acknowledged: 0, verified: 0, failed: 0 };
  readonly alarms: string[] = [];

  constructor(
    private readonly db: Database,
    config: ConsoleConfig,
  ) {
    const onAlarm = (alarm: AuditAlarm) => {
      this.alarms.push(alarm.kind);
      this.logger.error(`audit alarm ${alarm.kind}`);
    };
    this.relay = new OutboxRelay(db.pool, {
      baseUrl: config.auditUrl,
      apiKey: config.auditApiKey,
      idleMs: 50,
      // Back within 5 s of the audit service's return after an outage (the default waits up to 30 s).
      backoff: { baseMs: 100, maxMs: 5_000, factor: 2 },
      onAlarm,
      onAcknowledged: (acks) => {
        this.receipts.acknowledged += acks.length;
        if (this.verifier) this.unproven.push(...acks);
      },
    });
    if (config.auditReadKey && config.auditVerifierKey) {
      this.verifier = new ReceiptVerifier({
        baseUrl: config.auditUrl,
        readKey: config.auditReadKey,
        verifierKey: config.auditVerifierKey,
        originPrefix: config.auditLogOrigin,
        onAlarm,
      });
    }
  }

  onApplicationBootstrap(): void {
    this.relay.start();
    if (this.verifier) this.proving = setInterval(() => void this.prove(), 200);
  }

  /** Proves the receipts waiting, one round at a time; one still `pending` (no checkpoint covers it yet) waits for the next. */
  private async prove(): Promise<void> {
    if (this.unproven.length === 0 || this.roundRunning) return;
    this.roundRunning = true;
    try {
      for (const ack of this.unproven.splice(0)) {
        const outcome = await (this.verifier as ReceiptVerifier).verify(ack).catch(() => 'pending' as const);
        if (outcome === 'pending') this.unproven.push(ack);
        else this.receipts[outcome]++;
      }
    } finally {
      this.roundRunning = false;
    }
  }

  async status(): Promise<object> {
    const count = async (table: string) =>
      Number((await this.db.pool.query(`SELECT count(*) AS n FROM ${table}`)).rows[0].n);
    return {
      outbox: await count('audit_outbox'),
      deadLetters: await count('audit_outbox_dead'),
      // Not yet proven, or not proven at all without a verifier.
      receipts: {
        ...this.receipts,
        pending: this.receipts.acknowledged - this.receipts.verified - this.receipts.failed,
      },
      alarms: this.alarms,
    };
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.proving);
    await this.relay.stop();
  }
}

/** A user's deletion: ids only (job data sits in Redis in clear text). */
export interface DeleteUser {
  readonly tenant: string;
  readonly userId: string;
}

/**
 * The deletion worker, on a queue of its own: deletes a user's sessions, keys and roles, with its
 * `admin.user.deleted` event in the same transaction, only when the audit service says no legal
 * hold covers the user (@audit/hold-guard; a held job waits in `delayed`, a failed check fails it).
 */
@Injectable()
export class Deletions implements OnApplicationBootstrap, OnApplicationShutdown {
  readonly queue: Queue<DeleteUser>;
  private worker?: Worker<DeleteUser>;

  constructor(
    private readonly config: ConsoleConfig,
    private readonly db: Database,
    private readonly audit: AuditService,
  ) {
    this.queue = new Queue<DeleteUser>('user-deletion', { connection: this.connection(), prefix: config.queuePrefix });
  }

  private connection() {
    const { hostname, port, password } = this.config.redisUrl;
    return { host: hostname, port: Number(port || 6379), password: password || undefined, maxRetriesPerRequest: null };
  }

  onApplicationBootstrap(): void {
    const holds = new HoldCheckClient({ baseUrl: this.config.auditUrl, apiKey: this.config.auditApiKey });
    const deleteUser: Processor<DeleteUser, void> = (job) =>
      this.db.transaction(async (tx) => {
        const { tenant, userId } = job.data;
        for (const table of ['sessions', 'role_grants'])
          await tx.query(`DELETE FROM ${table} WHERE user_id = $1`, [userId]);
        await tx.query('DELETE FROM api_keys WHERE owner = $1', [userId]);
        await this.audit.recordInTransaction(tx, {
          tenant,
          type: 'admin.user.deleted',
          actor: { type: 'service', id: 'gpu-console-deletions' },
          target: { type: 'user', id: userId },
          outcome: 'success',
          context: { userId },
        });
      });
    const guarded = withHoldGuard(deleteUser, {
      client: holds,
      question: (job) => ({ tenant: job.data.tenant, subject: job.data.userId }),
    });
    this.worker = new Worker<DeleteUser>('user-deletion', guarded, {
      connection: this.connection(),
      prefix: this.config.queuePrefix,
    });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.worker?.close();
    await this.queue.close();
  }
}
