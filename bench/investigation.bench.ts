import { LeafRange, inclusionProofRanges, nodeIdsForRanges } from '@audit/ledger';
import autocannon from 'autocannon';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Client } from 'pg';
import { DATABASE_SERVER, startBenchService } from './bench-service';
import { BenchFigure } from './report';

// Issue 7's sizes: a million events over 100 tenants, one of them (the exported one) with
// 100,000; the rest share the remainder. Quick mode: the same shape, tiny.
const FULL = { tenants: 100, bigTenant: 100_000, perTenant: 9_500, searches: 400 };
const QUICK = { tenants: 5, bigTenant: 2_000, perTenant: 500, searches: 40 };
const BATCH = 500;

/** The email address and the IP address a failed login of user `u` carries in `personal`. */
const emailOf = (u: number) => `user${u}@example.com`;
const ipOf = (u: number) => `10.0.${u >> 8}.${u & 255}`;

// Every tenant but the exported one has personal data on its failed logins (one event in ten), so
// the personal filters (personalEmail=, personalIp=) are timed beside the others, and the export
// figure stays comparable with earlier runs.
function event(tenant: string, i: number, personal: boolean) {
  const login = i % 10 === 0;
  const user = i % 977;
  return {
    tenant,
    type: login ? 'auth.login.failed' : 'billing.invoice.paid',
    actor: { type: 'user', id: `usr_${user}` },
    target: { type: 'invoice', id: `inv_${i}` },
    outcome: 'success',
    context: { amountCents: 1000 + (i % 5000), currency: 'USD', note: 'n'.repeat(60) },
    ...(login && personal
      ? { personal: { subject: `usr_${user}`, data: { email: emailOf(user), ip: ipOf(user) } } }
      : {}),
  };
}

function rssMb(pid: number): number {
  const kb = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  return kb / 1024;
}

const percentile = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))];

/** A search's p99 (ms) against the 50 ms every investigation search is held to. */
const searchP99 = (search: string, latencies: number[]): BenchFigure => ({
  name: `search p99, ${search}`,
  value: percentile(latencies, 0.99),
  unit: 'ms',
  target: { kind: 'max', value: 50 },
});

/**
 * The export's same-run baseline: a raw keyset read (plain pg, pages of 1,000 in index order) of
 * the rows an export of all of `log` below `size` reads (leaf and leaf hash), and of the stored
 * tree nodes their inclusion proofs need (one join on the nodes' owners per page, as the service
 * reads them). No proof is assembled, nothing is encoded or written: the floor of the export.
 * Entries per second.
 */
async function rawExportRead(db: string, log: string, size: number): Promise<number> {
  const client = new Client({ connectionString: db });
  await client.connect();
  try {
    const t0 = process.hrtime.bigint();
    let last = -1;
    let read = 0;
    for (;;) {
      const res = await client.query<{ idx: string; leaf: Buffer; leaf_hash: Buffer }>(
        'SELECT idx, leaf, leaf_hash FROM entries WHERE log = $1 AND idx > $2 AND idx < $3 ORDER BY idx LIMIT 1000',
        [log, last, size],
      );
      if (res.rows.length === 0) break;
      // The distinct subtrees of the page's proofs, then the rows that hold their stored nodes.
      const seen = new Set<string>();
      const ranges: LeafRange[] = [];
      for (const row of res.rows) {
        for (const r of inclusionProofRanges(Number(row.idx), size)) {
          const key = `${r.begin}/${r.end}`;
          if (!seen.has(key)) {
            seen.add(key);
            ranges.push(r);
          }
        }
      }
      const owners = [...new Set(nodeIdsForRanges(ranges).map((id) => (id.index + 1) * 2 ** id.level - 1))];
      await client.query(
        'SELECT e.idx, e.leaf_hash, e.tree_nodes FROM unnest($2::bigint[]) AS o(idx) JOIN entries e ON e.log = $1 AND e.idx = o.idx',
        [log, owners],
      );
      read += res.rows.length;
      last = Number(res.rows[res.rows.length - 1].idx);
    }
    if (read !== size) throw new Error(`the raw export read found ${read} rows, not ${size}`);
    return read / (Number(process.hrtime.bigint() - t0) / 1e9);
  } finally {
    await client.end();
  }
}

/**
 * Search latency and export throughput on a loaded service (`url`, a key with emitter and
 * investigator roles for every tenant in `headers`, the service's process id for its memory).
 */
export async function investigationBench(
  url: string,
  headers: Record<string, string>,
  pid: number,
  quick: boolean,
  log: (line: string) => void,
  /** The service's database, for the export's raw baseline. */
  db: string,
): Promise<BenchFigure[]> {
  const sizes = quick ? QUICK : FULL;
  const tenants = Array.from({ length: sizes.tenants }, (_, k) => `inv${String(k).padStart(2, '0')}`);
  const batches: [string, number][] = [];
  for (let from = 0; from < sizes.bigTenant; from += BATCH) batches.push([tenants[0], from]);
  for (const tenant of tenants.slice(1))
    for (let from = 0; from < sizes.perTenant; from += BATCH) batches.push([tenant, from]);
  // Interleaved, as tenants' traffic arrives.
  batches.sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : 1));
  const total = batches.length * BATCH;
  log(`service: loading ${total.toLocaleString('en-US')} events over ${sizes.tenants} tenants for search and export`);
  let next = 0;
  const load = await new Promise<autocannon.Result>((resolve, reject) =>
    autocannon(
      {
        url: `${url}/v1/events/batch`,
        method: 'POST',
        headers,
        connections: 4,
        amount: batches.length,
        requests: [
          {
            setupRequest: (req) => {
              const [tenant, from] = batches[next++ % batches.length];
              return {
                ...req,
                body: JSON.stringify({
                  events: Array.from({ length: BATCH }, (_, i) => event(tenant, from + i, tenant !== tenants[0])),
                }),
              };
            },
          },
        ],
      },
      (err, result) => (err ? reject(err) : resolve(result)),
    ),
  );
  if (load.non2xx > 0 || load.errors > 0)
    throw new Error(`loading failed: ${load.non2xx} non-2xx, ${load.errors} errors`);

  // The search read model follows the ledger (a projector); searches catch up what it has not
  // reached, so timing them before it is done would time the tail of the load. How far behind it
  // was and how long it took are figures of their own.
  const lagNow = async () =>
    Number(/^audit_search_lag_entries (\d+)/m.exec(await (await fetch(`${url}/metrics`)).text())?.[1] ?? NaN);
  await new Promise((resolve) => setTimeout(resolve, 1_200)); // one projector pass, so the gauge is fresh
  const lagAtLoadEnd = await lagNow();
  const c0 = Date.now();
  while ((await lagNow()) > 0) {
    if (Date.now() - c0 > 120_000) throw new Error('the search read model did not catch up within 2 minutes');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const catchUpSeconds = (Date.now() - c0) / 1000;
  log(
    `service: search read model ${lagAtLoadEnd.toLocaleString('en-US')} entries behind at the end of the load, caught up in ${catchUpSeconds.toFixed(1)} s`,
  );

  const timed = async (path: string): Promise<number> => {
    const s = process.hrtime.bigint();
    const res = await fetch(`${url}${path}`, { headers: { authorization: headers.authorization } });
    if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
    await res.arrayBuffer();
    return Number(process.hrtime.bigint() - s) / 1e6;
  };
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(Math.random() * xs.length)];
  log(
    `service: ${sizes.searches} searches each by tenant and actor, by tenant and day, by tenant and email, by tenant and IP address (one at a time, each recorded)`,
  );
  // The personal filters must find something, or their figures would time empty answers.
  const found = (await (
    await fetch(`${url}/v1/events?tenant=${tenants[1]}&personalEmail=${emailOf(0)}`, {
      headers: { authorization: headers.authorization },
    })
  ).json()) as { items?: unknown[] };
  if (!found.items?.length)
    throw new Error(`a search by personalEmail found nothing: ${JSON.stringify(found).slice(0, 200)}`);
  const byActor: number[] = [];
  const byDay: number[] = [];
  const byEmail: number[] = [];
  const byIp: number[] = [];
  const day = new Date().toISOString().slice(0, 10);
  const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
  for (let i = 0; i < sizes.searches; i++) {
    // Users whose logins failed: i % 10 === 0 reaches every user of 977 (coprime with 10).
    const user = Math.floor(Math.random() * 977);
    const searches: [number[], string][] = [
      [byActor, `/v1/events?tenant=${pick(tenants)}&actor=usr_${Math.floor(Math.random() * 977)}`],
      [byDay, `/v1/events?tenant=${pick(tenants)}&from=${day}T00:00:00Z&to=${tomorrow}T00:00:00Z`],
      [byEmail, `/v1/events?tenant=${pick(tenants.slice(1))}&personalEmail=${emailOf(user)}`],
      [byIp, `/v1/events?tenant=${pick(tenants.slice(1))}&personalIp=${ipOf(user)}`],
    ];
    // In turn, each filter first: in a fixed order each one always followed the same neighbour
    // (the IP search the email search, the email search the 100-entry day page), so what one left
    // behind (garbage to collect, a read record being projected) always landed on the same figure.
    for (let k = 0; k < searches.length; k++) {
      const [latencies, path] = searches[(i + k) % searches.length];
      latencies.push(await timed(path));
    }
  }

  log(`service: export of the ${sizes.bigTenant.toLocaleString('en-US')}-entry tenant (NDJSON with proofs)`);
  const rssBefore = rssMb(pid);
  let rssPeak = rssBefore;
  const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, rssMb(pid))), 20);
  const e0 = process.hrtime.bigint();
  const res = await fetch(`${url}/v1/exports?tenant=${tenants[0]}`, {
    headers: { authorization: headers.authorization },
  });
  if (!res.ok || !res.body) throw new Error(`export: HTTP ${res.status}`);
  let lines = 0;
  // Counted with indexOf (native), so the client, on the same two cores, takes little from the service.
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    const bytes = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    for (let at = bytes.indexOf(10); at !== -1; at = bytes.indexOf(10, at + 1)) lines++;
  }
  const exportSeconds = Number(process.hrtime.bigint() - e0) / 1e9;
  clearInterval(sampler);
  const exported = lines - 1;
  if (exported !== sizes.bigTenant) throw new Error(`the export held ${exported} entries, not ${sizes.bigTenant}`);
  log(`service: raw read of the same ${exported.toLocaleString('en-US')} rows and their proofs' stored nodes`);
  const rawExport = await rawExportRead(db, tenants[0], sizes.bigTenant);

  return [
    {
      name: 'search read model lag about 1 s after the load (entries not yet projected)',
      value: lagAtLoadEnd,
      unit: 'entries',
    },
    { name: 'time for the projector to catch up from there', value: catchUpSeconds, unit: 's' },
    searchP99(`one tenant and one actor (${total.toLocaleString('en-US')} events, ${sizes.tenants} tenants)`, byActor),
    searchP99('one tenant and a day', byDay),
    searchP99('one tenant and an email address (personalEmail=, keyed-hash index)', byEmail),
    searchP99('one tenant and an IP address (personalIp=)', byIp),
    {
      name: `export of ${exported.toLocaleString('en-US')} entries with proofs (NDJSON, streamed)`,
      value: exported / exportSeconds,
      unit: 'events/s',
      baseline: { name: "raw keyset read of the rows + their proofs' stored nodes", value: rawExport },
      target: { kind: 'min-ratio', value: 0.5 },
    },
    { name: 'service RSS growth during that export (peak minus before)', value: rssPeak - rssBefore, unit: 'MB' },
  ];
}

/**
 * `--only=investigation`: the search and export figures alone, on a service of their own (a fresh
 * database holding only this load), without the 1,200,000 entries the service run appends first.
 */
export async function runInvestigationBench(quick: boolean, log: (line: string) => void): Promise<BenchFigure[]> {
  const service = await startBenchService({
    database: `audit_bench_inv_${randomBytes(4).toString('hex')}`,
    ports: { from: 4300, spread: 90 },
    log: (line) => log(`investigation: ${line}`),
  });
  try {
    const res = await fetch(`${service.url}/v1/keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${service.admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'bench', roles: ['emitter', 'investigator'], tenants: ['*'] }),
    });
    if (!res.ok) throw new Error(`creating the bench key: HTTP ${res.status}`);
    const { key } = (await res.json()) as { key: string };
    const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
    return await investigationBench(
      service.url,
      headers,
      service.pid,
      quick,
      log,
      `${DATABASE_SERVER}/${service.database}`,
    );
  } finally {
    await service.stop();
  }
}
