import { TestApp, createKey, startTestApp } from './support/test-app';
import { createTestDatabase, dropTestDatabase, superuserClient } from './support/test-database';

const good = (tenant = 'acme') => ({ tenant, type: 'auth.login.succeeded', actor: { type: 'user', id: 'u1' } });

describe('bad input: a clear JSON error and no change to any log', () => {
  let db: string;
  let t: TestApp;
  let emitter: string;
  let investigator: string;
  const auth = (key: string) => ({ authorization: `Bearer ${key}` });

  beforeAll(async () => {
    db = await createTestDatabase();
    t = await startTestApp(db);
    emitter = await createKey(t, 'auth-service', ['emitter'], ['acme']);
    investigator = await createKey(t, 'secops', ['investigator'], ['acme']);
    await t.http().post('/v1/events').set(auth(emitter)).send(good()).expect(201);
  });

  afterAll(async () => {
    await t.close();
    await dropTestDatabase(db);
  });

  async function totalEntries(): Promise<number> {
    const client = await superuserClient(db);
    const { rows } = await client.query("SELECT count(*)::int AS n FROM entries WHERE log <> 'platform'");
    await client.end();
    return rows[0].n;
  }

  const cases: [
    string,
    () => Promise<{ status: number; body: Record<string, unknown> }>,
    number,
    string,
    string | null,
  ][] = [
    [
      'malformed JSON',
      () => t.http().post('/v1/events').set(auth(emitter)).set('content-type', 'application/json').send('{"tenant":'),
      400,
      'invalid_request',
      null,
    ],
    [
      'an empty body',
      () => t.http().post('/v1/events').set(auth(emitter)).set('content-type', 'application/json').send(''),
      400,
      'invalid_request',
      null,
    ],
    [
      'a missing actor',
      () => t.http().post('/v1/events').set(auth(emitter)).send({ tenant: 'acme', type: 'auth.logout' }),
      400,
      'invalid_request',
      '/actor',
    ],
    [
      'a wrong field type',
      () =>
        t
          .http()
          .post('/v1/events')
          .set(auth(emitter))
          .send({ ...good(), actor: { type: 'user', id: 7 } }),
      400,
      'invalid_request',
      '/actor/id',
    ],
    [
      'an unknown field',
      () =>
        t
          .http()
          .post('/v1/events')
          .set(auth(emitter))
          .send({ ...good(), source: 'me' }),
      400,
      'invalid_request',
      '/source',
    ],
    [
      'a tenant id of the wrong syntax',
      () => t.http().post('/v1/events').set(auth(emitter)).send(good('Acme Corp')),
      400,
      'invalid_request',
      '/tenant',
    ],
    [
      'a malformed type',
      () =>
        t
          .http()
          .post('/v1/events')
          .set(auth(emitter))
          .send({ ...good(), type: 'Login' }),
      400,
      'invalid_request',
      '/type',
    ],
    [
      'a type outside the catalogue without category',
      () =>
        t
          .http()
          .post('/v1/events')
          .set(auth(emitter))
          .send({ ...good(), type: 'auth.sso.linked' }),
      400,
      'invalid_request',
      '/category',
    ],
    [
      'a category contradicting the catalogue',
      () =>
        t
          .http()
          .post('/v1/events')
          .set(auth(emitter))
          .send({ ...good(), category: 'billing' }),
      400,
      'invalid_request',
      '/category',
    ],
    [
      'a type reserved to the service',
      () =>
        t
          .http()
          .post('/v1/events')
          .set(auth(emitter))
          .send({ ...good(), type: 'hold.placed' }),
      400,
      'invalid_request',
      '/type',
    ],
    [
      'a bad occurredAt',
      () =>
        t
          .http()
          .post('/v1/events')
          .set(auth(emitter))
          .send({ ...good(), occurredAt: 'yesterday' }),
      400,
      'invalid_request',
      '/occurredAt',
    ],
    [
      'deep JSON',
      () =>
        t
          .http()
          .post('/v1/events')
          .set(auth(emitter))
          .send({ ...good(), context: nest(40) }),
      400,
      'invalid_request',
      '/context',
    ],
    [
      'an integer beyond 2^53',
      () =>
        t
          .http()
          .post('/v1/events')
          .set(auth(emitter))
          .set('content-type', 'application/json')
          .send(JSON.stringify(good()).replace('}}', '},"context":{"n":12345678901234567890}}')),
      400,
      'invalid_request',
      '/context/n',
    ],
    [
      'an event over 64 KiB as a leaf',
      () =>
        t
          .http()
          .post('/v1/events')
          .set(auth(emitter))
          .send({ ...good(), context: { blob: 'x'.repeat(70_000) } }),
      413,
      'payload_too_large',
      null,
    ],
    [
      'a body over the limit',
      () =>
        t
          .http()
          .post('/v1/events/batch')
          .set(auth(emitter))
          .send({ events: Array.from({ length: 300 }, () => ({ ...good(), context: { blob: 'x'.repeat(60_000) } })) }),
      413,
      'payload_too_large',
      null,
    ],
    [
      'a batch of 1,001',
      () =>
        t
          .http()
          .post('/v1/events/batch')
          .set(auth(emitter))
          .send({ events: Array.from({ length: 1001 }, () => good()) }),
      413,
      'payload_too_large',
      '/events',
    ],
    [
      'an empty batch',
      () => t.http().post('/v1/events/batch').set(auth(emitter)).send({ events: [] }),
      400,
      'invalid_request',
      '/events',
    ],
    [
      'one bad event in a batch',
      () =>
        t
          .http()
          .post('/v1/events/batch')
          .set(auth(emitter))
          .send({ events: [good(), good(), good(), { ...good(), actor: {} }] }),
      400,
      'invalid_request',
      '/events/3/actor/type',
    ],
    [
      'a batch-wide Idempotency-Key',
      () =>
        t
          .http()
          .post('/v1/events/batch')
          .set(auth(emitter))
          .set('idempotency-key', 'k')
          .send({ events: [good()] }),
      400,
      'invalid_request',
      '/headers/idempotency-key',
    ],
    ['no key', () => t.http().post('/v1/events').send(good()), 401, 'unauthenticated', null],
    [
      'a malformed Authorization header',
      () => t.http().post('/v1/events').set('authorization', 'Basic abc').send(good()),
      401,
      'unauthenticated',
      null,
    ],
    [
      'an unknown key',
      () => t.http().post('/v1/events').set(auth('atk_unknownunknownunknownunknown')).send(good()),
      401,
      'unauthenticated',
      null,
    ],
    [
      'another tenant',
      () => t.http().post('/v1/events').set(auth(emitter)).send(good('globex')),
      403,
      'forbidden',
      null,
    ],
    [
      'one event of another tenant in a batch',
      () =>
        t
          .http()
          .post('/v1/events/batch')
          .set(auth(emitter))
          .send({ events: [good(), good('globex')] }),
      403,
      'forbidden',
      null,
    ],
    [
      'a role that may not append',
      () => t.http().post('/v1/events').set(auth(investigator)).send(good()),
      403,
      'forbidden',
      null,
    ],
  ];

  it.each(cases)('refuses %s', async (_name, call, status, code, path) => {
    const before = await totalEntries();
    const res = await call();
    expect(res.status).toBe(status);
    expect(res.body).toMatchObject({
      statusCode: status,
      error: expect.any(String),
      code,
      message: expect.any(String),
    });
    if (path) expect(res.body.details).toEqual(expect.arrayContaining([expect.objectContaining({ path })]));
    expect(await totalEntries()).toBe(before);
  });

  it('answers read API mistakes with clear errors', async () => {
    const get = (path: string) => t.http().get(path).set(auth(investigator));
    expect((await get('/v1/logs/acme/proof/inclusion?index=5&size=1')).body).toMatchObject({
      statusCode: 400,
      code: 'beyond_log',
    });
    expect((await get('/v1/logs/acme/proof/inclusion?index=0&size=99')).body).toMatchObject({
      statusCode: 400,
      code: 'beyond_log',
    });
    expect((await get('/v1/logs/acme/proof/inclusion?index=-1&size=1')).body).toMatchObject({
      statusCode: 400,
      details: [{ path: '/query/index' }],
    });
    expect((await get('/v1/logs/acme/proof/consistency?from=2&size=1')).status).toBe(400);
    expect((await get('/v1/logs/acme/tile/0/001')).body).toMatchObject({ statusCode: 404, code: 'no_such_tile' });
    expect((await get('/v1/logs/acme/tile/0/x000/001')).body).toMatchObject({
      statusCode: 404,
      code: 'malformed_tile_path',
    });
    expect((await get('/v1/logs/nothing-here/checkpoint')).status).toBe(404);
    // Another tenant's log looks exactly like one that does not exist.
    expect((await get('/v1/logs/globex/checkpoint')).body).toMatchObject({ statusCode: 404, code: 'not_found' });
    expect((await get('/v1/nowhere')).body).toMatchObject({ statusCode: 404, code: 'not_found' });
  });

  it('refuses bad key requests and creates nothing', async () => {
    const admin = auth(t.adminKey);
    const before = (await t.http().get('/v1/keys').set(admin).expect(200)).body.items.length;
    for (const body of [
      { name: 'x', roles: ['superuser'], tenants: ['*'] },
      { name: 'x', roles: ['emitter'], tenants: [] },
      { name: 'x', roles: [], tenants: ['acme'] },
      { name: 'x', roles: ['emitter'], tenants: ['*', 'acme'] },
      { name: '', roles: ['emitter'], tenants: ['acme'] },
      { name: 'x', roles: ['emitter'], tenants: ['acme'], expiresAt: '2000-01-01T00:00:00Z' },
    ]) {
      const res = await t.http().post('/v1/keys').set(admin).send(body);
      expect(res.status).toBe(400);
    }
    expect(
      (
        await t
          .http()
          .post('/v1/keys')
          .set(auth(emitter))
          .send({ name: 'x', roles: ['admin'], tenants: ['*'] })
      ).status,
    ).toBe(403);
    const after = (await t.http().get('/v1/keys').set(admin).expect(200)).body;
    expect(after.items.length).toBe(before);
    expect(JSON.stringify(after)).not.toMatch(/atk_[A-Za-z0-9_-]{40}/);
  });

  it("refuses an emitter's event in the platform log, even from a key for every tenant, and appends nothing", async () => {
    const everywhere = await createKey(t, 'all-tenants', ['emitter'], ['*']);
    const client = await superuserClient(db);
    const platformEntries = async () =>
      (await client.query("SELECT count(*)::int AS n FROM entries WHERE log = 'platform'")).rows[0].n as number;
    try {
      const before = await platformEntries();
      const actor = { type: 'user', id: 'u1' };
      const target = { type: 'api_key', id: '0190f1d2-0000-7000-8000-000000000000' };
      const forged = { tenant: 'platform', type: 'api_key.revoked', category: 'api_keys', actor, target };
      const res = await t.http().post('/v1/events').set(auth(everywhere)).send(forged);
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ code: 'invalid_request', details: [{ path: '/tenant' }] });
      expect(await platformEntries()).toBe(before);
      // The same key writes to a tenant's log as before.
      await t.http().post('/v1/events').set(auth(everywhere)).send(good('acme')).expect(201);
    } finally {
      await client.end();
    }
  });
});

function nest(depth: number): Record<string, unknown> {
  let value: Record<string, unknown> = { leaf: true };
  for (let i = 0; i < depth; i++) value = { child: value };
  return value;
}
