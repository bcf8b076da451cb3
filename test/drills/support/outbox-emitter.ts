import { OUTBOX_MIGRATION_SQL, OutboxRelay, outboxForPg } from '@audit/client';
import { Pool } from 'pg';

/**
 * The emitter of test/drills/emitter-killed.drill-spec.ts, as an OS process of its own that the
 * drill kills: a platform service with its own database that uses `@audit/client` as installed
 * (the drill compiles this file and runs it against the built package, libs/audit-client/dist).
 * It writes ORDERS business rows, each with its event in the outbox in the same transaction,
 * then runs the relay until it is killed. ORDERS=0: the relay only (the emitter restarted).
 *
 * Environment: EMITTER_DATABASE_URL, AUDIT_URL, AUDIT_API_KEY, ORDERS, RUN (the orders' id
 * prefix). Writes `written` and `relaying` lines to stdout; alarms as JSON lines to stderr.
 */

const TENANT = 'acme';
/** Orders per business transaction. */
const PER_TRANSACTION = 10;

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
}

async function writeOrders(pool: Pool, run: string, count: number): Promise<void> {
  for (let first = 0; first < count; first += PER_TRANSACTION) {
    const ids = Array.from({ length: Math.min(PER_TRANSACTION, count - first) }, (_, i) => `${run}-${first + i}`);
    const tx = await pool.connect();
    try {
      await tx.query('BEGIN');
      await tx.query('INSERT INTO orders (id) SELECT unnest($1::text[])', [ids]);
      await outboxForPg(tx).record(
        ...ids.map((id) => ({
          tenant: TENANT,
          type: 'admin.setting.changed' as const,
          actor: { type: 'service', id: 'drill-emitter' },
          target: { type: 'order', id },
          outcome: 'success' as const,
          context: { order: id },
        })),
      );
      await tx.query('COMMIT');
    } finally {
      tx.release();
    }
  }
}

async function main(): Promise<void> {
  const pool = new Pool({ connectionString: required('EMITTER_DATABASE_URL'), application_name: 'drill-emitter' });
  await pool.query(OUTBOX_MIGRATION_SQL);
  await pool.query('CREATE TABLE IF NOT EXISTS orders (id text PRIMARY KEY)');
  await writeOrders(pool, required('RUN'), Number(process.env.ORDERS ?? '0'));
  process.stdout.write('written\n');
  // Small batches: many passes, so the drill finds the relay in the middle of one.
  const relay = new OutboxRelay(pool, {
    baseUrl: required('AUDIT_URL'),
    apiKey: required('AUDIT_API_KEY'),
    batchSize: 5,
    idleMs: 50,
    onAlarm: (alarm) => process.stderr.write(`${JSON.stringify({ alarm })}\n`),
  });
  relay.start();
  process.stdout.write('relaying\n');
}

main().catch((error: Error) => {
  process.stderr.write(`${error.stack}\n`);
  process.exit(1);
});
