import { DynamicModule } from '@nestjs/common';
import { Test, TestingModule } from '@nestjs/testing';
import { rmSync } from 'node:fs';
import { Client, PoolClient } from 'pg';
import type { EventToAppend, Sql } from '../../src/ledger';
import { AppConfig, DatabasePool, PlatformModule } from '../../src/platform';
import { loadConfig } from '../../src/platform/config/app-config';
import { clearQueues } from './redis-keys';
import { testEnv } from './test-app';

/**
 * Set-up shared by the integration tests (`src/**\/*.int-spec.ts`): a context's module graph
 * without HTTP, the ledger's test events, SQL on a plain connection, lock waits, and triggers that
 * make the database refuse entries.
 */

/** One context's module graph on a test database, as one service process sees it. */
export interface TestModule {
  readonly config: AppConfig;
  readonly moduleRef: TestingModule;
  close(): Promise<void>;
}

/**
 * PlatformModule and `context` on `databaseUrl`: no HTTP, no signer, no worker (only what appends
 * need), and a queue prefix and mirror directory of their own; `env` overrides the environment.
 */
export async function startTestModule(
  databaseUrl: string,
  context: { forRoot(config: AppConfig): DynamicModule },
  env: Record<string, string> = {},
): Promise<TestModule> {
  const config = loadConfig(testEnv(databaseUrl, { AUDIT_COMPONENTS: 'sequencer', ...env }));
  const moduleRef = await Test.createTestingModule({
    imports: [PlatformModule.forRoot(config), context.forRoot(config)],
  }).compile();
  moduleRef.useLogger(false);
  await moduleRef.init();
  return {
    config,
    moduleRef,
    async close() {
      await moduleRef.close();
      await clearQueues(config.queuePrefix);
      rmSync(config.checkpointDir, { recursive: true, force: true });
    },
  };
}

/** An emitted event of the `billing` category with `note` as its context, for `log`. */
export function billingEvent(log: string, note: string): EventToAppend {
  return {
    log,
    source: 'billing',
    type: 'billing.invoice.paid',
    category: 'billing',
    actor: { type: 'user', id: 'usr_1' },
    outcome: 'success',
    context: { note },
  };
}

/** The ledger's Sql on one connection (a pooled one in a transaction, or the owner's). */
export const sqlOn =
  (client: PoolClient | Client): Sql =>
  async (text, params) =>
    (await client.query(text, params)).rows;

/** Two pooled connections (the runtime role) in transactions, always rolled back and returned. */
export async function withTwoTransactions(
  pool: DatabasePool,
  fn: (first: PoolClient, second: PoolClient, secondPid: number) => Promise<void>,
): Promise<void> {
  const first = await pool.connect();
  const second = await pool.connect();
  try {
    const secondPid = (await second.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;
    await first.query('BEGIN');
    await second.query('BEGIN');
    await fn(first, second, secondPid);
  } finally {
    // A failed expectation must not hand a connection back to the pool mid-transaction.
    for (const client of [first, second]) {
      await client.query('ROLLBACK');
      client.release();
    }
  }
}

/**
 * Resolves with what the backend `pid` waits for (its pg_stat_activity wait event of type Lock:
 * 'tuple', 'transactionid', 'relation', 'advisory'...) as soon as it waits, or 'done' if `work`
 * settles first. Polls the server's view as `owner`; no sleep decides the outcome.
 */
export async function lockWaitOf(owner: Client, pid: number, work: Promise<unknown>): Promise<string> {
  let settled = false;
  void work.then(
    () => (settled = true),
    () => (settled = true),
  );
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (settled) return 'done';
    const { rows } = await owner.query('SELECT wait_event_type, wait_event FROM pg_stat_activity WHERE pid = $1', [
      pid,
    ]);
    if (rows[0]?.wait_event_type === 'Lock') return rows[0].wait_event as string;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`backend ${pid} neither waited on a lock nor finished`);
}

/**
 * Runs `body` (PL/pgSQL, before `RETURN NEW`) before every insert into `entries`, as function
 * `name`, with a sequence `counter` it may count calls with (a sequence is not rolled back with a
 * refused transaction). Installed as the owner: the service's role may not do this.
 */
export async function beforeEntryInsert(owner: Client, name: string, counter: string, body: string): Promise<void> {
  await owner.query(`CREATE SEQUENCE ${counter}`);
  await owner.query(`
    CREATE FUNCTION ${name}() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS $$
    BEGIN
      ${body}
      RETURN NEW;
    END $$`);
  await owner.query(`CREATE TRIGGER entries_${name} BEFORE INSERT ON entries FOR EACH ROW EXECUTE FUNCTION ${name}()`);
}
