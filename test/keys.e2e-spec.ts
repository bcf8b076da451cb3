import { ApiKeyStore } from '../src/access/api-key.store';
import { MovableClock, TestApp, createKey, platformEntries, startTestApp } from './support/test-app';
import { createTestDatabase, dropTestDatabase, superuserClient } from './support/test-database';

const bearer = (key: string) => `Bearer ${key}`;

describe('API keys: create, list, rotate, revoke', () => {
  let db: string;
  let t: TestApp;
  let other: TestApp;
  const logs: string[] = [];
  // The first process's clock: key expiry is decided by it, so a test moves time instead of waiting.
  const clock = new MovableClock();

  beforeAll(async () => {
    db = await createTestDatabase();
    t = await startTestApp(db, {}, { logs, clock });
    // A second process on the same database: revocation and rotation must reach it at once.
    other = await startTestApp(db, { AUDIT_BOOTSTRAP_ADMIN_KEY: '' });
  });

  afterEach(() => {
    clock.offsetMs = 0;
  });

  afterAll(async () => {
    await other.close();
    await t.close();
    await dropTestDatabase(db);
  });

  const emit = (app: TestApp, key: string) =>
    app
      .http()
      .post('/v1/events')
      .set('authorization', bearer(key))
      .send({ tenant: 'acme', type: 'auth.logout', actor: { type: 'user', id: 'u1' } });

  // Another process hears of a key change when PostgreSQL delivers the notification, milliseconds
  // after the commit, and the change's answer may reach the caller first. Without the notification
  // its cache would keep the old secret for a full second, far beyond this wait.
  const refusedWithin = async (app: TestApp, key: string, ms = 400) => {
    const until = Date.now() + ms;
    for (;;) {
      const res = await emit(app, key);
      if (res.status === 401 || Date.now() > until) return res;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };

  it('shows a key once, lists keys without secrets, and records the creation without the secret', async () => {
    const created = await t
      .http()
      .post('/v1/keys')
      .set('authorization', bearer(t.adminKey))
      .send({ name: 'billing', roles: ['emitter'], tenants: ['acme'] })
      .expect(201);
    expect(created.body).toMatchObject({ name: 'billing', roles: ['emitter'], tenants: ['acme'], expiresAt: null });
    expect(created.body.key).toMatch(/^atk_[A-Za-z0-9_-]{43}$/);
    expect(created.body.key.startsWith(created.body.prefix)).toBe(true);
    const list = await t.http().get('/v1/keys').set('authorization', bearer(t.adminKey)).expect(200);
    const text = JSON.stringify(list.body);
    expect(text).not.toContain(created.body.key);
    expect(text).not.toContain(t.adminKey);
    expect(text).not.toMatch(/secret|hash/i);
    expect(list.body.items.find((k: { id: string }) => k.id === created.body.id)).toMatchObject({
      prefix: created.body.prefix,
      revokedAt: null,
    });
    const byPrefix = await t
      .http()
      .get('/v1/keys')
      .query({ prefix: created.body.prefix })
      .set('authorization', bearer(t.adminKey))
      .expect(200);
    expect(byPrefix.body.items.map((k: { id: string }) => k.id)).toEqual([created.body.id]);
    const entries = await platformEntries(db);
    expect(entries.find((e) => e.type === 'api_key.created' && e.target.id === created.body.id)).toMatchObject({
      category: 'api_keys',
      context: { name: 'billing', roles: ['emitter'], tenants: ['acme'], prefix: created.body.prefix },
    });
    expect(entries.find((e) => e.type === 'api_key.created' && e.context.name === 'bootstrap-admin')).toMatchObject({
      actor: { type: 'operator', id: 'bootstrap' },
    });
    expect(JSON.stringify(entries)).not.toContain(created.body.key);
  });

  it('rotation: the new secret works and the old one is dead at once here, and in other processes as soon as they are told', async () => {
    const created = await t
      .http()
      .post('/v1/keys')
      .set('authorization', bearer(t.adminKey))
      .send({ name: 'console', roles: ['emitter'], tenants: ['acme'] })
      .expect(201);
    const old = created.body.key as string;
    // Both processes have the old secret cached.
    await emit(t, old).expect(201);
    await emit(other, old).expect(201);
    const rotated = await t
      .http()
      .post(`/v1/keys/${created.body.id}/rotate`)
      .set('authorization', bearer(t.adminKey))
      .expect(200);
    expect(rotated.body).toMatchObject({ id: created.body.id, name: 'console', roles: ['emitter'], tenants: ['acme'] });
    expect(rotated.body.key).not.toBe(old);
    await emit(t, old).expect(401);
    expect((await refusedWithin(other, old)).status).toBe(401);
    await emit(t, rotated.body.key).expect(201);
    await emit(other, rotated.body.key).expect(201);
    const entry = (await platformEntries(db)).find(
      (e) => e.type === 'api_key.rotated' && e.target.id === created.body.id,
    );
    expect(entry).toMatchObject({ context: { prefix: rotated.body.prefix, previousPrefix: created.body.prefix } });
  });

  it('revocation: dead at once here and in other processes as soon as they are told, recorded once, and the key cannot be rotated back', async () => {
    const key = await createKey(t, 'marketplace', ['emitter'], ['acme']);
    const { id } = (
      await t
        .http()
        .get('/v1/keys')
        .query({ prefix: key.slice(0, 12) })
        .set('authorization', bearer(t.adminKey))
        .expect(200)
    ).body.items[0];
    await emit(other, key).expect(201);
    const revoked = await t.http().delete(`/v1/keys/${id}`).set('authorization', bearer(t.adminKey)).expect(200);
    expect(revoked.body.revokedAt).toEqual(expect.any(String));
    const refused = await refusedWithin(other, key);
    expect(refused.status).toBe(401);
    expect(refused.body).toMatchObject({
      statusCode: 401,
      code: 'unauthenticated',
      message: 'the API key is unknown, revoked or expired',
    });
    await emit(t, key).expect(401);
    await t.http().delete(`/v1/keys/${id}`).set('authorization', bearer(t.adminKey)).expect(200);
    expect((await platformEntries(db)).filter((e) => e.type === 'api_key.revoked' && e.target.id === id)).toHaveLength(
      1,
    );
    const rotate = await t.http().post(`/v1/keys/${id}/rotate`).set('authorization', bearer(t.adminKey)).expect(409);
    expect(rotate.body.code).toBe('key_not_active');
  });

  it('an expired key stops working, though it worked (and was cached) a moment before', async () => {
    const HOUR = 3_600_000;
    const expiresAt = new Date(clock.now().getTime() + HOUR).toISOString();
    const res = await t
      .http()
      .post('/v1/keys')
      .set('authorization', bearer(t.adminKey))
      .send({ name: 'short', roles: ['emitter'], tenants: ['acme'], expiresAt })
      .expect(201);
    expect(res.body.expiresAt).toBe(expiresAt);
    await emit(t, res.body.key).expect(201);
    // Seconds before it expires (the cached answer has run out): still good.
    clock.offsetMs = HOUR - 10_000;
    await emit(t, res.body.key).expect(201);
    // A second after: refused, the cache of the answer just above notwithstanding.
    clock.offsetMs = HOUR + 1_000;
    const refused = await emit(t, res.body.key).expect(401);
    expect(refused.body).toMatchObject({ statusCode: 401, code: 'unauthenticated' });
  });

  it('authenticates a burst of requests with one key through one database lookup, each judged at its own time', async () => {
    const key = await createKey(t, 'burst', ['emitter'], ['acme']);
    const store = t.app.get(ApiKeyStore);
    store.changed(); // nothing cached: the burst arrives as the cache entry has just run out
    const rows = (store as unknown as { rows: { query: (...args: unknown[]) => Promise<unknown> } }).rows;
    const queries = jest.spyOn(rows, 'query');
    try {
      const now = clock.now();
      const answers = await Promise.all(Array.from({ length: 20 }, () => store.authenticate(key, now)));
      expect(answers.every((p) => p !== null && p.keyId === answers[0]?.keyId)).toBe(true);
      expect(queries).toHaveBeenCalledTimes(1);
      // A change empties what is in flight too: the next burst asks the database again.
      store.changed();
      const again = await Promise.all([store.authenticate(key, now), store.authenticate(`${key}x`, now)]);
      expect(again[0]).not.toBeNull();
      expect(again[1]).toBeNull();
      expect(queries).toHaveBeenCalledTimes(3);
    } finally {
      queries.mockRestore();
    }
  });

  describe('a key scoped to one tenant', () => {
    let scopedAdmin: string;
    let foreignId: string;

    beforeAll(async () => {
      scopedAdmin = await createKey(t, 'acme-ops', ['admin'], ['acme']);
      const foreign = await t
        .http()
        .post('/v1/keys')
        .set('authorization', bearer(t.adminKey))
        .send({ name: 'globex-billing', roles: ['emitter'], tenants: ['globex'] })
        .expect(201);
      foreignId = foreign.body.id;
    });

    it('grants nothing it does not hold, and creates nothing when refused', async () => {
      const before = (await platformEntries(db)).length;
      for (const tenants of [['globex'], ['*'], ['acme', 'globex']]) {
        const res = await t
          .http()
          .post('/v1/keys')
          .set('authorization', bearer(scopedAdmin))
          .send({ name: 'x', roles: ['emitter'], tenants })
          .expect(403);
        expect(res.body).toMatchObject({ statusCode: 403, code: 'grant_exceeds_holder' });
      }
      expect((await platformEntries(db)).length).toBe(before);
      const client = await superuserClient(db);
      const { rows } = await client.query("SELECT count(*)::int AS n FROM api_keys WHERE name = 'x'");
      await client.end();
      expect(rows[0].n).toBe(0);
      await t
        .http()
        .post('/v1/keys')
        .set('authorization', bearer(scopedAdmin))
        .send({ name: 'acme-auth', roles: ['emitter'], tenants: ['acme'] })
        .expect(201);
    });

    it('sees, rotates and revokes only keys inside its scope; another tenant\'s key is "not found"', async () => {
      const list = await t.http().get('/v1/keys').set('authorization', bearer(scopedAdmin)).expect(200);
      expect(list.body.items.length).toBeGreaterThan(0);
      for (const key of list.body.items) expect(key.tenants).toEqual(['acme']);
      const rotate = await t
        .http()
        .post(`/v1/keys/${foreignId}/rotate`)
        .set('authorization', bearer(scopedAdmin))
        .expect(404);
      const missing = await t
        .http()
        .post('/v1/keys/01890000-0000-7000-8000-000000000000/rotate')
        .set('authorization', bearer(scopedAdmin))
        .expect(404);
      expect(rotate.body).toEqual(missing.body);
      const notFound = { statusCode: 404, error: 'Not Found', code: 'key_not_found', message: 'no such API key' };
      expect(missing.body).toEqual(notFound);
      const revokeForeign = await t
        .http()
        .delete(`/v1/keys/${foreignId}`)
        .set('authorization', bearer(scopedAdmin))
        .expect(404);
      expect(revokeForeign.body).toEqual(notFound);
      const revokeMalformed = await t
        .http()
        .delete('/v1/keys/not-a-key-id')
        .set('authorization', bearer(scopedAdmin))
        .expect(404);
      expect(revokeMalformed.body).toEqual(notFound);
    });
  });

  it('refuses bad requests with their field paths and creates nothing', async () => {
    const cases: [unknown, string][] = [
      [{ name: 'a', roles: ['superuser'], tenants: ['acme'] }, '/roles/0'],
      [{ name: 'a', roles: ['emitter'], tenants: [] }, '/tenants'],
      [{ name: 'a', roles: [], tenants: ['acme'] }, '/roles'],
      [{ name: 'a', roles: ['emitter'], tenants: ['Not A Tenant'] }, '/tenants/0'],
      [{ name: 'a', roles: ['emitter'], tenants: ['*', 'acme'] }, '/tenants'],
      [{ name: 'a', roles: ['emitter'], tenants: ['acme'], expiresAt: '2001-01-01T00:00:00Z' }, '/expiresAt'],
    ];
    const before = (await t.http().get('/v1/keys').set('authorization', bearer(t.adminKey))).body.items.length;
    for (const [body, path] of cases) {
      const res = await t
        .http()
        .post('/v1/keys')
        .set('authorization', bearer(t.adminKey))
        .send(body as object)
        .expect(400);
      expect(res.body.details.map((d: { path: string }) => d.path)).toContain(path);
    }
    expect((await t.http().get('/v1/keys').set('authorization', bearer(t.adminKey))).body.items.length).toBe(before);
  });

  it('answers malformed Authorization headers with a clear 401', async () => {
    const cases: [string | undefined, RegExp][] = [
      [undefined, /API key is required/],
      ['Basic dXNlcjpwYXNz', /must be "Bearer <key>"/],
      ['Bearer', /must be "Bearer <key>"/],
      ['Bearer short', /malformed/],
      [`Bearer ${'x'.repeat(600)}`, /malformed/],
      [`Bearer atk_${'A'.repeat(43)}`, /unknown, revoked or expired/],
    ];
    for (const [header, message] of cases) {
      const req = t.http().get('/v1/keys');
      const res = await (header === undefined ? req : req.set('authorization', header)).expect(401);
      expect(res.body).toMatchObject({ statusCode: 401, error: 'Unauthorized', code: 'unauthenticated' });
      expect(res.body.message).toMatch(message);
    }
  });

  it('never logs a secret', () => {
    expect(logs.length).toBeGreaterThan(0);
    const text = logs.join('');
    expect(text).not.toContain(t.adminKey);
    expect(text).not.toMatch(/atk_[A-Za-z0-9_-]{43}/);
  });
});
