import autocannon from 'autocannon';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { AddressInfo } from 'node:net';
import { Client } from 'pg';
import { DATABASE_SERVER, json, startBenchService } from './bench-service';
import { BenchFigure } from './report';
import { event } from './service.bench';

// Streaming to a sink (issue 21): batch ingestion over 4 tenants with one NDJSON sink streaming
// those tenants' logs to a receiver on loopback, beside the same ingestion without a sink, in
// interleaved phases of the same run. The order is A B B A (A without the sink, B with it), so a
// drift that grows through the run (the database filling up, the shared machine's other work)
// weighs on both sides alike. The service runs as a child process on a fresh database with its
// own queue prefix, as in service.bench.ts, with the AUDIT_SINK_* defaults.
interface Sizes {
  /** Seconds of batch appends in each phase, about: the number of batches is set from the warm-up's rate. */
  readonly phaseSeconds: number;
}
const FULL: Sizes = { phaseSeconds: 15 };
const QUICK: Sizes = { phaseSeconds: 1 };
/** Batches appended before the first phase, not counted (JIT, connections); they also make the logs. */
const WARM_REQUESTS = 40;

const TENANTS = ['s0', 's1', 's2', 's3'];
/** Connections of the batch load: two per tenant, as the 4-tenant figure of service.bench.ts. */
const CONNECTIONS = 8;
const PHASES = ['A', 'B', 'B', 'A'] as const;
/** How long a phase's sink may take to deliver what is left before the run gives up. */
const DRAIN_LIMIT_MS = 120_000;

const TENANT_FIELD = '"tenant_uid":"';

/**
 * A bare NDJSON receiver on loopback: counts the entries of each log it is sent and answers 204.
 * It stands in for a SIEM on another machine, yet shares these two cores with the service: it
 * finds each line's tenant by its field rather than parsing the line (a parse of every line cost
 * about 0.08 of a core while the sink streamed, CPU the service's appends did not get). The OCSF
 * lines are the service's `JSON.stringify`, so the field is spelled exactly so, once per line.
 */
async function ndjsonReceiver(): Promise<{ url: string; received: Map<string, number>; close: () => void }> {
  const received = new Map<string, number>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      for (let start = 0; start < body.length;) {
        const end = body.indexOf('\n', start);
        if (end === -1) throw new Error('an NDJSON line without its newline');
        const at = body.indexOf(TENANT_FIELD, start);
        if (at === -1 || at > end) throw new Error('an NDJSON line without metadata.tenant_uid');
        const from = at + TENANT_FIELD.length;
        const log = body.slice(from, body.indexOf('"', from));
        received.set(log, (received.get(log) ?? 0) + 1);
        start = end + 1;
      }
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/ingest`, received, close: () => server.close() };
}

/**
 * `requests` batches of 500 over the 4 tenants; the events acknowledged and the seconds they took.
 * A fixed number, not a fixed time: autocannon cuts the requests in flight at the end of a duration
 * while the service still commits them, which a phase would then neither count nor time.
 */
async function batchLoad(
  url: string,
  headers: Record<string, string>,
  requests: number,
): Promise<{ events: number; seconds: number }> {
  const bodies = TENANTS.map((t) => JSON.stringify({ events: Array.from({ length: 500 }, (_, i) => event(t, i)) }));
  let turn = 0;
  const t0 = process.hrtime.bigint();
  const result = await new Promise<autocannon.Result>((resolve, reject) =>
    autocannon(
      {
        url: `${url}/v1/events/batch`,
        method: 'POST',
        headers,
        connections: CONNECTIONS,
        amount: requests,
        requests: [{ setupRequest: (req) => ({ ...req, body: bodies[turn++ % bodies.length] }) }],
      },
      (err, r) => (err ? reject(err) : resolve(r)),
    ),
  );
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (result.non2xx > 0 || result.errors > 0 || result['2xx'] !== requests)
    throw new Error(`batch appends failed: ${result['2xx']} of ${requests} 2xx, ${result.errors} errors`);
  return { events: requests * 500, seconds };
}

/** Samples `read` every 500 ms until `stop`, which answers the largest value read. */
function sampleMax(read: () => Promise<number>): { stop: () => number } {
  let max = 0;
  const timer = setInterval(() => {
    read().then(
      (n) => (max = Math.max(max, n)),
      () => undefined,
    );
  }, 500);
  return {
    stop: () => {
      clearInterval(timer);
      return max;
    },
  };
}

interface SinkView {
  readonly id: string;
  readonly status: string;
  readonly failures: number;
  readonly lastError: { message: string } | null;
  readonly positions: readonly { log: string; lag: number; sent: number }[];
}

interface PhaseResult {
  readonly kind: 'A' | 'B';
  readonly rate: number;
  /** The most entries of the 4 logs not yet covered by a signed checkpoint, sampled through the appends. */
  readonly unsigned: number;
  /** B only: entries behind at the end of the appends, seconds to drain them, entries per second delivered. */
  readonly lagAtEnd?: number;
  readonly drainSeconds?: number;
  readonly deliveryRate?: number;
}

export async function runStreamingBench(quick: boolean, log: (line: string) => void): Promise<BenchFigure[]> {
  const sizes = quick ? QUICK : FULL;
  const service = await startBenchService({
    database: `audit_bench_st_${randomBytes(4).toString('hex')}`,
    ports: { from: 3880, spread: 20 },
    log: (line) => log(`streaming: ${line}`),
  });
  const { url, admin, database } = service;
  const receiver = await ndjsonReceiver();
  let owner: Client | undefined;
  try {
    const asAdmin = { authorization: `Bearer ${admin}`, 'content-type': 'application/json' };
    const { key } = await json<{ key: string }>(
      await fetch(`${url}/v1/keys`, {
        method: 'POST',
        headers: asAdmin,
        body: JSON.stringify({ name: 'bench', roles: ['emitter'], tenants: ['*'] }),
      }),
    );
    const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
    // A sink sends only what a signed checkpoint covers, so what the signer has not reached yet
    // bounds it: read beside each phase (as the service's owner, from the ledger's own tables).
    owner = new Client({ connectionString: `${DATABASE_SERVER}/${database}` });
    await owner.connect();
    const unsigned = async () =>
      Number(
        (
          await (owner as Client).query(
            `SELECT coalesce(sum(l.size - coalesce((SELECT max(c.size) FROM checkpoints c WHERE c.log = l.log), 0)), 0) AS n
             FROM logs l WHERE l.log = ANY($1)`,
            [TENANTS],
          )
        ).rows[0].n,
      );
    const sinkState = async (id: string) =>
      json<SinkView>(await fetch(`${url}/v1/sinks/${id}`, { headers: { authorization: `Bearer ${admin}` } }));
    const lagOf = (sink: SinkView) => sink.positions.reduce((sum, p) => sum + p.lag, 0);

    // The warm-up also makes the four logs, so a sink made `from: "end"` has a position in each.
    const warm = await batchLoad(url, headers, WARM_REQUESTS);
    // Each phase appends as many batches as the warm-up's rate gives in a phase's time.
    const perPhase = Math.max(CONNECTIONS, Math.round(((warm.events / warm.seconds) * sizes.phaseSeconds) / 500));
    log(`streaming: warm-up at ${Math.round(warm.events / warm.seconds)} events/s; ${perPhase} batches per phase`);
    const phases: PhaseResult[] = [];
    for (const [n, kind] of PHASES.entries()) {
      if (kind === 'A') {
        log(
          `streaming: phase ${n + 1} (A): batches of 500 over ${TENANTS.length} tenants, no sink, ${sizes.phaseSeconds} s`,
        );
        const sampled = sampleMax(unsigned);
        const load = await batchLoad(url, headers, perPhase);
        phases.push({ kind, rate: load.events / load.seconds, unsigned: sampled.stop() });
        continue;
      }
      log(`streaming: phase ${n + 1} (B): the same appends while an NDJSON sink streams those tenants from their end`);
      const { id } = await json<{ id: string }>(
        await fetch(`${url}/v1/sinks`, {
          method: 'POST',
          headers: asAdmin,
          body: JSON.stringify({
            name: `bench-${n}`,
            kind: 'ndjson',
            url: receiver.url,
            secret: randomBytes(24).toString('hex'),
            tenants: TENANTS,
            from: 'end',
          }),
        }),
      );
      receiver.received.clear();
      log(`streaming: sink ${id} made`);
      const t0 = process.hrtime.bigint();
      const sampled = sampleMax(unsigned);
      const load = await batchLoad(url, headers, perPhase);
      const notSigned = sampled.stop();
      const lagAtEnd = lagOf(await sinkState(id));
      const d0 = process.hrtime.bigint();
      for (;;) {
        const sink = await sinkState(id);
        if (sink.status !== 'active') throw new Error(`the sink is ${sink.status}: ${sink.lastError?.message}`);
        if (lagOf(sink) === 0) break;
        if (Number(process.hrtime.bigint() - d0) / 1e6 > DRAIN_LIMIT_MS)
          throw new Error(`the sink is still ${lagOf(sink)} entries behind`);
        await new Promise((r) => setTimeout(r, 50));
      }
      const end = process.hrtime.bigint();
      const received = [...receiver.received.values()].reduce((a, b) => a + b, 0);
      // Every entry appended in the phase arrives (the receiver saw nothing of earlier ones: `from: "end"`).
      if (received < load.events)
        throw new Error(`the receiver got ${received} entries of the ${load.events} appended`);
      const drainSeconds = Number(end - d0) / 1e9;
      phases.push({
        kind,
        rate: load.events / load.seconds,
        unsigned: notSigned,
        lagAtEnd,
        drainSeconds,
        deliveryRate: received / (Number(end - t0) / 1e9),
      });
      log(
        `streaming: ${load.events} appended, ${received} received, ${lagAtEnd} behind at the end of the appends, up to ${notSigned} were not yet under a signed checkpoint during the appends, drained in ${drainSeconds.toFixed(2)} s`,
      );
      const gone = await fetch(`${url}/v1/sinks/${id}`, {
        method: 'DELETE',
        headers: { authorization: asAdmin.authorization },
      });
      if (gone.status !== 204) throw new Error(`deleting the sink: HTTP ${gone.status}`);
    }

    const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const without = mean(phases.filter((p) => p.kind === 'A').map((p) => p.rate));
    const streamed = phases.filter((p) => p.kind === 'B');
    const withSink = mean(streamed.map((p) => p.rate));
    const ingestion = `batches of 500 over ${TENANTS.length} tenants (${CONNECTIONS} connections), ${sizes.phaseSeconds} s phases A B B A`;
    return [
      {
        name: `ingestion while one NDJSON sink streams those tenants, ${ingestion}`,
        value: withSink,
        unit: 'events/s',
        baseline: { name: 'the same ingestion without a sink, phases between', value: without },
        target: { kind: 'min-ratio', value: 0.85 },
      },
      {
        name: 'entries the sink delivered per second, from its creation until its lag is 0',
        value: mean(streamed.map((p) => p.deliveryRate as number)),
        unit: 'entries/s',
        baseline: { name: 'ingestion in the same phases', value: withSink },
        target: { kind: 'min-ratio', value: 0.8 },
      },
      ...streamed.map((p) => ({
        name: `sink lag at the end of the appends of phase ${phases.indexOf(p) + 1} (B)`,
        value: p.lagAtEnd as number,
        unit: 'entries',
      })),
      ...phases.map((p, i) => ({
        name: `entries not yet under a signed checkpoint, most sampled during phase ${i + 1} (${p.kind})`,
        value: p.unsigned,
        unit: 'entries',
      })),
      ...streamed.map((p) => ({
        name: `time to lag 0 after the appends of phase ${phases.indexOf(p) + 1} (B)`,
        value: p.drainSeconds as number,
        unit: 's',
      })),
    ];
  } finally {
    await owner?.end();
    receiver.close();
    await service.stop();
  }
}
