import autocannon from 'autocannon';
import { QueueEvents } from 'bullmq';
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { DELETION_QUEUE } from '../src/deletion/deletion.queue';
import { NOTIFICATIONS_QUEUE } from '../src/notifications/notifications.queue';
import { MAINTENANCE_QUEUE } from '../src/platform/queue/maintenance.queue';
import { DATABASE_SERVER, json, REDIS, startBenchService } from './bench-service';
import { pacedLoad } from './paced-load';
import { BenchFigure } from './report';

// Long work on a busy service (issue 24): a retention purge and a full verification of one log's
// entries while two clients append single events. The service runs as a child process on a fresh
// database, as in service.bench.ts; append latency is measured open-loop (paced-load.ts), so a
// pause of the service counts against every request due during it.
interface Sizes {
  /** Entries of the worked log, every one personal data the purge erases. */
  readonly entries: number;
  /** Seconds of appends without the work, before it and again after it. */
  readonly quietSeconds: number;
}
const FULL: Sizes = { entries: 200_000, quietSeconds: 10 };
const QUICK: Sizes = { entries: 5_000, quietSeconds: 2 };

/** The two clients: one appends to the worked log, one to a log of its own; 50 events a second each. */
const CLIENTS = 2;
const RATE = 100;
/** The worked log, and the other client's log. */
const WORKED = 'longwork';
const OTHER = 'longwork-other';
/** Appends during the work are offered in slices of this many seconds until the work is done. */
const SLICE_SECONDS = 2;

const ticket = (i: number) => ({
  tenant: WORKED,
  type: 'support.ticket.opened',
  actor: { type: 'user', id: `person-${i % 5000}` },
  personal: {
    subject: `person-${i % 5000}`,
    data: { email: `person-${i % 5000}@example.com`, note: 'p'.repeat(40), i },
  },
});

const single = (tenant: string, i: number) =>
  JSON.stringify({
    tenant,
    type: 'billing.invoice.paid',
    actor: { type: 'user', id: `usr_${i}` },
    target: { type: 'invoice', id: `inv_${i}` },
    outcome: 'success',
    context: { amountCents: 1000 + i, currency: 'USD' },
  });

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

/** Paced single appends from the two clients for `seconds`, or in slices until `done()` says so. */
async function appends(
  url: string,
  headers: Record<string, string>,
  opts: { seconds: number } | { done: () => boolean },
  log?: (line: string) => void,
): Promise<number[]> {
  const bodies = Array.from({ length: 64 }, (_, i) => single(i % 2 === 0 ? WORKED : OTHER, i));
  const latencies: number[] = [];
  const t0 = Date.now();
  do {
    const seconds = 'seconds' in opts ? opts.seconds : SLICE_SECONDS;
    const from = (Date.now() - t0) / 1000;
    const slice = await pacedLoad(`${url}/v1/events`, headers, bodies, { rate: RATE, connections: CLIENTS, seconds });
    if (slice.failed > 0) throw new Error(`single appends failed: ${slice.failed}`);
    latencies.push(...slice.latencies);
    // The timeline of the work phase, to line a slow moment up with the work's own steps.
    log?.(
      `long work: +${from.toFixed(1)} s: p50 ${slice.p50.toFixed(1)} ms, p99 ${slice.p99.toFixed(1)} ms, max ${slice.latencies[slice.latencies.length - 1].toFixed(1)} ms`,
    );
  } while ('done' in opts && !opts.done());
  return latencies.sort((a, b) => a - b);
}

/** Waits until the search read model has projected every entry; answers the seconds it took. */
async function searchCaughtUp(url: string, admin: string): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    const metrics = await (await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${admin}` } })).text();
    const behind = metrics
      .split('\n')
      .filter((line) => line.startsWith('audit_search_lag_entries'))
      .reduce((sum, line) => sum + Number(line.split(' ').pop()), 0);
    if (behind === 0) return (Date.now() - t0) / 1000;
    if (Date.now() - t0 > 600_000) throw new Error(`the search read model is still ${behind} entries behind`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** Stalled (and failed) jobs on the service's queues, as BullMQ's queue events report them. */
async function watchQueues(
  prefix: string,
): Promise<{ stalled: string[]; failed: string[]; close: () => Promise<void> }> {
  const u = new URL(REDIS);
  const connection = { host: u.hostname, port: Number(u.port || 6379), db: Number(u.pathname.slice(1) || 0) };
  const stalled: string[] = [];
  const failed: string[] = [];
  const watchers = [DELETION_QUEUE, MAINTENANCE_QUEUE, NOTIFICATIONS_QUEUE].map((name) => {
    const events = new QueueEvents(name, { connection, prefix });
    events.on('stalled', ({ jobId }) => stalled.push(`${name}/${jobId}`));
    events.on('failed', ({ jobId, failedReason }) => failed.push(`${name}/${jobId}: ${failedReason}`));
    return events;
  });
  await Promise.all(watchers.map((w) => w.waitUntilReady()));
  return { stalled, failed, close: async () => void (await Promise.all(watchers.map((w) => w.close()))) };
}

export async function runLongWorkBench(quick: boolean, log: (line: string) => void): Promise<BenchFigure[]> {
  const sizes = quick ? QUICK : FULL;
  const service = await startBenchService({
    database: `audit_bench_lw_${randomBytes(4).toString('hex')}`,
    ports: { from: 3990, spread: 9 },
    log: (line) => log(`long work: ${line}`),
  });
  const { url, admin, database } = service;
  const queues = await watchQueues(service.prefix);
  try {
    const asAdmin = { authorization: `Bearer ${admin}`, 'content-type': 'application/json' };
    const { key } = await json<{ key: string }>(
      await fetch(`${url}/v1/keys`, {
        method: 'POST',
        headers: asAdmin,
        body: JSON.stringify({ name: 'bench', roles: ['emitter', 'investigator'], tenants: ['*'] }),
      }),
    );
    const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
    // Support data erasable at once, so the purge erases every entry of the worked log.
    await json(
      await fetch(`${url}/v1/retention-policies/support`, {
        method: 'PUT',
        headers: asAdmin,
        body: JSON.stringify({ minDays: 0, maxDays: 0, mode: 'governance', reason: 'benchmark: erasable at once' }),
      }),
    );

    log(`long work: ${sizes.entries.toLocaleString('en-US')} personal entries into ${WORKED} (batches of 500)`);
    let next = 0;
    const fill = await new Promise<autocannon.Result>((resolve, reject) =>
      autocannon(
        {
          url: `${url}/v1/events/batch`,
          method: 'POST',
          headers,
          connections: 4,
          amount: sizes.entries / 500,
          // The fill is not timed; on a loaded machine a batch of 500 can take longer than the
          // default 10 s, which autocannon counts as an error.
          timeout: 120,
          requests: [
            {
              setupRequest: (req) => ({
                ...req,
                body: JSON.stringify({ events: Array.from({ length: 500 }, () => ticket(next++)) }),
              }),
            },
          ],
        },
        (err, result) => (err ? reject(err) : resolve(result)),
      ),
    );
    if (fill.non2xx > 0 || fill.errors > 0)
      throw new Error(`filling failed: ${fill.non2xx} non-2xx, ${fill.errors} errors`);

    // The search read model catches up with the fill before anything is timed: its catch-up writes
    // (and fsyncs) as much as the fill did, and would otherwise land in whichever phase comes next.
    const caughtUp = await searchCaughtUp(url, admin);
    log(`long work: the search read model caught up ${caughtUp.toFixed(1)} s after the fill`);
    // A running service's tables are vacuumed and its fill long written out; right after a fill of
    // 200,000 rows they are not: autovacuum and the checkpointer would do that now, in whichever
    // phase comes next, and the first reads of the new rows would write their hint bits then.
    const maintenance = Date.now();
    const owner = new Client({ connectionString: `${DATABASE_SERVER}/${database}` });
    await owner.connect();
    await owner.query('VACUUM (ANALYZE)');
    await owner.query('CHECKPOINT');
    await owner.end();
    log(
      `long work: VACUUM (ANALYZE) and CHECKPOINT after the fill took ${((Date.now() - maintenance) / 1000).toFixed(1)} s`,
    );
    // Warm-up, not counted: the JIT and the connections, so the first quiet phase times the service.
    await appends(url, headers, { seconds: quick ? 1 : 3 });
    log(`long work: ${CLIENTS} clients appending ${RATE} events/s in all, without the work, ${sizes.quietSeconds} s`);
    const before = await appends(url, headers, { seconds: sizes.quietSeconds });

    log('long work: the same appends while the retention purge and a full verification run');
    let purgeSeconds = 0;
    let verifySeconds = 0;
    let working = 2;
    const t0 = process.hrtime.bigint();
    const seconds = () => Number(process.hrtime.bigint() - t0) / 1e9;
    const purge = (async () => {
      const { id } = await json<{ id: string }>(
        await fetch(`${url}/v1/deletion-requests`, {
          method: 'POST',
          headers: asAdmin,
          body: JSON.stringify({ kind: 'retention_purge', reason: 'benchmark' }),
        }),
      );
      for (;;) {
        const request = await json<{ status: string; erased: number }>(
          await fetch(`${url}/v1/deletion-requests/${id}`, { headers: { authorization: `Bearer ${admin}` } }),
        );
        if (!['queued', 'running'].includes(request.status)) {
          purgeSeconds = seconds();
          if (request.status !== 'completed' || request.erased !== sizes.entries)
            throw new Error(`the purge ended ${request.status} with ${request.erased} erased`);
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })().finally(() => working--);
    const verify = (async () => {
      const report = await json<{ ok: boolean; checked: number }>(
        await fetch(`${url}/v1/logs/${WORKED}/verify`, {
          method: 'POST',
          headers: { authorization: headers.authorization },
        }),
      );
      verifySeconds = seconds();
      if (!report.ok || report.checked < sizes.entries)
        throw new Error(`verification failed: ${JSON.stringify(report).slice(0, 300)}`);
    })().finally(() => working--);
    // A failure of the work ends the appends too (their slices stop when nothing is working).
    const [during] = await Promise.all([
      appends(url, headers, { done: () => working === 0 }, quick ? undefined : log),
      purge,
      verify,
    ]);
    log(`long work: purge ${purgeSeconds.toFixed(1)} s, verification ${verifySeconds.toFixed(1)} s; quiet again`);
    const after = await appends(url, headers, { seconds: sizes.quietSeconds });
    const quiet = [...before, ...after].sort((a, b) => a - b);
    // BullMQ finds a stalled job in its periodic check; one more check's time, so none is missed.
    log('long work: waiting for a last stalled-job check');
    await new Promise((resolve) => setTimeout(resolve, quick ? 1_000 : 31_000));

    const n = sizes.entries.toLocaleString('en-US');
    const work = `a purge and a full verification of ${n} entries`;
    return [
      {
        name: `append latency p99 during ${work} (${CLIENTS} clients, ${RATE}/s offered)`,
        value: percentile(during, 0.99),
        unit: 'ms',
        baseline: { name: 'p99 at the same load without that work, before and after', value: percentile(quiet, 0.99) },
        target: { kind: 'max-ratio', value: 2 },
      },
      {
        name: 'append latency p50 during that work',
        value: percentile(during, 0.5),
        unit: 'ms',
        baseline: { name: 'p50 without that work', value: percentile(quiet, 0.5) },
      },
      { name: 'append latency max during that work', value: during[during.length - 1], unit: 'ms' },
      {
        name: 'BullMQ jobs stalled during that work (deletion, maintenance, notifications)',
        value: queues.stalled.length,
        unit: 'jobs',
        target: { kind: 'max', value: 0 },
      },
      {
        name: 'BullMQ jobs failed during that work',
        value: queues.failed.length,
        unit: 'jobs',
        target: { kind: 'max', value: 0 },
      },
      {
        name: `retention purge of ${n} entries, request to completed (beside the verification)`,
        value: purgeSeconds,
        unit: 's',
      },
      { name: `full verification of ${n} entries (beside the purge)`, value: verifySeconds, unit: 's' },
    ];
  } finally {
    if (queues.stalled.length + queues.failed.length > 0)
      log(`long work: stalled ${JSON.stringify(queues.stalled)}, failed ${JSON.stringify(queues.failed)}`);
    await queues.close();
    await service.stop();
  }
}
