import { openCheckpoint, parseVerifierKey, verifyInclusion } from '@audit/ledger';
import { createHash } from 'node:crypto';
import { TestApp, createKey, platformEntries, startTestApp } from './support/test-app';
import { createTestDatabase, dropTestDatabase, superuserClient } from './support/test-database';

const auth = (key: string) => ({ authorization: `Bearer ${key}` });

/**
 * The API routes the web console needs (issue 19): the list of deletion requests, a hold's
 * preview, and the leaf bytes of one entry.
 */
describe('API for the console: deletion request list, hold preview, leaf of an entry', () => {
  let db: string;
  let t: TestApp;
  let emitter: string;
  let legal: string;
  let legalAcme: string;
  let counsel: string;
  let admin: string;
  let investigator: string;
  const requests: Record<string, string> = {};

  async function emit(tenant: string, subject: string, n: number, type = 'auth.login.succeeded'): Promise<void> {
    const events = Array.from({ length: n }, (_, i) => ({
      tenant,
      type,
      actor: { type: 'user', id: subject },
      personal: { subject, data: { attempt: i } },
    }));
    await t.http().post('/v1/events/batch').set(auth(emitter)).send({ events }).expect(201);
  }

  async function settled(id: string): Promise<Record<string, any>> {
    for (let i = 0; i < 400; i++) {
      const res = await t.http().get(`/v1/deletion-requests/${id}`).set(auth(legal)).expect(200);
      if (!['queued', 'running'].includes(res.body.status)) return res.body;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    throw new Error(`request ${id} did not settle`);
  }

  /** Rows of the ledger and of the holds projection, as the database owner counts them. */
  async function written(): Promise<{ entries: number; holds: number }> {
    const client = await superuserClient(db);
    try {
      const entries = (await client.query('SELECT count(*)::int AS n FROM entries')).rows[0].n as number;
      const holds = (await client.query('SELECT count(*)::int AS n FROM holds')).rows[0].n as number;
      return { entries, holds };
    } finally {
      await client.end();
    }
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    t = await startTestApp(db, { AUDIT_DELETION_RECONCILE_MS: '200' });
    emitter = await createKey(t, 'auth-service', ['emitter'], ['acme', 'globex']);
    legal = await createKey(t, 'alice-legal', ['legal'], ['acme', 'globex']);
    legalAcme = await createKey(t, 'bob-legal', ['legal'], ['acme']);
    counsel = await createKey(t, 'general-counsel', ['legal'], ['*']);
    admin = await createKey(t, 'ops', ['admin'], ['acme']);
    investigator = await createKey(t, 'ivan', ['investigator'], ['acme', 'globex']);
    await emit('acme', 's1', 3);
    await emit('acme', 's2', 2);
    await emit('globex', 's3', 1);
    // An entry without personal data: nothing a hold could protect from erasure.
    await t
      .http()
      .post('/v1/events')
      .set(auth(emitter))
      .send({ tenant: 'acme', type: 'auth.logout', actor: { type: 'user', id: 's1' } })
      .expect(201);
    // Authentication events are inside their retention minimum: each request ends blocked, unfinished.
    for (const [tenant, subject] of [
      ['acme', 's1'],
      ['acme', 's2'],
      ['globex', 's3'],
    ]) {
      const res = await t
        .http()
        .post('/v1/deletion-requests')
        .set(auth(legal))
        .send({ kind: 'subject_erasure', tenant, subject, reason: 'the person asked' })
        .expect(202);
      requests[subject] = res.body.id;
      expect((await settled(res.body.id)).status).toBe('blocked');
    }
  });

  afterAll(async () => {
    await t.close();
    await dropTestDatabase(db);
  });

  describe('GET /v1/deletion-requests', () => {
    const list = (key: string, query: Record<string, string | number> = {}) =>
      t.http().get('/v1/deletion-requests').query(query).set(auth(key));

    it('lists the requests the key may see, newest first, each as GET /{id} shows it, with what blocks it', async () => {
      const res = await list(legal).expect(200);
      expect(res.body.items.map((r: { id: string }) => r.id)).toEqual([requests.s3, requests.s2, requests.s1]);
      expect(res.body.nextCursor).toBeNull();
      for (const item of res.body.items) {
        const one = await t.http().get(`/v1/deletion-requests/${item.id}`).set(auth(legal)).expect(200);
        expect(item).toEqual(one.body);
        expect(item.blockedBy).toEqual([{ kind: 'retention', category: 'auth', until: expect.any(String) }]);
        expect(item).not.toHaveProperty('recorded');
      }
    });

    it("shows a key only its tenants' requests: another tenant's is as missing as its log", async () => {
      const own = await list(legalAcme).expect(200);
      expect(own.body.items.map((r: { tenant: string }) => r.tenant)).toEqual(['acme', 'acme']);
      expect((await list(admin, { tenant: 'acme' }).expect(200)).body.items).toHaveLength(2);
      expect((await list(legalAcme, { tenant: 'globex' }).expect(404)).body.code).toBe('not_found');
      // The purges' tenant `*` is hidden from a scoped key, not refused.
      expect((await list(legalAcme, { tenant: '*' }).expect(200)).body.items).toEqual([]);
      expect((await list(investigator).expect(403)).body.code).toBeDefined();
    });

    it('filters by tenant, status and kind', async () => {
      expect((await list(legal, { tenant: 'globex' }).expect(200)).body.items.map((r: any) => r.id)).toEqual([
        requests.s3,
      ]);
      expect((await list(legal, { status: 'blocked', kind: 'subject_erasure' }).expect(200)).body.items).toHaveLength(
        3,
      );
      expect((await list(legal, { status: 'completed' }).expect(200)).body.items).toEqual([]);
      expect((await list(legal, { kind: 'tenant_closure' }).expect(200)).body.items).toEqual([]);
    });

    it('pages with a keyset cursor bound to its filters', async () => {
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const query: Record<string, string | number> = cursor ? { limit: 1, cursor } : { limit: 1 };
        const page = await list(counsel, query).expect(200);
        expect(page.body.items.length).toBeLessThanOrEqual(1);
        seen.push(...page.body.items.map((r: { id: string }) => r.id));
        cursor = page.body.nextCursor;
      } while (cursor);
      expect(seen).toEqual([requests.s3, requests.s2, requests.s1]);
      const first = await list(counsel, { limit: 1 }).expect(200);
      const other = await list(counsel, { limit: 1, tenant: 'acme', cursor: first.body.nextCursor }).expect(400);
      expect(other.body.details).toEqual([
        { path: '/query/cursor', message: expect.stringContaining('another query') },
      ]);
    });

    it('refuses bad queries with the parameter named, and records no read', async () => {
      const before = (await platformEntries(db)).length;
      for (const [query, path] of [
        [{ status: 'done' }, '/query/status'],
        [{ kind: 'everything' }, '/query/kind'],
        [{ limit: 0 }, '/query/limit'],
        [{ limit: 201 }, '/query/limit'],
        [{ cursor: 'bm9wZQ' }, '/query/cursor'],
        [{ tenant: 'Not A Tenant' }, '/query/tenant'],
      ] as const) {
        const res = await list(legal, query).expect(400);
        expect(res.body.details[0].path).toBe(path);
      }
      expect((await list(legal, { subject: 's1' }).expect(400)).body.details[0].path).toBe('/query/subject');
      await list(legal).expect(200);
      expect(await platformEntries(db)).toHaveLength(before);
    });
  });

  describe('POST /v1/holds/preview', () => {
    const preview = (key: string, body: object) => t.http().post('/v1/holds/preview').set(auth(key)).send(body);

    it('answers the entries (per log) and the unfinished deletion requests a hold would cover, writing nothing', async () => {
      const before = await written();
      const res = await preview(legal, { tenant: 'acme', matter: 'M-1', scope: { subjects: ['s1'] } }).expect(200);
      expect(res.body).toEqual({
        entries: 3,
        logs: [{ log: 'acme', entries: 3 }],
        pendingDeletionRequests: [
          {
            id: requests.s1,
            kind: 'subject_erasure',
            tenant: 'acme',
            subject: 's1',
            status: 'blocked',
            blockedBy: [expect.objectContaining({ kind: 'retention' })],
            entries: 3,
          },
        ],
      });
      // The whole tenant: every entry with personal data, not the one without.
      const whole = await preview(legal, { tenant: 'acme', matter: 'M-1', scope: {} }).expect(200);
      expect(whole.body.entries).toBe(5);
      expect(whole.body.pendingDeletionRequests.map((r: any) => [r.id, r.entries])).toEqual([
        [requests.s1, 3],
        [requests.s2, 2],
      ]);
      expect(await written()).toEqual(before);
      expect(before.holds).toBe(0);
    });

    it('judges every dimension by the placement rule: actors, categories, types and the window', async () => {
      const body = (scope: object) => ({ tenant: 'acme', matter: 'M-2', scope });
      expect((await preview(legal, body({ actors: ['s2'] })).expect(200)).body.entries).toBe(2);
      expect((await preview(legal, body({ categories: ['billing'] })).expect(200)).body).toEqual({
        entries: 0,
        logs: [],
        pendingDeletionRequests: [],
      });
      expect((await preview(legal, body({ types: ['auth.login.succeeded'] })).expect(200)).body.entries).toBe(5);
      expect((await preview(legal, body({ to: '2020-01-01T00:00:00Z' })).expect(200)).body.entries).toBe(0);
      expect((await preview(legal, body({ from: '2020-01-01T00:00:00Z' })).expect(200)).body.entries).toBe(5);
      expect((await preview(legal, body({ subjects: ['s1'], actors: ['s2'] })).expect(200)).body.entries).toBe(0);
    });

    it('covers every tenant for a hold on `*`, for a key of every tenant only', async () => {
      const res = await preview(counsel, { tenant: '*', matter: 'M-3', scope: { subjects: ['s3', 's2'] } }).expect(200);
      expect(res.body.entries).toBe(3);
      expect(res.body.logs).toEqual([
        { log: 'acme', entries: 2 },
        { log: 'globex', entries: 1 },
      ]);
      expect(res.body.pendingDeletionRequests.map((r: { id: string }) => r.id).sort()).toEqual(
        [requests.s2, requests.s3].sort(),
      );
      const scoped = await preview(legal, { tenant: '*', matter: 'M-3', scope: {} }).expect(403);
      expect(scoped.body.code).toBe('tenant_out_of_scope');
    });

    it('refuses what placement refuses, with the same errors, and writes nothing', async () => {
      const before = await written();
      const outside = await preview(legalAcme, { tenant: 'globex', matter: 'M-4', scope: {} }).expect(403);
      expect(outside.body.code).toBe('tenant_out_of_scope');
      const unknown = await preview(legal, { tenant: 'initech', matter: 'M-4', scope: {} });
      // `initech` is outside this key's tenants too: ask with a key of every tenant.
      expect(unknown.status).toBe(403);
      expect((await preview(counsel, { tenant: 'initech', matter: 'M-4', scope: {} }).expect(422)).body.code).toBe(
        'unknown_tenant',
      );
      const personal = await preview(legal, {
        tenant: 'acme',
        matter: 'ask jane.doe@example.com',
        scope: {},
      }).expect(422);
      expect(personal.body.code).toBe('personal_data_outside');
      expect(JSON.stringify(personal.body)).not.toContain('jane.doe@example.com');
      const bad = await preview(legal, {
        tenant: 'acme',
        matter: 'M-4',
        scope: { from: '2026-01-02T00:00:00Z', to: '2026-01-01T00:00:00Z' },
      }).expect(400);
      expect(bad.body.details[0].path).toBe('/scope/to');
      expect((await preview(legal, { tenant: 'acme', scope: {} }).expect(400)).body.details).toBeDefined();
      await preview(investigator, { tenant: 'acme', matter: 'M-4', scope: {} }).expect(403);
      await preview(admin, { tenant: 'acme', matter: 'M-4', scope: {} }).expect(403);
      expect(await written()).toEqual(before);
    });

    it('agrees with a hold placed for real: the covered request is blocked by it once it runs again', async () => {
      const body = { tenant: 'globex', matter: 'M-5', scope: { subjects: ['s3'] } };
      const previewed = await preview(legal, body).expect(200);
      expect(previewed.body.pendingDeletionRequests.map((r: { id: string }) => r.id)).toEqual([requests.s3]);
      const placed = await t.http().post('/v1/holds').set(auth(legal)).send(body).expect(201);
      // A second erasure of the same subject is the first one, which runs again with the hold standing.
      const client = await superuserClient(db);
      try {
        await client.query(`UPDATE deletion_requests SET retry_at = now() - interval '1 second' WHERE id = $1`, [
          requests.s3,
        ]);
      } finally {
        await client.end();
      }
      for (let i = 0; i < 400; i++) {
        const res = await t.http().get(`/v1/deletion-requests/${requests.s3}`).set(auth(legal)).expect(200);
        if (res.body.blockedBy.some((b: { kind: string }) => b.kind === 'hold')) {
          expect(res.body.blockedBy).toContainEqual({ kind: 'hold', id: placed.body.id });
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      throw new Error('the request never ran again under the hold');
    });
  });

  describe('GET /v1/events/{id}: leaf', () => {
    it('serves the leaf bytes, which hash to leafHash and prove with the returned inclusion proof', async () => {
      const made = await t
        .http()
        .post('/v1/events')
        .set(auth(emitter))
        .send({ tenant: 'acme', type: 'auth.logout', actor: { type: 'user', id: 'u7' } })
        .expect(201);
      const res = await t.http().get(`/v1/events/${made.body.id}`).set(auth(investigator)).expect(200);
      const leaf = Buffer.from(res.body.leaf, 'base64');
      expect(leaf.toString('base64')).toBe(res.body.leaf);
      const hash = createHash('sha256')
        .update(Buffer.concat([Buffer.from([0]), leaf]))
        .digest();
      expect(hash.toString('base64')).toBe(res.body.leafHash);
      expect(hash.toString('base64')).toBe(made.body.leafHash);
      const members = JSON.parse(leaf.toString('utf8'));
      expect(members).toMatchObject({ id: made.body.id, log: 'acme', index: made.body.index, type: 'auth.logout' });
      const key = (await t.http().get('/v1/logs/acme/key').set(auth(investigator))).text.trim();
      const checkpoint = openCheckpoint(res.body.inclusion.checkpoint, parseVerifierKey(key));
      expect(() =>
        verifyInclusion(
          made.body.index,
          checkpoint.size,
          hash,
          res.body.inclusion.proof.map((p: string) => Buffer.from(p, 'base64')),
          checkpoint.rootHash,
        ),
      ).not.toThrow();
      // A leaf with one byte changed neither hashes to leafHash nor proves.
      const tampered = Buffer.from(leaf);
      tampered[tampered.length - 2] ^= 1;
      const tamperedHash = createHash('sha256')
        .update(Buffer.concat([Buffer.from([0]), tampered]))
        .digest();
      expect(() =>
        verifyInclusion(
          made.body.index,
          checkpoint.size,
          tamperedHash,
          res.body.inclusion.proof.map((p: string) => Buffer.from(p, 'base64')),
          checkpoint.rootHash,
        ),
      ).toThrow();
    });
  });
});
