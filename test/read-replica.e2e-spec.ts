import { leafHash, verifyInclusion } from '@audit/ledger';
import { Client } from 'pg';
import { ensureDatabase, runMigrations } from '../src/platform/database/database-bootstrap';
import { PrivateCluster, startPrivateCluster, startPrivateStandby } from './support/private-cluster';
import { TestApp, binary, createKey, platformEntries, startTestApp } from './support/test-app';

const auth = (key: string) => ({ authorization: `Bearer ${key}` });

/** Reads a whole text body (NDJSON) as one string. */
function text(res: unknown, done: (err: Error | null, body: string) => void): void {
  const chunks: Buffer[] = [];
  const stream = res as NodeJS.ReadableStream;
  stream.on('data', (c: Buffer) => chunks.push(c));
  stream.on('end', () => done(null, Buffer.concat(chunks).toString('utf8')));
}

/**
 * Investigation reads on a streaming-replication standby (DATABASE_REPLICA_URL), on a primary and
 * a standby of this test's own (initdb and pg_basebackup into temporary directories): appends and
 * read records go to the primary; search, event reads, exports, proofs and tiles are read on the
 * standby once it has replayed what they need, and on the primary when it has not, as
 * `x-audit-read-from` says.
 */
describe('reads on a read replica (a private primary and standby)', () => {
  let primary: PrivateCluster;
  let standby: PrivateCluster;
  let db: string;
  let onPrimary: Client;
  let onStandby: Client;
  let t: TestApp;
  let emitter: string;
  let investigator: string;

  async function emit(count: number, actor = 'u1'): Promise<{ id: string; index: number }[]> {
    const events = Array.from({ length: count }, () => ({
      tenant: 'acme',
      type: 'auth.logout',
      actor: { type: 'user', id: actor },
    }));
    return (await t.http().post('/v1/events/batch').set(auth(emitter)).send({ events }).expect(201)).body.results;
  }

  /** Until the standby has replayed everything the primary has written so far. */
  async function replayed(): Promise<void> {
    const target = (await onPrimary.query('SELECT pg_current_wal_lsn() AS lsn')).rows[0].lsn;
    for (let i = 0; i < 400; i++) {
      const { rows } = await onStandby.query('SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS done', [target]);
      if (rows[0].done) return;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    throw new Error('the standby did not replay the primary');
  }

  /**
   * The last statement of each of the service's sessions on the standby: a read served there ends
   * its transaction with COMMIT, where the freshness check alone leaves its SELECT.
   */
  async function standbySessions(): Promise<string[]> {
    const { rows } = await onStandby.query(
      `SELECT query FROM pg_stat_activity
       WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'`,
    );
    return rows.map((r: { query: string }) => r.query);
  }

  beforeAll(async () => {
    primary = await startPrivateCluster();
    db = `${primary.server}/audit_test_replica`;
    await ensureDatabase(db);
    await runMigrations(db);
    standby = await startPrivateStandby(primary);
    onPrimary = new Client({ connectionString: db });
    await onPrimary.connect();
    onStandby = new Client({ connectionString: `${standby.server}/audit_test_replica` });
    await onStandby.connect();
    t = await startTestApp(db, {
      DATABASE_REPLICA_URL: `${standby.server}/audit_test_replica`,
      // Enough for a loaded 2-core machine to replay a few statements; a paused standby costs each
      // read this long before the primary answers.
      AUDIT_REPLICA_MAX_WAIT_MS: '1500',
    });
    emitter = await createKey(t, 'console', ['emitter'], ['acme']);
    investigator = await createKey(t, 'alice', ['investigator'], ['acme']);
  }, 120_000);

  afterAll(async () => {
    await onStandby?.query('SELECT pg_wal_replay_resume()').catch(() => undefined);
    await t?.close();
    await onPrimary?.end();
    await onStandby?.end();
    standby?.stop();
    primary?.stop();
  });

  it('appends on the primary, and serves search, event reads, receipts, exports, proofs and tiles from the standby once it has replayed them', async () => {
    expect((await onStandby.query('SELECT pg_is_in_recovery() AS standby')).rows[0].standby).toBe(true);
    const appended = await emit(5);
    await replayed();
    const count = async (c: Client) =>
      Number((await c.query("SELECT count(*) AS n FROM entries WHERE log = 'acme'")).rows[0].n);
    expect(await count(onPrimary)).toBe(5);
    expect(await count(onStandby)).toBe(5);

    expect(await standbySessions()).not.toContain('COMMIT');
    const search = await t.http().get('/v1/events').query({ tenant: 'acme' }).set(auth(investigator)).expect(200);
    expect(search.headers['x-audit-read-from']).toBe('replica');
    expect(search.body.items.map((e: { id: string }) => e.id)).toEqual(appended.map((a) => a.id).reverse());
    expect(await standbySessions()).toContain('COMMIT');

    const read = await t.http().get(`/v1/events/${appended[2].id}`).set(auth(investigator)).expect(200);
    expect(read.headers['x-audit-read-from']).toBe('replica');
    const { inclusion, leaf } = read.body;
    expect(inclusion.size).toBeGreaterThanOrEqual(3);
    const root = Buffer.from(inclusion.checkpoint.split('\n')[2], 'base64');
    expect(() =>
      verifyInclusion(
        2,
        inclusion.size,
        leafHash(Buffer.from(leaf, 'base64')),
        inclusion.proof.map((p: string) => Buffer.from(p, 'base64')),
        root,
      ),
    ).not.toThrow();

    const receipt = await t.http().get(`/v1/events/${appended[2].id}/proof`).set(auth(investigator)).expect(200);
    expect(receipt.headers['x-audit-read-from']).toBe('replica');

    const proof = await t
      .http()
      .get('/v1/logs/acme/proof/inclusion')
      .query({ index: 1, size: 5 })
      .set(auth(investigator))
      .expect(200);
    expect(proof.headers['x-audit-read-from']).toBe('replica');
    const consistency = await t
      .http()
      .get('/v1/logs/acme/proof/consistency')
      .query({ from: 2, size: 5 })
      .set(auth(investigator))
      .expect(200);
    expect(consistency.headers['x-audit-read-from']).toBe('replica');
    const tile = await t
      .http()
      .get('/v1/logs/acme/tile/entries/000.p/5')
      .set(auth(investigator))
      .buffer()
      .parse(binary);
    expect(tile.status).toBe(200);
    expect(tile.headers['x-audit-read-from']).toBe('replica');

    const exported = await t
      .http()
      .get('/v1/exports')
      .query({ tenant: 'acme' })
      .set(auth(investigator))
      .buffer()
      .parse(text)
      .expect(200);
    expect(exported.headers['x-audit-read-from']).toBe('replica');
    const lines = (exported.body as string).trim().split('\n');
    expect(lines).toHaveLength(1 + 5);
  });

  it('goes to the primary for what the standby has not replayed, and back to the standby once it has', async () => {
    const [first] = await emit(1);
    await replayed();
    const size = first.index + 1;
    await onStandby.query('SELECT pg_wal_replay_pause()');
    try {
      const [fresh] = await emit(1, 'u-fresh');
      // Acknowledged on the primary; the standby has not got it.
      const onStandbyNow = await onStandby.query('SELECT 1 FROM entries WHERE id = $1', [fresh.id]);
      expect(onStandbyNow.rowCount).toBe(0);

      const read = await t.http().get(`/v1/events/${fresh.id}`).set(auth(investigator)).expect(200);
      expect(read.headers['x-audit-read-from']).toBe('primary');
      expect(read.body).toMatchObject({ id: fresh.id, index: fresh.index });

      const search = await t
        .http()
        .get('/v1/events')
        .query({ tenant: 'acme', actor: 'u-fresh' })
        .set(auth(investigator))
        .expect(200);
      expect(search.headers['x-audit-read-from']).toBe('primary');
      expect(search.body.items.map((e: { id: string }) => e.id)).toEqual([fresh.id]);

      // A proof or tile of a size the standby holds is the same there; one of the new size is not.
      const proof = (index: number, n: number) =>
        t.http().get('/v1/logs/acme/proof/inclusion').query({ index, size: n }).set(auth(investigator)).expect(200);
      expect((await proof(0, size)).headers['x-audit-read-from']).toBe('replica');
      const newest = await proof(fresh.index, fresh.index + 1);
      expect(newest.headers['x-audit-read-from']).toBe('primary');
      expect(newest.body.size).toBe(fresh.index + 1);
      const tile = (n: number) =>
        t.http().get(`/v1/logs/acme/tile/entries/000.p/${n}`).set(auth(investigator)).buffer().parse(binary);
      expect((await tile(size)).headers['x-audit-read-from']).toBe('replica');
      const newTile = await tile(fresh.index + 1);
      expect(newTile.status).toBe(200);
      expect(newTile.headers['x-audit-read-from']).toBe('primary');

      // The reads were recorded on the primary (the paused standby has none of those records).
      const records = (await platformEntries(db)).filter((e) => e.category === 'access').map((e) => e.type);
      expect(records).toEqual(expect.arrayContaining(['access.events.read', 'access.events.search']));
      const recordsOnStandby = await onStandby.query(
        "SELECT count(*) AS n FROM entries WHERE log = 'platform' AND convert_from(leaf, 'UTF8') LIKE '%access.events.read%'",
      );
      const recordsOnPrimary = await onPrimary.query(
        "SELECT count(*) AS n FROM entries WHERE log = 'platform' AND convert_from(leaf, 'UTF8') LIKE '%access.events.read%'",
      );
      expect(Number(recordsOnPrimary.rows[0].n)).toBeGreaterThan(Number(recordsOnStandby.rows[0].n));
    } finally {
      await onStandby.query('SELECT pg_wal_replay_resume()');
    }
    const [latest] = await emit(1);
    await replayed();
    const again = await t.http().get(`/v1/events/${latest.id}`).set(auth(investigator)).expect(200);
    expect(again.headers['x-audit-read-from']).toBe('replica');
  });
});
