import {
  decodeEntryBundle,
  decodeLeaf,
  leafHash,
  openCheckpoint,
  parseVerifierKey,
  verifyInclusion,
} from '@audit/ledger';
import { Redis } from 'ioredis';
import { Client } from 'pg';
import { ErasureRunner } from '../src/deletion/erasure-runner';
import { DeletionStore } from '../src/deletion/deletion.store';
import { MovableClock, TestApp, binary, clearQueues, createKey, startTestApp } from './support/test-app';
import { readPersonalData } from './support/personal-data';
import { createTestDatabase, dropTestDatabase, superuserClient } from './support/test-database';

const auth = (key: string) => ({ authorization: `Bearer ${key}` });
const YEAR = 365.25 * 86_400_000;

describe('deletion requests', () => {
  let db: string;
  let t: TestApp;
  const clock = new MovableClock();
  let emitter: string;
  let legal: string;
  let legal2: string;
  let admin: string;
  let investigator: string;

  async function emit(tenant: string, subject: string, email: string, n = 1): Promise<void> {
    const events = Array.from({ length: n }, (_, i) => ({
      tenant,
      type: 'auth.login.succeeded',
      actor: { type: 'user', id: subject },
      personal: { subject, data: { email, attempt: i } },
    }));
    await t.http().post('/v1/events/batch').set(auth(emitter)).send({ events }).expect(201);
  }

  /** Makes `tenant` known (it has a log) with an event that carries no personal data. */
  async function touch(tenant: string): Promise<void> {
    const event = { tenant, type: 'auth.logout', actor: { type: 'user', id: 'someone' } };
    await t.http().post('/v1/events').set(auth(emitter)).send(event).expect(201);
  }

  async function request(body: object, key = legal): Promise<{ id: string; status: string; deduplicated: boolean }> {
    const res = await t.http().post('/v1/deletion-requests').set(auth(key)).send(body).expect(202);
    return res.body;
  }

  async function settled(
    id: string,
    statuses = ['completed', 'partially_blocked', 'blocked', 'failed'],
    key = legal,
  ): Promise<Record<string, any>> {
    for (let i = 0; i < 400; i++) {
      const res = await t.http().get(`/v1/deletion-requests/${id}`).set(auth(key)).expect(200);
      if (statuses.includes(res.body.status)) return res.body;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    throw new Error(`request ${id} did not reach ${statuses.join('/')}`);
  }

  async function deletionEntries(log: string, id: string): Promise<Record<string, any>[]> {
    const client = await superuserClient(db);
    try {
      const { rows } = await client.query(
        "SELECT convert_from(leaf, 'UTF8') AS leaf FROM entries WHERE log = $1 ORDER BY idx",
        [log],
      );
      return rows
        .map((r: { leaf: string }) => JSON.parse(r.leaf))
        .filter((e: Record<string, any>) => e.category === 'deletion' && e.target.id === id);
    } finally {
      await client.end();
    }
  }

  /**
   * The backends waiting for the advisory lock `holds:<of>` (hold.store.ts lockHoldsOf) that the
   * open transaction of `holder` holds, as PostgreSQL itself reports them: a bigint advisory key
   * shows in pg_locks as classid (high half) and objid (low half).
   */
  async function waitingFor(holder: Client, of: string): Promise<number[]> {
    const { rows } = await holder.query(
      `SELECT l.pid FROM pg_locks l
       WHERE l.locktype = 'advisory' AND NOT l.granted AND l.objsubid = 1
         AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
         AND ((l.classid::bigint << 32) | l.objid::bigint) = hashtextextended($1, 0)
         AND pg_backend_pid() = ANY (pg_blocking_pids(l.pid))`,
      [`holds:${of}`],
    );
    return rows.map((r: { pid: number }) => r.pid);
  }

  /**
   * Resolves once some backend waits for the hold lock of `of` that `holder` holds. Rejects as
   * soon as `finished()` says the work got through without waiting (the lock is not taken), or
   * after 10 s. The polling only paces the look: what decides is PostgreSQL's lock table.
   */
  async function untilWaiting(holder: Client, of: string, finished: () => Promise<boolean>): Promise<void> {
    for (let i = 0; i < 400; i++) {
      if ((await waitingFor(holder, of)).length > 0) return;
      if (await finished()) throw new Error(`the work finished without waiting for the hold lock of ${of}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    throw new Error(`nothing waited for the hold lock of ${of} within 10 s`);
  }

  /** Takes the hold lock of `of` in a transaction of its own, as a hold placement does. */
  async function holdLockOf(of: string): Promise<Client> {
    const holder = await superuserClient(db);
    await holder.query('BEGIN');
    await holder.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`holds:${of}`]);
    return holder;
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    // Purge batches of 2 entries: the purge below crosses batch (and log) boundaries.
    t = await startTestApp(db, { AUDIT_DELETION_RECONCILE_MS: '200', AUDIT_PURGE_BATCH: '2' }, { clock });
    emitter = await createKey(t, 'auth-service', ['emitter'], ['acme', 'globex', 'initech']);
    legal = await createKey(t, 'alice-legal', ['legal'], ['acme', 'globex', 'initech']);
    legal2 = await createKey(t, 'bob-legal', ['legal'], ['acme', 'globex', 'initech']);
    admin = await createKey(t, 'ops', ['admin'], ['acme']);
    investigator = await createKey(t, 'ivan', ['investigator'], ['acme']);
  });

  afterAll(async () => {
    await t.close();
    await dropTestDatabase(db);
  });

  // Each test starts at the real time and moves the clock itself: none rests on another's clock.
  beforeEach(() => {
    clock.offsetMs = 0;
  });

  it('blocks on the retention minimum, then completes once it runs out, with a receipt committed to the ledger', async () => {
    await emit('acme', 'subject-a', 'subject-a@example.com', 3);
    await emit('acme', 'subject-b', 'subject-b@example.com', 1);
    const { id, status } = await request({
      kind: 'subject_erasure',
      tenant: 'acme',
      subject: 'subject-a',
      reason: 'erasure request #1',
    });
    expect(status).toBe('queued');
    const blocked = await settled(id);
    expect(blocked).toMatchObject({
      status: 'blocked',
      erased: 0,
      blocked: 3,
      blockedBy: [{ kind: 'retention', category: 'auth' }],
    });
    // Time passes beyond every minimum; the reconciler runs it again.
    clock.offsetMs = 30 * YEAR;
    const done = await settled(id, ['completed']);
    expect(done).toMatchObject({ status: 'completed', erased: 3, blocked: 0, blockedBy: [] });
    expect(done.receipt).toMatchObject({
      request: id,
      subject: 'subject-a',
      erased: [{ log: 'acme', ranges: [[0, 2]] }],
      kept: [],
    });
    const recorded = await deletionEntries('acme', id);
    expect(recorded.map((e) => e.type)).toEqual(['deletion.requested', 'deletion.blocked', 'deletion.completed']);
    expect(recorded[2].context).toMatchObject({ erased: 3, receiptDigest: done.receiptDigest });
    // subject-b is untouched; the log still verifies from outside.
    const client = await superuserClient(db);
    const { rows } = await client.query(
      "SELECT subject, data IS NULL AS erased FROM personal_data WHERE log = 'acme' ORDER BY idx",
    );
    await client.end();
    expect(rows).toEqual([
      { subject: 'subject-a', erased: true },
      { subject: 'subject-a', erased: true },
      { subject: 'subject-a', erased: true },
      { subject: 'subject-b', erased: false },
    ]);
    const verified = await t.http().post('/v1/logs/acme/verify').set(auth(investigator)).expect(200);
    expect(verified.body).toMatchObject({ ok: true, problems: [] });
    // As an outsider would: a signed checkpoint, the entry bundle, and an inclusion proof of every
    // erased entry, all with the ledger library alone.
    const key = parseVerifierKey(
      (await t.http().get('/v1/logs/acme/key').set(auth(investigator)).expect(200)).text.trim(),
    );
    const note = (await t.http().post('/v1/logs/acme/checkpoint').set(auth(investigator)).expect(200)).text;
    const cp = openCheckpoint(note, key, `${t.config.logOriginPrefix}/acme`);
    const bundle = await t
      .http()
      .get(`/v1/logs/acme/tile/entries/000.p/${cp.size}`)
      .set(auth(investigator))
      .buffer(true)
      .parse(binary)
      .expect(200);
    const leaves = decodeEntryBundle(bundle.body, cp.size);
    for (const index of [0, 1, 2]) {
      expect(decodeLeaf(leaves[index]).personal).toMatchObject({ subject: 'subject-a', digest: expect.any(String) });
      const proof = (
        await t
          .http()
          .get(`/v1/logs/acme/proof/inclusion?index=${index}&size=${cp.size}`)
          .set(auth(investigator))
          .expect(200)
      ).body;
      verifyInclusion(
        index,
        cp.size,
        leafHash(leaves[index]),
        proof.proof.map((p: string) => Buffer.from(p, 'base64')),
        cp.rootHash,
      );
    }
  });

  it('blocks a held subject naming the hold; the two-person release queues it again and it completes', async () => {
    clock.offsetMs = 30 * YEAR; // past every retention minimum: only the hold blocks
    await emit('acme', 'subject-c', 'subject-c@example.com', 2);
    const { body: hold } = await t
      .http()
      .post('/v1/holds')
      .set(auth(legal))
      .send({ tenant: 'acme', matter: 'MAT-77', scope: { subjects: ['subject-c'] } })
      .expect(201);
    const { id } = await request({
      kind: 'subject_erasure',
      tenant: 'acme',
      subject: 'subject-c',
      reason: 'erasure request #2',
    });
    expect(await settled(id)).toMatchObject({
      status: 'blocked',
      erased: 0,
      blocked: 2,
      blockedBy: [{ kind: 'hold', id: hold.id }],
    });
    // A second request for the same subject while this one is unfinished is this one.
    const again = await request({ kind: 'subject_erasure', tenant: 'acme', subject: 'subject-c', reason: 'again' });
    expect(again).toMatchObject({ id, deduplicated: true });
    await t.http().post(`/v1/holds/${hold.id}/release`).set(auth(legal)).send({ reason: 'case closed' }).expect(202);
    expect((await t.http().get(`/v1/deletion-requests/${id}`).set(auth(legal))).body.status).toBe('blocked');
    await t.http().post(`/v1/holds/${hold.id}/release`).set(auth(legal2)).send({ reason: 'case closed' }).expect(200);
    expect(await settled(id, ['completed'])).toMatchObject({ status: 'completed', erased: 2 });
  });

  it('an erasure takes the hold lock of every tenant and of its tenant, and waits for a placement holding either', async () => {
    clock.offsetMs = 30 * YEAR; // nothing but the lock stands in the way
    for (const [of, subject] of [
      ['acme', 'subject-l1'],
      ['*', 'subject-l2'],
    ]) {
      await emit('acme', subject, `${subject}@example.com`, 1);
      const holder = await holdLockOf(of);
      try {
        const { id } = await request({ kind: 'subject_erasure', tenant: 'acme', subject, reason: `lock ${of}` });
        const status = async () =>
          (await t.http().get(`/v1/deletion-requests/${id}`).set(auth(legal)).expect(200)).body.status as string;
        await untilWaiting(holder, of, async () => !['queued', 'running'].includes(await status()));
        // Stuck on the lock, inside its transaction: nothing erased, nothing finished.
        expect(await status()).toBe('running');
        const { rows } = await holder.query(
          "SELECT data IS NULL AS erased FROM personal_data WHERE log = 'acme' AND subject = $1",
          [subject],
        );
        expect(rows).toEqual([{ erased: false }]);
        await holder.query('COMMIT');
        expect(await settled(id)).toMatchObject({ status: 'completed', erased: 1, blocked: 0 });
      } finally {
        await holder.end();
      }
    }
  });

  it('serialises hold placement against a running erasure of the same tenant (the shared lock)', async () => {
    await touch('acme');
    // An erasure holds this lock for its whole transaction; a placement must wait for it.
    const holder = await holdLockOf('acme');
    try {
      let placed = false;
      const placing = t
        .http()
        .post('/v1/holds')
        .set(auth(legal))
        .send({ tenant: 'acme', matter: 'MAT-LOCK', scope: { subjects: ['nobody'] } })
        .then((res) => {
          placed = true;
          return res;
        });
      await untilWaiting(holder, 'acme', async () => placed);
      expect(placed).toBe(false);
      const { rows } = await holder.query("SELECT count(*)::int AS n FROM holds WHERE state->>'matter' = 'MAT-LOCK'");
      expect(rows[0].n).toBe(0);
      await holder.query('COMMIT');
      expect((await placing).status).toBe(201);
    } finally {
      await holder.end();
    }
  });

  it('running a request twice erases nothing twice and records nothing twice', async () => {
    clock.offsetMs = 30 * YEAR;
    await emit('acme', 'subject-d', 'subject-d@example.com', 2);
    const { id } = await request({ kind: 'subject_erasure', tenant: 'acme', subject: 'subject-d', reason: 'r' });
    const first = await settled(id, ['completed']);
    const entries = await deletionEntries('acme', id);
    const store = t.app.get(DeletionStore);
    await t.app.get(ErasureRunner).run((await store.find(id))!);
    const second = (await t.http().get(`/v1/deletion-requests/${id}`).set(auth(legal))).body;
    expect(second).toMatchObject({ status: 'completed', erased: first.erased, receiptDigest: first.receiptDigest });
    expect(await deletionEntries('acme', id)).toEqual(entries);
  });

  it('completes an unknown subject with nothing erased', async () => {
    await touch('acme');
    const { id } = await request(
      { kind: 'subject_erasure', tenant: 'acme', subject: 'nobody-at-all', reason: 'r' },
      admin,
    );
    expect(await settled(id)).toMatchObject({ status: 'completed', erased: 0, blocked: 0 });
  });

  it('closes a tenant: its personal data erased, new events refused', async () => {
    clock.offsetMs = 30 * YEAR;
    await emit('globex', 'subject-g', 'subject-g@example.com', 2);
    const { id } = await request({ kind: 'tenant_closure', tenant: 'globex', reason: 'contract ended' });
    const refused = await t
      .http()
      .post('/v1/events')
      .set(auth(emitter))
      .send({ tenant: 'globex', type: 'auth.logout', actor: { type: 'user', id: 'x' } })
      .expect(409);
    expect(refused.body).toMatchObject({ code: 'tenant_closed' });
    expect(await settled(id, ['completed'])).toMatchObject({ erased: 2 });
  });

  it('refuses bad requests with clear errors and writes nothing', async () => {
    const cases: [string, object, number, string][] = [
      [legal, { kind: 'shred_everything', tenant: 'acme', reason: 'r' }, 400, 'invalid_request'],
      [legal, { kind: 'subject_erasure', tenant: 'acme', subject: 's' }, 400, 'invalid_request'],
      [legal, { kind: 'subject_erasure', tenant: 'acme', subject: 's', reason: '  ' }, 400, 'invalid_request'],
      [legal, { kind: 'subject_erasure', tenant: 'umbrella', subject: 's', reason: 'r' }, 403, 'tenant_out_of_scope'],
      [admin, { kind: 'tenant_closure', tenant: 'globex', reason: 'r' }, 403, 'tenant_out_of_scope'],
      [investigator, { kind: 'subject_erasure', tenant: 'acme', subject: 's', reason: 'r' }, 403, 'forbidden'],
    ];
    for (const [key, body, status, code] of cases) {
      const res = await t.http().post('/v1/deletion-requests').set(auth(key)).send(body).expect(status);
      expect(res.body.code).toBe(code);
    }
    const missing = await t
      .http()
      .post('/v1/deletion-requests')
      .set(auth(legal))
      .send({ kind: 'subject_erasure', tenant: 'acme', subject: 's' });
    expect(missing.body.details).toEqual([{ path: '/reason', message: 'is required' }]);
  });

  it('refuses to delete ledger entries through any API, naming the rule', async () => {
    for (const path of [
      '/v1/events/01890000-0000-7000-8000-000000000000',
      '/v1/logs/acme',
      '/v1/logs/acme/entries/0',
    ]) {
      const res = await t.http().delete(path).set(auth(admin)).expect(409);
      expect(res.body).toMatchObject({ code: 'ledger_immutable' });
      expect(res.body.message).toContain('immutable');
    }
  });

  it('leaves no copy of erased values in PostgreSQL or Redis', async () => {
    // Its own erased and kept subjects; the values the tests above erased are looked for too.
    clock.offsetMs = 30 * YEAR;
    await emit('acme', 'subject-x', 'subject-x@example.com', 2);
    await emit('acme', 'subject-y', 'subject-y@example.com', 1);
    const { id } = await request({ kind: 'subject_erasure', tenant: 'acme', subject: 'subject-x', reason: 'r' });
    expect(await settled(id)).toMatchObject({ status: 'completed', erased: 2 });
    const client = await superuserClient(db);
    try {
      const { rows: tables } = await client.query(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
      );
      for (const { table_name: table } of tables) {
        for (const value of [
          'subject-x@example.com',
          'subject-a@example.com',
          'subject-c@example.com',
          'subject-g@example.com',
        ]) {
          const { rows } = await client.query(
            `SELECT count(*)::int AS n FROM "${table}" t WHERE t::text LIKE $1 OR encode(convert_to(t::text, 'UTF8'), 'escape') LIKE $1`,
            [`%${value}%`],
          );
          expect([table, value, rows[0].n]).toEqual([table, value, 0]);
        }
      }
      // Leaves hold digests only, and personal data is stored sealed, so no value is there in clear;
      // the unerased subject-y's still opens with the key-encryption key.
      const kept = (await readPersonalData(client, db, 'acme')).filter((row) => row.subject === 'subject-y');
      expect(kept.map((row) => JSON.stringify(row.data))).toEqual([expect.stringContaining('subject-y@example.com')]);
    } finally {
      await client.end();
    }
    const redis = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: true });
    await redis.connect();
    try {
      let cursor = '0';
      let dump = '';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${t.config.queuePrefix}:*`, 'COUNT', 1000);
        for (const key of keys) {
          const type = await redis.type(key);
          if (type === 'string') dump += await redis.get(key);
          else if (type === 'hash') dump += JSON.stringify(await redis.hgetall(key));
          else if (type === 'list') dump += JSON.stringify(await redis.lrange(key, 0, -1));
          else if (type === 'zset') dump += JSON.stringify(await redis.zrange(key, '0', '-1'));
          else if (type === 'set') dump += JSON.stringify(await redis.smembers(key));
        }
        cursor = next;
      } while (cursor !== '0');
      expect(dump.length).toBeGreaterThan(0);
      expect(dump).not.toContain('@example.com');
    } finally {
      redis.disconnect();
    }
  });
  it('purges personal data past its maximum across tenants, on demand by a key for every tenant, keeping held data', async () => {
    clock.offsetMs = 30 * YEAR;
    await emit('initech', 'subject-p', 'subject-p@example.com', 2);
    await emit('initech', 'subject-q', 'subject-q@example.com', 1);
    await t
      .http()
      .post('/v1/holds')
      .set(auth(legal))
      .send({ tenant: 'initech', matter: 'MAT-Q', scope: { subjects: ['subject-q'] } })
      .expect(201);
    // Thirty years on, every auth maximum has run out.
    await t
      .http()
      .post('/v1/deletion-requests')
      .set(auth(admin))
      .send({ kind: 'retention_purge', reason: 'now' })
      .expect(403);
    const { body } = await t
      .http()
      .post('/v1/deletion-requests')
      .set(auth(t.adminKey))
      .send({ kind: 'retention_purge', reason: 'ahead of schedule' })
      .expect(202);
    expect(body).toMatchObject({ kind: 'retention_purge', tenant: '*' });
    // A request on every tenant is visible to keys for every tenant only.
    const hidden = await t.http().get(`/v1/deletion-requests/${body.id}`).set(auth(legal)).expect(404);
    expect(hidden.body).toMatchObject({ statusCode: 404, code: 'deletion_request_not_found' });
    const done = await settled(body.id, undefined, t.adminKey);
    expect(done).toMatchObject({ status: 'partially_blocked', blocked: 1, blockedBy: [{ kind: 'hold' }] });
    // initech's two entries of subject-p, and whatever the tests above left in other logs.
    expect(done.receipt.erased).toContainEqual({ log: 'initech', count: 2 });
    expect(done.erased).toBe(done.receipt.erased.reduce((n: number, e: { count: number }) => n + e.count, 0));
    const client = await superuserClient(db);
    const { rows } = await client.query(
      "SELECT subject, data IS NULL AS erased FROM personal_data WHERE log = 'initech' ORDER BY idx",
    );
    await client.end();
    expect(rows).toEqual([
      { subject: 'subject-p', erased: true },
      { subject: 'subject-p', erased: true },
      { subject: 'subject-q', erased: false },
    ]);
    expect((await deletionEntries('platform', body.id)).map((e) => e.type)).toEqual([
      'deletion.requested',
      'deletion.partially_blocked',
    ]);
  });
});

describe('deletion requests when Redis loses its jobs', () => {
  it('the reconciler queues them again from PostgreSQL and they complete', async () => {
    const db = await createTestDatabase();
    const clock = new MovableClock();
    clock.offsetMs = 30 * 365.25 * 86_400_000;
    // An API process without workers takes the request; Redis then loses everything.
    const api = await startTestApp(db, { AUDIT_COMPONENTS: 'api,sequencer,signer' }, { clock });
    const prefix = api.config.queuePrefix;
    let worker: TestApp | undefined;
    try {
      const emitter = await createKey(api, 'auth-service', ['emitter'], ['acme']);
      const legal = await createKey(api, 'legal', ['legal'], ['acme']);
      await api
        .http()
        .post('/v1/events')
        .set(auth(emitter))
        .send({
          tenant: 'acme',
          type: 'auth.logout',
          actor: { type: 'user', id: 'u' },
          personal: { subject: 'lost', data: { email: 'lost@example.com' } },
        })
        .expect(201);
      const { body } = await api
        .http()
        .post('/v1/deletion-requests')
        .set(auth(legal))
        .send({ kind: 'subject_erasure', tenant: 'acme', subject: 'lost', reason: 'r' })
        .expect(202);
      await clearQueues(prefix);
      worker = await startTestApp(
        db,
        {
          AUDIT_COMPONENTS: 'worker',
          AUDIT_QUEUE_PREFIX: prefix,
          AUDIT_BOOTSTRAP_ADMIN_KEY: '',
          AUDIT_DELETION_RECONCILE_MS: '200',
        },
        { clock },
      );
      let status = '';
      for (let i = 0; i < 400 && status !== 'completed'; i++) {
        status = (await api.http().get(`/v1/deletion-requests/${body.id}`).set(auth(legal))).body.status;
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      expect(status).toBe('completed');
    } finally {
      await worker?.close();
      await api.close();
      await dropTestDatabase(db);
    }
  });
});
