import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { runCommandLine } from '../src/command-line';
import {
  MovableClock,
  TestApp,
  createKey,
  startTestApp,
  testKeyEncryptionKey,
  testPersonalSearchKey,
  testSigningKey,
} from './support/test-app';
import { createTestDatabase, dropTestDatabase, superuserClient } from './support/test-database';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Keeping personal data's keys (docs/operations.md "Rotating the key-encryption key",
 * "Backfilling the personal search index"): an erasure's receipt counts the data keys it
 * destroyed; the search index backfill restores lost rows and never indexes erased data; after a
 * rotation the old key-encryption key can go and personal data is still served.
 */
const auth = (key: string) => ({ authorization: `Bearer ${key}` });

describe('personal data key maintenance', () => {
  let db: string;
  let owner: Client;
  let t: TestApp;
  let emitter: string;
  let legal: string;
  let investigator: string;
  let checkpointDir: string;
  const clock = new MovableClock();
  const ids: Record<string, string> = {};
  const newKek = randomBytes(32).toString('base64');

  async function login(subject: string, email: string): Promise<string> {
    const res = await t
      .http()
      .post('/v1/events')
      .set(auth(emitter))
      .send({
        tenant: 'acme',
        type: 'auth.login.succeeded',
        actor: { type: 'user', id: subject },
        context: { method: 'password' },
        personal: { subject, data: { email } },
      })
      .expect(201);
    return res.body.id as string;
  }

  /** The ids and personal data the search by `email` answers, once the read model caught up. */
  async function byEmail(email: string, expected: number): Promise<{ id: string; personal?: unknown }[]> {
    let items: { id: string; personal?: unknown }[] = [];
    for (let i = 0; i < 200; i++) {
      const res = await t
        .http()
        .get(`/v1/events?tenant=acme&personalEmail=${encodeURIComponent(email)}`)
        .set(auth(investigator))
        .expect(200);
      items = res.body.items;
      if (items.length === expected) return items;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    return items;
  }

  async function erase(subject: string): Promise<Record<string, unknown>> {
    clock.offsetMs = 30 * 365.25 * 86_400_000; // past every retention minimum
    const res = await t
      .http()
      .post('/v1/deletion-requests')
      .set(auth(legal))
      .send({ kind: 'subject_erasure', tenant: 'acme', subject, reason: 'data subject asked' })
      .expect(202);
    for (let i = 0; i < 400; i++) {
      const body = (await t.http().get(`/v1/deletion-requests/${res.body.id}`).set(auth(legal)).expect(200)).body;
      if (body.status === 'completed') return body;
      if (!['queued', 'running'].includes(body.status)) throw new Error(`erasure ended ${body.status}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    throw new Error('erasure did not complete');
  }

  const count = async (text: string, params: unknown[] = []): Promise<number> =>
    (await owner.query(text, params)).rows[0].n as number;

  /** The command line, as an operator runs it beside the service; `env` overrides. */
  async function cli(argv: string[], env: Record<string, string> = {}) {
    let out = '';
    let err = '';
    const code = await runCommandLine(
      argv,
      {
        DATABASE_URL: db,
        AUDIT_CHECKPOINT_DIR: checkpointDir,
        AUDIT_SIGNING_KEY: testSigningKey(db),
        AUDIT_KEY_ENCRYPTION_KEY: testKeyEncryptionKey(db),
        AUDIT_PERSONAL_SEARCH_KEY: testPersonalSearchKey(db),
        LOG_LEVEL: 'silent',
        ...env,
      },
      { out: (text) => (out += text), err: (text) => (err += text) },
    );
    return { code, out: out === '' ? null : JSON.parse(out), err };
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    owner = await superuserClient(db);
    checkpointDir = mkdtempSync(join(tmpdir(), 'audit-kek-cli-'));
    t = await startTestApp(db, { AUDIT_DELETION_RECONCILE_MS: '200' }, { clock });
    emitter = await createKey(t, 'auth-service', ['emitter'], ['acme']);
    legal = await createKey(t, 'counsel', ['legal'], ['acme']);
    investigator = await createKey(t, 'ivan', ['investigator'], ['acme']);
    ids.ada = await login('usr_ada', 'ada@example.com');
    ids.bob1 = await login('usr_bob', 'bob@example.com');
    ids.bob2 = await login('usr_bob', 'bob@example.com');
    ids.cy = await login('usr_cy', 'cy@example.com');
    ids.dan = await login('usr_dan', 'dan@example.com');
  });

  afterAll(async () => {
    await t?.close();
    await owner.end();
    rmSync(checkpointDir, { recursive: true, force: true });
    await dropTestDatabase(db);
  });

  it('an erasure receipt counts the data keys it destroyed', async () => {
    const bob = await erase('usr_bob');
    expect(bob).toMatchObject({ erased: 2, receipt: { keysDestroyed: 1 } });
    // A second request for a subject with nothing left erases nothing and destroys no key.
    expect(await erase('usr_bob')).toMatchObject({ erased: 0, receipt: { keysDestroyed: 0 } });
  });

  it('an erasure case shows, per part, the data keys it destroyed', async () => {
    const res = await t
      .http()
      .post('/v1/subject-requests')
      .set(auth(legal))
      .send({ kind: 'erasure', subject: 'usr_dan', tenants: ['acme'], reason: 'data subject asked' })
      .expect(202);
    let body: { status: string; parts: unknown[] } = res.body;
    for (let i = 0; i < 400 && body.status !== 'completed'; i++) {
      await new Promise((resolve) => setTimeout(resolve, 25));
      body = (await t.http().get(`/v1/subject-requests/${res.body.id}`).set(auth(legal)).expect(200)).body;
    }
    expect(body).toMatchObject({
      status: 'completed',
      parts: [{ tenant: 'acme', status: 'completed', keysDestroyed: 1 }],
    });
  });

  it('the search index backfill writes the rows lost, never for erased entries, and a second run adds none', async () => {
    expect(await byEmail('ada@example.com', 1)).toHaveLength(1);
    await owner.query("DELETE FROM personal_search WHERE log = 'acme'");
    expect(await byEmail('ada@example.com', 0)).toEqual([]);

    // Every entry with personal data not erased is read: acme's ada and cy, and the platform log's (legal persons).
    const live = await count('SELECT count(*)::int AS n FROM personal_data WHERE erased_at IS NULL');
    const first = await cli(['search', 'backfill-personal', '--batch', '2']);
    expect(first).toMatchObject({ code: 0, out: { scanned: live, added: 2, resumed: false } });
    expect((await byEmail('ada@example.com', 1)).map((e) => e.id)).toEqual([ids.ada]);
    expect((await byEmail('cy@example.com', 1)).map((e) => e.id)).toEqual([ids.cy]);
    // ada and cy: bob's erased entries get none.
    expect(await count("SELECT count(*)::int AS n FROM personal_search WHERE log = 'acme'")).toBe(2);
    expect(await byEmail('bob@example.com', 0)).toEqual([]);

    expect((await cli(['search', 'backfill-personal'])).out).toEqual({ scanned: live, added: 0, resumed: false });
  });

  it('goes on where an interrupted backfill stopped', async () => {
    await owner.query("DELETE FROM personal_search WHERE log = 'acme'");
    const adaIdx = (await owner.query("SELECT idx FROM entries WHERE log = 'acme' AND id = $1", [ids.ada])).rows[0].idx;
    await owner.query("INSERT INTO personal_search_backfill (log, idx) VALUES ('acme', $1)", [adaIdx]);
    const rest = await count(
      "SELECT count(*)::int AS n FROM personal_data WHERE erased_at IS NULL AND (log, idx) > ('acme', $1)",
      [adaIdx],
    );
    expect((await cli(['search', 'backfill-personal'])).out).toEqual({ scanned: rest, added: 1, resumed: true });
    expect(await byEmail('ada@example.com', 0)).toEqual([]);
    expect(await count('SELECT count(*)::int AS n FROM personal_search_backfill')).toBe(0);
    expect((await cli(['search', 'backfill-personal', '--restart'])).out).toMatchObject({ added: 1, resumed: false });
    expect(await byEmail('ada@example.com', 1)).toHaveLength(1);
  });

  it('after a rotation the old key-encryption key can go, and personal data is still served', async () => {
    await t.close();
    const rotate = () =>
      cli(['kek', 'rotate'], {
        AUDIT_KEY_ENCRYPTION_KEY: newKek,
        AUDIT_KEY_ENCRYPTION_KEYS_PREVIOUS: testKeyEncryptionKey(db),
      });
    // acme's ada and cy (bob's key was destroyed), and the platform log's subjects.
    const keys = await count('SELECT count(*)::int AS n FROM subject_keys');
    expect(await count("SELECT count(*)::int AS n FROM subject_keys WHERE log = 'acme'")).toBe(2);
    const first = await rotate();
    expect(first).toMatchObject({ code: 0, out: { rewrapped: keys, entry: { log: 'platform' } } });
    expect(await count("SELECT count(*)::int AS n FROM subject_keys WHERE log = 'acme'")).toBe(2);
    expect((await rotate()).out).toMatchObject({ rewrapped: 0, entry: null });

    t = await startTestApp(db, { AUDIT_KEY_ENCRYPTION_KEY: newKek }, { clock });
    const [ada] = await byEmail('ada@example.com', 1);
    expect(ada).toMatchObject({ id: ids.ada, personal: { subject: 'usr_ada', data: { email: 'ada@example.com' } } });
  });

  it('refuses bad usage with exit code 2, changing nothing', async () => {
    for (const argv of [
      ['kek', 'rotate', '--batch', '0'],
      ['kek', 'rotate', '--batch', 'ten'],
      ['search', 'backfill-personal', '--from', 'x'],
    ]) {
      const { code, err } = await cli(argv, { AUDIT_KEY_ENCRYPTION_KEY: newKek });
      expect(code).toBe(2);
      expect(err).toContain('usage:');
    }
  });
});
