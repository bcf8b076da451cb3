import { TestApp, createKey, platformEntries, startTestApp } from './support/test-app';
import { Client } from 'pg';
import { createTestDatabase, dropTestDatabase, superuserClient } from './support/test-database';

const bearer = (key: string) => `Bearer ${key}`;

// The role the service runs as (platform/database/database-bootstrap.ts RUNTIME_ROLE).
const RUNTIME_ROLE = 'audit_runtime';

/**
 * Resolves once the service's append of entries waits for a lock that the open transaction of the
 * backend `holderPid` holds, as PostgreSQL reports it; rejects when `answered()` comes first, or
 * after 10 s. `observer` must not be inside a transaction: pg_stat_activity is read once per
 * transaction and would not change.
 */
async function untilAppendWaits(observer: Client, holderPid: number, answered: () => boolean): Promise<void> {
  for (let i = 0; i < 400; i++) {
    const { rows } = await observer.query(
      `SELECT count(*)::int AS n FROM pg_stat_activity
       WHERE $1 = ANY (pg_blocking_pids(pid)) AND query LIKE '%INSERT INTO entries%'`,
      [holderPid],
    );
    if (rows[0].n > 0) return;
    if (answered()) throw new Error('the read was answered before its record was appended');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error('no append of a read record waited within 10 s');
}

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
    let emitter: string;

    beforeAll(async () => {
      db = await createTestDatabase();
      t = await startTestApp(db);
      emitter = await createKey(t, 'auth-service', ['emitter'], ['acme', 'globex']);
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
    const inclusionProof = (index: number, size: number) =>
      t.http().get('/v1/logs/acme/proof/inclusion').query({ index, size }).set('authorization', bearer(investigator));

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

    it('answers only once the record is committed: while it cannot commit, nothing is answered', async () => {
      const holder = await superuserClient(db);
      const observer = await superuserClient(db);
      try {
        const holderPid = (await holder.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;
        // The platform log's head row, locked: the record's statement (which moves the head) waits.
        await holder.query('BEGIN');
        await holder.query("SELECT 1 FROM logs WHERE log = 'platform' FOR UPDATE");
        let answered = false;
        const reading = inclusionProof(2, 3).then((res) => {
          answered = true;
          return res;
        });
        await untilAppendWaits(observer, holderPid, () => answered);
        // One more round trip to PostgreSQL: an answer already sent has arrived by now.
        await holder.query('SELECT 1');
        expect(answered).toBe(false);
        await holder.query('COMMIT');
        const res = await reading;
        expect(res.status).toBe(200);
        expect(res.body).toMatchObject({ index: 2, size: 3 });
        expect((await recordsBy(investigatorId)).at(-1)).toMatchObject({
          type: 'access.logs.proof.inclusion',
          outcome: 'success',
          context: { filters: { index: '2', size: '3' } },
        });
      } finally {
        await holder.end();
        await observer.end();
      }
    });

    it('does not answer a read that cannot be recorded: 503 with no data and nothing leaked', async () => {
      const before = (await recordsBy(investigatorId)).length;
      const su = await superuserClient(db);
      try {
        // The service may no longer write entries: the record of any read fails.
        await su.query(`REVOKE INSERT ON entries FROM ${RUNTIME_ROLE}`);
        const res = await inclusionProof(1, 3);
        expect(res.status).toBe(503);
        expect(res.headers['content-type']).toContain('application/json');
        expect(res.headers['retry-after']).toBe('1');
        // Exactly the documented body: no proof, no leaf hash, nothing of what PostgreSQL said.
        expect(res.body).toEqual({
          statusCode: 503,
          error: 'Service Unavailable',
          code: 'unavailable',
          message: 'this read could not be recorded in the ledger, so it is not answered; retry later',
        });
        expect(res.text).not.toMatch(/permission|entries|audit_runtime|leafHash|proof/i);
        // An append the database refuses for everyone (not for its own values) is the service's
        // fault: exactly the 500 body, which names neither the table, the role nor the statement.
        const append = await t
          .http()
          .post('/v1/events')
          .set('authorization', bearer(emitter))
          .send({ tenant: 'acme', type: 'auth.login.succeeded', actor: { type: 'user', id: 'u-500' } });
        expect(append.status).toBe(500);
        expect(append.body).toEqual({
          statusCode: 500,
          error: 'Internal Server Error',
          code: 'internal',
          message: 'internal error',
        });
        expect(append.text).not.toMatch(/permission|entries|audit_runtime|INSERT/i);
      } finally {
        await su.query(`GRANT INSERT ON entries TO ${RUNTIME_ROLE}`);
        await su.end();
      }
      expect(await recordsBy(investigatorId)).toHaveLength(before);
      // Recordable again, answered again.
      await inclusionProof(1, 3).expect(200);
      expect(await recordsBy(investigatorId)).toHaveLength(before + 1);
    });

    it('records proofs, tiles and entry bundles with their filters', async () => {
      await inclusionProof(1, 3).expect(200);
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
      expect(missing.body).toEqual({ statusCode: 404, error: 'Not Found', code: 'not_found', message: 'no such log' });
      const records = (await recordsBy(investigatorId)).slice(-2);
      expect(records.map((r) => [r.target.id, r.outcome, r.context.error])).toEqual([
        ['globex', 'failure', 'not_found'],
        ['nobody', 'failure', 'not_found'],
      ]);
    });

    it('records a search refused for an empty tenant as a failure with no target, and answers its 400', async () => {
      // Found by the API fuzz: the record named a target with an empty id, which no entry may hold,
      // so the read was refused as unrecordable (503) instead of answering the caller's mistake.
      const res = await t.http().get('/v1/events?tenant=').set('authorization', bearer(investigator));
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('invalid_request');
      const [record] = (await recordsBy(investigatorId)).slice(-1);
      expect([record.type, record.outcome, record.context.error, record.target]).toEqual([
        'access.events.search',
        'failure',
        'invalid_request',
        undefined,
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
