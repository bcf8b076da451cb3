import autocannon from 'autocannon';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { AddressInfo } from 'node:net';
import { Client, Pool } from 'pg';
import { DATABASE_SERVER, json, startBenchService } from './bench-service';
import { investigationBench } from './investigation.bench';
import { personalBatchBench } from './personal-batch.bench';
import { oneStatementCommits } from './raw-rows';
import { BenchFigure } from './report';
import { subjectBundleBench } from './subject-requests.bench';

// Everything this benchmark measures runs on this machine: the service as a child process on a
// fresh database, autocannon as the HTTP load (loopback only), PostgreSQL for the raw baselines.

interface Sizes {
  readonly bulkEvents: number;
  readonly singleSeconds: number;
  readonly verifyEntries: number;
  readonly erasureEntries: number;
  readonly purgeEntries: number;
  readonly rawRows: number;
}

const FULL: Sizes = {
  bulkEvents: 1_000_000,
  singleSeconds: 15,
  verifyEntries: 1_000_000,
  rawRows: 300_000,
  erasureEntries: 10_000,
  purgeEntries: 200_000,
};
const QUICK: Sizes = {
  bulkEvents: 10_000,
  singleSeconds: 2,
  verifyEntries: 10_000,
  rawRows: 10_000,
  erasureEntries: 1_000,
  purgeEntries: 4_000,
};

/** The benchmarks' event without personal data: an invoice paid, about 300 bytes. */
export function event(tenant: string, i: number) {
  return {
    tenant,
    type: 'billing.invoice.paid',
    actor: { type: 'user', id: `usr_${i % 977}` },
    target: { type: 'invoice', id: `inv_${i}` },
    outcome: 'success',
    occurredAt: '2026-11-27T12:00:00.000Z',
    context: { amountCents: 1000 + (i % 5000), currency: 'USD', note: 'n'.repeat(60) },
  };
}

function batchBody(tenant: string, from: number): string {
  return JSON.stringify({ events: Array.from({ length: 500 }, (_, i) => event(tenant, from + i)) });
}

/** Peak resident memory of a process (VmHWM), in MB. */
function peakRssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0);
  return kb / 1024;
}

async function run(opts: autocannon.Options): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    autocannon(opts, (err, result) => (err ? reject(err) : resolve(result)));
  });
}

/** The same row shape as `entries`, with the same keys, in a bare table of the bench database. */
interface RawBaselines {
  readonly multiRow: number;
  /** The same multi-row INSERTs, each row with its search read-model row (a copy of `event_search`, same indexes). */
  readonly multiRowWithSearch: number;
  /** One-row transactions as three round trips (BEGIN, INSERT, COMMIT), 16 clients: the old baseline, kept labelled. */
  readonly oneRowTx16: number;
  /** Latency of those one-row transactions (BEGIN to COMMIT acknowledged), ms. */
  readonly oneRowLatency: { readonly p50: number; readonly p99: number };
  /**
   * One-row autocommit INSERTs, one statement per commit, 16 clients: what a group commit sends
   * per commit, and the baseline single events are judged against.
   */
  readonly oneStatement16: { readonly rate: number; readonly p50: number; readonly p99: number };
  readonly keysetChain: (n: number) => Promise<number>;
  /** p99 (ms) of reading `nodes` random rows' tree nodes by index: the reads a proof makes. */
  readonly nodeReadsP99: (log: string, size: number, nodes: number) => Promise<number>;
  /** Seconds to empty two columns of `n` rows of a bare table in one UPDATE: the floor of an erasure. */
  readonly bareErasure: (n: number) => Promise<number>;
  readonly close: () => Promise<void>;
}

function percentile(xs: number[], p: number): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

async function rawInsertBaselines(
  db: string,
  rows: number,
  quick: boolean,
  log: (s: string) => void,
): Promise<RawBaselines> {
  const client = new Client({ connectionString: db });
  // The database is dropped at the end, ending this connection whatever state the run is in.
  client.on('error', () => undefined);
  await client.connect();
  await client.query(`CREATE TABLE bare_entries (log text NOT NULL, idx bigint NOT NULL, id uuid NOT NULL, recorded_at timestamptz NOT NULL,
    prev bytea NOT NULL, leaf_hash bytea NOT NULL, tree_nodes bytea NOT NULL, leaf bytea NOT NULL, PRIMARY KEY (log, idx), UNIQUE (log, prev))`);
  const leaf = Buffer.from(JSON.stringify({ ...event('raw', 0), pad: 'x'.repeat(250) }));
  const rowAt = (i: number) => {
    const h = createHash('sha256').update(`r${i}`).digest();
    return {
      idx: i,
      id: `00000000-0000-7000-8000-${i.toString(16).padStart(12, '0')}`,
      prev: createHash('sha256').update(`p${i}`).digest(),
      h,
    };
  };
  const entryColumns = `unnest($1::bigint[], $2::uuid[], $3::timestamptz[], $4::bytea[], $5::bytea[], $6::bytea[], $7::bytea[])`;
  /** Rows/s of `rows` rows into log `into`, 500 a statement; with `search`, each with its search row. */
  const multiRowInserts = async (into: string, search: boolean): Promise<number> => {
    const t0 = process.hrtime.bigint();
    for (let from = 0; from < rows; from += 500) {
      const batch = Array.from({ length: Math.min(500, rows - from) }, (_, k) => rowAt(from + k));
      const params: unknown[] = [
        batch.map((r) => r.idx),
        batch.map((r) => r.id),
        batch.map(() => new Date().toISOString()),
        batch.map((r) => r.prev),
        batch.map((r) => r.h),
        batch.map(() => Buffer.alloc(32)),
        batch.map(() => leaf),
      ];
      if (!search) await client.query(`INSERT INTO bare_entries SELECT '${into}', * FROM ${entryColumns}`, params);
      else
        await client.query(
          `WITH entry AS (INSERT INTO bare_entries SELECT '${into}', * FROM ${entryColumns})
           INSERT INTO bare_search
           SELECT '${into}', r.idx, r.id, r.recorded_at, 'bench', 'billing.invoice.paid', 'billing', 'user', r.actor, 'invoice', r.target, 'success', NULL
           FROM unnest($1::bigint[], $2::uuid[], $3::timestamptz[], $8::text[], $9::text[]) AS r(idx, id, recorded_at, actor, target)`,
          [...params, batch.map((r) => `usr_${r.idx % 977}`), batch.map((r) => `inv_${r.idx}`)],
        );
    }
    return rows / (Number(process.hrtime.bigint() - t0) / 1e9);
  };
  log(`raw baseline: ${rows.toLocaleString('en-US')} rows in multi-row INSERTs of 500`);
  const multiRow = await multiRowInserts('raw', false);
  // The service also writes each entry's search read-model row (the projector, after commit),
  // which the baseline above does not: the same rows again, each with its row in a copy of
  // `event_search` and its six indexes, written in the same statement (the cheapest form). A
  // second, labelled baseline, so the read model's share of the gap can be read off the run.
  await client.query('CREATE TABLE bare_search (LIKE event_search INCLUDING ALL)');
  log(`raw baseline: ${rows.toLocaleString('en-US')} rows and their search rows in multi-row INSERTs of 500`);
  const multiRowWithSearch = await multiRowInserts('rawsearch', true);

  log('raw baseline: one-row transactions (BEGIN, INSERT, COMMIT) from 16 clients');
  const pool = new Pool({ connectionString: db, max: 16 });
  let next = rows;
  const until = Date.now() + 3000;
  let done = 0;
  const latencies: number[] = [];
  const start = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: 16 }, async (_, c) => {
      const conn = await pool.connect();
      try {
        while (Date.now() < until) {
          const r = rowAt(next++);
          const t0 = process.hrtime.bigint();
          await conn.query('BEGIN');
          await conn.query(`INSERT INTO bare_entries VALUES ($1, $2, $3, now(), $4, $5, $6, $7)`, [
            `raw${c}`,
            r.idx,
            r.id,
            r.prev,
            r.h,
            Buffer.alloc(0),
            leaf,
          ]);
          await conn.query('COMMIT');
          latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
          done++;
        }
      } finally {
        conn.release();
      }
    }),
  );
  const oneRowTx16 = done / (Number(process.hrtime.bigint() - start) / 1e9);
  const oneRowLatency = { p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99) };
  await pool.end();
  log('raw baseline: one-row autocommit INSERTs (one statement per commit) from 16 clients');
  const oneStatement16 = await oneStatementCommits(db, leaf, { from: rows, seconds: quick ? 1 : 3, clients: 16 });

  const nodeReadsP99 = async (logName: string, size: number, nodes: number) => {
    const times: number[] = [];
    for (let i = 0; i < 200; i++) {
      const indices = Array.from({ length: nodes }, () => Math.floor(Math.random() * size));
      const t0 = process.hrtime.bigint();
      await client.query('SELECT idx, tree_nodes FROM entries WHERE log = $1 AND idx = ANY($2::bigint[])', [
        logName,
        indices,
      ]);
      times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    return percentile(times, 0.99);
  };

  const bareErasure = async (n: number) => {
    await client.query(
      'CREATE TABLE bare_personal (log text NOT NULL, idx bigint NOT NULL, subject text NOT NULL, salt bytea, data jsonb, PRIMARY KEY (log, idx))',
    );
    await client.query(
      `INSERT INTO bare_personal SELECT 'raw', i, 'bench-person', decode(md5(i::text), 'hex'), jsonb_build_object('email', 'x@example.com', 'note', repeat('p', 40)) FROM generate_series(0, $1 - 1) i`,
      [n],
    );
    const t0 = process.hrtime.bigint();
    await client.query(
      `UPDATE bare_personal SET data = NULL, salt = NULL WHERE log = 'raw' AND subject = 'bench-person'`,
    );
    return Number(process.hrtime.bigint() - t0) / 1e9;
  };

  // A plain keyset read of the service's own rows with a chain-link check (leaf hash of each row
  // equals the next row's prev): the floor of what full verification must also do.
  const keysetChain = async (n: number) => {
    const t0 = process.hrtime.bigint();
    let last = -1;
    let prevHash: Buffer | null = null;
    let read = 0;
    for (;;) {
      const res = await client.query(
        'SELECT idx, leaf, prev FROM entries WHERE log = $1 AND idx > $2 AND idx <= $2 + 2000 ORDER BY idx',
        ['bulk', last],
      );
      if (res.rows.length === 0) break;
      for (const row of res.rows) {
        if (prevHash !== null && !prevHash.equals(row.prev)) throw new Error('chain broken in the baseline read');
        prevHash = createHash('sha256')
          .update(Buffer.from([0]))
          .update(row.leaf)
          .digest();
        read++;
      }
      last = Number(res.rows[res.rows.length - 1].idx);
    }
    if (read !== n) throw new Error(`baseline read ${read} rows, expected ${n}`);
    return n / (Number(process.hrtime.bigint() - t0) / 1e9);
  };
  return {
    multiRow,
    multiRowWithSearch,
    oneRowTx16,
    oneRowLatency,
    oneStatement16,
    keysetChain,
    nodeReadsP99,
    bareErasure,
    close: () => client.end(),
  };
}

/** One event for each of 16 tenants named `prefix`0…15. */
function sixteenTenants(prefix: string): string[] {
  return Array.from({ length: 16 }, (_, k) => JSON.stringify(event(`${prefix}${k}`, k)));
}

/** Single-event POSTs from 64 connections over 16 tenants named `prefix`0…15, for `seconds`. */
async function singleEvents(
  url: string,
  headers: Record<string, string>,
  prefix: string,
  seconds: number,
): Promise<autocannon.Result> {
  const bodies = sixteenTenants(prefix);
  let n = 0;
  const result = await run({
    url: `${url}/v1/events`,
    method: 'POST',
    headers,
    connections: 64,
    duration: seconds,
    requests: [{ setupRequest: (req) => ({ ...req, body: bodies[n++ % bodies.length] }) }],
  });
  if (result.non2xx > 0) throw new Error(`single appends failed: ${result.non2xx} non-2xx`);
  return result;
}

/** A bare node:http server answering the same POST: the HTTP floor on this machine. */
async function bareHttpRate(seconds: number, body: string): Promise<number> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      res.writeHead(201, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          id: randomBytes(16).toString('hex'),
          log: parsed.tenant,
          index: 0,
          leafHash: '',
          recordedAt: new Date().toISOString(),
        }),
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  // The bare server shares this process with autocannon, which favours neither.
  const result = await run({
    url: `http://127.0.0.1:${port}/v1/events`,
    method: 'POST',
    connections: 64,
    duration: seconds,
    body,
    headers: { 'content-type': 'application/json' },
  });
  server.close();
  return result.requests.total / seconds;
}

/** Polls a deletion request until it is finished; its status and how many entries it erased. */
async function finished(url: string, admin: string, id: string): Promise<{ status: string; erased: number }> {
  for (;;) {
    const request = await json<{ status: string; erased: number }>(
      await fetch(`${url}/v1/deletion-requests/${id}`, { headers: { authorization: `Bearer ${admin}` } }),
    );
    if (!['queued', 'running'].includes(request.status)) return request;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * Erasure of one subject, and append latency while the retention purge runs. Support data is
 * made erasable at once (minimum and maximum 0 days) so the work is real, not blocked.
 */
async function deletionBench(
  url: string,
  admin: string,
  headers: Record<string, string>,
  sizes: Sizes,
  log: (line: string) => void,
): Promise<{
  erasureSeconds: number;
  /** Seconds from the purge's request to its completion, under the 8 connections' appends. */
  purgeSeconds: number;
  /** Entries that purge erased. */
  purged: number;
  withoutPurge: { p99: number; max: number };
  duringPurge: { p99: number; max: number };
}> {
  const asAdmin = { authorization: `Bearer ${admin}`, 'content-type': 'application/json' };
  await json(
    await fetch(`${url}/v1/retention-policies/support`, {
      method: 'PUT',
      headers: asAdmin,
      body: JSON.stringify({ minDays: 0, maxDays: 0, mode: 'governance', reason: 'benchmark: erasable at once' }),
    }),
  );
  const personal = (tenant: string, i: number, subject: string) => ({
    tenant,
    type: 'support.ticket.opened',
    actor: { type: 'user', id: subject },
    personal: { subject, data: { email: `${subject}@example.com`, phone: '+1 555 0100', note: 'p'.repeat(40), i } },
  });
  const load = async (tenant: string, count: number, subject: (i: number) => string) => {
    let next = 0;
    await run({
      url: `${url}/v1/events/batch`,
      method: 'POST',
      headers,
      connections: Math.min(4, count / 500),
      amount: count / 500,
      requests: [
        {
          setupRequest: (req) => ({
            ...req,
            body: JSON.stringify({
              events: Array.from({ length: 500 }, () => personal(tenant, next, subject(next++))),
            }),
          }),
        },
      ],
    });
  };

  log(`service: erasure of one subject with ${sizes.erasureEntries.toLocaleString('en-US')} entries`);
  await load('erase', sizes.erasureEntries, () => 'bench-person');
  const e0 = process.hrtime.bigint();
  const erasure = await json<{ id: string }>(
    await fetch(`${url}/v1/deletion-requests`, {
      method: 'POST',
      headers: asAdmin,
      body: JSON.stringify({ kind: 'subject_erasure', tenant: 'erase', subject: 'bench-person', reason: 'benchmark' }),
    }),
  );
  const { status: erasureStatus } = await finished(url, admin, erasure.id);
  const erasureSeconds = Number(process.hrtime.bigint() - e0) / 1e9;
  if (erasureStatus !== 'completed') throw new Error(`the benchmark erasure ended ${erasureStatus}`);

  log(
    `service: ${sizes.purgeEntries.toLocaleString('en-US')} more personal rows, then append latency during the retention purge`,
  );
  await load('purge', sizes.purgeEntries, (i) => `person-${i % 5000}`);
  const singles = Array.from({ length: 8 }, (_, k) => JSON.stringify(event(`p${k}`, k)));
  const appendsFor = (seconds: number) => {
    let n = 0;
    let instance: autocannon.Instance | undefined;
    const done = new Promise<autocannon.Result>((resolve, reject) => {
      instance = autocannon(
        {
          url: `${url}/v1/events`,
          method: 'POST',
          headers,
          connections: 8,
          duration: seconds,
          requests: [{ setupRequest: (req) => ({ ...req, body: singles[n++ % 8] }) }],
        },
        (err, result) => (err ? reject(err) : resolve(result)),
      );
    });
    return { stop: () => instance?.stop(), done };
  };
  const quiet = await appendsFor(3).done;
  const busy = appendsFor(600);
  const p0 = process.hrtime.bigint();
  const purge = await json<{ id: string }>(
    await fetch(`${url}/v1/deletion-requests`, {
      method: 'POST',
      headers: asAdmin,
      body: JSON.stringify({ kind: 'retention_purge', reason: 'benchmark' }),
    }),
  );
  // Every support row is due, those of the personal-data batches too: more than this phase loaded.
  const { status: purgeStatus, erased: purged } = await finished(url, admin, purge.id);
  const purgeSeconds = Number(process.hrtime.bigint() - p0) / 1e9;
  busy.stop();
  const duringPurge = await busy.done;
  if (purgeStatus !== 'completed') throw new Error(`the benchmark purge ended ${purgeStatus}`);
  return {
    erasureSeconds,
    purgeSeconds,
    purged,
    withoutPurge: { p99: quiet.latency.p99, max: quiet.latency.max },
    duringPurge: { p99: duringPurge.latency.p99, max: duringPurge.latency.max },
  };
}

export async function runServiceBench(quick: boolean, log: (line: string) => void): Promise<BenchFigure[]> {
  const sizes = quick ? QUICK : FULL;
  const service = await startBenchService({
    database: `audit_bench_${randomBytes(4).toString('hex')}`,
    ports: { from: 3900, spread: 90 },
    log: (line) => log(`service: ${line}`),
  });
  const { url, admin, database } = service;
  const db = `${DATABASE_SERVER}/${database}`;
  try {
    const keyRes = await fetch(`${url}/v1/keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'bench', roles: ['emitter', 'investigator'], tenants: ['*'] }),
    });
    const key = ((await keyRes.json()) as { key: string }).key;
    const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };

    const raw = await rawInsertBaselines(db, sizes.rawRows, quick, log);

    // Single events first, on a database as fresh as the raw one-row baseline's table: the same
    // conditions as their baseline. Again after the bulk loads below, as a figure of its own.
    // A few seconds first that are not counted, so the figure times the service, not its JIT.
    await singleEvents(url, headers, 'w', quick ? 1 : 3);
    log(`service: single-event POSTs, 64 connections over 16 tenants, ${sizes.singleSeconds} s`);
    const single = await singleEvents(url, headers, 's', sizes.singleSeconds);
    const singleRate = single.requests.total / sizes.singleSeconds;
    const floor = await bareHttpRate(sizes.singleSeconds, JSON.stringify(event('s0', 0)));
    // Single events offered open-loop, and their latency, are the latency part (bench/latency.bench.ts).

    // Sustained batches of 500 into one log, until the bulk log holds its size.
    log(
      `service: ${sizes.bulkEvents.toLocaleString('en-US')} events through POST /v1/events/batch (batches of 500, 4 connections)`,
    );
    let sent = 0;
    const bodies = Array.from({ length: 8 }, (_, k) => batchBody('bulk', k * 500));
    const bulkRequests = sizes.bulkEvents / 500;
    const t0 = Date.now();
    const bulk = await run({
      url: `${url}/v1/events/batch`,
      method: 'POST',
      headers,
      connections: 4,
      amount: bulkRequests,
      requests: [{ setupRequest: (req) => ({ ...req, body: bodies[sent++ % bodies.length] }) }],
    });
    const bulkRate = (bulk.requests.total * 500) / ((Date.now() - t0) / 1000);
    if (bulk.non2xx > 0 || bulk.errors > 0)
      throw new Error(`bulk appends failed: ${bulk.non2xx} non-2xx, ${bulk.errors} errors`);

    log('service: 4 tenants in parallel, batches of 500');
    const parallelEvents = quick ? 20_000 : 200_000;
    const tenants4 = ['t0', 't1', 't2', 't3'].map((t) => batchBody(t, 0));
    let turn = 0;
    const p0 = Date.now();
    const parallel = await run({
      url: `${url}/v1/events/batch`,
      method: 'POST',
      headers,
      connections: 8,
      amount: parallelEvents / 500,
      requests: [{ setupRequest: (req) => ({ ...req, body: tenants4[turn++ % 4] }) }],
    });
    const parallelRate = (parallel.requests.total * 500) / ((Date.now() - p0) / 1000);
    if (parallel.non2xx > 0 || parallel.errors > 0)
      throw new Error(`parallel appends failed: ${parallel.non2xx} non-2xx`);

    log(
      `service: single-event POSTs again, now that the database holds ${(sizes.bulkEvents + parallelEvents).toLocaleString('en-US')} entries`,
    );
    const singleLoaded = await singleEvents(url, headers, 'l', sizes.singleSeconds);
    // Batches of events with personal data, against their own baseline (entry + sealed personal row).
    const personalBatches = await personalBatchBench(url, headers, db, quick, log);

    // Full verification of the bulk log through the API vs the raw keyset read.
    log(`service: full verification of the ${sizes.verifyEntries.toLocaleString('en-US')}-entry log`);
    const v0 = process.hrtime.bigint();
    const verifyRes = await fetch(`${url}/v1/logs/bulk/verify`, {
      method: 'POST',
      headers: { authorization: headers.authorization },
    });
    const report = (await verifyRes.json()) as { ok: boolean; checked: number };
    const verifyRate = report.checked / (Number(process.hrtime.bigint() - v0) / 1e9);
    if (!report.ok || report.checked !== sizes.verifyEntries)
      throw new Error(`verification failed: ${JSON.stringify(report).slice(0, 300)}`);
    const keysetRate = await raw.keysetChain(sizes.verifyEntries);

    // Proof latency at the full size.
    const size = sizes.verifyEntries;
    const latencies = { inclusion: [] as number[], consistency: [] as number[] };
    for (let i = 0; i < 200; i++) {
      const index = Math.floor(Math.random() * size);
      let s = process.hrtime.bigint();
      await (await fetch(`${url}/v1/logs/bulk/proof/inclusion?index=${index}&size=${size}`, { headers })).json();
      latencies.inclusion.push(Number(process.hrtime.bigint() - s) / 1e6);
      s = process.hrtime.bigint();
      await (await fetch(`${url}/v1/logs/bulk/proof/consistency?from=${index + 1}&size=${size}`, { headers })).json();
      latencies.consistency.push(Number(process.hrtime.bigint() - s) / 1e6);
    }
    const p99 = (xs: number[]) => percentile(xs, 0.99);
    // A proof of a tree of n leaves reads about log2(n) stored nodes.
    const proofNodes = Math.ceil(Math.log2(size));
    const nodeReads = await raw.nodeReadsP99('bulk', size, proofNodes);

    const investigation = await investigationBench(url, headers, service.pid, quick, log, db);
    const deletion = await deletionBench(url, admin, headers, sizes, log);
    const subjectBundle = await subjectBundleBench(url, headers, service.env, quick, log);
    const bareErasure = await raw.bareErasure(sizes.erasureEntries);
    await raw.close();

    const metrics = await (await fetch(`${url}/metrics`)).text();
    const signed = Number(/audit_checkpoints_signed_total (\d+)/.exec(metrics)?.[1] ?? 0);
    const appended = Number(/audit_appended_entries_total (\d+)/.exec(metrics)?.[1] ?? 1);
    const peak = peakRssMb(service.pid);

    return [
      {
        name: 'acknowledged appends, POST /v1/events/batch (500/batch, one log)',
        value: bulkRate,
        unit: 'events/s',
        baseline: { name: 'raw multi-row INSERTs, same indexes', value: raw.multiRow },
        target: { kind: 'min-ratio', value: 0.6 },
      },
      {
        name: 'acknowledged appends, batches of 500, 4 tenants in parallel',
        value: parallelRate,
        unit: 'events/s',
        baseline: { name: 'raw multi-row INSERTs, same indexes', value: raw.multiRow },
        target: { kind: 'min-ratio', value: 0.6 },
      },
      {
        name: 'the same batches into one log, against a baseline that writes the search rows too',
        value: bulkRate,
        unit: 'events/s',
        baseline: { name: 'raw multi-row INSERTs of the entries and their search rows', value: raw.multiRowWithSearch },
      },
      {
        name: 'the same batches over 4 tenants, against that baseline',
        value: parallelRate,
        unit: 'events/s',
        baseline: { name: 'raw multi-row INSERTs of the entries and their search rows', value: raw.multiRowWithSearch },
      },
      ...personalBatches,
      {
        name: 'single-event POSTs, 64 connections over 16 tenants (stretch: 1.0x)',
        value: singleRate,
        unit: 'events/s',
        baseline: { name: 'raw 1-statement commits, 16 clients', value: raw.oneStatement16.rate },
        target: { kind: 'min-ratio', value: 0.8 },
      },
      {
        name: 'the same single-event POSTs against the old baseline',
        value: singleRate,
        unit: 'events/s',
        baseline: { name: 'raw BEGIN+INSERT+COMMIT (3 round trips), 16 clients', value: raw.oneRowTx16 },
      },
      {
        name: 'single-event POSTs vs the HTTP floor',
        value: singleRate,
        unit: 'req/s',
        baseline: { name: 'bare node:http answering the same POST', value: floor },
      },
      {
        name: 'append latency p50 under that load',
        value: single.latency.p50,
        unit: 'ms',
        baseline: { name: 'p50 of the raw 1-statement commits', value: raw.oneStatement16.p50 },
      },
      {
        name: 'append latency p99 under that load',
        value: single.latency.p99,
        unit: 'ms',
        baseline: { name: 'p99 of the raw 1-statement commits', value: raw.oneStatement16.p99 },
        target: { kind: 'max', value: 20 },
      },
      {
        name: `single-event POSTs (64 connections) after the bulk loads, ${(sizes.bulkEvents + parallelEvents).toLocaleString('en-US')} entries stored`,
        value: singleLoaded.requests.total / sizes.singleSeconds,
        unit: 'events/s',
        baseline: { name: 'raw 1-statement commits, 16 clients', value: raw.oneStatement16.rate },
      },
      {
        name: 'append latency p99 under that load',
        value: singleLoaded.latency.p99,
        unit: 'ms',
        baseline: { name: 'p99 of the raw 1-statement commits', value: raw.oneStatement16.p99 },
      },
      {
        name: `full verification from PostgreSQL, ${size.toLocaleString('en-US')} entries`,
        value: verifyRate,
        unit: 'entries/s',
        baseline: { name: 'raw keyset read + chain-link check', value: keysetRate },
        target: { kind: 'min-ratio', value: 0.5 },
      },
      {
        name: `inclusion proof p99 at ${size.toLocaleString('en-US')} entries (HTTP, read recorded)`,
        value: p99(latencies.inclusion),
        unit: 'ms',
        baseline: { name: `raw read of ${proofNodes} rows' tree nodes, p99`, value: nodeReads },
      },
      {
        name: `consistency proof p99 at ${size.toLocaleString('en-US')} entries (HTTP, read recorded)`,
        value: p99(latencies.consistency),
        unit: 'ms',
        baseline: { name: `raw read of ${proofNodes} rows' tree nodes, p99`, value: nodeReads },
      },
      {
        name: `erasure of one subject with ${sizes.erasureEntries.toLocaleString('en-US')} entries (request to completed)`,
        value: deletion.erasureSeconds,
        unit: 's',
        baseline: { name: 'one raw UPDATE emptying as many rows', value: bareErasure },
        target: { kind: 'max', value: 2 },
      },
      {
        name: 'append latency p99 during the retention purge (8 connections)',
        value: deletion.duringPurge.p99,
        unit: 'ms',
        baseline: { name: 'p99 at the same load without a purge', value: deletion.withoutPurge.p99 },
        target: { kind: 'max', value: 100 },
      },
      { name: 'append latency max during that purge', value: deletion.duringPurge.max, unit: 'ms' },
      {
        name: `that purge, ${deletion.purged.toLocaleString('en-US')} entries erased, request to completed (it pauses as long as each batch took)`,
        value: deletion.purgeSeconds,
        unit: 's',
      },
      ...investigation,
      ...subjectBundle,
      {
        name: 'checkpoint signatures per 1,000 appended events',
        value: (signed / appended) * 1000,
        unit: 'signatures',
      },
      { name: 'peak RSS of the service during the run', value: peak, unit: 'MB', target: { kind: 'max', value: 300 } },
    ];
  } finally {
    await service.stop();
  }
}
