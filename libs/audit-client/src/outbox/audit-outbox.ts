import { v7 as uuidv7 } from 'uuid';
import { AuditEvent, WireEvent, toWire } from '../audit-event';

/**
 * Anything that runs SQL with `$1` parameters inside the caller's transaction: a `pg` client
 * between BEGIN and COMMIT, or a TypeORM EntityManager of `dataSource.transaction(...)`.
 */
export interface Queryable {
  query(text: string, params?: unknown[]): Promise<unknown>;
}

/**
 * Writes events to `audit_outbox` in the caller's transaction, so they commit or roll back with
 * the business change. Returns each event's idempotency key (a UUIDv7: the service's entry id
 * stays the service's). An OutboxRelay sends them later.
 */
export async function writeToOutbox(tx: Queryable, events: readonly AuditEvent[]): Promise<string[]> {
  if (events.length === 0) return [];
  const wire: WireEvent[] = events.map((event) => toWire(event));
  const keys = wire.map(() => uuidv7());
  // One event, the usual case inside a business transaction: a plain one-row INSERT. Unnesting
  // arrays costs the database more than the row itself (about a tenth of a small transaction's
  // rate, bench/sdk.bench.ts), so arrays are only for several events in one statement.
  if (wire.length === 1)
    await tx.query('INSERT INTO audit_outbox (idempotency_key, event) VALUES ($1, $2)', [
      keys[0],
      JSON.stringify(wire[0]),
    ]);
  else
    await tx.query('INSERT INTO audit_outbox (idempotency_key, event) SELECT * FROM unnest($1::uuid[], $2::jsonb[])', [
      keys,
      wire.map((event) => JSON.stringify(event)),
    ]);
  return keys;
}

/**
 * A string as a PostgreSQL literal, safe whatever `standard_conforming_strings` says: quotes and
 * backslashes doubled, and the escape-string form when there is a backslash (as `pg`'s own
 * `escapeLiteral`). JSON text holds no NUL (JSON.stringify escapes control characters).
 */
function literal(text: string): string {
  const quoted = `'${text.replace(/'/g, "''").replace(/\\/g, '\\\\')}'`;
  return text.includes('\\') ? `E${quoted}` : quoted;
}

/**
 * Writes `events` to the outbox and commits the caller's transaction in one round trip: one
 * simple-protocol string `INSERT ...; COMMIT`. In a small business transaction the outbox's own
 * round trip is most of its cost (BEGIN, a business INSERT and COMMIT are three; the outbox row
 * made them four, 0.75 times the rate: bench/sdk.bench.ts); this keeps them three. A failed
 * INSERT aborts the transaction (the COMMIT in the same string does not run): roll back as after
 * any failed statement. Values are sent as escaped literals, since a simple query has no
 * parameters; the keys are UUIDs made here and the events JSON.
 */
async function writeAndCommit(tx: Queryable, events: readonly AuditEvent[]): Promise<string[]> {
  const wire: WireEvent[] = events.map((event) => toWire(event));
  const keys = wire.map(() => uuidv7());
  if (wire.length === 0) {
    await tx.query('COMMIT');
    return [];
  }
  const rows = wire.map((event, i) => `('${keys[i]}', ${literal(JSON.stringify(event))})`).join(', ');
  await tx.query(`INSERT INTO audit_outbox (idempotency_key, event) VALUES ${rows}; COMMIT`);
  return keys;
}

/**
 * The outbox in a plain `pg` transaction: `const tx = await pool.connect(); await tx.query('BEGIN'); ...`.
 * `record` writes in the transaction; `recordAndCommit` writes and commits in one round trip, for
 * the last step of a transaction.
 */
export function outboxForPg(client: Queryable): {
  record(...events: AuditEvent[]): Promise<string[]>;
  recordAndCommit(...events: AuditEvent[]): Promise<string[]>;
} {
  return {
    record: (...events) => writeToOutbox(client, events),
    recordAndCommit: (...events) => writeAndCommit(client, events),
  };
}

/** The outbox in a TypeORM transaction: `dataSource.transaction(async (manager) => ...)`. */
export function outboxForEntityManager(manager: Queryable): { record(...events: AuditEvent[]): Promise<string[]> } {
  return { record: (...events) => writeToOutbox(manager, events) };
}
