import { CommandBus } from '@nestjs/cqrs';
import { DatabasePool } from '../src/platform/database/database-pool';
import { RebuildHolds } from '../src/holds/rebuild-holds.handler';
import { withTenantScope } from '../src/platform/database/tenant-scoped-reads';
import { TestApp, createKey, startTestApp } from './support/test-app';
import { createTestDatabase, dropTestDatabase, superuserClient } from './support/test-database';

const auth = (key: string) => ({ authorization: `Bearer ${key}` });

describe('legal holds', () => {
  let db: string;
  let t: TestApp;
  let alice: string;
  let bob: string;
  let root: string;
  let gina: string;
  let emitter: string;
  let investigator: string;

  async function entries(log: string): Promise<Record<string, any>[]> {
    const client = await superuserClient(db);
    try {
      const { rows } = await client.query(
        "SELECT convert_from(leaf, 'UTF8') AS leaf FROM entries WHERE log = $1 ORDER BY idx",
        [log],
      );
      return rows.map((r: { leaf: string }) => JSON.parse(r.leaf));
    } finally {
      await client.end();
    }
  }

  const holdEntries = async (log: string) => (await entries(log)).filter((e) => e.category === 'holds');

  const place = (key: string, body: object) => t.http().post('/v1/holds').set(auth(key)).send(body);
  const amend = (key: string, id: string, body: object) =>
    t.http().post(`/v1/holds/${id}/amend`).set(auth(key)).send(body);
  const release = (key: string, id: string, body: object) =>
    t.http().post(`/v1/holds/${id}/release`).set(auth(key)).send(body);

  beforeAll(async () => {
    db = await createTestDatabase();
    t = await startTestApp(db);
    alice = await createKey(t, 'alice', ['legal'], ['acme']);
    bob = await createKey(t, 'bob', ['legal'], ['acme']);
    root = await createKey(t, 'general-counsel', ['legal'], ['*']);
    gina = await createKey(t, 'gina', ['legal'], ['globex']);
    emitter = await createKey(t, 'billing', ['emitter'], ['acme', 'globex']);
    investigator = await createKey(t, 'ivan', ['investigator'], ['acme']);
    for (const tenant of ['acme', 'globex']) {
      await t
        .http()
        .post('/v1/events')
        .set(auth(emitter))
        .send({ tenant, type: 'auth.logout', actor: { type: 'user', id: 'u1' } })
        .expect(201);
    }
  });

  afterAll(async () => {
    await t.close();
    await dropTestDatabase(db);
  });

  it('places a hold, recorded in the tenant log with the acting key and matter', async () => {
    const res = await place(alice, {
      tenant: 'acme',
      matter: 'MAT-2026-001',
      description: 'billing dispute',
      scope: { subjects: ['u1'], categories: ['billing'], from: '2026-01-01T00:00:00+01:00' },
    }).expect(201);
    expect(res.body).toMatchObject({
      status: 'active',
      tenant: 'acme',
      matter: 'MAT-2026-001',
      scope: { subjects: ['u1'], categories: ['billing'], from: '2025-12-31T23:00:00.000Z' },
      placedBy: { name: 'alice' },
      history: [expect.objectContaining({ type: 'hold.placed' })],
    });
    const [entry] = await holdEntries('acme');
    expect(entry).toMatchObject({
      type: 'hold.placed',
      source: 'audit-trail',
      actor: { type: 'api_key', id: res.body.placedBy.keyId },
      target: { type: 'hold', id: res.body.id },
      context: { matter: 'MAT-2026-001' },
    });
    const read = await t.http().get(`/v1/holds/${res.body.id}`).set(auth(investigator)).expect(200);
    // A read of one active hold adds the state of its release rule: nobody has asked yet.
    expect(read.body).toEqual({ ...res.body, release: { required: 2, missing: 2, approvals: [], expiresAt: null } });
    const foreign = await t.http().get(`/v1/holds/${res.body.id}`).set(auth(gina)).expect(404);
    const missing = await t.http().get('/v1/holds/01890000-0000-7000-8000-000000000000').set(auth(gina)).expect(404);
    expect(foreign.body).toEqual(missing.body);
    expect(missing.body).toEqual({
      statusCode: 404,
      error: 'Not Found',
      code: 'hold_not_found',
      message: 'no such hold',
    });
  });

  it('refuses bad holds with clear errors and writes no event', async () => {
    const before = (await entries('acme')).length + (await entries('platform')).length;
    const cases: [string, object, number, string][] = [
      [alice, { tenant: 'initech', matter: 'M', scope: {} }, 403, 'tenant_out_of_scope'],
      [root, { tenant: 'initech', matter: 'M', scope: {} }, 422, 'unknown_tenant'],
      [alice, { tenant: '*', matter: 'M', scope: {} }, 403, 'tenant_out_of_scope'],
      [alice, { tenant: 'acme', matter: '', scope: {} }, 400, 'invalid_request'],
      [alice, { tenant: 'acme', matter: '   ', scope: {} }, 400, 'invalid_request'],
      [
        alice,
        { tenant: 'acme', matter: 'M', scope: { from: '2026-05-01T00:00:00Z', to: '2026-04-01T00:00:00Z' } },
        400,
        'invalid_request',
      ],
      [alice, { tenant: 'acme', matter: 'M', scope: { from: '2026-02-30T99:00:00Z' } }, 400, 'invalid_request'],
      [alice, { tenant: 'Not A Tenant', matter: 'M', scope: {} }, 400, 'invalid_request'],
      [alice, { tenant: 'acme', matter: 'M' }, 400, 'invalid_request'],
      [emitter, { tenant: 'acme', matter: 'M', scope: {} }, 403, 'forbidden'],
    ];
    for (const [key, body, status, code] of cases) {
      const res = await place(key, body).expect(status);
      expect(res.body).toMatchObject({ statusCode: status, code });
    }
    const inverted = await place(alice, {
      tenant: 'acme',
      matter: 'M',
      scope: { from: '2026-05-01T00:00:00Z', to: '2026-04-01T00:00:00Z' },
    });
    expect(inverted.body.details).toEqual([{ path: '/scope/to', message: 'must be later than from' }]);
    expect((await entries('acme')).length + (await entries('platform')).length).toBe(before);
  });

  it('amends by widening only', async () => {
    const { body: hold } = await place(alice, { tenant: 'acme', matter: 'MAT-2', scope: { actors: ['a1'] } }).expect(
      201,
    );
    const widened = await amend(bob, hold.id, {
      scope: { actors: ['a1', 'a2'] },
      reason: 'second admin involved',
    }).expect(200);
    expect(widened.body.scope).toEqual({ actors: ['a1', 'a2'] });
    expect(widened.body.history.map((e: { type: string }) => e.type)).toEqual(['hold.placed', 'hold.amended']);
    const narrowed = await amend(bob, hold.id, { scope: { actors: ['a2'] }, reason: 'drop a1' }).expect(422);
    expect(narrowed.body).toMatchObject({ code: 'hold_narrowing', details: [{ path: '/scope/actors' }] });
    await amend(bob, hold.id, { scope: {} }).expect(400);
  });

  it('releases with two distinct legal keys; the same key twice counts once; released holds stay readable', async () => {
    const { body: hold } = await place(alice, {
      tenant: 'acme',
      matter: 'MAT-3',
      scope: { types: ['billing.invoice.paid'] },
    }).expect(201);
    const first = await release(alice, hold.id, { reason: 'settled' }).expect(202);
    expect(first.body).toMatchObject({ status: 'release_pending', approvals: 1, required: 2 });
    const count = (await holdEntries('acme')).length;
    const again = await release(alice, hold.id, { reason: 'settled, really' }).expect(202);
    expect(again.body).toMatchObject({ status: 'release_pending', approvals: 1, required: 2 });
    expect((await holdEntries('acme')).length).toBe(count);
    await release(bob, hold.id, {}).expect(400);
    const second = await release(bob, hold.id, { reason: 'settled' }).expect(200);
    expect(second.body).toMatchObject({ status: 'released', approvals: 2, required: 2 });
    const recorded = (await holdEntries('acme')).filter((e) => e.target.id === hold.id);
    expect(recorded.map((e) => e.type)).toEqual([
      'hold.placed',
      'hold.release_requested',
      'hold.release_requested',
      'hold.released',
    ]);
    // Each entry reads on its own: the acting key, the matter and the reason.
    expect(recorded.slice(1).map((e) => [e.actor.type, e.context.matter, e.context.reason])).toEqual([
      ['api_key', 'MAT-3', 'settled'],
      ['api_key', 'MAT-3', 'settled'],
      ['api_key', 'MAT-3', 'settled'],
    ]);
    const conflict = await release(root, hold.id, { reason: 'again' }).expect(409);
    expect(conflict.body.code).toBe('hold_released');
    const unknown = await t
      .http()
      .post('/v1/holds/01890000-0000-7000-8000-000000000000/release')
      .set(auth(alice))
      .send({ reason: 'r' })
      .expect(404);
    expect(unknown.body).toMatchObject({ statusCode: 404, code: 'hold_not_found' });
    const released = await t.http().get('/v1/holds').query({ status: 'released' }).set(auth(alice)).expect(200);
    expect(released.body.items.map((h: { id: string }) => h.id)).toContain(hold.id);
    expect(released.body.items.find((h: { id: string }) => h.id === hold.id).history).toHaveLength(4);
  });

  it('answers the check for every role; emitters see ids, not matters', async () => {
    const { body: hold } = await place(alice, {
      tenant: 'acme',
      matter: 'MAT-4',
      scope: { subjects: ['person-9'] },
    }).expect(201);
    const question = { tenant: 'acme', subject: 'person-9' };
    const asEmitter = await t.http().post('/v1/holds/check').set(auth(emitter)).send(question).expect(200);
    expect(asEmitter.body.held).toBe(true);
    expect(asEmitter.body.holds).toContainEqual({ id: hold.id });
    expect(JSON.stringify(asEmitter.body)).not.toContain('MAT-');
    const asLegal = await t.http().post('/v1/holds/check').set(auth(alice)).send(question).expect(200);
    expect(asLegal.body.holds).toContainEqual({ id: hold.id, matter: 'MAT-4' });
    const asAdmin = await t.http().post('/v1/holds/check').set(auth(t.adminKey)).send(question).expect(200);
    expect(asAdmin.body.held).toBe(true);
    // Another person, another tenant: not held by it.
    const other = await t
      .http()
      .post('/v1/holds/check')
      .set(auth(emitter))
      .send({
        tenant: 'acme',
        subject: 'person-10',
        category: 'auth',
        actor: 'x',
        type: 'auth.logout',
        at: '2026-03-01T00:00:00Z',
      })
      .expect(200);
    expect(other.body.holds.map((h: { id: string }) => h.id)).not.toContain(hold.id);
    expect(
      (
        await t
          .http()
          .post('/v1/holds/check')
          .set(auth(emitter))
          .send({ tenant: 'globex', subject: 'person-9' })
          .expect(200)
      ).body,
    ).toEqual({ held: false, holds: [] });
    await t.http().post('/v1/holds/check').set(auth(alice)).send({ tenant: 'globex', subject: 'person-9' }).expect(403);
    await t.http().post('/v1/holds/check').set(auth(emitter)).send({ subject: 'person-9' }).expect(400);
    // A hold on every tenant covers globex too.
    const { body: everywhere } = await place(root, {
      tenant: '*',
      matter: 'MAT-ALL',
      scope: { subjects: ['person-11'] },
    }).expect(201);
    const global = await t
      .http()
      .post('/v1/holds/check')
      .set(auth(emitter))
      .send({ tenant: 'globex', subject: 'person-11' })
      .expect(200);
    expect(global.body).toEqual({ held: true, holds: [{ id: everywhere.id }] });
    expect((await holdEntries('platform')).map((e) => e.target.id)).toContain(everywhere.id);
  });

  it('shows each key only holds it can reach', async () => {
    const asGina = await t.http().get('/v1/holds').set(auth(gina)).expect(200);
    expect(asGina.body.items).toEqual([]);
    const asAlice = await t.http().get('/v1/holds').set(auth(alice)).expect(200);
    expect(asAlice.body.items.every((h: { tenant: string }) => h.tenant === 'acme')).toBe(true);
    const asRoot = await t.http().get('/v1/holds').set(auth(root)).expect(200);
    expect(asRoot.body.items.some((h: { tenant: string }) => h.tenant === '*')).toBe(true);
    await t.http().get('/v1/holds').query({ status: 'gone' }).set(auth(root)).expect(400);
  });

  it("keeps other tenants' holds out of a scoped read in PostgreSQL itself (row-level security)", async () => {
    const ds = t.app.get(DatabasePool);
    const tenantsSeen = async (scope: string[]) =>
      [
        ...new Set(
          (await withTenantScope(ds, scope, (sql) => sql('SELECT tenant FROM holds'))).map((r) => r.tenant as string),
        ),
      ].sort();
    expect(await tenantsSeen(['acme'])).toEqual(['acme']);
    expect(await tenantsSeen(['globex'])).toEqual([]);
    expect(await tenantsSeen(['*'])).toEqual(['*', 'acme']);
  });

  it('rebuilds the holds read model from the ledger to exactly the live state, versions included', async () => {
    // Its own holds, so it does not rest on the tests above: one amended (version 2), one released (version 4).
    const scope = { actors: ['r1'] };
    const { body: amended } = await place(root, { tenant: 'acme', matter: 'MAT-REBUILD-1', scope }).expect(201);
    await amend(root, amended.id, { scope: { actors: ['r1', 'r2'] }, reason: 'widened' }).expect(200);
    const { body: released } = await place(alice, { tenant: 'acme', matter: 'MAT-REBUILD-2', scope: {} }).expect(201);
    await release(alice, released.id, { reason: 'done' }).expect(202);
    await release(bob, released.id, { reason: 'done' }).expect(200);

    const client = await superuserClient(db);
    try {
      const rows = async () =>
        (await client.query('SELECT tenant, id, status, version, state FROM holds ORDER BY tenant, id')).rows;
      const live = (await t.http().get('/v1/holds').set(auth(root)).expect(200)).body.items;
      const before = await rows();
      // Every row's version is the number of its events, as a change expects it.
      for (const row of before) expect(row.version).toBe(row.state.history.length);
      expect(before.find((r) => r.id === amended.id)).toMatchObject({ status: 'active', version: 2 });
      expect(before.find((r) => r.id === released.id)).toMatchObject({ status: 'released', version: 4 });

      // A projection out of step with the ledger: a change decided on it is refused, and records nothing.
      await client.query('UPDATE holds SET version = version + 100 WHERE id = $1', [amended.id]);
      const ledgerBefore = (await holdEntries('acme')).length;
      const refused = await amend(root, amended.id, { scope: {}, reason: 'everything' }).expect(409);
      expect(refused.body).toEqual({
        statusCode: 409,
        error: 'Conflict',
        code: 'hold_changed',
        message: 'the hold changed meanwhile; try again',
      });
      expect((await holdEntries('acme')).length).toBe(ledgerBefore);

      await client.query('DELETE FROM holds');
      expect((await t.http().get('/v1/holds').set(auth(root)).expect(200)).body.items).toEqual([]);
      const counts = await t.app.get(CommandBus).execute(new RebuildHolds());
      expect(counts.holds).toBe(before.length);
      expect(counts.events).toBe(before.reduce((n, row) => n + row.state.history.length, 0));
      // Row for row, the versions included: a change decides on them.
      expect(await rows()).toEqual(before);
      expect((await t.http().get('/v1/holds').set(auth(root)).expect(200)).body.items).toEqual(live);

      // Live changes keep working on the rebuilt model, from the rebuilt version on.
      const widened = await amend(root, amended.id, { scope: {}, reason: 'everything' }).expect(200);
      expect(widened.body).toMatchObject({ id: amended.id, status: 'active', scope: {} });
      expect(widened.body.history.map((e: { type: string }) => e.type)).toEqual([
        'hold.placed',
        'hold.amended',
        'hold.amended',
      ]);
      expect((await client.query('SELECT version, state FROM holds WHERE id = $1', [amended.id])).rows[0]).toEqual({
        version: 3,
        state: expect.objectContaining({ history: widened.body.history }),
      });
      // A released hold stays released after the rebuild.
      const again = await release(root, released.id, { reason: 'again' }).expect(409);
      expect(again.body.code).toBe('hold_released');
    } finally {
      await client.end();
    }
  });
});
