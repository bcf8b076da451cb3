import { TestApp, createKey, createPerson, firstLegalPerson, platformEntries, startTestApp } from './support/test-app';
import { createTestDatabase, dropTestDatabase, superuserClient } from './support/test-database';

const auth = (key: string) => ({ authorization: `Bearer ${key}` });
const SECRET = 'sink-secret-0123456789abcdefghijklmnop';

describe('sinks', () => {
  let db: string;
  let t: TestApp;
  let acmeAdmin: string;
  let emitter: string;
  const body = (extra: object = {}) => ({
    name: 'siem',
    kind: 'ndjson',
    url: 'http://127.0.0.1:9/in',
    secret: SECRET,
    tenants: ['acme'],
    from: 'end',
    ...extra,
  });
  const sinkEntries = async () => (await platformEntries(db)).filter((e) => e.category === 'streaming');
  const append = (tenant: string, n: number) =>
    t
      .http()
      .post('/v1/events/batch')
      .set(auth(emitter))
      .send({
        events: Array.from({ length: n }, () => ({ tenant, type: 'auth.logout', actor: { type: 'user', id: 'u1' } })),
      })
      .expect(201);

  beforeAll(async () => {
    db = await createTestDatabase();
    t = await startTestApp(db);
    acmeAdmin = await createKey(t, 'acme-admin', ['admin'], ['acme']);
    emitter = await createKey(t, 'emitter', ['emitter'], ['*']);
    await append('acme', 3);
    await append('globex', 2);
  });

  afterAll(async () => {
    await t.close();
    await dropTestDatabase(db);
  });

  it('an admin creates a sink: recorded in the platform log, the secret never echoed nor recorded', async () => {
    const res = await t.http().post('/v1/sinks').set(auth(acmeAdmin)).send(body()).expect(201);
    expect(res.body).toMatchObject({
      name: 'siem',
      kind: 'ndjson',
      url: 'http://127.0.0.1:9/in',
      tenants: ['acme'],
      status: 'active',
      secretSet: true,
      personalData: false,
      positions: [{ log: 'acme', position: 3, size: 3, lag: 0 }],
    });
    const id = res.body.id as string;
    const got = await t.http().get(`/v1/sinks/${id}`).set(auth(acmeAdmin)).expect(200);
    const listed = await t.http().get('/v1/sinks').set(auth(acmeAdmin)).expect(200);
    const entries = await sinkEntries();
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({
      type: 'sink.created',
      source: 'audit-trail',
      target: { type: 'sink', id },
      context: { sink: { url: 'http://127.0.0.1:9/in', tenants: ['acme'], secretSet: true } },
    });
    for (const text of [res.text, got.text, listed.text, JSON.stringify(entries)]) expect(text).not.toContain(SECRET);
    const client = await superuserClient(db);
    try {
      const { rows } = await client.query(
        "SELECT count(*)::int AS n FROM entries WHERE position($1 in convert_from(leaf, 'UTF8')) > 0",
        [SECRET],
      );
      expect(rows[0].n).toBe(0);
    } finally {
      await client.end();
    }
    await t.http().delete(`/v1/sinks/${id}`).set(auth(acmeAdmin)).expect(204);
    await t.http().get(`/v1/sinks/${id}`).set(auth(acmeAdmin)).expect(404);
    expect((await sinkEntries()).map((e) => e.type)).toEqual(['sink.created', 'sink.deleted']);
  });

  it('from "start" begins at 0; the lag is what the log holds beyond the position', async () => {
    const res = await t
      .http()
      .post('/v1/sinks')
      .set(auth(acmeAdmin))
      .send(body({ from: 'start' }))
      .expect(201);
    expect(res.body.positions).toEqual([{ log: 'acme', position: 0, size: 3, lag: 3, sent: 0 }]);
    await t.http().delete(`/v1/sinks/${res.body.id}`).set(auth(acmeAdmin)).expect(204);
  });

  it('refuses bad input with a clear error and changes nothing', async () => {
    const before = (await sinkEntries()).length;
    for (const [bad, path] of [
      [body({ url: 'https://user:pw@siem.example/in' }), '/url'],
      [body({ url: 'http://siem.example/in' }), '/url'],
      [body({ kind: 'syslog' }), '/url'],
      [body({ secret: undefined }), '/secret'],
      [body({ tenants: ['*', 'acme'] }), '/tenants'],
      [body({ personalData: 'yes' }), '/personalData'],
    ] as const) {
      const res = await t.http().post('/v1/sinks').set(auth(acmeAdmin)).send(bad).expect(400);
      expect(res.body).toMatchObject({ code: 'invalid_request' });
      expect(res.body.details.map((d: { path: string }) => d.path)).toContain(path);
      expect(res.text).not.toContain('pw@');
    }
    expect((await sinkEntries()).length).toBe(before);
  });

  it("an admin creates sinks only for tenants in its scope, and sees no other's", async () => {
    await t
      .http()
      .post('/v1/sinks')
      .set(auth(acmeAdmin))
      .send(body({ tenants: ['globex'] }))
      .expect(403);
    await t
      .http()
      .post('/v1/sinks')
      .set(auth(acmeAdmin))
      .send(body({ tenants: ['*'] }))
      .expect(403);
    const other = await t
      .http()
      .post('/v1/sinks')
      .set(auth(t.adminKey))
      .send(body({ tenants: ['globex'] }))
      .expect(201);
    await t.http().get(`/v1/sinks/${other.body.id}`).set(auth(acmeAdmin)).expect(404);
    await t.http().patch(`/v1/sinks/${other.body.id}`).set(auth(acmeAdmin)).send({ name: 'mine' }).expect(404);
    await t.http().delete(`/v1/sinks/${other.body.id}`).set(auth(acmeAdmin)).expect(404);
    const listed = await t.http().get('/v1/sinks').set(auth(acmeAdmin)).expect(200);
    expect(listed.body.items.map((s: { id: string }) => s.id)).not.toContain(other.body.id);
    const emitterRefused = await t.http().get('/v1/sinks').set(auth(emitter)).expect(403);
    expect(emitterRefused.body.code).toBe('forbidden');
  });

  it('a change is recorded with the fields changed; the secret changes but is never shown', async () => {
    const { body: sink } = await t.http().post('/v1/sinks').set(auth(acmeAdmin)).send(body()).expect(201);
    const newSecret = 'another-secret-abcdefghijklmnopqrstuvwxyz';
    const res = await t
      .http()
      .patch(`/v1/sinks/${sink.id}`)
      .set(auth(acmeAdmin))
      .send({ name: 'renamed', secret: newSecret })
      .expect(200);
    expect(res.body).toMatchObject({ name: 'renamed', secretSet: true });
    const entry = (await sinkEntries()).at(-1) as Record<string, any>;
    expect(entry).toMatchObject({ type: 'sink.changed', context: { changed: ['name', 'secret'] } });
    expect(JSON.stringify(entry) + res.text).not.toContain(newSecret);
    await t.http().patch(`/v1/sinks/${sink.id}`).set(auth(acmeAdmin)).send({ from: 'start' }).expect(400);
  });

  it('a replay moves a position back only, and is its own recorded action', async () => {
    const { body: sink } = await t.http().post('/v1/sinks').set(auth(acmeAdmin)).send(body()).expect(201);
    const res = await t
      .http()
      .post(`/v1/sinks/${sink.id}/replay`)
      .set(auth(acmeAdmin))
      .send({ log: 'acme', from: 1 })
      .expect(200);
    expect(res.body.positions).toEqual([{ log: 'acme', position: 1, size: 3, lag: 2, sent: 0 }]);
    expect((await sinkEntries()).at(-1)).toMatchObject({
      type: 'sink.replayed',
      target: { id: sink.id },
      context: { log: 'acme', from: 3, to: 1 },
    });
    const forward = await t
      .http()
      .post(`/v1/sinks/${sink.id}/replay`)
      .set(auth(acmeAdmin))
      .send({ log: 'acme', from: 2 });
    expect(forward.status).toBe(409);
    expect(forward.body.code).toBe('replay_forward');
    await t
      .http()
      .post(`/v1/sinks/${sink.id}/replay`)
      .set(auth(acmeAdmin))
      .send({ log: 'globex', from: 0 })
      .expect(403);
  });

  it('a sink that carries personal data is pending until a second, legal person approves it', async () => {
    const { body: sink } = await t
      .http()
      .post('/v1/sinks')
      .set(auth(t.adminKey))
      .send(body({ personalData: true }))
      .expect(201);
    expect(sink.status).toBe('pending');
    // An admin cannot approve; a legal person outside the tenants cannot either.
    await t.http().post(`/v1/sinks/${sink.id}/approve`).set(auth(acmeAdmin)).expect(403);
    const globexLegal = await createPerson(t, 'globex-legal', ['legal'], ['globex']);
    const outside = await t.http().post(`/v1/sinks/${sink.id}/approve`).set(auth(globexLegal.key)).expect(404);
    expect(outside.body.code).toBe('sink_not_found');
    const legal = await firstLegalPerson(t);
    const approved = await t.http().post(`/v1/sinks/${sink.id}/approve`).set(auth(legal.key)).expect(200);
    expect(approved.body).toMatchObject({ status: 'active', approvedBy: legal.principal });
    expect((await sinkEntries()).at(-1)).toMatchObject({
      type: 'sink.approved',
      context: { sink: { status: 'active' } },
    });
    await t.http().post(`/v1/sinks/${sink.id}/approve`).set(auth(legal.key)).expect(409);
    // Sending it elsewhere needs a new approval.
    const moved = await t
      .http()
      .patch(`/v1/sinks/${sink.id}`)
      .set(auth(t.adminKey))
      .send({ url: 'http://127.0.0.1:10/in' })
      .expect(200);
    expect(moved.body).toMatchObject({ status: 'pending', approvedBy: null });
  });

  it('the creator cannot approve its own sink, even holding legal', async () => {
    const both = await createPerson(t, 'admin-and-legal', ['admin', 'legal'], ['*']);
    const { body: sink } = await t
      .http()
      .post('/v1/sinks')
      .set(auth(both.key))
      .send(body({ personalData: true }))
      .expect(201);
    const res = await t.http().post(`/v1/sinks/${sink.id}/approve`).set(auth(both.key)).expect(409);
    expect(res.body.code).toBe('approval_not_independent');
    expect((await t.http().get(`/v1/sinks/${sink.id}`).set(auth(both.key)).expect(200)).body.status).toBe('pending');
  });
});
