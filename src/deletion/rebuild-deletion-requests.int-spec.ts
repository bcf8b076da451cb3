import { CommandBus } from '@nestjs/cqrs';
import { Client } from 'pg';
import { MovableClock, TestApp, createKey, startTestApp } from '../../test/support/test-app';
import { createTestDatabase, dropTestDatabase, superuserClient } from '../../test/support/test-database';
import { DeletionStore } from './deletion.store';
import { ErasureRunner } from './erasure-runner';
import { RebuildDeletionRequests, RebuiltDeletionRequests } from './rebuild-deletion-requests.handler';

const YEAR = 365.25 * 86_400_000;
const auth = (key: string) => ({ authorization: `Bearer ${key}` });

// The columns the ledger says (src/deletion/README.md); receipt, retry_at and updated_at are not.
const FACTS = `id, tenant, kind, subject, reason, requested_by, requested_at, status, erased, blocked, blocked_by, receipt_digest, recorded`;

/**
 * The facts of `deletion_requests` rebuilt from the ledger alone equal the live ones, for every
 * status a request reaches through the real flow. Real PostgreSQL, the real sequencer, HTTP for
 * requests and holds; no worker: the test runs the requests itself (store + runner), so nothing
 * moves a row behind its back.
 */
describe('RebuildDeletionRequests', () => {
  let db: string;
  let t: TestApp;
  let owner: Client;
  let store: DeletionStore;
  let runner: ErasureRunner;
  let emitter: string;
  let legal: string;
  // Past every auth minimum and maximum: only holds keep anything.
  const clock = new MovableClock(30 * YEAR);
  const ids: Record<string, string> = {};
  /** The fact columns as the real flow left them: what every rebuild must give back. */
  let live: Record<string, unknown>[];

  const rebuild = (): Promise<RebuiltDeletionRequests> => t.app.get(CommandBus).execute(new RebuildDeletionRequests());

  async function facts(): Promise<Record<string, unknown>[]> {
    return (await owner.query(`SELECT ${FACTS} FROM deletion_requests ORDER BY id`)).rows;
  }

  async function row(id: string): Promise<Record<string, any>> {
    return (await owner.query('SELECT * FROM deletion_requests WHERE id = $1', [id])).rows[0];
  }

  async function emit(tenant: string, subject: string, n: number): Promise<void> {
    const events = Array.from({ length: n }, (_, i) => ({
      tenant,
      type: 'auth.login.succeeded',
      actor: { type: 'user', id: subject },
      personal: { subject, data: { email: `${subject}@example.com`, attempt: i } },
    }));
    await t.http().post('/v1/events/batch').set(auth(emitter)).send({ events }).expect(201);
  }

  async function request(body: object, key = legal): Promise<string> {
    return (await t.http().post('/v1/deletion-requests').set(auth(key)).send(body).expect(202)).body.id;
  }

  async function hold(subject: string, matter: string): Promise<string> {
    const res = await t
      .http()
      .post('/v1/holds')
      .set(auth(legal))
      .send({ tenant: 'acme', matter, scope: { subjects: [subject] } })
      .expect(201);
    return res.body.id;
  }

  /** One run, as the worker does it: start, then run. */
  async function run(id: string): Promise<void> {
    expect(await store.start(id, clock.now())).toBe(true);
    await runner.run((await store.find(id))!);
  }

  async function entryTypes(id: string): Promise<string[]> {
    const { rows } = await owner.query(
      `SELECT convert_from(leaf, 'UTF8')::jsonb->>'type' AS type FROM entries
       WHERE convert_from(leaf, 'UTF8')::jsonb->'target'->>'id' = $1 ORDER BY log, idx`,
      [id],
    );
    return rows.map((r: { type: string }) => r.type);
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    owner = await superuserClient(db);
    t = await startTestApp(db, { AUDIT_COMPONENTS: 'api,sequencer' }, { clock });
    store = t.app.get(DeletionStore);
    runner = t.app.get(ErasureRunner);
    emitter = await createKey(t, 'auth-service', ['emitter'], ['acme', 'globex', 'initech']);
    legal = await createKey(t, 'alice-legal', ['legal'], ['acme', 'globex', 'initech']);

    await emit('acme', 'subject-done', 2);
    await emit('acme', 'subject-held', 2);
    await emit('acme', 'subject-running', 1);
    await emit('globex', 'subject-g', 2);
    await emit('initech', 'subject-x', 1);
    const h1 = await hold('subject-held', 'MAT-1');

    ids.completed = await request({
      kind: 'subject_erasure',
      tenant: 'acme',
      subject: 'subject-done',
      reason: 'asked',
    });
    await run(ids.completed);
    ids.blocked = await request({ kind: 'subject_erasure', tenant: 'acme', subject: 'subject-held', reason: 'asked' });
    await run(ids.blocked);
    ids.closure = await request({ kind: 'tenant_closure', tenant: 'globex', reason: 'contract ended' });
    await run(ids.closure);
    // The purge erases what is left and due, and keeps what h1 holds.
    ids.purge = await request({ kind: 'retention_purge', reason: 'on demand' }, t.adminKey);
    await run(ids.purge);
    // A second hold on the same entries: same counts, same receipt (a purge's names no reason), new reasons.
    const h2 = await hold('subject-held', 'MAT-2');
    await run(ids.purge);
    ids.running = await request({
      kind: 'subject_erasure',
      tenant: 'acme',
      subject: 'subject-running',
      reason: 'asked',
    });
    expect(await store.start(ids.running, clock.now())).toBe(true);
    ids.failed = await request({ kind: 'subject_erasure', tenant: 'initech', subject: 'subject-x', reason: 'first' });
    expect(await store.start(ids.failed, clock.now())).toBe(true);
    expect(await store.fail(ids.failed, clock.now())).toBe(true);
    // Only possible because the first one finished: the ledger's order proves it failed.
    ids.queued = await request({ kind: 'subject_erasure', tenant: 'initech', subject: 'subject-x', reason: 'again' });

    const statuses: Record<string, string> = {};
    for (const [name, id] of Object.entries(ids)) statuses[name] = (await row(id)).status;
    expect(statuses).toEqual({
      completed: 'completed',
      blocked: 'blocked',
      closure: 'completed',
      purge: 'partially_blocked',
      running: 'running',
      failed: 'failed',
      queued: 'queued',
    });
    expect(await row(ids.blocked)).toMatchObject({ blocked: 2, blocked_by: [{ kind: 'hold', id: h1 }] });
    expect(await row(ids.purge)).toMatchObject({
      blocked: 2,
      blocked_by: [h1, h2].sort().map((id) => ({ kind: 'hold', id })),
    });
    // The second purge run changed only the reasons, and the ledger heard of it.
    expect(await entryTypes(ids.purge)).toEqual([
      'deletion.requested',
      'deletion.partially_blocked',
      'deletion.partially_blocked',
    ]);
    live = await facts();
  });

  afterAll(async () => {
    await owner?.end();
    await t?.close();
    await dropTestDatabase(db);
  });

  it('on the live table it changes nothing: the live facts are the ledger projection', async () => {
    expect(await rebuild()).toEqual({ requests: 7, events: 12, corrected: 0, recreated: 0, unknown: [] });
    expect(await facts()).toEqual(live);
  });

  it('restores every fact column after rows are deleted and tampered with, and leaves operational state alone', async () => {
    const purgeReceipt = (await row(ids.purge)).receipt;
    const runningRetry = (await row(ids.running)).retry_at;
    const orphan = '01890000-0000-7000-8000-00000000dead';
    // As the superuser: what no code path of the service does.
    await owner.query('DELETE FROM deletion_requests WHERE id = ANY($1)', [
      [ids.completed, ids.blocked, ids.closure, ids.failed],
    ]);
    await owner.query(
      `UPDATE deletion_requests SET status = 'completed', erased = 7, blocked = 0, blocked_by = '[]', receipt_digest = 'forged', recorded = NULL WHERE id = $1`,
      [ids.purge],
    );
    await owner.query(
      `UPDATE deletion_requests SET reason = 'tampered', requested_by = '{"keyId": null, "name": "mallory"}', requested_at = now(), erased = 5 WHERE id = $1`,
      [ids.running],
    );
    await owner.query(`UPDATE deletion_requests SET tenant = 'acme', subject = 'someone-else' WHERE id = $1`, [
      ids.queued,
    ]);
    await owner.query(
      `INSERT INTO deletion_requests (tenant, id, kind, subject, reason, requested_by, requested_at, status, updated_at)
       VALUES ('acme', $1, 'subject_erasure', 'nobody', 'unrecorded', '{"keyId": null, "name": "x"}', now(), 'completed', now())`,
      [orphan],
    );

    expect(await rebuild()).toEqual({ requests: 7, events: 12, corrected: 3, recreated: 4, unknown: [orphan] });
    // A row the ledger never heard of is reported, not removed (the service may not delete rows).
    await owner.query('DELETE FROM deletion_requests WHERE id = $1', [orphan]);
    expect(await facts()).toEqual(live);

    // Operational state: the running request is still running, with its own retry time.
    expect(await row(ids.running)).toMatchObject({ status: 'running', retry_at: runningRetry });
    // The receipt is no fact (its digest is): a corrected row keeps it, a recreated one has none.
    expect((await row(ids.purge)).receipt).toEqual(purgeReceipt);
    expect(await row(ids.completed)).toMatchObject({ receipt: null, retry_at: null });
    // A recreated blocked request is due at once: its next run sets its retry time again.
    expect((await row(ids.blocked)).retry_at).not.toBeNull();

    expect(await rebuild()).toMatchObject({ corrected: 0, recreated: 0 });
  });

  it('takes the table lock first: a transition in progress makes the rebuild wait, and commits before it', async () => {
    const writer = await superuserClient(db);
    try {
      await writer.query('BEGIN');
      // What a transition's UPDATE holds until it commits.
      await writer.query(`UPDATE deletion_requests SET reason = 'changed meanwhile' WHERE id = $1`, [ids.queued]);
      let done = false;
      const rebuilt = rebuild().then((counts) => {
        done = true;
        return counts;
      });
      for (let i = 0; ; i++) {
        const { rows } = await owner.query(
          `SELECT count(*)::int AS n FROM pg_locks WHERE relation = 'deletion_requests'::regclass AND mode = 'ExclusiveLock' AND NOT granted`,
        );
        if (rows[0].n === 1) break;
        expect(done).toBe(false);
        if (i > 400) throw new Error('the rebuild never waited for the table lock');
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      await writer.query('COMMIT');
      // The change committed first, so the rebuild saw it and put the ledger's reason back.
      expect(await rebuilt).toMatchObject({ corrected: 1 });
      expect(await facts()).toEqual(live);
    } finally {
      await writer.end();
    }
  });
});
