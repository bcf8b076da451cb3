import { CommandBus } from '@nestjs/cqrs';
import { hashKeySecret } from '../src/access/api-key-secret';
import { RebuildApiKeys } from '../src/access/keys/rebuild-api-keys.handler';
import { TestApp, createKey, platformEntries, startTestApp } from './support/test-app';
import { OnTestDatabase, onTestDatabase } from './support/test-database';

const auth = (key: string) => ({ authorization: `Bearer ${key}` });

// Every column but the secret hash: the columns the ledger holds the truth of.
const PROJECTED =
  'SELECT id, name, prefix, roles, tenants, created_at, created_by, rotated_at, expires_at, revoked_at FROM api_keys ORDER BY id';

describe('API keys: the table is a projection of the ledger', () => {
  let t: OnTestDatabase<TestApp>;

  beforeAll(async () => (t = await onTestDatabase((db) => startTestApp(db))));

  afterAll(() => t?.close());

  const emit = (key: string) =>
    t
      .http()
      .post('/v1/events')
      .set(auth(key))
      .send({ tenant: 'acme', type: 'auth.logout', actor: { type: 'user', id: 'u1' } });
  const idOf = async (secret: string): Promise<string> =>
    (await t.owner.query('SELECT id FROM api_keys WHERE secret_hash = $1', [hashKeySecret(secret)])).rows[0].id;
  const hashes = async (): Promise<Map<string, Buffer>> =>
    new Map((await t.owner.query('SELECT id, secret_hash FROM api_keys')).rows.map((r) => [r.id, r.secret_hash]));

  it('rebuilds created, rotated and revoked keys exactly, keeping each surviving secret', async () => {
    // A key of every kind: created by a key (createdBy) and by the operator (bootstrap), rotated,
    // revoked, expiring, scoped to several tenants.
    const scopedAdmin = await createKey(t, 'acme-ops', ['admin'], ['acme', 'globex']);
    const rotated = await createKey(t, 'console', ['emitter'], ['acme'], scopedAdmin);
    const expiring = (
      await t
        .http()
        .post('/v1/keys')
        .set(auth(t.adminKey))
        .send({
          name: 'short',
          roles: ['emitter', 'investigator'],
          tenants: ['acme', 'globex'],
          expiresAt: '2099-01-01T00:00:00Z',
        })
        .expect(201)
    ).body.key as string;
    const revoked = await createKey(t, 'marketplace', ['emitter'], ['globex']);
    const lost = await createKey(t, 'billing', ['emitter'], ['acme']);
    const rotatedId = await idOf(rotated);
    const revokedId = await idOf(revoked);
    const lostId = await idOf(lost);
    const { body: rotation } = await t.http().post(`/v1/keys/${rotatedId}/rotate`).set(auth(scopedAdmin)).expect(200);
    await t.http().delete(`/v1/keys/${revokedId}`).set(auth(t.adminKey)).expect(200);

    const before = (await t.owner.query(PROJECTED)).rows;
    const hashesBefore = await hashes();
    const listed = (await t.http().get('/v1/keys').set(auth(t.adminKey)).expect(200)).body.items;
    expect(before).toHaveLength(6);
    expect(before.find((r) => r.id === rotatedId)).toMatchObject({
      prefix: rotation.prefix,
      created_by: await idOf(scopedAdmin),
      rotated_at: expect.any(Date),
    });
    expect(before.find((r) => r.id === revokedId)).toMatchObject({ revoked_at: expect.any(Date) });
    expect(before.find((r) => r.name === 'bootstrap-admin')).toMatchObject({ created_by: null });
    expect(before.find((r) => r.name === 'short')).toMatchObject({ expires_at: new Date('2099-01-01T00:00:00Z') });

    // Every projected column of every surviving row wrong, one row gone, one row the ledger never saw.
    await t.owner.query(
      `UPDATE api_keys SET name = 'x' || name, prefix = 'atk_XXXXXXXX', roles = '{admin}', tenants = '{*}',
       created_at = '2001-01-01Z', created_by = NULL, rotated_at = NULL, expires_at = '2002-01-01Z',
       revoked_at = CASE WHEN revoked_at IS NULL THEN now() ELSE NULL END WHERE id <> $1`,
      [lostId],
    );
    await t.owner.query('DELETE FROM api_keys WHERE id = $1', [lostId]);
    const forged = 'atk_forged-forged-forged-forged-forged-forged0';
    await t.owner.query(
      `INSERT INTO api_keys (id, name, prefix, secret_hash, roles, tenants)
       VALUES ('01890000-0000-7000-8000-00000000f0f0', 'forged', 'atk_forged-f', $1, '{admin}', '{*}')`,
      [hashKeySecret(forged)],
    );
    expect((await t.owner.query(PROJECTED)).rows).not.toEqual(before);

    const ledgerBefore = (await platformEntries(t.db)).length;
    const counts = await t.app.get(CommandBus).execute(new RebuildApiKeys());
    expect(counts).toEqual({ keys: 6, events: 8, withoutSecret: [lostId] });

    // Row for row, column for column, as before the damage; the ledger untouched.
    expect((await t.owner.query(PROJECTED)).rows).toEqual(before);
    expect((await platformEntries(t.db)).length).toBe(ledgerBefore);
    const hashesAfter = await hashes();
    for (const [id, hash] of hashesBefore) {
      if (id === lostId) expect(hashesAfter.get(id)).not.toEqual(hash);
      else expect(hashesAfter.get(id)).toEqual(hash);
    }
    expect((await t.http().get('/v1/keys').set(auth(t.adminKey)).expect(200)).body.items).toEqual(listed);

    // The kept secrets work as before; the revoked and the forged do not.
    await emit(rotation.key).expect(201);
    await emit(expiring).expect(201);
    await emit(revoked).expect(401);
    await emit(forged).expect(401);
    // A key whose row was lost keeps its state but not its secret: it works again once rotated.
    await emit(lost).expect(401);
    const { body: renewed } = await t.http().post(`/v1/keys/${lostId}/rotate`).set(auth(t.adminKey)).expect(200);
    await emit(renewed.key).expect(201);
  });

  it('changes nothing when rebuilding a sound table', async () => {
    const before = (await t.owner.query(PROJECTED)).rows;
    const hashesBefore = await hashes();
    const counts = await t.app.get(CommandBus).execute(new RebuildApiKeys());
    expect(counts.withoutSecret).toEqual([]);
    expect((await t.owner.query(PROJECTED)).rows).toEqual(before);
    expect(await hashes()).toEqual(hashesBefore);
  });
});
