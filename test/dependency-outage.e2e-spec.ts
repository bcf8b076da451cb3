import { TestApp, createKey, startTestApp } from './support/test-app';
import { TcpProxy } from './support/tcp-proxy';
import { createTestDatabase, dropTestDatabase, superuserClient } from './support/test-database';

// The service reaches PostgreSQL through a proxy this test controls, so "PostgreSQL is down" is a
// cut proxy: the machine's shared server never stops.

const EMITTERS = 8;
const OUTAGE_MS = 4_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Answer {
  readonly status: number;
  readonly code?: string;
  readonly retryAfter?: string;
  readonly id?: string;
  readonly body?: unknown;
}

interface LogLine {
  level: number;
  msg: string;
}

describe('PostgreSQL unreachable under load', () => {
  let db: string;
  let proxy: TcpProxy;
  let t: TestApp;
  const logs: string[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    proxy = await TcpProxy.start(Number(new URL(db).port || 5432), new URL(db).hostname);
    // Rate limits off: this test is about PostgreSQL, not budgets.
    t = await startTestApp(proxy.url(db), { AUDIT_RATE_LIMIT_EMITTER: '0', AUDIT_RATE_LIMIT_OTHER: '0' }, { logs });
  });

  afterAll(async () => {
    await t?.close();
    await proxy?.close();
    await dropTestDatabase(db);
  });

  it('answers 503 unavailable with Retry-After, never 500, logs the outage once, loses nothing acknowledged', async () => {
    const emitter = await createKey(t, 'billing', ['emitter'], ['acme']);
    const investigator = await createKey(t, 'auditor', ['investigator'], ['acme']);
    const answers: Answer[] = [];
    const record = (res: {
      status: number;
      body: { code?: string; id?: string };
      headers: Record<string, string>;
    }): Answer => {
      const answer = {
        status: res.status,
        code: res.body?.code,
        retryAfter: res.headers['retry-after'],
        id: res.body?.id,
        body: res.body,
      };
      answers.push(answer);
      return answer;
    };

    let running = true;
    const load = Array.from({ length: EMITTERS }, async (_, e) => {
      for (let n = 0; running && n < 100_000; n++) {
        const res = await t
          .http()
          .post('/v1/events')
          .set('authorization', `Bearer ${emitter}`)
          .send({ tenant: 'acme', type: 'auth.logout', actor: { type: 'user', id: `e${e}-${n}` } });
        if (record(res).status !== 201) await sleep(20); // a client that was told to come back later
      }
    });

    await sleep(1_000);
    proxy.cut();
    const cutAt = Date.now();
    // While it is down: health names postgres (quickly), and reads and authentication refuse with 503 too.
    const health: { status: number; body: any; ms: number }[] = [];
    const reads: Answer[] = [];
    while (Date.now() - cutAt < OUTAGE_MS) {
      const started = Date.now();
      const res = await t.http().get('/health');
      health.push({ status: res.status, body: res.body, ms: Date.now() - started });
      reads.push(record(await t.http().get('/v1/events?tenant=acme').set('authorization', `Bearer ${investigator}`)));
      reads.push(record(await t.http().get('/v1/holds?tenant=acme').set('authorization', `Bearer ${investigator}`)));
      reads.push(record(await t.http().get('/v1/keys').set('authorization', `Bearer ${t.adminKey}`)));
      await sleep(250);
    }
    proxy.restore();

    // Back without anyone's help: health says ok, appends are acknowledged again.
    const restoredAt = Date.now();
    let healthy = false;
    while (!healthy && Date.now() - restoredAt < 15_000) {
      healthy = (await t.http().get('/health')).status === 200;
      if (!healthy) await sleep(200);
    }
    expect(healthy).toBe(true);
    const acknowledgedBefore = answers.filter((a) => a.status === 201).length;
    await sleep(1_000);
    running = false;
    await Promise.all(load);
    expect(answers.filter((a) => a.status === 201).length).toBeGreaterThan(acknowledgedBefore);

    // Every answer is an acknowledgement or a push back.
    const statuses = [...new Set(answers.map((a) => a.status))].sort();
    expect(statuses.filter((s) => s !== 200 && s !== 201 && s !== 503)).toEqual([]);
    const refused = answers.filter((a) => a.status === 503);
    expect(refused.length).toBeGreaterThan(0);
    for (const a of refused)
      expect(a).toMatchObject({ code: 'unavailable', retryAfter: expect.stringMatching(/^[1-9][0-9]*$/) });
    // Reads and authentication (every request here authenticates) while down were refused, not 401.
    expect(reads.filter((a) => a.status === 503).length).toBeGreaterThan(0);
    // The documented body, and nothing of the connection error in it.
    for (const a of reads.filter((r) => r.status === 503))
      expect(a.body).toEqual({
        statusCode: 503,
        error: 'Service Unavailable',
        code: 'unavailable',
        message: 'the database is unreachable; retry later',
      });

    const down = health.filter((h) => h.status === 503);
    expect(down.length).toBeGreaterThan(0);
    for (const h of down) {
      expect(h.ms).toBeLessThan(3_000);
      expect(h.body).toMatchObject({ status: 'error', error: { postgres: { status: 'down' } } });
    }

    // The service log: the outage once, its end once with the count, no line per refused request.
    const lines: LogLine[] = logs.map((l) => JSON.parse(l));
    const wentDown = lines.filter((l) => /^postgres is unreachable/.test(l.msg));
    const cameBack = lines.filter((l) => /^postgres is back/.test(l.msg));
    expect(wentDown).toHaveLength(1);
    expect(cameBack).toHaveLength(1);
    expect(cameBack[0].msg).toContain(`${refused.length} request(s) refused`);
    expect(lines.filter((l) => l.level >= 50 && !wentDown.includes(l)).map((l) => l.msg)).toEqual([]);
    const text = logs.join('\n');
    for (const secret of [emitter, investigator, t.adminKey]) expect(text).not.toContain(secret);

    // Nothing acknowledged is lost, and the log verifies.
    const acknowledged = answers.filter((a) => a.status === 201).map((a) => a.id as string);
    const owner = await superuserClient(db);
    try {
      const { rows } = await owner.query("SELECT id::text AS id FROM entries WHERE log = 'acme'");
      const stored = new Set(rows.map((r: { id: string }) => r.id));
      expect(acknowledged.filter((id) => !stored.has(id))).toEqual([]);
    } finally {
      await owner.end();
    }
    const verified = await t
      .http()
      .post('/v1/logs/acme/verify')
      .set('authorization', `Bearer ${investigator}`)
      .expect(200);
    expect(verified.body).toMatchObject({ ok: true, problems: [] });
  });
});

describe('Redis unreachable', () => {
  let db: string;
  let proxy: TcpProxy;
  let t: TestApp;
  const logs: string[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    proxy = await TcpProxy.start(6379);
    t = await startTestApp(
      db,
      { REDIS_URL: proxy.url('redis://127.0.0.1:6379'), AUDIT_DELETION_RECONCILE_MS: '500' },
      { logs },
    );
  });

  afterAll(async () => {
    proxy?.restore();
    await t?.close();
    await proxy?.close();
    await dropTestDatabase(db);
  });

  it('never answers 500 nor waits: appends 201, deletion requests 202 (queued later), health names redis', async () => {
    const emitter = await createKey(t, 'billing', ['emitter'], ['acme']);
    const legal = await createKey(t, 'counsel', ['legal'], ['acme']);
    await t
      .http()
      .post('/v1/events')
      .set('authorization', `Bearer ${emitter}`)
      .send({ tenant: 'acme', type: 'auth.logout', actor: { type: 'user', id: 'u0' } })
      .expect(201);

    proxy.cut();
    await sleep(300);
    const timed = async (send: () => Promise<{ status: number; body: any }>) => {
      const started = Date.now();
      const res = await send();
      return { status: res.status, body: res.body, ms: Date.now() - started };
    };
    const appends = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        timed(() =>
          t
            .http()
            .post('/v1/events')
            .set('authorization', `Bearer ${emitter}`)
            .send({ tenant: 'acme', type: 'auth.logout', actor: { type: 'user', id: `u${i + 1}` } }),
        ),
      ),
    );
    for (const a of appends) expect(a).toMatchObject({ status: 201 });
    expect(Math.max(...appends.map((a) => a.ms))).toBeLessThan(1_000);
    const deletion = await timed(() =>
      t
        .http()
        .post('/v1/deletion-requests')
        .set('authorization', `Bearer ${legal}`)
        .send({ kind: 'subject_erasure', tenant: 'acme', subject: 'u1', reason: 'erasure request #1' }),
    );
    expect(deletion).toMatchObject({ status: 202, body: { status: 'queued' } });
    expect(deletion.ms).toBeLessThan(1_000);
    const health = await timed(() => t.http().get('/health'));
    expect(health).toMatchObject({
      status: 503,
      body: { code: 'unavailable', error: { redis: { status: 'down' } }, info: { postgres: { status: 'up' } } },
    });
    expect(health.ms).toBeLessThan(3_000);
    expect((await timed(() => t.http().get('/metrics'))).status).toBe(200);

    proxy.restore();
    let healthy = false;
    for (const started = Date.now(); !healthy && Date.now() - started < 15_000;) {
      healthy = (await t.http().get('/health')).status === 200;
      if (!healthy) await sleep(200);
    }
    expect(healthy).toBe(true);
    // The row was the truth: the reconciler queued it once Redis was back, and it ran.
    let status = 'queued';
    for (const started = Date.now(); status === 'queued' && Date.now() - started < 15_000;) {
      status = (
        await t
          .http()
          .get(`/v1/deletion-requests/${deletion.body.id}`)
          .set('authorization', `Bearer ${legal}`)
          .expect(200)
      ).body.status;
      if (status === 'queued') await sleep(200);
    }
    expect(status).not.toBe('queued');

    const lines: LogLine[] = logs.map((l) => JSON.parse(l));
    expect(lines.filter((l) => /^redis is unreachable/.test(l.msg))).toHaveLength(1);
    const back = lines.filter((l) => /^redis is back/.test(l.msg));
    expect(back).toHaveLength(1);
    expect(back[0].msg).toContain('1 job(s) not queued');
  });
});
