import { CommandBus } from '@nestjs/cqrs';
import { RebuildApiKeys } from '../src/access/keys/rebuild-api-keys.handler';
import { RebuildPrincipals } from '../src/access/principals/rebuild-principals.handler';
import { TestApp, createPerson, platformEntries, startTestApp } from './support/test-app';
import { OnTestDatabase, onTestDatabase } from './support/test-database';

const auth = (key: string) => ({ authorization: `Bearer ${key}` });

// Every column of both tables: the ledger holds the truth of all of them.
const PRINCIPALS =
  'SELECT id, name, kind, email, oidc_subject, created_at, created_by, revoked_at FROM principals ORDER BY id';
const GRANTS = `SELECT id, principal_id, role, tenants, status, requested_by, requested_at, approved_by, approved_at,
  revoked_at FROM grants ORDER BY id`;

const STRAY_PRINCIPAL = '01890000-0000-7000-8000-00000000a0a0';
const STRAY_GRANT = '01890000-0000-7000-8000-00000000b0b0';

describe('principals: the tables are a projection of the ledger', () => {
  let t: OnTestDatabase<TestApp>;

  beforeAll(async () => (t = await onTestDatabase((db) => startTestApp(db))));

  afterAll(() => t?.close());

  const tables = async () => ({
    principals: (await t.owner.query(PRINCIPALS)).rows,
    grants: (await t.owner.query(GRANTS)).rows,
  });
  const rebuild = () => t.app.get(CommandBus).execute(new RebuildPrincipals());
  const emit = (key: string) =>
    t
      .http()
      .post('/v1/events')
      .set(auth(key))
      .send({ tenant: 'acme', type: 'auth.logout', actor: { type: 'user', id: 'u1' } });
  const listed = async () => (await t.http().get('/v1/principals').set(auth(t.adminKey)).expect(200)).body;

  it('rebuilds people, services, grants and revocations exactly, and keys work on', async () => {
    const admin = (path: string) => ({
      post: (body: object) => t.http().post(path).set(auth(t.adminKey)).send(body),
      delete: () => t.http().delete(path).set(auth(t.adminKey)),
    });
    // A person with an email and an identity-provider subject: an active grant, a revoked one, a
    // pending legal one, and a key.
    const { body: person } = await admin('/v1/principals')
      .post({ name: 'ada', kind: 'person', email: 'ada@example.test', oidcSubject: 'idp|ada' })
      .expect(201);
    await admin(`/v1/principals/${person.id}/grants`)
      .post({ role: 'emitter', tenants: ['acme', 'globex'] })
      .expect(201);
    const { body: revokedGrant } = await admin(`/v1/principals/${person.id}/grants`)
      .post({ role: 'investigator', tenants: ['acme'] })
      .expect(201);
    await admin(`/v1/grants/${revokedGrant.id}`).delete().expect(200);
    const { body: pending } = await admin(`/v1/principals/${person.id}/grants`)
      .post({ role: 'legal', tenants: ['acme'] })
      .expect(201);
    expect(pending.status).toBe('pending');
    const { body: personKey } = await t
      .http()
      .post('/v1/keys')
      .set(auth(t.adminKey))
      .send({ principal: person.id, name: 'ada-laptop', roles: ['emitter'], tenants: ['acme'] })
      .expect(201);
    // A service made with its key; a legal person (requested, then approved by the first one).
    const { body: serviceKey } = await t
      .http()
      .post('/v1/keys')
      .set(auth(t.adminKey))
      .send({ name: 'billing', roles: ['emitter'], tenants: ['acme'] })
      .expect(201);
    const lawyer = await createPerson(t, 'lena', ['legal'], ['acme']);
    // A revoked principal with a grant and no key: its rows are the ones deleted below.
    const { body: gone } = await admin('/v1/principals').post({ name: 'old-batch', kind: 'service' }).expect(201);
    await admin(`/v1/principals/${gone.id}/grants`)
      .post({ role: 'emitter', tenants: ['globex'] })
      .expect(201);
    await admin(`/v1/principals/${gone.id}`).delete().expect(200);

    const before = await tables();
    const apiBefore = await listed();
    // The operator's three, the first legal person, and the four above.
    expect(before.principals).toHaveLength(8);
    expect(before.principals.find((row) => row.id === person.id)).toMatchObject({
      email: 'ada@example.test',
      oidc_subject: 'idp|ada',
      created_at: new Date(person.createdAt),
    });
    expect(before.principals.find((row) => row.id === gone.id)).toMatchObject({ revoked_at: expect.any(Date) });
    expect(before.grants.find((row) => row.id === revokedGrant.id)).toMatchObject({
      status: 'revoked',
      revoked_at: expect.any(Date),
    });
    expect(before.grants.find((row) => row.id === pending.id)).toMatchObject({ status: 'pending', approved_at: null });
    const approved = before.grants.find((row) => row.principal_id === lawyer.principal && row.role === 'legal');
    expect(approved).toMatchObject({ status: 'active', approved_by: expect.any(String) });
    expect(approved.approved_at.getTime()).toBeGreaterThan(approved.requested_at.getTime());
    await emit(personKey.key).expect(201);
    await emit(serviceKey.key).expect(201);

    // Every column of every surviving row wrong; one principal (and its grant) gone; a grant and a
    // principal the ledger never saw.
    await t.owner.query(
      `UPDATE principals SET name = 'x' || name,
         kind = CASE kind WHEN 'person' THEN 'service' ELSE 'person' END,
         email = CASE WHEN email IS NULL THEN id || '@forged.test' END,
         oidc_subject = CASE WHEN oidc_subject IS NULL THEN 'forged|' || id END,
         created_at = '2001-01-01Z', created_by = CASE WHEN created_by IS NULL THEN id END,
         revoked_at = CASE WHEN revoked_at IS NULL THEN now() END`,
    );
    // A name and an email that belong to another principal (unique: the rebuild must free them first).
    await t.owner.query(`UPDATE principals SET name = 'ada', email = 'ADA@example.test' WHERE id = $1`, [
      serviceKey.principal,
    ]);
    await t.owner.query(
      `UPDATE grants SET principal_id = CASE WHEN principal_id = $1 THEN $2 ELSE $1 END::uuid,
         role = CASE role WHEN 'admin' THEN 'emitter' ELSE 'admin' END,
         tenants = CASE WHEN tenants = '{*}' THEN '{forged}'::text[] ELSE '{*}'::text[] END,
         status = CASE status WHEN 'active' THEN 'revoked' WHEN 'revoked' THEN 'pending' ELSE 'active' END,
         requested_by = CASE WHEN requested_by IS NULL THEN id END, requested_at = '2001-01-01Z',
         approved_by = CASE WHEN approved_by IS NULL THEN id END,
         approved_at = CASE WHEN approved_at IS NULL THEN now() END,
         revoked_at = CASE WHEN revoked_at IS NULL THEN now() END`,
      [serviceKey.principal, person.id],
    );
    const goneGrants = before.grants.filter((row) => row.principal_id === gone.id).map((row) => row.id);
    await t.owner.query('DELETE FROM grants WHERE id = ANY($1::uuid[])', [goneGrants]);
    await t.owner.query('DELETE FROM principals WHERE id = $1', [gone.id]);
    await t.owner.query(
      `INSERT INTO principals (id, name, kind, created_at) VALUES ($1, 'forged-service', 'service', now())`,
      [STRAY_PRINCIPAL],
    );
    await t.owner.query(
      `INSERT INTO grants (id, principal_id, role, tenants, status, requested_at)
       VALUES ($1, $2, 'admin', '{*}', 'active', now())`,
      [STRAY_GRANT, person.id],
    );
    const damaged = await tables();
    for (const row of damaged.principals.filter((row) => row.id !== STRAY_PRINCIPAL)) {
      const was = before.principals.find((old) => old.id === row.id);
      for (const column of Object.keys(row).filter((column) => column !== 'id'))
        expect({ column, value: row[column] }).not.toEqual({ column, value: was[column] });
    }
    for (const row of damaged.grants.filter((row) => row.id !== STRAY_GRANT)) {
      const was = before.grants.find((old) => old.id === row.id);
      for (const column of Object.keys(row).filter((column) => column !== 'id'))
        expect({ column, value: row[column] }).not.toEqual({ column, value: was[column] });
    }
    // Every process hears of the damage (as if it were a change) and stops the service's key.
    await t.owner.query(`SELECT pg_notify('audit_api_keys', '')`);
    for (let i = 0; i < 100 && (await emit(serviceKey.key)).status !== 401; i++)
      await new Promise((resolve) => setTimeout(resolve, 20));
    await emit(serviceKey.key).expect(401);

    const ledgerBefore = (await platformEntries(t.db)).length;
    const counts = await rebuild();
    expect(counts).toEqual({
      principals: 8,
      grants: before.grants.length,
      events: (await platformEntries(t.db)).filter((entry) => entry.category === 'principals').length,
      keptForKeys: [],
    });

    // Row for row, column for column, as before the damage; the ledger untouched.
    expect(await tables()).toEqual(before);
    expect((await platformEntries(t.db)).length).toBe(ledgerBefore);
    expect(await listed()).toEqual(apiBefore);

    // Keys act as before, at once: the rebuild emptied the key cache (which held the refusal).
    await emit(serviceKey.key).expect(201);
    await emit(personKey.key).expect(201);
    await t.http().get('/v1/holds').set(auth(lawyer.key)).expect(200);
  });

  it('changes nothing when rebuilding sound tables', async () => {
    const before = await tables();
    expect((await rebuild()).keptForKeys).toEqual([]);
    expect(await tables()).toEqual(before);
  });

  it('keeps a principal the ledger never created while a key names it, and says so', async () => {
    const { body: key } = await t
      .http()
      .post('/v1/keys')
      .set(auth(t.adminKey))
      .send({ name: 'reports', roles: ['emitter'], tenants: ['acme'] })
      .expect(201);
    await t.owner.query(
      `INSERT INTO principals (id, name, kind, created_at) VALUES ($1, 'forged-service', 'service', now())`,
      [STRAY_PRINCIPAL],
    );
    await t.owner.query(
      `INSERT INTO grants (id, principal_id, role, tenants, status, requested_at)
       VALUES ($1, $2, 'emitter', '{acme}', 'active', now())`,
      [STRAY_GRANT, STRAY_PRINCIPAL],
    );
    await t.owner.query('UPDATE api_keys SET principal_id = $1 WHERE id = $2', [STRAY_PRINCIPAL, key.id]);

    expect((await rebuild()).keptForKeys).toEqual([STRAY_PRINCIPAL]);
    // Kept as found, but without the grant no entry made: the key acts with no role.
    expect((await t.owner.query('SELECT name FROM principals WHERE id = $1', [STRAY_PRINCIPAL])).rows).toEqual([
      { name: 'forged-service' },
    ]);
    expect((await t.owner.query('SELECT 1 FROM grants WHERE id = $1', [STRAY_GRANT])).rows).toEqual([]);
    await emit(key.key).expect(403);

    // The key's own rebuild gives it back its principal; then the stray principal goes.
    await t.app.get(CommandBus).execute(new RebuildApiKeys());
    expect((await rebuild()).keptForKeys).toEqual([]);
    expect((await t.owner.query('SELECT 1 FROM principals WHERE id = $1', [STRAY_PRINCIPAL])).rows).toEqual([]);
    await emit(key.key).expect(201);
  });

  it('takes an erased email and identity-provider subject out of the table', async () => {
    const { body: person } = await t
      .http()
      .post('/v1/principals')
      .set(auth(t.adminKey))
      .send({ name: 'grace', kind: 'person', email: 'grace@example.test', oidcSubject: 'idp|grace' })
      .expect(201);
    // What an erasure leaves (LedgerErasure): the data and its salt gone, the leaf whole.
    await t.owner.query(
      `UPDATE personal_data SET data = NULL, salt = NULL, erased_at = now() WHERE log = 'platform' AND subject = $1`,
      [`principal:${person.id}`],
    );
    await rebuild();
    expect(
      (await t.owner.query('SELECT name, email, oidc_subject FROM principals WHERE id = $1', [person.id])).rows,
    ).toEqual([{ name: 'grace', email: null, oidc_subject: null }]);
  });
});
