import { TestApp, createKey, platformEntries, startTestApp } from './support/test-app';
import { createTestDatabase, dropTestDatabase } from './support/test-database';

const bearer = (key: string) => `Bearer ${key}`;

/** Appends `n` events to `tenant` and waits for a checkpoint covering them. */
async function fill(t: TestApp, emitter: string, investigator: string, tenant: string, n: number): Promise<void> {
  const events = Array.from({ length: n }, (_, i) => ({
    tenant,
    type: 'auth.logout',
    actor: { type: 'user', id: `u${i}` },
  }));
  await t.http().post('/v1/events/batch').set('authorization', bearer(emitter)).send({ events }).expect(201);
  await t.http().post(`/v1/logs/${tenant}/checkpoint`).set('authorization', bearer(investigator)).expect(200);
}

describe('read records', () => {
  describe('with the defaults (every read recorded)', () => {
    let db: string;
    let t: TestApp;
    let investigator: string;
    let investigatorId: string;

    beforeAll(async () => {
      db = await createTestDatabase();
      t = await startTestApp(db);
      const emitter = await createKey(t, 'auth-service', ['emitter'], ['acme', 'globex']);
      investigator = await createKey(t, 'alice', ['investigator'], ['acme']);
      investigatorId = (
        await t
          .http()
          .get('/v1/keys')
          .query({ prefix: investigator.slice(0, 12) })
          .set('authorization', bearer(t.adminKey))
      ).body.items[0].id;
      const everywhere = await createKey(t, 'setup', ['investigator'], ['*']);
      await fill(t, emitter, everywhere, 'acme', 3);
      await fill(t, emitter, everywhere, 'globex', 2);
    });

    afterAll(async () => {
      await t.close();
      await dropTestDatabase(db);
    });

    const recordsBy = async (keyId: string) =>
      (await platformEntries(db)).filter((e) => e.category === 'access' && e.actor.id === keyId);

    it('records a verification with the reader, the tenant and the outcome, before answering', async () => {
      const res = await t.http().post('/v1/logs/acme/verify').set('authorization', bearer(investigator)).expect(200);
      expect(res.body.ok).toBe(true);
      const records = await recordsBy(investigatorId);
      expect(records.at(-1)).toMatchObject({
        log: 'platform',
        source: 'audit-trail',
        type: 'access.logs.verify',
        category: 'access',
        actor: { type: 'api_key', id: investigatorId },
        target: { type: 'tenant', id: 'acme' },
        outcome: 'success',
        context: { route: 'logs.verify', method: 'POST', filters: {} },
      });
    });

    it('records proofs, tiles and entry bundles with their filters', async () => {
      await t
        .http()
        .get('/v1/logs/acme/proof/inclusion')
        .query({ index: 1, size: 3 })
        .set('authorization', bearer(investigator))
        .expect(200);
      await t.http().get('/v1/logs/acme/tile/0/000.p/3').set('authorization', bearer(investigator)).expect(200);
      await t.http().get('/v1/logs/acme/tile/entries/000.p/3').set('authorization', bearer(investigator)).expect(200);
      const records = (await recordsBy(investigatorId)).slice(-3);
      expect(records.map((r) => [r.type, r.context.filters])).toEqual([
        ['access.logs.proof.inclusion', { index: '1', size: '3' }],
        ['access.logs.tile', { path: '0/000.p/3' }],
        ['access.logs.entries', { path: '000.p/3' }],
      ]);
    });

    it('records a refused read of another tenant as a failure, and answers it like a missing log', async () => {
      const foreign = await t
        .http()
        .post('/v1/logs/globex/verify')
        .set('authorization', bearer(investigator))
        .expect(404);
      const missing = await t
        .http()
        .post('/v1/logs/nobody/verify')
        .set('authorization', bearer(investigator))
        .expect(404);
      expect(foreign.body).toEqual(missing.body);
      const records = (await recordsBy(investigatorId)).slice(-2);
      expect(records.map((r) => [r.target.id, r.outcome, r.context.error])).toEqual([
        ['globex', 'failure', 'not_found'],
        ['nobody', 'failure', 'not_found'],
      ]);
    });

    it('does not record reads refused before authentication', async () => {
      const before = (await platformEntries(db)).length;
      await t.http().post('/v1/logs/acme/verify').set('authorization', 'Bearer atk_not-a-real-key-at-all').expect(401);
      expect((await platformEntries(db)).length).toBe(before);
    });
  });

  describe('with AUDIT_READ_RECORDS switching routes off', () => {
    let db: string;
    let t: TestApp;

    beforeAll(async () => {
      db = await createTestDatabase();
      t = await startTestApp(db, { AUDIT_READ_RECORDS: 'logs.tile=off,logs.proof.*=0,logs.checkpoint=off' });
    });

    afterAll(async () => {
      await t.close();
      await dropTestDatabase(db);
    });

    it('records only the routes left on', async () => {
      const emitter = await createKey(t, 'auth-service', ['emitter'], ['acme']);
      const investigator = await createKey(t, 'bob', ['investigator'], ['acme']);
      await fill(t, emitter, investigator, 'acme', 2);
      await t.http().get('/v1/logs/acme/tile/0/000.p/2').set('authorization', bearer(investigator)).expect(200);
      await t
        .http()
        .get('/v1/logs/acme/proof/consistency')
        .query({ from: 1, size: 2 })
        .set('authorization', bearer(investigator))
        .expect(200);
      await t.http().get('/v1/logs/acme/checkpoint').set('authorization', bearer(investigator)).expect(200);
      await t.http().get('/v1/logs/acme/tile/entries/000.p/2').set('authorization', bearer(investigator)).expect(200);
      const types = (await platformEntries(db)).filter((e) => e.category === 'access').map((e) => e.type);
      expect(types).toEqual(['access.logs.sign', 'access.logs.entries']);
    });
  });
});
