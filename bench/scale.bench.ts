import autocannon from 'autocannon';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { BenchService, DATABASE_SERVER, json, startBenchService, waitForHealth } from './bench-service';
import { BenchFigure } from './report';
import { event } from './service.bench';

// The cost curve (`npm run bench -- --scale`, not in the default run or CI: it runs for most of an
// hour). One log filled through the service's own batch appends to each size in turn (1, 5 and 10
// million by default), and at each size the same four measurements: batch appends, inclusion
// proofs, searches and a full verification, each as a rate judged against its rate at the first
// size (goal: at least 0.8), with the bytes on disk per entry and the time the service takes to
// start on that database. Then the same on a second database of many small logs (10,000 tenants of
// 1,000 entries by default), judged against the first size of the one-log curve.
//   --scale-sizes=1000000,5000000,10000000   the sizes of the one log, in order
//   --scale-tenants=10000x1000                tenants x entries each (0x0 leaves it out)

const BATCH = 500;
/** Connections of the fill and of the append measurement (two per core and PostgreSQL's share). */
const CONNECTIONS = 4;
const PROOFS = 400;
const SEARCHES = 200;
/** Logs verified in the many-tenants case, one after another. */
const VERIFIED_LOGS = 100;

interface Scale {
  readonly sizes: readonly number[];
  /**
   * Events appended for the append rate at each size: long enough to leave the JIT's warm-up
   * behind (100,000; a tenth of the first size when that is smaller, for a short trial run).
   */
  readonly appendEvents: number;
  readonly tenants: number;
  readonly perTenant: number;
}

function scaleOf(argv: readonly string[]): Scale {
  const arg = (name: string) => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const sizes = (arg('scale-sizes') ?? '1000000,5000000,10000000').split(',').map(Number);
  const [tenants, perTenant] = (arg('scale-tenants') ?? '10000x1000').split('x').map(Number);
  if (sizes.some((n) => !Number.isInteger(n) || n < BATCH || n % BATCH !== 0))
    throw new Error(`--scale-sizes: whole multiples of ${BATCH}, got ${sizes.join(',')}`);
  if (![tenants, perTenant].every(Number.isInteger) || perTenant % BATCH !== 0)
    throw new Error(`--scale-tenants: <tenants>x<entries each>, entries a multiple of ${BATCH}`);
  const appendEvents = Math.max(BATCH, Math.min(100_000, Math.floor(sizes[0] / 10 / BATCH) * BATCH));
  return { sizes, tenants, perTenant, appendEvents };
}

/** What one size measured: rates (per second) and the bytes on disk per entry. */
interface Point {
  readonly label: string;
  readonly entries: number;
  readonly appendsPerSecond: number;
  readonly proofsPerSecond: number;
  readonly searchesPerSecond: number;
  readonly searchP99Ms: number;
  readonly verifiedPerSecond: number;
  readonly startSeconds: number;
  /** Entries the search read model was behind when the fill ended, and its rate catching up. */
  readonly searchBehind: number;
  readonly catchUpPerSecond: number;
  readonly bytes: Record<string, number>;
}

const percentile = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))];

/** POSTs `batches` (tenant, first index) as batches of 500 from CONNECTIONS connections; events per second. */
async function appendBatches(
  url: string,
  headers: Record<string, string>,
  batches: readonly (readonly [string, number])[],
): Promise<number> {
  let next = 0;
  const started = process.hrtime.bigint();
  const result = await new Promise<autocannon.Result>((resolve, reject) =>
    autocannon(
      {
        url: `${url}/v1/events/batch`,
        method: 'POST',
        headers,
        connections: CONNECTIONS,
        amount: batches.length,
        timeout: 120,
        requests: [
          {
            setupRequest: (req) => {
              const [tenant, from] = batches[next++];
              const events = Array.from({ length: BATCH }, (_, i) => event(tenant, from + i));
              return { ...req, body: JSON.stringify({ events }) };
            },
          },
        ],
      },
      (err, res) => (err ? reject(err) : resolve(res)),
    ),
  );
  if (result.non2xx > 0 || result.errors > 0 || result.timeouts > 0)
    throw new Error(`appends failed: ${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts`);
  return (batches.length * BATCH) / (Number(process.hrtime.bigint() - started) / 1e9);
}

const batchesOf = (tenant: string, from: number, to: number): [string, number][] =>
  Array.from({ length: (to - from) / BATCH }, (_, k) => [tenant, from + k * BATCH]);

/**
 * Waits until the search read model holds every entry, read from the database (the lag gauge of a
 * process just started reads 0 until its projector's first pass ends, which once let a 3 million
 * entry backlog through to the first search). Returns the entries it was behind and the seconds
 * it took to catch up.
 */
async function searchCaughtUp(database: string): Promise<{ behind: number; seconds: number }> {
  const db = new Client({ connectionString: `${DATABASE_SERVER}/${database}` });
  await db.connect();
  const lag = async () =>
    Number(
      (
        await db.query<{ n: string }>(
          'SELECT coalesce(sum(l.size - coalesce(p.size, 0)), 0) AS n FROM logs l LEFT JOIN event_search_progress p ON p.log = l.log',
        )
      ).rows[0].n,
    );
  try {
    const started = process.hrtime.bigint();
    const behind = await lag();
    const deadline = Date.now() + 30 * 60_000;
    while ((await lag()) !== 0) {
      if (Date.now() > deadline) throw new Error('the search read model did not catch up within 30 minutes');
      await new Promise((r) => setTimeout(r, 500));
    }
    return { behind, seconds: Number(process.hrtime.bigint() - started) / 1e9 };
  } finally {
    await db.end();
  }
}

/** Bytes on disk per entry: the ledger's table, its indexes and tree nodes, and the search read model. */
async function bytesPerEntry(database: string, entries: number): Promise<Record<string, number>> {
  const db = new Client({ connectionString: `${DATABASE_SERVER}/${database}` });
  await db.connect();
  try {
    await db.query('VACUUM ANALYZE entries, event_search');
    const { rows } = await db.query<Record<string, string>>(`
      SELECT pg_table_size('entries') AS entries_table,
             pg_indexes_size('entries') AS entries_indexes,
             (SELECT sum(octet_length(tree_nodes)) FROM entries) AS tree_nodes,
             pg_table_size('event_search') AS read_model_table,
             pg_indexes_size('event_search') AS read_model_indexes,
             pg_total_relation_size('idempotency_keys') AS idempotency_keys`);
    return Object.fromEntries(Object.entries(rows[0]).map(([k, v]) => [k, Number(v ?? 0) / entries]));
  } finally {
    await db.end();
  }
}

/**
 * Stops the service and starts it again on the same database and key files; the seconds until it
 * answers healthy. The new process replaces the old one for the rest of the run.
 */
async function restart(service: BenchService, holder: { child?: ReturnType<typeof spawn> }): Promise<number> {
  const pid = holder.child?.pid ?? service.pid;
  process.kill(pid, 'SIGTERM');
  while (await alive(pid)) await new Promise((r) => setTimeout(r, 50));
  const pkg = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as {
    scripts: Record<string, string>;
  };
  const flags = pkg.scripts['start:prod'].split(/\s+/).filter((arg) => arg.startsWith('--'));
  const started = process.hrtime.bigint();
  holder.child = spawn(process.execPath, [...flags, join(__dirname, '..', 'src', 'main.js')], {
    env: service.env,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  await waitForHealth(service.url);
  return Number(process.hrtime.bigint() - started) / 1e9;
}

async function alive(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').split(' ')[2].startsWith('Z');
  } catch {
    return false;
  }
}

/** The four measurements on `logs` (holding `entries` in all), after the bytes on disk and a restart. */
async function measure(
  label: string,
  service: BenchService,
  holder: { child?: ReturnType<typeof spawn> },
  headers: Record<string, string>,
  logs: readonly string[],
  entries: number,
  appendEvents: number,
  log: (line: string) => void,
): Promise<Point> {
  const { url } = service;
  const auth = { authorization: headers.authorization };
  const pick = () => logs[Math.floor(Math.random() * logs.length)];
  // The projector falls behind batch appends to one log: the fill's backlog is drained first, so
  // that the bytes count the whole read model and no measurement shares the machine with it.
  const catchUp = await searchCaughtUp(service.database);
  log(
    `scale: ${label}: the search read model was ${catchUp.behind.toLocaleString('en-US')} entries behind; caught up in ${catchUp.seconds.toFixed(1)} s`,
  );
  log(`scale: ${label}: bytes on disk, then a restart`);
  const bytes = await bytesPerEntry(service.database, entries);
  const startSeconds = await restart(service, holder);

  log(`scale: ${label}: ${PROOFS} inclusion proofs at random indices`);
  const sizes = new Map<string, number>();
  for (const name of new Set(Array.from({ length: Math.min(PROOFS, logs.length) }, pick))) {
    const note = await (await fetch(`${url}/v1/logs/${name}/checkpoint`, { headers: auth })).text();
    sizes.set(name, Number(note.split('\n')[1]));
  }
  const proofLogs = [...sizes.keys()];
  let s = process.hrtime.bigint();
  for (let i = 0; i < PROOFS; i++) {
    const name = proofLogs[i % proofLogs.length];
    const size = sizes.get(name) as number;
    const index = Math.floor(Math.random() * size);
    await json(await fetch(`${url}/v1/logs/${name}/proof/inclusion?index=${index}&size=${size}`, { headers: auth }));
  }
  const proofsPerSecond = PROOFS / (Number(process.hrtime.bigint() - s) / 1e9);

  log(`scale: ${label}: ${SEARCHES} searches by tenant and actor`);
  const latencies: number[] = [];
  for (let i = 0; i < SEARCHES; i++) {
    const t0 = process.hrtime.bigint();
    await json(await fetch(`${url}/v1/events?tenant=${pick()}&actor=usr_${i % 977}`, { headers: auth }));
    latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  const searchesPerSecond = SEARCHES / (latencies.reduce((a, b) => a + b, 0) / 1000);

  // Many small logs: a hundred of them one after another, so the rate is not one request's overhead.
  const verified = logs.slice(0, VERIFIED_LOGS);
  log(`scale: ${label}: full verification of ${verified.length === 1 ? verified[0] : `${verified.length} logs`}`);
  s = process.hrtime.bigint();
  let checked = 0;
  for (const name of verified) {
    const report = await json<{ ok: boolean; checked: number }>(
      await fetch(`${url}/v1/logs/${name}/verify`, { method: 'POST', headers: auth }),
    );
    if (!report.ok) throw new Error(`${name} does not verify: ${JSON.stringify(report).slice(0, 300)}`);
    checked += report.checked;
  }
  const verifiedPerSecond = checked / (Number(process.hrtime.bigint() - s) / 1e9);

  log(`scale: ${label}: ${appendEvents.toLocaleString('en-US')} events in batches of ${BATCH}`);
  const appendBatchList: [string, number][] = Array.from({ length: appendEvents / BATCH }, (_, k) => [
    pick(),
    entries + k * BATCH,
  ]);
  const appendsPerSecond = await appendBatches(url, headers, appendBatchList);
  const point = {
    label,
    entries,
    appendsPerSecond,
    proofsPerSecond,
    searchesPerSecond,
    searchP99Ms: percentile(latencies, 0.99),
    verifiedPerSecond,
    startSeconds,
    searchBehind: catchUp.behind,
    catchUpPerSecond: catchUp.seconds > 0 ? catchUp.behind / catchUp.seconds : 0,
    bytes,
  };
  log(`scale: ${label}: ${JSON.stringify(point)}`);
  return point;
}

async function withService<T>(
  name: string,
  log: (line: string) => void,
  work: (
    service: BenchService,
    holder: { child?: ReturnType<typeof spawn> },
    headers: Record<string, string>,
  ) => Promise<T>,
): Promise<T> {
  const service = await startBenchService({
    database: `audit_bench_scale_${name}_${randomBytes(4).toString('hex')}`,
    ports: { from: 4500, spread: 90 },
    log: (line) => log(`scale: ${line}`),
  });
  const holder: { child?: ReturnType<typeof spawn> } = {};
  try {
    const { key } = await json<{ key: string }>(
      await fetch(`${service.url}/v1/keys`, {
        method: 'POST',
        headers: { authorization: `Bearer ${service.admin}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'bench', roles: ['emitter', 'investigator'], tenants: ['*'] }),
      }),
    );
    return await work(service, holder, { authorization: `Bearer ${key}`, 'content-type': 'application/json' });
  } finally {
    // A restarted service is this run's own child: end it, then the original's stop removes the rest.
    if (holder.child && holder.child.exitCode === null) {
      const exited = new Promise((r) => holder.child?.once('exit', r));
      holder.child.kill('SIGTERM');
      await exited;
    }
    await service.stop();
  }
}

/** Each rate of `point` against the same rate at `base`, goal at least 0.8; and the absolute figures. */
function figures(point: Point, base: Point): BenchFigure[] {
  const same = point === base;
  const rate = (name: string, unit: string, value: number, baseline: number): BenchFigure => ({
    name: `${point.label}: ${name}`,
    value,
    unit,
    ...(same
      ? {}
      : { baseline: { name: `at ${base.label}`, value: baseline }, target: { kind: 'min-ratio', value: 0.8 } }),
  });
  return [
    rate('batch appends', 'events/s', point.appendsPerSecond, base.appendsPerSecond),
    rate('inclusion proofs, one at a time', 'proofs/s', point.proofsPerSecond, base.proofsPerSecond),
    rate('searches by tenant and actor, one at a time', 'searches/s', point.searchesPerSecond, base.searchesPerSecond),
    { name: `${point.label}: search p99`, value: point.searchP99Ms, unit: 'ms' },
    rate('full verification', 'entries/s', point.verifiedPerSecond, base.verifiedPerSecond),
    { name: `${point.label}: start-up to healthy`, value: point.startSeconds, unit: 's' },
    { name: `${point.label}: search read model behind after the fill`, value: point.searchBehind, unit: 'entries' },
    { name: `${point.label}: search read model catching up`, value: point.catchUpPerSecond, unit: 'entries/s' },
    ...Object.entries(point.bytes).map(([part, value]) => ({
      name: `${point.label}: bytes on disk per entry, ${part.replace(/_/g, ' ')}`,
      value,
      unit: 'B',
    })),
  ];
}

export async function runScaleBench(argv: readonly string[], log: (line: string) => void): Promise<BenchFigure[]> {
  const scale = scaleOf(argv);
  const points: Point[] = [];
  await withService('one', log, async (service, holder, headers) => {
    let filled = 0;
    for (const size of scale.sizes) {
      log(
        `scale: filling the log "big" from ${filled.toLocaleString('en-US')} to ${size.toLocaleString('en-US')} entries`,
      );
      const fillRate = await appendBatches(service.url, headers, batchesOf('big', filled, size));
      log(`scale: filled at ${Math.round(fillRate).toLocaleString('en-US')} events/s`);
      const label = `one log of ${(size / 1e6).toLocaleString('en-US')} M`;
      points.push(await measure(label, service, holder, headers, ['big'], size, scale.appendEvents, log));
      // The append measurement added its events to the log: the next fill starts after them.
      filled = size + scale.appendEvents;
      if (filled % BATCH !== 0) throw new Error('sizes must stay multiples of the batch');
    }
  });
  const figuresOut = points.flatMap((point) => figures(point, points[0]));
  if (scale.tenants > 0) {
    await withService('tenants', log, async (service, holder, headers) => {
      const tenants = Array.from({ length: scale.tenants }, (_, k) => `t${String(k).padStart(5, '0')}`);
      log(
        `scale: filling ${scale.tenants.toLocaleString('en-US')} tenants of ${scale.perTenant.toLocaleString('en-US')} entries`,
      );
      // Tenant after tenant, as many small customers' traffic adds up; each log in whole batches.
      const batches = tenants.flatMap((tenant) => batchesOf(tenant, 0, scale.perTenant));
      const fillRate = await appendBatches(service.url, headers, batches);
      log(`scale: filled at ${Math.round(fillRate).toLocaleString('en-US')} events/s`);
      const label = `${scale.tenants.toLocaleString('en-US')} tenants of ${scale.perTenant.toLocaleString('en-US')}`;
      const entries = scale.tenants * scale.perTenant;
      const point = await measure(label, service, holder, headers, tenants, entries, scale.appendEvents, log);
      figuresOut.push(...figures(point, points[0]));
    });
  }
  return figuresOut;
}
