import { Client } from 'pg';
import { Response } from 'supertest';
import { MetricsService } from '../src/platform/metrics/metrics.service';
import { TestApp, createKey, startTestApp } from './support/test-app';
import { createTestDatabase, dropTestDatabase, superuserClient } from './support/test-database';

/**
 * Request isolation in group commit: a request whose own data PostgreSQL refuses fails alone
 * (422 unprocessable_entry); every other request that shared its statement commits. The poison
 * is a test-only trigger on `entries` that slips past every check of the service, like a
 * constraint added by an operator or a value only the database refuses.
 */
describe('request isolation in group commit', () => {
  const MARKER = 'poison';
  const REFUSAL = 'refused by the request-isolation test trigger';
  let db: string;
  let t: TestApp;
  let owner: Client;
  let emitters: string[];
  let investigator: string;
  const auth = (key: string) => ({ authorization: `Bearer ${key}` });
  const event = (note: string, actor = 'usr_1') => ({
    tenant: 'acme',
    type: 'billing.invoice.paid',
    actor: { type: 'user', id: actor },
    context: { note },
  });

  beforeAll(async () => {
    db = await createTestDatabase();
    owner = await superuserClient(db);
    // Installed as the superuser on this test's own database only; the service never could.
    await owner.query(`
      CREATE FUNCTION test_refuse_poisoned_leaf() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF position(convert_to('${MARKER}', 'UTF8') IN NEW.leaf) > 0 THEN
          RAISE EXCEPTION '${REFUSAL}';
        END IF;
        RETURN NEW;
      END $$`);
    await owner.query(
      'CREATE TRIGGER entries_test_refuse_poisoned BEFORE INSERT ON entries FOR EACH ROW EXECUTE FUNCTION test_refuse_poisoned_leaf()',
    );
    t = await startTestApp(db);
    emitters = await Promise.all(
      ['billing-a', 'billing-b', 'billing-c'].map((name) => createKey(t, name, ['emitter'], ['acme'])),
    );
    investigator = await createKey(t, 'security', ['investigator'], ['acme']);
    // The log exists and this process caches its head, so the next append goes straight to the
    // statement that the locked head row holds up.
    await t.http().post('/v1/events').set(auth(emitters[0])).send(event('first')).expect(201);
  });

  afterAll(async () => {
    await owner.end();
    await t?.close();
    await dropTestDatabase(db);
  });

  async function until(what: string, check: () => Promise<boolean>): Promise<void> {
    for (let i = 0; i < 400; i++) {
      if (await check()) return;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    throw new Error(`timed out waiting for ${what}`);
  }

  async function queuedRequests(): Promise<number> {
    return (await t.app.get(MetricsService).appendQueuedRequests.get()).values[0]?.value ?? 0;
  }

  /**
   * Sends `requests` so that all of them land in one group-commit statement: a control connection
   * holds the log's head row, one clean append waits on it (the log's statement in flight), the
   * requests queue behind it in the sequencer, and only then is the row released. Returns the
   * answers, in the order of `requests`.
   */
  async function inOneStatement(requests: (() => PromiseLike<Response>)[]): Promise<Response[]> {
    const control = await superuserClient(db);
    try {
      await control.query('BEGIN');
      await control.query("SELECT 1 FROM logs WHERE log = 'acme' FOR UPDATE");
      const blocker = t
        .http()
        .post('/v1/events')
        .set(auth(emitters[0]))
        .send(event('blocker'))
        .then((res) => res);
      // The append statement, by its beginning: pg_stat_activity keeps only the first 1 kB of it.
      await until('the blocking append to wait on the head row', async () => {
        const { rows } = await owner.query(
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%INSERT INTO entries%'",
        );
        return rows[0].n >= 1;
      });
      const answers = requests.map((send) => Promise.resolve(send()));
      await until(
        `${requests.length} requests queued in the sequencer`,
        async () => (await queuedRequests()) === requests.length,
      );
      await control.query('COMMIT');
      expect((await blocker).status).toBe(201);
      return await Promise.all(answers);
    } finally {
      await control.end();
    }
  }

  async function acmeEntries(): Promise<{ idx: number; leaf: string }[]> {
    const { rows } = await owner.query(
      "SELECT idx::int, convert_from(leaf, 'UTF8') AS leaf FROM entries WHERE log = 'acme' ORDER BY idx",
    );
    return rows;
  }

  async function expectGapFreeAndVerified(): Promise<{ idx: number; leaf: string }[]> {
    const entries = await acmeEntries();
    expect(entries.map((e) => e.idx)).toEqual(entries.map((_, i) => i));
    const head = await owner.query("SELECT size::int FROM logs WHERE log = 'acme'");
    expect(head.rows[0].size).toBe(entries.length);
    expect(entries.some((e) => e.leaf.includes(MARKER))).toBe(false);
    const verified = await t.http().post('/v1/logs/acme/verify').set(auth(investigator)).expect(200);
    expect(verified.body).toMatchObject({ ok: true, size: entries.length, problems: [] });
    return entries;
  }

  it('refuses the one poisoned append of 30 sharing a statement (422) and commits the other 29, gap-free', async () => {
    const before = (await acmeEntries()).length;
    const poisoned = 17;
    const answers = await inOneStatement(
      Array.from(
        { length: 30 },
        (_, i) => () =>
          t
            .http()
            .post('/v1/events')
            .set(auth(emitters[i % emitters.length]))
            .send(event(i === poisoned ? `${MARKER}-${i}` : `clean-${i}`, `usr_${i}`)),
      ),
    );

    expect(answers[poisoned].status).toBe(422);
    expect(answers[poisoned].body).toMatchObject({ statusCode: 422, code: 'unprocessable_entry' });
    expect(answers[poisoned].body.message).toContain('P0001');
    expect(answers[poisoned].body.message).toContain(REFUSAL);
    const others = answers.filter((_, i) => i !== poisoned);
    expect(others.map((res) => res.status)).toEqual(others.map(() => 201));

    const entries = await expectGapFreeAndVerified();
    // The blocker and the 29; each acknowledgement names its own entry.
    expect(entries.length).toBe(before + 1 + 29);
    for (const res of others) expect(JSON.parse(entries[res.body.index].leaf).id).toBe(res.body.id);
    expect(new Set(others.map((res) => res.body.index)).size).toBe(29);
  });

  it('keeps a batch with a poisoned event all or nothing (422) while the requests beside it commit', async () => {
    const before = (await acmeEntries()).length;
    const batch = {
      events: [event('batch-0', 'usr_batch'), event(`${MARKER}-batch`, 'usr_batch'), event('batch-2', 'usr_batch')],
    };
    const answers = await inOneStatement([
      ...Array.from(
        { length: 10 },
        (_, i) => () =>
          t
            .http()
            .post('/v1/events')
            .set(auth(emitters[i % emitters.length]))
            .send(event(`beside-${i}`)),
      ),
      () => t.http().post('/v1/events/batch').set(auth(emitters[1])).send(batch),
    ]);

    expect(answers[10].status).toBe(422);
    expect(answers[10].body.code).toBe('unprocessable_entry');
    expect(answers.slice(0, 10).map((res) => res.status)).toEqual(Array(10).fill(201));
    const entries = await expectGapFreeAndVerified();
    expect(entries.length).toBe(before + 1 + 10);
    expect(entries.some((e) => e.leaf.includes('usr_batch'))).toBe(false);
  });

  it('does not keep the idempotency claim of a refused request: the same key then appends a clean event', async () => {
    const key = 'invoice-42-paid';
    const answers = await inOneStatement([
      ...Array.from(
        { length: 5 },
        (_, i) => () =>
          t
            .http()
            .post('/v1/events')
            .set(auth(emitters[0]))
            .send(event(`keyed-beside-${i}`)),
      ),
      () =>
        t
          .http()
          .post('/v1/events')
          .set(auth(emitters[0]))
          .set('idempotency-key', key)
          .send(event(`${MARKER}-keyed`)),
    ]);
    expect(answers.slice(0, 5).map((res) => res.status)).toEqual(Array(5).fill(201));
    expect(answers[5].status).toBe(422);
    expect(answers[5].body.code).toBe('unprocessable_entry');

    const clean = await t
      .http()
      .post('/v1/events')
      .set(auth(emitters[0]))
      .set('idempotency-key', key)
      .send(event('keyed-clean'))
      .expect(201);
    const again = await t
      .http()
      .post('/v1/events')
      .set(auth(emitters[0]))
      .set('idempotency-key', key)
      .send(event('keyed-clean'))
      .expect(201);
    expect(again.body).toEqual(clean.body);
    const entries = await expectGapFreeAndVerified();
    expect(JSON.parse(entries[clean.body.index].leaf).context).toEqual({ note: 'keyed-clean' });
  });
});
