import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { DATABASE_SERVER, startBenchService } from './bench-service';
import { pacedLoad } from './paced-load';
import { BARE_ENTRIES_DDL, bareLeaf, oneStatementCommits, pacedOneStatementCommits } from './raw-rows';
import { BenchFigure } from './report';
import { event } from './service.bench';

// Latency at an offered load (issue 23): single events offered open-loop at half the rate raw
// one-statement commits reach in the same run, against those raw commits offered at the same rate.
// Half the capacity is a load a service is run at, so the tail measured here is the stalls (garbage
// collection, background work), not the queue of a saturated machine. Both sides are open-loop:
// requests are sent on schedule whatever the answers, and timed from when they were due.

const CLIENTS = 16;
const CONNECTIONS = 64;

/** The seconds each phase lasts: the quick smoke run proves the phases work in a few seconds. */
const FULL = { rawSeconds: 5, warmSeconds: 5, pacedSeconds: 20 };
const QUICK = { rawSeconds: 1, warmSeconds: 0.5, pacedSeconds: 1.5 };

export async function runLatencyBench(quick: boolean, log: (line: string) => void): Promise<BenchFigure[]> {
  const sizes = quick ? QUICK : FULL;
  const service = await startBenchService({
    database: `audit_bench_${randomBytes(4).toString('hex')}`,
    ports: { from: 3850, spread: 30 },
    log: (line) => log(`latency: ${line}`),
  });
  const { url, admin, database } = service;
  const db = `${DATABASE_SERVER}/${database}`;
  try {
    const keyRes = await fetch(`${url}/v1/keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'bench', roles: ['emitter'], tenants: ['*'] }),
    });
    const key = ((await keyRes.json()) as { key: string }).key;
    const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };

    const client = new Client({ connectionString: db });
    client.on('error', () => undefined);
    await client.connect();
    await client.query(BARE_ENTRIES_DDL);
    await client.end();
    const leaf = bareLeaf(event('raw', 0));

    log(`latency: raw one-statement commits, ${CLIENTS} clients, ${sizes.rawSeconds} s`);
    const raw = await oneStatementCommits(db, leaf, { from: 0, seconds: sizes.rawSeconds, clients: CLIENTS });
    const rate = raw.rate / 2;
    const bodies = (prefix: string) => Array.from({ length: 16 }, (_, k) => JSON.stringify(event(`${prefix}${k}`, k)));

    // The JIT warmed first, uncounted, at the same rate.
    await pacedLoad(`${url}/v1/events`, headers, bodies('lw'), {
      rate,
      connections: CONNECTIONS,
      seconds: sizes.warmSeconds,
    });
    log(`latency: raw one-statement commits offered at ${Math.round(rate)}/s, ${sizes.pacedSeconds} s`);
    const rawPaced = await pacedOneStatementCommits(db, leaf, {
      from: 10_000_000,
      rate,
      seconds: sizes.pacedSeconds,
      clients: CLIENTS,
    });
    log(`latency: single events offered at ${Math.round(rate)}/s, ${CONNECTIONS} connections, ${sizes.pacedSeconds} s`);
    const paced = await pacedLoad(`${url}/v1/events`, headers, bodies('lo'), {
      rate,
      connections: CONNECTIONS,
      seconds: sizes.pacedSeconds,
    });
    log(
      `latency: service p50/p99/p99.9/max ${[paced.p50, paced.p99, paced.p999, paced.max].map((x) => Number(x).toFixed(1)).join('/')} ms, ` +
        `raw ${[rawPaced.p50, rawPaced.p99, rawPaced.p999, rawPaced.max].map((x) => Number(x).toFixed(1)).join('/')} ms`,
    );

    const at = `offered open-loop at ${Math.round(rate).toLocaleString('en-US')}/s (half the raw one-statement rate)`;
    return [
      {
        name: `raw one-statement commits, ${CLIENTS} clients (closed loop; this part's rate)`,
        value: raw.rate,
        unit: 'rows/s',
      },
      {
        name: `single events ${at}: answered`,
        value: paced.rate,
        unit: 'events/s',
        baseline: { name: 'raw commits offered at the same rate, answered', value: rawPaced.rate },
      },
      {
        name: 'append latency p50 at that offered rate',
        value: paced.p50,
        unit: 'ms',
        baseline: { name: 'p50 of the raw commits at the same rate', value: rawPaced.p50 },
      },
      {
        name: 'append latency p99 at that offered rate',
        value: paced.p99,
        unit: 'ms',
        baseline: { name: 'p99 of the raw commits at the same rate', value: rawPaced.p99 },
        target: { kind: 'max-ratio', value: 2 },
      },
      {
        name: 'append latency p99.9 at that offered rate',
        value: paced.p999,
        unit: 'ms',
        baseline: { name: 'p99.9 of the raw commits at the same rate', value: rawPaced.p999 },
      },
      {
        name: 'append latency max at that offered rate',
        value: paced.max,
        unit: 'ms',
        baseline: { name: 'max of the raw commits at the same rate', value: rawPaced.max },
      },
      {
        name: 'single events refused or unanswered at that offered rate',
        value: paced.failed,
        unit: 'requests',
        target: { kind: 'max', value: 0 },
      },
    ];
  } finally {
    await service.stop();
  }
}
