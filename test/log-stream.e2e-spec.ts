import { leafHash } from '@audit/ledger';
import { MovableClock, TestApp, createKey, platformEntries, startTestApp } from './support/test-app';
import { createTestDatabase, dropTestDatabase, superuserClient } from './support/test-database';

const auth = (key: string) => ({ authorization: `Bearer ${key}` });

/** The lines of an NDJSON answer, parsed. */
const lines = (text: string) =>
  text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, any>);

// The role the service runs as (platform/database/database-bootstrap.ts RUNTIME_ROLE).
const RUNTIME_ROLE = 'audit_runtime';

describe('the pull stream: GET /v1/logs/{log}/stream', () => {
  let db: string;
  let t: TestApp;
  const clock = new MovableClock();
  let emitter: string;
  let investigator: string;
  let investigatorId: string;
  let legal: string;

  const pull = (log: string, query: Record<string, string | number>, key = investigator) =>
    t.http().get(`/v1/logs/${log}/stream`).query(query).set(auth(key));
  const records = async () =>
    (await platformEntries(db)).filter((e) => e.type === 'access.logs.stream' && e.actor.id === investigatorId);
  const append = async (tenant: string, n: number, personal = false) => {
    const events = Array.from({ length: n }, (_, i) => ({
      tenant,
      type: 'auth.login.succeeded',
      actor: { type: 'user', id: `u${i}` },
      ...(personal ? { personal: { subject: `s${i % 2}`, data: { email: `person${i}@example.test` } } } : {}),
    }));
    await t.http().post('/v1/events/batch').set(auth(emitter)).send({ events }).expect(201);
  };
  /** Waits until the latest signed checkpoint of `log` covers `size` entries. */
  const signedUpTo = async (log: string, size: number) => {
    for (let i = 0; i < 400; i++) {
      const head = lines((await pull(log, { from: 0, limit: 1 })).text)[0];
      if (head.checkpoint?.size >= size) return;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    throw new Error(`no checkpoint of ${log} covers ${size}`);
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    t = await startTestApp(db, {}, { clock });
    emitter = await createKey(t, 'app', ['emitter'], ['acme', 'globex']);
    investigator = await createKey(t, 'alice', ['investigator'], ['acme']);
    investigatorId = (
      await t
        .http()
        .get('/v1/keys')
        .query({ prefix: investigator.slice(0, 12) })
        .set(auth(t.adminKey))
    ).body.items[0].id;
    legal = await createKey(t, 'counsel', ['legal'], ['acme']);
    await append('acme', 5, true);
    await append('globex', 2);
    await signedUpTo('acme', 5);
  });

  afterAll(async () => {
    await t.close();
    await dropTestDatabase(db);
  });

  it('streams entries in index order under a signed checkpoint, resumable from next, and records each pull', async () => {
    const before = (await records()).length;
    const first = await pull('acme', { from: 0, limit: 3 }).expect(200);
    expect(first.headers['content-type']).toContain('application/x-ndjson');
    const [head, ...entries] = lines(first.text);
    expect(head).toMatchObject({ log: 'acme', from: 0, next: 3, checkpoint: { size: 5 } });
    expect(head.checkpoint.note).toMatch(/\n\n/);
    expect(entries.map((e) => e.index)).toEqual([0, 1, 2]);
    expect(entries[0]).toMatchObject({ log: 'acme', type: 'auth.login.succeeded', leafHash: expect.any(String) });
    expect(entries[0].personal).toEqual({
      subject: 's0',
      digest: expect.any(String),
      data: { email: 'person0@example.test' },
    });
    // The same representation as GET /v1/events/{id}.
    const one = await t.http().get(`/v1/events/${entries[1].id}`).set(auth(investigator)).expect(200);
    const { leaf, inclusion, ...view } = one.body;
    expect(entries[1]).toEqual(view);
    expect(leafHash(Buffer.from(leaf, 'base64')).toString('base64')).toBe(entries[1].leafHash);

    const rest = lines((await pull('acme', { from: head.next, limit: 10 }).expect(200)).text);
    expect(rest[0]).toMatchObject({ from: 3, next: 5 });
    expect(rest.slice(1).map((e) => e.index)).toEqual([3, 4]);
    // At the end: no entries, and next stays where the tool is.
    const end = lines((await pull('acme', { from: 5 }).expect(200)).text);
    expect(end).toEqual([expect.objectContaining({ from: 5, next: 5 })]);

    const recorded = (await records()).slice(before);
    expect(recorded).toHaveLength(3);
    expect(recorded[0]).toMatchObject({
      category: 'access',
      target: { type: 'tenant', id: 'acme' },
      outcome: 'success',
      context: { route: 'logs.stream', method: 'GET', filters: { from: '0', limit: '3' } },
    });
  });

  it('streams only what a signed checkpoint covers', async () => {
    const su = await superuserClient(db);
    try {
      // Signing is held back: the appended entries are committed but under no checkpoint yet.
      await su.query('BEGIN');
      await su.query('LOCK TABLE checkpoints IN EXCLUSIVE MODE');
      await append('acme', 2);
      const held = lines((await pull('acme', { from: 5 }).expect(200)).text);
      expect(held).toEqual([
        expect.objectContaining({ from: 5, next: 5, checkpoint: expect.objectContaining({ size: 5 }) }),
      ]);
      await su.query('COMMIT');
    } finally {
      await su.end();
    }
    await signedUpTo('acme', 7);
    expect(
      lines((await pull('acme', { from: 5 }).expect(200)).text)
        .slice(1)
        .map((e) => e.index),
    ).toEqual([5, 6]);
  });

  it('refuses bad positions with a JSON 400 and streams nothing', async () => {
    const bad: Record<string, string | number>[] = [
      { from: -1 },
      { from: 'x' },
      { limit: 0 },
      { limit: 1001 },
      { limit: '1e3' },
      { other: 1 },
    ];
    for (const query of bad) {
      const res = await pull('acme', query).expect(400);
      expect(res.headers['content-type']).toContain('application/json');
      expect(res.body).toMatchObject({ statusCode: 400, code: 'invalid_request' });
      expect(res.text).not.toContain('auth.login');
    }
    const twice = await t.http().get('/v1/logs/acme/stream?from=1&from=2').set(auth(investigator)).expect(400);
    expect(twice.body.code).toBe('invalid_request');
    // A bad position is a failed attempt, recorded as such (like a search with bad filters), never a read.
    expect((await records()).filter((r) => r.outcome === 'success' && r.context.filters.limit === '1001')).toEqual([]);
  });

  it('is for investigators of the tenant only: another tenant is an unknown log', async () => {
    await pull('globex', { from: 0 }).expect(404);
    await pull('acme', { from: 0 }, emitter).expect(403);
    await pull('acme', { from: 0 }, legal).expect(403);
    await pull('nope', { from: 0 }).expect(404);
  });

  it('does not answer a pull that cannot be recorded', async () => {
    const su = await superuserClient(db);
    try {
      await su.query(`REVOKE INSERT ON entries FROM ${RUNTIME_ROLE}`);
      const res = await pull('acme', { from: 0 });
      expect(res.status).toBe(503);
      expect(res.headers['content-type']).toContain('application/json');
      expect(res.text).not.toMatch(/auth\.login|example\.test|leafHash/);
    } finally {
      await su.query(`GRANT INSERT ON entries TO ${RUNTIME_ROLE}`);
      await su.end();
    }
  });

  it('never streams personal data once erased', async () => {
    clock.offsetMs = 400 * 86_400_000;
    try {
      const request = await t
        .http()
        .post('/v1/deletion-requests')
        .set(auth(legal))
        .send({ kind: 'subject_erasure', tenant: 'acme', subject: 's0', reason: 'the person asked' })
        .expect(202);
      let status = '';
      for (let i = 0; i < 400 && !['completed', 'partially_blocked', 'blocked', 'failed'].includes(status); i++) {
        await new Promise((resolve) => setTimeout(resolve, 25));
        status = (await t.http().get(`/v1/deletion-requests/${request.body.id}`).set(auth(legal))).body.status;
      }
      expect(status).toBe('completed');
    } finally {
      clock.offsetMs = 0;
    }
    const entries = lines((await pull('acme', { from: 0, limit: 5 }).expect(200)).text).slice(1);
    expect(entries.filter((e) => e.personal.subject === 's0').map((e) => e.personal)).toEqual(
      [0, 2, 4].map(() => ({ subject: 's0', digest: expect.any(String), erased: true })),
    );
    expect(entries[1].personal.data).toEqual({ email: 'person1@example.test' });
    expect(JSON.stringify(entries)).not.toMatch(/person[024]@/);
  });
});
