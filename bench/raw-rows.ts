import { createHash } from 'node:crypto';
import { Client, Pool, PoolClient } from 'pg';

// The raw PostgreSQL baselines single events are judged against: rows shaped like the service's
// `entries` (same columns, keys and sizes) in a bare table of the bench database, written by
// plain `pg` clients with no service in between.

/** The bare table: the same row shape as `entries`, with the same keys. */
export const BARE_ENTRIES_DDL = `CREATE TABLE IF NOT EXISTS bare_entries (log text NOT NULL, idx bigint NOT NULL, id uuid NOT NULL, recorded_at timestamptz NOT NULL,
    prev bytea NOT NULL, leaf_hash bytea NOT NULL, tree_nodes bytea NOT NULL, leaf bytea NOT NULL, PRIMARY KEY (log, idx), UNIQUE (log, prev))`;

/** A leaf about the size of the service's (the benchmark event plus its envelope). */
export function bareLeaf(event: object): Buffer {
  return Buffer.from(JSON.stringify({ ...event, pad: 'x'.repeat(250) }));
}

export function bareRow(i: number): { idx: number; id: string; prev: Buffer; h: Buffer } {
  return {
    idx: i,
    id: `00000000-0000-7000-8000-${i.toString(16).padStart(12, '0')}`,
    prev: createHash('sha256').update(`p${i}`).digest(),
    h: createHash('sha256').update(`r${i}`).digest(),
  };
}

const INSERT = 'INSERT INTO bare_entries VALUES ($1, $2, $3, now(), $4, $5, $6, $7)';

/** One row in one autocommit statement: PostgreSQL commits it in the same round trip. */
function insertOne(conn: Client | PoolClient, log: string, i: number, leaf: Buffer): Promise<unknown> {
  const r = bareRow(i);
  return conn.query(INSERT, [log, r.idx, r.id, r.prev, r.h, Buffer.alloc(0), leaf]);
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

export interface RawRate {
  /** Rows committed per second. */
  readonly rate: number;
  readonly p50: number;
  readonly p99: number;
}

/**
 * Closed loop: `clients` connections each commit one-row autocommit INSERTs back to back for
 * `seconds` (the form the service's group commit sends: one statement per commit). Row indexes
 * start at `from` so runs in the same table never collide.
 */
export async function oneStatementCommits(
  db: string,
  leaf: Buffer,
  options: { from: number; seconds: number; clients: number },
): Promise<RawRate> {
  const pool = new Pool({ connectionString: db, max: options.clients });
  let next = options.from;
  const latencies: number[] = [];
  const conns = await Promise.all(Array.from({ length: options.clients }, () => pool.connect()));
  const started = performance.now();
  const until = started + options.seconds * 1000;
  try {
    await Promise.all(
      conns.map(async (conn, c) => {
        while (performance.now() < until) {
          const t0 = performance.now();
          await insertOne(conn, `one${c}`, next++, leaf);
          latencies.push(performance.now() - t0);
        }
      }),
    );
  } finally {
    conns.forEach((c) => c.release());
    await pool.end();
  }
  const rate = latencies.length / ((performance.now() - started) / 1000);
  latencies.sort((a, b) => a - b);
  return { rate, p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99) };
}

export interface OpenLoopResult {
  /** Requests answered successfully per second of the run. */
  readonly rate: number;
  readonly p50: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
  /** Requests that failed or were never answered. */
  readonly failed: number;
}

/**
 * Open loop against PostgreSQL, the raw counterpart of `pacedLoad`: one-row autocommit INSERTs
 * due evenly at `rate` a second for `seconds`, each sent on the first free connection of
 * `clients` (queued while none is free), each timed from the moment it was due, so a stall
 * counts against every request it held back.
 */
export async function pacedOneStatementCommits(
  db: string,
  leaf: Buffer,
  options: { from: number; rate: number; seconds: number; clients: number },
): Promise<OpenLoopResult> {
  const conns = await Promise.all(
    Array.from({ length: options.clients }, async () => {
      const c = new Client({ connectionString: db });
      c.on('error', () => undefined);
      await c.connect();
      return c;
    }),
  );
  const total = Math.round(options.rate * options.seconds);
  const latencies: number[] = [];
  let failed = 0;
  let answered = 0;
  let next = options.from;
  const idle = [...conns];
  const waiting: number[] = [];
  let finish: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  // One request in flight per connection, like the HTTP load's keep-alive connections.
  const sendOn = (c: number, due: number): void => {
    insertOne(conns[c], `paced${c}`, next++, leaf)
      .then(
        () => latencies.push(performance.now() - due),
        () => failed++,
      )
      .finally(() => {
        answered++;
        if (answered === total) finish();
        const more = waiting.shift();
        if (more === undefined) idle.push(conns[c]);
        else sendOn(c, more);
      });
  };
  const started = performance.now();
  for (let issued = 0; issued < total;) {
    const now = performance.now();
    const due = Math.min(total, Math.floor(((now - started) / 1000) * options.rate) + 1);
    for (; issued < due; issued++) {
      const at = started + (issued / options.rate) * 1000;
      const conn = idle.pop();
      if (conn) sendOn(conns.indexOf(conn), at);
      else waiting.push(at);
    }
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([finished, new Promise<void>((resolve) => (timer = setTimeout(resolve, 60_000)))]);
  clearTimeout(timer);
  failed += total - answered;
  const elapsed = (performance.now() - started) / 1000;
  await Promise.all(conns.map((c) => c.end().catch(() => undefined)));
  latencies.sort((a, b) => a - b);
  return {
    rate: latencies.length / elapsed,
    p50: percentile(latencies, 0.5),
    p99: percentile(latencies, 0.99),
    p999: percentile(latencies, 0.999),
    max: latencies[latencies.length - 1] ?? NaN,
    failed,
  };
}
