import autocannon from 'autocannon';
import { randomBytes } from 'node:crypto';
import { Client, Pool } from 'pg';
import { v7 as uuidv7 } from 'uuid';
import { AuditEvent, OUTBOX_MIGRATION_SQL, OutboxRelay, outboxForPg, toWire, writeToOutbox } from '@audit/client';
import { DATABASE_SERVER, dropDatabase, startBenchService } from './bench-service';
import { BenchFigure } from './report';

// The emitter SDK (issue 20): its transactional outbox and relay, each beside its baseline in the
// same run, in interleaved phases (A/B/A/B of fixed length) so a slow moment of the shared machine
// falls on both. The service runs as a child process on a fresh database, as in service.bench.ts;
// the emitter's database is a second fresh database with the SDK's migration.
interface Sizes {
  /** Length of each phase of the business transactions, s. */
  readonly businessSeconds: number;
  /** Length of each phase end to end, s. */
  readonly endToEndSeconds: number;
  /** Rounds of each comparison (one phase of each kind per round); the figures are the medians. */
  readonly rounds: number;
}
// Many short phases rather than a few long ones: on a shared machine a busy moment then spoils a
// few phases of each kind, and the median leaves them out.
const FULL: Sizes = { businessSeconds: 2, endToEndSeconds: 4, rounds: 9 };
const QUICK: Sizes = { businessSeconds: 1, endToEndSeconds: 1, rounds: 1 };

/** The emitter's concurrent business clients. */
const CLIENTS = 16;
/** Relays in the bench process, as an emitter runs them (one per instance); the baseline gets as many connections. */
const RELAYS = 4;
/** The relay's default batch size: the baseline's batches are as large. */
const BATCH = 100;
/** The one log both ingestion paths append to. */
const TENANT = 'sdk';
/** The API key's name, which the service records as each entry's `source` (the relay checks it). */
const SOURCE = 'sdk-bench';

const paid = (i: number): AuditEvent => ({
  tenant: TENANT,
  type: 'billing.invoice.paid',
  actor: { type: 'user', id: `usr_${i % 977}` },
  target: { type: 'invoice', id: `inv_${i}` },
  outcome: 'success',
  context: { invoiceId: `inv_${i}`, amountCents: 1000 + (i % 5000), currency: 'USD', note: 'n'.repeat(60) },
});

async function createDatabase(name: string): Promise<void> {
  const admin = new Client({ connectionString: `${DATABASE_SERVER}/postgres` });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${name}"`);
  await admin.end();
}

const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * What a business transaction does besides its one small INSERT: nothing, the event's outbox row
 * through the SDK (`recordAndCommit`: the row and the COMMIT in one round trip, as a transaction's
 * last step writes it; `record` then COMMIT costs one round trip more, like the second INSERT), or
 * a second small INSERT into a table of its own (what any one more statement
 * costs: the floor under the outbox row's cost).
 */
type Extra = 'none' | 'outbox' | 'second insert';

/** Business transactions per second from CLIENTS clients for `seconds`: BEGIN, one small INSERT, the extra, COMMIT. */
async function businessRate(pool: Pool, seconds: number, extra: Extra, next: { i: number }): Promise<number> {
  const until = Date.now() + seconds * 1000;
  let done = 0;
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      const tx = await pool.connect();
      try {
        while (Date.now() < until) {
          const i = next.i++;
          await tx.query('BEGIN');
          await tx.query('INSERT INTO orders (customer, amount_cents) VALUES ($1, $2)', [`cus_${i % 977}`, 1000 + i]);
          if (extra === 'outbox') await outboxForPg(tx).recordAndCommit(paid(i));
          if (extra === 'second insert')
            await tx.query('INSERT INTO order_notes (customer, amount_cents) VALUES ($1, $2)', [`cus_${i % 977}`, i]);
          if (extra !== 'outbox') await tx.query('COMMIT');
          done++;
        }
      } finally {
        tx.release();
      }
    }),
  );
  return done / (Number(process.hrtime.bigint() - t0) / 1e9);
}

/** The service's own batch ingestion: RELAYS connections posting batches of BATCH events with their idempotency keys. */
async function batchAppendRate(url: string, apiKey: string, seconds: number, next: { i: number }): Promise<number> {
  const t0 = Date.now();
  const result = await new Promise<autocannon.Result>((resolve, reject) =>
    autocannon(
      {
        url: `${url}/v1/events/batch`,
        method: 'POST',
        headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
        connections: RELAYS,
        duration: seconds,
        requests: [
          {
            setupRequest: (req) => ({
              ...req,
              body: JSON.stringify({
                events: Array.from({ length: BATCH }, () => ({ ...toWire(paid(next.i++)), idempotencyKey: uuidv7() })),
              }),
            }),
          },
        ],
      },
      (err, res) => (err ? reject(err) : resolve(res)),
    ),
  );
  if (result.non2xx > 0 || result.errors > 0)
    throw new Error(`batch appends failed: ${result.non2xx} non-2xx, ${result.errors} errors`);
  return (result['2xx'] * BATCH) / ((Date.now() - t0) / 1000);
}

/** Fills the outbox with `count` events in multi-row transactions of 1,000 (not timed). */
async function backlog(pool: Pool, count: number, next: { i: number }): Promise<void> {
  for (let from = 0; from < count; from += 1000) {
    const n = Math.min(1000, count - from);
    await writeToOutbox(
      pool,
      Array.from({ length: n }, () => paid(next.i++)),
    );
  }
}

/**
 * Events acknowledged per second by RELAYS relays for `seconds`, from an outbox that never runs
 * dry: a backlog larger than the baseline could take in the phase, and business transactions
 * writing one more event each at the same time (the emitter does not stop while its relay works).
 */
async function relayRate(
  pool: Pool,
  url: string,
  apiKey: string,
  seconds: number,
  baseline: number,
  next: { i: number },
): Promise<{ rate: number; written: number; alarms: number }> {
  await backlog(pool, Math.ceil((baseline * seconds * 1.5) / 1000) * 1000, next);
  let acknowledged = 0;
  let alarms = 0;
  let counting = true;
  const relays = Array.from(
    { length: RELAYS },
    () =>
      new OutboxRelay(pool, {
        baseUrl: url,
        apiKey,
        source: SOURCE,
        batchSize: BATCH,
        onAcknowledged: (acks) => {
          if (counting) acknowledged += acks.length;
        },
        onAlarm: () => alarms++,
      }),
  );
  const until = Date.now() + seconds * 1000;
  let written = 0;
  const t0 = process.hrtime.bigint();
  relays.forEach((r) => r.start());
  // Two business clients keep writing while the relays send.
  const writers = Array.from({ length: 2 }, async () => {
    const tx = await pool.connect();
    try {
      while (Date.now() < until) {
        await tx.query('BEGIN');
        await tx.query('INSERT INTO orders (customer, amount_cents) VALUES ($1, $2)', ['cus_relay', next.i]);
        await outboxForPg(tx).record(paid(next.i++));
        await tx.query('COMMIT');
        written++;
      }
    } finally {
      tx.release();
    }
  });
  await Promise.all(writers);
  const remaining = until - Date.now();
  if (remaining > 0) await new Promise((r) => setTimeout(r, remaining));
  counting = false;
  const elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
  // Passes in flight at the stop commit as usual; they are not counted.
  await Promise.all(relays.map((r) => r.stop()));
  // An outbox that ran dry would time the writers, not the relays.
  const { rows } = await pool.query<{ left: string }>('SELECT count(*) AS left FROM audit_outbox');
  if (Number(rows[0].left) === 0) throw new Error('the outbox ran dry: the backlog was too small to time the relays');
  await pool.query('TRUNCATE audit_outbox');
  return { rate: acknowledged / elapsed, written, alarms };
}

export async function runSdkBench(quick: boolean, log: (line: string) => void): Promise<BenchFigure[]> {
  const sizes = quick ? QUICK : FULL;
  const suffix = randomBytes(4).toString('hex');
  const emitterDb = `audit_bench_sdk_emitter_${suffix}`;
  const service = await startBenchService({
    database: `audit_bench_sdk_${suffix}`,
    ports: { from: 3980, spread: 9 },
    log: (line) => log(`sdk: ${line}`),
  });
  const { url, admin } = service;
  log(`sdk: emitter database ${emitterDb}`);
  const pool = new Pool({ connectionString: `${DATABASE_SERVER}/${emitterDb}`, max: CLIENTS + RELAYS });
  // The database is dropped at the end, ending these connections whatever state the run is in.
  pool.on('error', () => undefined);
  try {
    await createDatabase(emitterDb);
    await pool.query(OUTBOX_MIGRATION_SQL);
    for (const table of ['orders', 'order_notes'])
      await pool.query(
        `CREATE TABLE ${table} (id bigserial PRIMARY KEY, customer text NOT NULL, amount_cents integer NOT NULL, created_at timestamptz NOT NULL DEFAULT now())`,
      );
    const keyRes = await fetch(`${url}/v1/keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: SOURCE, roles: ['emitter'], tenants: [TENANT] }),
    });
    if (keyRes.status !== 201) throw new Error(`creating the key failed: HTTP ${keyRes.status}`);
    const apiKey = ((await keyRes.json()) as { key: string }).key;
    const next = { i: 0 };

    // (1) The emitter's business transactions, alone and with the outbox row.
    log(
      `sdk: business transactions, ${CLIENTS} clients, alone / with the outbox row / with a second INSERT, ${sizes.rounds} x ${sizes.businessSeconds} s each, interleaved`,
    );
    await businessRate(pool, quick ? 0.5 : 2, 'outbox', next); // warm-up, not counted
    const rates: Record<Extra, number[]> = { none: [], outbox: [], 'second insert': [] };
    for (let round = 0; round < sizes.rounds; round++) {
      // The order turns each round, so a machine getting busier or quieter favours no kind of phase.
      const kinds = ['none', 'outbox', 'second insert'] as const;
      for (let k = 0; k < kinds.length; k++) {
        const extra = kinds[(round + k) % kinds.length];
        rates[extra].push(await businessRate(pool, sizes.businessSeconds, extra, next));
      }
      // What the relay would have sent meanwhile, so each phase starts from an empty outbox.
      await pool.query('TRUNCATE audit_outbox');
      log(
        `sdk: round ${round + 1}: ${Math.round(rates.none[round])} tx/s alone, ${Math.round(rates.outbox[round])} with the outbox row, ${Math.round(rates['second insert'][round])} with a second INSERT`,
      );
    }

    // (2) End to end: the outbox drained by the relays vs. the service's own batch appends.
    log(
      `sdk: end to end, ${RELAYS} relays (batches of ${BATCH}) vs. ${RELAYS} connections of batch appends, ${sizes.rounds} x ${sizes.endToEndSeconds} s each, interleaved`,
    );
    await batchAppendRate(url, apiKey, quick ? 1 : 3, next); // warm-up, not counted
    const direct: number[] = [];
    const relayed: number[] = [];
    let written = 0;
    let alarms = 0;
    for (let round = 0; round < sizes.rounds; round++) {
      // A/B, then B/A (the backlog's size follows the previous baseline phase).
      if (round % 2 === 0) direct.push(await batchAppendRate(url, apiKey, sizes.endToEndSeconds, next));
      const pass = await relayRate(pool, url, apiKey, sizes.endToEndSeconds, direct[direct.length - 1], next);
      if (round % 2 === 1) direct.push(await batchAppendRate(url, apiKey, sizes.endToEndSeconds, next));
      relayed.push(pass.rate);
      written += pass.written;
      alarms += pass.alarms;
      log(
        `sdk: round ${round + 1}: ${Math.round(direct[round])} events/s by batch appends, ${Math.round(pass.rate)} events/s through the outbox (${pass.written} written meanwhile)`,
      );
    }
    const pairedRatios = (xs: readonly number[], ys: readonly number[]) =>
      median(xs.map((x, k) => x / ys[k])).toFixed(2);
    log(
      `sdk: medians of the per-round ratios: outbox row ${pairedRatios(rates.outbox, rates.none)}, second INSERT ${pairedRatios(rates['second insert'], rates.none)}, end to end ${pairedRatios(relayed, direct)}`,
    );
    const seconds = sizes.rounds * sizes.endToEndSeconds;
    return [
      {
        name: `emitter business transactions with the outbox row, written with the COMMIT (${CLIENTS} clients, median)`,
        value: median(rates.outbox),
        unit: 'tx/s',
        baseline: { name: 'the same transactions without it', value: median(rates.none) },
        target: { kind: 'min-ratio', value: 0.8 },
      },
      {
        name: 'the same transactions with a second small INSERT instead (the cost of any one more statement)',
        value: median(rates['second insert']),
        unit: 'tx/s',
        baseline: { name: 'without it', value: median(rates.none) },
      },
      {
        name: `events through the outbox, acknowledged and deleted (${RELAYS} relays, batches of ${BATCH}, median)`,
        value: median(relayed),
        unit: 'events/s',
        baseline: { name: `batch appends, ${RELAYS} connections`, value: median(direct) },
        target: { kind: 'min-ratio', value: 0.5 },
      },
      {
        name: 'business transactions writing to the outbox while the relays sent',
        value: written / seconds,
        unit: 'tx/s',
      },
      { name: 'receipt alarms raised by the relays', value: alarms, unit: 'alarms', target: { kind: 'max', value: 0 } },
    ];
  } finally {
    await pool.end().catch(() => undefined);
    await service.stop();
    await dropDatabase(emitterDb);
  }
}
