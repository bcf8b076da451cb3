import { generateNoteKey } from '@audit/ledger';
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { runCommandLine } from '../src/command-line';
import { TestApp, clearQueues, createKey, platformEntries, startTestApp } from './support/test-app';
import { assertTestDatabase, createTestDatabase, dropTestDatabase, superuserClient } from './support/test-database';
import { WebhookReceiver, startWebhookReceiver } from './support/webhook-receiver';

/**
 * Fail closed on rollback: a service pointed at an older copy of its database (a restore from an
 * old backup), or at a fork of it, with the checkpoint mirror of the newer history, refuses appends
 * (503 ledger_behind_mirror) while reads, their records and verification go on, until an operator
 * acknowledges it at the command line; then the acknowledgement is in the platform log, the
 * webhook heard of it, and appends go on from the database's history.
 */

const SERVER = process.env.TEST_DATABASE_SERVER ?? 'postgres://postgres@127.0.0.1:5432';
const SECRET = 'rollback-webhook-secret-0123456789abcdef';
const REASON = 'INC-4711: restored from the 02:00 backup after the storage failure';
const auth = (key: string) => ({ authorization: `Bearer ${key}` });
const event = (i: number, note = 'original') => ({
  tenant: 'acme',
  type: 'admin.role.granted',
  actor: { type: 'user', id: `admin${i}` },
  target: { type: 'user', id: `u${i}` },
  context: { note },
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A copy of `source` as it is now (no one may be connected to it), as a new test database. */
async function copyDatabase(source: string): Promise<string> {
  const copy = `${SERVER}/audit_test_${randomBytes(6).toString('hex')}`;
  assertTestDatabase(source);
  assertTestDatabase(copy);
  const client = new Client({ connectionString: `${SERVER}/postgres` });
  await client.connect();
  try {
    const name = new URL(source).pathname.slice(1);
    await client.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [name]);
    await client.query(`CREATE DATABASE "${new URL(copy).pathname.slice(1)}" TEMPLATE "${name}"`);
  } finally {
    await client.end();
  }
  return copy;
}

/** Stops an instance, keeping the checkpoint mirror it shares with the others (TestApp.close removes it). */
async function stop(t: TestApp): Promise<void> {
  await t.app.close();
  await clearQueues(t.config.queuePrefix);
}

async function untilMirrored(mirror: string, log: string, size: number): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (Number(mirroredLatest(mirror, log)?.split('\n')[1]) >= size) return;
    await sleep(25);
  }
  throw new Error(`log ${log} was not mirrored at size ${size}`);
}

function mirroredLatest(mirror: string, log: string): string | undefined {
  const file = join(mirror, log, 'latest');
  return existsSync(file) ? readFileSync(file, 'utf8') : undefined;
}

async function acmeSize(db: string): Promise<number> {
  const client = await superuserClient(db);
  try {
    const { rows } = await client.query("SELECT count(*)::int AS n FROM entries WHERE log = 'acme'");
    return rows[0].n as number;
  } finally {
    await client.end();
  }
}

async function checkpointSizes(db: string, log: string): Promise<number[]> {
  const client = await superuserClient(db);
  try {
    const { rows } = await client.query('SELECT size FROM checkpoints WHERE log = $1 ORDER BY size', [log]);
    return rows.map((r: { size: string }) => Number(r.size));
  } finally {
    await client.end();
  }
}

describe('fail closed on rollback', () => {
  let receiver: WebhookReceiver;
  // One deployment: one signing key, one admin key, one checkpoint mirror.
  const signingKey = generateNoteKey('audit-rollback-test', randomBytes(32)).privateKey;
  // Restored and forked databases hold the original's wrapped subject keys: one key-encryption key for all.
  const keyEncryptionKey = randomBytes(32).toString('base64');
  const personalSearchKey = randomBytes(32).toString('base64');
  const adminKey = `test-admin-${randomBytes(16).toString('hex')}`;
  const mirror = mkdtempSync(join(tmpdir(), 'audit-rollback-mirror-'));
  let forkMirror: string;
  // The mirror as it was when it agreed with the original database.
  let agreeingMirror: string;
  // The mirror's latest checkpoint of acme in the history after the backup.
  let mirroredAcme: string | undefined;
  let webhook: Record<string, string>;
  const databases: string[] = [];
  const running: TestApp[] = [];
  let original: string;
  let restored: string;
  let forked: string;
  let emitter: string;
  let investigator: string;
  let legal: string;
  // A deletion request taken before the backup and not run yet.
  let deletionRequest: string;

  const env = (extra: Record<string, string> = {}) => ({
    AUDIT_CHECKPOINT_DIR: mirror,
    AUDIT_SIGNING_KEY: signingKey,
    AUDIT_KEY_ENCRYPTION_KEY: keyEncryptionKey,
    AUDIT_PERSONAL_SEARCH_KEY: personalSearchKey,
    AUDIT_BOOTSTRAP_ADMIN_KEY: adminKey,
    ...webhook,
    ...extra,
  });
  const start = async (db: string, extra: Record<string, string> = {}) => {
    const t = await startTestApp(db, env(extra));
    running.push(t);
    return t;
  };
  /** The command line on `db`, as the operator of the deployment runs it (`extra`: its environment). */
  const cli = async (db: string, extra: Record<string, string>, ...argv: string[]) => {
    let out = '';
    let err = '';
    const code = await runCommandLine(
      argv,
      { DATABASE_URL: db, REDIS_URL: 'redis://127.0.0.1:6379', LOG_LEVEL: 'silent', ...env(extra) },
      { out: (text) => (out += text), err: (text) => (err += text) },
    );
    return { code, out, err };
  };
  /** Sends appends to `t` (taken until then) until one is refused, for up to 8 s; the refusal. */
  const untilRefused = async (t: TestApp) => {
    for (let i = 0; i < 80; i++) {
      const res = await t
        .http()
        .post('/v1/events')
        .set(auth(emitter))
        .send(event(100 + i));
      if (res.status !== 201) return res;
      await sleep(100);
    }
    throw new Error('appends were never refused');
  };
  /** Sends one append to `t` until it is taken (503 until then), for up to 8 s; its answer. */
  const untilTaken = async (t: TestApp, body: object) => {
    let res: { status: number; body: { index?: number; code?: string } } = { status: 0, body: {} };
    for (let i = 0; i < 80; i++) {
      res = await t.http().post('/v1/events').set(auth(emitter)).send(body);
      if (res.status !== 503) break;
      expect(res.body.code).toBe('ledger_behind_mirror');
      await sleep(100);
    }
    return res;
  };

  beforeAll(async () => {
    receiver = await startWebhookReceiver(SECRET);
    webhook = {
      AUDIT_WEBHOOK_URL: receiver.url,
      AUDIT_WEBHOOK_SECRET: SECRET,
    };
    original = await createTestDatabase();
    databases.push(original);

    // The history up to the backup: keys, five events of acme, signed and mirrored, and a deletion
    // request taken but not run (no worker).
    const before = await start(original, { AUDIT_COMPONENTS: 'api,signer' });
    emitter = await createKey(before, 'billing', ['emitter'], ['acme', 'globex']);
    investigator = await createKey(before, 'secops', ['investigator'], ['*']);
    legal = await createKey(before, 'counsel', ['legal'], ['acme', 'globex']);
    await before
      .http()
      .post('/v1/events/batch')
      .set(auth(emitter))
      .send({ events: [0, 1, 2, 3, 4].map((i) => event(i)) })
      .expect(201);
    await before
      .http()
      .post('/v1/events')
      .set(auth(emitter))
      .send({ ...event(0), tenant: 'globex' })
      .expect(201);
    const deletion = await before
      .http()
      .post('/v1/deletion-requests')
      .set(auth(legal))
      .send({ kind: 'subject_erasure', tenant: 'globex', subject: 'subject-1', reason: 'DSR-1' })
      .expect(202);
    deletionRequest = deletion.body.id;
    await untilMirrored(mirror, 'acme', 5);
    await untilMirrored(mirror, 'globex', 2);
    await untilMirrored(mirror, 'platform', (await platformEntries(original)).length);
    await stop(before);

    // The backup (and, for the fork, a second copy of it).
    restored = await copyDatabase(original);
    databases.push(restored);
    forked = await copyDatabase(original);
    databases.push(forked);

    // The history after the backup, which the mirror keeps proving: five more events of acme, and
    // a read of them recorded in the platform log.
    const after = await start(original);
    await after
      .http()
      .post('/v1/events/batch')
      .set(auth(emitter))
      .send({ events: [5, 6, 7, 8, 9].map((i) => event(i)) })
      .expect(201);
    await after.http().get('/v1/events?tenant=acme').set(auth(investigator)).expect(200);
    await untilMirrored(mirror, 'acme', 10);
    await untilMirrored(mirror, 'globex', 3); // the deletion request's outcome
    await untilMirrored(mirror, 'platform', (await platformEntries(original)).length);
    await stop(after);
    mirroredAcme = mirroredLatest(mirror, 'acme');
    forkMirror = mkdtempSync(join(tmpdir(), 'audit-rollback-fork-mirror-'));
    cpSync(mirror, forkMirror, { recursive: true });
    agreeingMirror = mkdtempSync(join(tmpdir(), 'audit-rollback-agreeing-mirror-'));
    cpSync(mirror, agreeingMirror, { recursive: true });

    // The fork: other events appended to the backup at the same indices, signed elsewhere.
    const elsewhere = mkdtempSync(join(tmpdir(), 'audit-rollback-elsewhere-'));
    try {
      const other = await start(forked, { AUDIT_CHECKPOINT_DIR: elsewhere });
      await other
        .http()
        .post('/v1/events/batch')
        .set(auth(emitter))
        .send({ events: [5, 6, 7, 8, 9].map((i) => event(i, 'forked')) })
        .expect(201);
      await untilMirrored(elsewhere, 'acme', 10);
      await stop(other);
    } finally {
      rmSync(elsewhere, { recursive: true, force: true });
    }
  });

  afterAll(async () => {
    for (const t of running) await t.app.close().catch(() => undefined);
    for (const t of running) await clearQueues(t.config.queuePrefix);
    for (const db of databases) await dropTestDatabase(db);
    for (const dir of [mirror, forkMirror, agreeingMirror]) if (dir) rmSync(dir, { recursive: true, force: true });
    await receiver.close();
  });

  describe('a database restored from an older backup', () => {
    let t: TestApp;
    // Another API process of the deployment, on the same database and mirror.
    let second: TestApp;
    const queuePrefix = `test-${randomBytes(6).toString('hex')}`;

    beforeAll(async () => {
      t = await start(restored, { AUDIT_QUEUE_PREFIX: queuePrefix, AUDIT_DELETION_RECONCILE_MS: '500' });
      second = await start(restored, { AUDIT_QUEUE_PREFIX: queuePrefix, AUDIT_COMPONENTS: 'api' });
    });

    it('refuses appends with 503 ledger_behind_mirror, naming the logs and what to do, and writes nothing', async () => {
      const res = await t.http().post('/v1/events').set(auth(emitter)).send(event(5, 'after restore')).expect(503);
      expect(res.body).toEqual({
        statusCode: 503,
        error: 'Service Unavailable',
        code: 'ledger_behind_mirror',
        message: expect.stringContaining(
          'the database is behind the checkpoint mirror for log acme (mirrored at size 10)',
        ),
      });
      expect(res.body.message).toContain('npm run cli -- ledger acknowledge-rollback --reason');
      expect(res.body.message).not.toContain(mirror);
      expect(res.headers['retry-after']).toBe('30');
      await second.http().post('/v1/events').set(auth(emitter)).send(event(5)).expect(503);
      await t
        .http()
        .post('/v1/events/batch')
        .set(auth(emitter))
        .send({ events: [event(5), event(6)] })
        .expect(503)
        .expect((r) => expect(r.body.code).toBe('ledger_behind_mirror'));
      expect(await acmeSize(restored)).toBe(5);
    });

    it("refuses the service's own changes too: a hold, a key", async () => {
      const before = await platformEntries(restored);
      await t
        .http()
        .post('/v1/holds')
        .set(auth(legal))
        .send({ tenant: 'acme', matter: 'MAT-1', scope: {} })
        .expect(503)
        .expect((r) => expect(r.body.code).toBe('ledger_behind_mirror'));
      await t
        .http()
        .post('/v1/keys')
        .set(auth(adminKey))
        .send({ name: 'late', roles: ['emitter'], tenants: ['acme'] })
        .expect(503)
        .expect((r) => expect(r.body.code).toBe('ledger_behind_mirror'));
      expect(await platformEntries(restored)).toEqual(before);
      expect(await acmeSize(restored)).toBe(5);
    });

    it('serves reads, records them, and verification says why', async () => {
      const search = await t.http().get('/v1/events?tenant=acme').set(auth(investigator)).expect(200);
      expect(search.body.items).toHaveLength(5);
      const checkpoint = await t.http().get('/v1/logs/acme/checkpoint').set(auth(investigator)).expect(200);
      expect(checkpoint.text.split('\n')[1]).toBe('5');
      const exported = await t.http().get('/v1/exports?tenant=acme').set(auth(investigator)).expect(200);
      expect(exported.text.trim().split('\n')).toHaveLength(6);
      const verify = await t.http().post('/v1/logs/acme/verify').set(auth(investigator)).expect(200);
      expect(verify.body.ok).toBe(false);
      expect(verify.body.problems).toEqual(
        expect.arrayContaining([
          expect.objectContaining({
            index: null,
            code: 'log_behind_checkpoint',
            message: expect.stringMatching(/mirror holds size 10.*ledger_behind_mirror.*acknowledge-rollback/),
          }),
        ]),
      );
      const records = (await platformEntries(restored)).filter((e) => e.category === 'access');
      expect(records.map((e) => e.type)).toEqual(
        expect.arrayContaining([
          'access.events.search',
          'access.logs.checkpoint',
          'access.exports',
          'access.logs.verify',
        ]),
      );
    });

    it('signs nothing meanwhile: the records of reads are not published as a fork of the mirrored history', async () => {
      const platformMirrored = mirroredLatest(mirror, 'platform');
      const signed = await checkpointSizes(restored, 'platform');
      await t.http().get('/v1/events?tenant=acme').set(auth(investigator)).expect(200);
      await sleep(500); // ten signer ticks
      expect(await checkpointSizes(restored, 'platform')).toEqual(signed);
      expect(mirroredLatest(mirror, 'platform')).toBe(platformMirrored);
      await t
        .http()
        .post('/v1/logs/platform/checkpoint')
        .set(auth(investigator))
        .expect(503)
        .expect((r) => expect(r.body.code).toBe('ledger_behind_mirror'));
    });

    it('lets deletion work wait rather than fail: its outcome is a ledger entry too', async () => {
      // Five attempts of the run, 1 + 2 + 4 + 8 s apart, each refused.
      const deadline = Date.now() + 17_000;
      while (Date.now() < deadline) {
        const res = await t.http().get(`/v1/deletion-requests/${deletionRequest}`).set(auth(legal)).expect(200);
        expect(['queued', 'running']).toContain(res.body.status);
        await sleep(500);
      }
    }, 30_000);

    it('says so in /health (degraded, still 200) and in the metric', async () => {
      const health = await t.http().get('/health').expect(200);
      expect(health.body).toMatchObject({
        status: 'degraded',
        details: { ledger: { status: 'degraded', code: 'ledger_behind_mirror', appends: 'refused', behind: 3 } },
      });
      expect(JSON.stringify(health.body)).not.toContain('acme');
      const metrics = await t.http().get('/metrics').expect(200);
      expect(metrics.text).toMatch(/^audit_checkpoint_mirror_mismatch 1$/m);
    });

    it('takes appends again once an operator acknowledged it, recorded in the platform log and notified', async () => {
      const operator = { AUDIT_QUEUE_PREFIX: queuePrefix };
      // No reason, no acknowledgement.
      expect((await cli(restored, operator, 'ledger', 'acknowledge-rollback')).code).toBe(2);
      expect((await cli(restored, operator, 'ledger', 'acknowledge-rollback', '--reason', '  ')).code).toBe(2);
      for (const instance of [t, second])
        await instance.http().post('/v1/events').set(auth(emitter)).send(event(5)).expect(503);

      const { code, out } = await cli(restored, operator, 'ledger', 'acknowledge-rollback', '--reason', REASON);
      expect(code).toBe(0);
      const answer = JSON.parse(out);
      expect(answer.remaining).toEqual([]);
      expect(answer.logs).toEqual(
        expect.arrayContaining([
          {
            log: 'acme',
            problem: 'database_behind',
            mirrored: { size: 10, root: expect.any(String) },
            database: { size: 5, root: expect.any(String) },
          },
          expect.objectContaining({ log: 'platform', problem: 'database_behind' }),
        ]),
      );

      // The record: in the platform log, by the operator, with the reason and the sizes and roots.
      const acknowledged = (await platformEntries(restored)).filter((e) => e.type === 'ledger.rollback_acknowledged');
      expect(acknowledged).toEqual([
        expect.objectContaining({
          index: answer.entry.index,
          source: 'audit-trail',
          category: 'ledger',
          actor: { type: 'operator', id: 'cli' },
          context: expect.objectContaining({ reason: REASON, superseded: answer.superseded, logs: answer.logs }),
        }),
      ]);

      // The superseded checkpoints are kept; the mirror now follows the database's history.
      expect(readFileSync(join(mirror, answer.superseded, 'acme', 'latest'), 'utf8').split('\n')[1]).toBe('10');
      expect(readdirSync(join(mirror, answer.superseded, 'acme'))).toEqual(expect.arrayContaining(['5', '10']));
      expect(mirroredLatest(mirror, 'acme')?.split('\n')[1]).toBe('5');

      // Every process takes appends again at its next check (within 5 s), from the database's history.
      const accepted = await untilTaken(t, event(5, 'after acknowledgement'));
      expect(accepted.status).toBe(201);
      expect(accepted.body.index).toBe(5);
      expect((await untilTaken(second, event(6, 'after acknowledgement'))).status).toBe(201);
      await untilMirrored(mirror, 'acme', 7);
      const health = await t.http().get('/health').expect(200);
      expect(health.body.details.ledger).toEqual({ status: 'up' });
      // The deletion request waiting meanwhile completes.
      let status = '';
      for (let i = 0; i < 100 && status !== 'completed'; i++) {
        status = (await t.http().get(`/v1/deletion-requests/${deletionRequest}`).set(auth(legal)).expect(200)).body
          .status;
        if (status !== 'completed') await sleep(100);
      }
      expect(status).toBe('completed');

      // The webhook heard of it: signed, ids and positions only, never the reason.
      for (let i = 0; i < 200 && !receiver.received.some((r) => r.body.type === 'ledger.rollback_acknowledged'); i++)
        await sleep(25);
      const notified = receiver.received.filter((r) => r.body.type === 'ledger.rollback_acknowledged');
      expect(notified).toHaveLength(1);
      expect(notified[0].verified).toBe(true);
      expect(notified[0].body).toEqual({
        v: 1,
        type: 'ledger.rollback_acknowledged',
        id: answer.entry.id,
        tenant: '*',
        at: expect.any(String),
        subjectRef: { type: 'checkpoint_mirror', id: answer.superseded },
        ledger: { log: 'platform', index: answer.entry.index },
      });
      expect(notified[0].raw).not.toContain('INC-4711');

      // Nothing left to acknowledge: nothing more is recorded.
      expect(await cli(restored, operator, 'ledger', 'acknowledge-rollback', '--reason', 'again')).toMatchObject({
        code: 0,
        out: '',
        err: expect.stringContaining('nothing to acknowledge'),
      });
    });
  });

  describe('a database forked from the mirrored history', () => {
    let t: TestApp;

    beforeAll(async () => {
      t = await start(forked, { AUDIT_CHECKPOINT_DIR: forkMirror });
    });

    it('refuses appends, verification names the fork, and the fork is not accepted quietly', async () => {
      const res = await t.http().post('/v1/events').set(auth(emitter)).send(event(10)).expect(503);
      expect(res.body.code).toBe('ledger_behind_mirror');
      expect(res.body.message).toContain('forked from the checkpoint mirror for log acme (mirrored at size 10)');
      const verify = await t.http().post('/v1/logs/acme/verify').set(auth(investigator)).expect(200);
      expect(verify.body.problems).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ code: 'root_mismatch', message: expect.stringContaining('forked') }),
        ]),
      );
      expect(await acmeSize(forked)).toBe(10);
      // Not signed: the mirrored checkpoint of the other history stays the mirror's latest.
      await sleep(500);
      expect(mirroredLatest(forkMirror, 'acme')).toBe(mirroredAcme);
    });

    it('is acknowledged as a fork, and appends go on from the database', async () => {
      const { code, out } = await cli(
        forked,
        { AUDIT_CHECKPOINT_DIR: forkMirror },
        'ledger',
        'acknowledge-rollback',
        '--reason',
        'INC-4712',
      );
      expect(code).toBe(0);
      expect(JSON.parse(out).logs).toEqual(
        expect.arrayContaining([expect.objectContaining({ log: 'acme', problem: 'database_forked' })]),
      );
      const accepted = await untilTaken(t, event(10));
      expect(accepted.status).toBe(201);
      expect(accepted.body.index).toBe(10);
    });
  });

  describe('a running process whose database falls behind the mirror', () => {
    it('refuses appends at its next check, within 5 s', async () => {
      const dir = agreeingMirror;
      const t = await start(original, { AUDIT_CHECKPOINT_DIR: dir });
      await t.http().post('/v1/events').set(auth(emitter)).send(event(10)).expect(201);
      await untilMirrored(dir, 'acme', await acmeSize(original));
      // Another process mirrors a checkpoint of acme this database never held (as when the
      // database under this process is swapped for an older one).
      const size = (await acmeSize(original)) + 50;
      const note = readFileSync(join(dir, 'acme', 'latest'), 'utf8').split('\n');
      note[1] = String(size);
      writeFileSync(join(dir, 'acme', 'latest'), note.join('\n'));
      const refused = await untilRefused(t);
      expect(refused.body.code).toBe('ledger_behind_mirror');
      expect(refused.body.message).toContain(`log acme (mirrored at size ${size})`);
    });
  });
});
