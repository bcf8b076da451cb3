import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { DELETION_QUEUE } from '../../src/deletion/deletion.queue';
import { clearQueues } from '../support/redis-keys';
import { createTestDatabase, dropTestDatabase, superuserClient } from '../support/test-database';
import { ServiceProcess, call, expectCall, legalPersonKey, startServiceProcess } from './support/service-process';
import { until } from './support/until';

/**
 * A deletion worker killed in the middle of an erasure. The erasure's UPDATE of `personal_data` is
 * made to wait on row locks held from a control connection; once PostgreSQL shows the worker's
 * backend waiting on them, the worker gets SIGKILL and the locks go. Another worker must finish the
 * request: one `deletion.completed`, every row of the subject erased, a log that verifies. Twice:
 * once as BullMQ recovers a stalled job by itself, once with the job failed under the request's
 * id because a stall checker with `maxStalledCount: 0` gave up on it (the reconciler's case).
 */

const REDIS = { host: '127.0.0.1', port: 6379 };
const TENANT = 'acme';
const SUBJECT = 'subject-k';
const OTHER = 'subject-z';
const ROWS = 5;
// Deadlines only: every wait ends as soon as what it waits for is seen.
const DEADLINE_MS = Number(process.env.DRILL_DEADLINE_MS ?? 90_000);
const WAIT = { timeoutMs: DEADLINE_MS, pauseMs: 100 };

/** One deployment: a database, a queue prefix, a checkpoint directory and an admin key, and its processes. */
class Deployment {
  readonly processes: ServiceProcess[] = [];
  readonly clients: Client[] = [];
  readonly queues: { close(): Promise<unknown> }[] = [];
  readonly env: Record<string, string>;

  private constructor(readonly db: string) {
    this.env = {
      AUDIT_QUEUE_PREFIX: `drill-${randomBytes(6).toString('hex')}`,
      AUDIT_CHECKPOINT_DIR: mkdtempSync(join(tmpdir(), 'audit-cp-')),
      AUDIT_BOOTSTRAP_ADMIN_KEY: `drill-admin-${randomBytes(16).toString('hex')}`,
    };
  }

  static async create(): Promise<Deployment> {
    return new Deployment(await createTestDatabase());
  }

  async start(components: string, env: Record<string, string> = {}): Promise<ServiceProcess> {
    const service = await startServiceProcess(this.db, { ...this.env, AUDIT_COMPONENTS: components, ...env });
    this.processes.push(service);
    return service;
  }

  async client(): Promise<Client> {
    const client = await superuserClient(this.db);
    this.clients.push(client);
    return client;
  }

  queue(): Queue {
    const queue = new Queue(DELETION_QUEUE, { connection: REDIS, prefix: this.env.AUDIT_QUEUE_PREFIX });
    this.queues.push(queue);
    return queue;
  }

  /** Everything the drill started, gone, whatever happened. */
  async close(): Promise<void> {
    const steps = [
      ...this.processes.map((p) => () => p.kill()),
      ...this.queues.map((q) => () => q.close()),
      ...this.clients.map((c) => () => c.end()),
      () => clearQueues(this.env.AUDIT_QUEUE_PREFIX),
      async () => rmSync(this.env.AUDIT_CHECKPOINT_DIR, { recursive: true, force: true }),
      () => dropTestDatabase(this.db),
    ];
    for (const step of steps) await step().catch(() => undefined);
  }
}

/**
 * What both variants share, up to the moment the killed worker's transaction is gone: an API
 * process and worker A; events of the subject; its rows locked from outside; the erasure requested
 * and seen waiting on those locks in pg_stat_activity; SIGKILL; the locks released.
 */
async function killWorkerInsideErasure(d: Deployment) {
  const api = await d.start('api,signer,projector');
  const workerA = await d.start('worker');
  const admin = d.env.AUDIT_BOOTSTRAP_ADMIN_KEY;
  const key = async (name: string, roles: string[]) =>
    (await expectCall(api, admin, 'POST', '/v1/keys', 201, { name, roles, tenants: [TENANT] })).json.key as string;
  // No retention minimum: nothing but the drill stands in the erasure's way.
  await expectCall(api, admin, 'PUT', '/v1/retention-policies/auth', 200, {
    minDays: 0,
    maxDays: 730,
    mode: 'governance',
    reason: 'drill: erasure at once',
  });
  const emitter = await key('auth-service', ['emitter']);
  const legal = await legalPersonKey(api, 'alice-legal', [TENANT]);
  const investigator = await key('ivan', ['investigator']);
  const events = [...Array.from({ length: ROWS }, (_, i) => ({ subject: SUBJECT, i })), { subject: OTHER, i: 0 }].map(
    ({ subject, i }) => ({
      tenant: TENANT,
      type: 'auth.login.succeeded',
      actor: { type: 'user', id: subject },
      personal: { subject, data: { email: `${subject}@example.com`, attempt: i } },
    }),
  );
  await expectCall(api, emitter, 'POST', '/v1/events/batch', 201, { events });

  // The control connection locks every row of the subject, as any other writer could.
  const control = await d.client();
  await control.query('BEGIN');
  const locked = await control.query('SELECT idx FROM personal_data WHERE log = $1 AND subject = $2 FOR UPDATE', [
    TENANT,
    SUBJECT,
  ]);
  expect(locked.rowCount).toBe(ROWS);
  const controlPid = (await control.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;

  const requested = await expectCall(api, legal, 'POST', '/v1/deletion-requests', 202, {
    kind: 'subject_erasure',
    tenant: TENANT,
    subject: SUBJECT,
    reason: 'drill: GDPR art. 17',
  });
  const id = requested.json.id as string;

  // Worker A's erasure, inside its transaction, waits on the control connection's row locks.
  const observer = await d.client();
  const erasingPid = await until(
    'worker A waiting on the subject row locks',
    async () => {
      const { rows } = await observer.query(
        `SELECT pid FROM pg_stat_activity
       WHERE datname = current_database() AND wait_event_type = 'Lock'
         AND query LIKE '%UPDATE personal_data SET data = NULL%' AND $1 = ANY (pg_blocking_pids(pid))`,
        [controlPid],
      );
      if (workerA.child.exitCode !== null) throw new Error(`worker A exited:\n${workerA.output()}`);
      return rows[0]?.pid as number | undefined;
    },
    WAIT,
  ).catch(async (e: Error) => {
    const { rows } = await observer.query(
      `SELECT pid, state, wait_event_type, wait_event, left(query, 120) AS query FROM pg_stat_activity
       WHERE datname = current_database()`,
    );
    const request = await call(api, legal, 'GET', `/v1/deletion-requests/${id}`);
    throw new Error(
      `${e.message}\nrequest: ${request.text}\nbackends: ${JSON.stringify(rows, null, 1)}\nworker A:\n${workerA.output().slice(-4000)}`,
    );
  });
  expect((await expectCall(api, legal, 'GET', `/v1/deletion-requests/${id}`, 200)).json.status).toBe('running');

  await workerA.kill();
  expect((await workerA.exited).signal).toBe('SIGKILL');
  await control.query('ROLLBACK');

  // The dead worker's backend ends and takes its uncommitted erasure with it.
  await until(
    'the killed worker’s backend to end',
    async () => {
      const { rows } = await observer.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [erasingPid]);
      return rows.length === 0 ? true : undefined;
    },
    WAIT,
  );
  const { rows: kept } = await observer.query(
    'SELECT count(*)::int AS n FROM personal_data WHERE log = $1 AND subject = $2 AND data IS NOT NULL',
    [TENANT, SUBJECT],
  );
  expect(kept[0].n).toBe(ROWS);
  expect((await expectCall(api, legal, 'GET', `/v1/deletion-requests/${id}`, 200)).json.status).toBe('running');

  return { api, legal, investigator, id, observer };
}

/** BullMQ's events of job `id`, oldest first, from the queue's event stream. */
async function jobEvents(prefix: string, id: string): Promise<Record<string, string>[]> {
  const redis = new Redis({ ...REDIS, lazyConnect: true });
  await redis.connect();
  try {
    const entries = await redis.xrange(`${prefix}:${DELETION_QUEUE}:events`, '-', '+');
    return entries
      .map(([, fields]) => Object.fromEntries(fields.flatMap((f, i) => (i % 2 === 0 ? [[f, fields[i + 1]]] : []))))
      .filter((e) => e.jobId === id);
  } finally {
    redis.disconnect();
  }
}

/** Worker B (already started) finishes request `id`: the outcome, the ledger, the rows, the log. */
async function expectFinished(d: Deployment, s: Awaited<ReturnType<typeof killWorkerInsideErasure>>, queue: Queue) {
  // BullMQ notices a dead worker's job once its lock (30 s) is gone, at a check (every 30 s).
  const done = await until(
    'the request to finish',
    async () => {
      const request = (await expectCall(s.api, s.legal, 'GET', `/v1/deletion-requests/${s.id}`, 200)).json;
      return ['completed', 'partially_blocked', 'blocked', 'failed'].includes(request.status) ? request : undefined;
    },
    { ...WAIT, timeoutMs: 2 * DEADLINE_MS },
  );
  expect(done).toMatchObject({ status: 'completed', erased: ROWS, blocked: 0 });
  // Its job is gone (removed on completion): nothing is left that could run it again.
  await until(
    'the request’s job to leave the queue',
    async () => ((await queue.getJob(s.id)) === undefined ? true : undefined),
    WAIT,
  );

  const { rows: leaves } = await s.observer.query(
    "SELECT convert_from(leaf, 'UTF8') AS leaf FROM entries ORDER BY log, idx",
  );
  const ofRequest = leaves
    .map((r: { leaf: string }) => JSON.parse(r.leaf))
    .filter((e: any) => e.category === 'deletion' && e.target?.id === s.id)
    .map((e: any) => e.type);
  expect(ofRequest.filter((t: string) => t === 'deletion.completed')).toHaveLength(1);
  expect(ofRequest.filter((t: string) => t === 'deletion.requested')).toHaveLength(1);

  const { rows } = await s.observer.query(
    `SELECT subject, count(*)::int AS n, count(*) FILTER (WHERE data IS NULL AND salt IS NULL AND erased_by = $2)::int AS erased
     FROM personal_data WHERE log = $1 GROUP BY subject ORDER BY subject`,
    [TENANT, s.id],
  );
  expect(rows).toEqual([
    { subject: SUBJECT, n: ROWS, erased: ROWS },
    { subject: OTHER, n: 1, erased: 0 },
  ]);

  const verified = (await expectCall(s.api, s.investigator, 'POST', `/v1/logs/${TENANT}/verify`, 200)).json;
  expect(verified).toMatchObject({ ok: true, problems: [] });
}

describe('drill: a worker killed in the middle of an erasure', () => {
  it('a second worker finishes the request BullMQ finds stalled', async () => {
    const d = await Deployment.create();
    try {
      const s = await killWorkerInsideErasure(d);
      const queue = d.queue();
      // BullMQ's own recovery: worker B's stall checker moves the dead worker's job back to wait.
      await d.start('worker');
      await expectFinished(d, s, queue);
    } finally {
      await d.close();
    }
  }, 300_000);

  it('the reconciler finishes the request after BullMQ gave up on its stalled job', async () => {
    const d = await Deployment.create();
    try {
      const s = await killWorkerInsideErasure(d);
      const queue = d.queue();
      // A stall checker that gives up at the first stall (BullMQ's "manually fetching jobs" worker:
      // it takes no job), as a deployment's worker with maxStalledCount 0 would.
      const checker = new Worker(DELETION_QUEUE, null, {
        connection: REDIS,
        prefix: d.env.AUDIT_QUEUE_PREFIX,
        autorun: false,
        maxStalledCount: 0,
        stalledInterval: 500,
      });
      d.queues.push(checker);
      await checker.startStalledCheckTimer();
      // BullMQ gives up: the job goes back to wait carrying its failure, for the next worker to record.
      const givenUp = await until(
        'BullMQ to give up on the stalled job',
        async () => {
          const job = await queue.getJob(s.id);
          return job?.deferredFailure ? job : undefined;
        },
        WAIT,
      );
      await checker.close();
      expect(givenUp.deferredFailure).toBe('job stalled more than allowable limit');
      // The row says running: no run of the processor saw the job. The reconciler must act.
      expect((await expectCall(s.api, s.legal, 'GET', `/v1/deletion-requests/${s.id}`, 200)).json.status).toBe(
        'running',
      );
      await d.start('worker', { AUDIT_DELETION_RECONCILE_MS: '500' });
      await expectFinished(d, s, queue);
      // Worker B failed the job under the request's id (BullMQ's event stream says so), and a job
      // queued again under that id completed it.
      const events = await jobEvents(d.env.AUDIT_QUEUE_PREFIX, s.id);
      const failed = events.findIndex((e) => e.event === 'failed');
      expect(events[failed]).toMatchObject({ event: 'failed', failedReason: 'job stalled more than allowable limit' });
      expect(events.slice(failed + 1).some((e) => e.event === 'completed')).toBe(true);
    } finally {
      await d.close();
    }
  }, 300_000);
});
