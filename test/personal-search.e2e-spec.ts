import { MovableClock, TestApp, binary, createKey, platformEntries, startTestApp } from './support/test-app';
import { createTestDatabase, dropTestDatabase, superuserClient } from './support/test-database';

/**
 * Search by personal data (docs/api.md "Search by personal data"): `personalEmail=` and
 * `personalIp=` find entries through an index of HMACs under a key outside the database, within
 * the key's tenants only, nothing once the data is erased, and the read's record never holds the
 * value searched for.
 */
const auth = (key: string) => ({ authorization: `Bearer ${key}` });

describe('search by personal data', () => {
  let db: string;
  let t: TestApp;
  let emitter: string;
  let legal: string;
  let investigator: string;
  let acmeOnly: string;
  let globexOnly: string;
  const clock = new MovableClock();

  async function login(tenant: string, subject: string, data: Record<string, unknown>): Promise<string> {
    const res = await t
      .http()
      .post('/v1/events')
      .set(auth(emitter))
      .send({
        tenant,
        type: 'auth.login.succeeded',
        actor: { type: 'user', id: subject },
        context: { method: 'password' },
        personal: { subject, data },
      })
      .expect(201);
    return res.body.id as string;
  }

  async function found(key: string, query: string): Promise<string[]> {
    const res = await t.http().get(`/v1/events?${query}`).set(auth(key)).expect(200);
    return res.body.items.map((item: { id: string }) => item.id);
  }

  async function erase(tenant: string, subject: string): Promise<void> {
    clock.offsetMs = 30 * 365.25 * 86_400_000; // past every retention minimum
    const res = await t
      .http()
      .post('/v1/deletion-requests')
      .set(auth(legal))
      .send({ kind: 'subject_erasure', tenant, subject, reason: 'data subject asked' })
      .expect(202);
    for (let i = 0; i < 400; i++) {
      const status = (await t.http().get(`/v1/deletion-requests/${res.body.id}`).set(auth(legal)).expect(200)).body
        .status as string;
      if (status === 'completed') return;
      if (!['queued', 'running'].includes(status)) throw new Error(`erasure ended ${status}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    throw new Error('erasure did not complete');
  }

  let ada1: string;
  let ada2: string;
  let bob: string;
  let globexAda: string;
  let v6: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    t = await startTestApp(db, { AUDIT_DELETION_RECONCILE_MS: '200' }, { clock });
    emitter = await createKey(t, 'auth-service', ['emitter'], ['acme', 'globex']);
    legal = await createKey(t, 'counsel', ['legal'], ['acme', 'globex']);
    investigator = await createKey(t, 'ivan', ['investigator'], ['acme', 'globex']);
    acmeOnly = await createKey(t, 'ann', ['investigator'], ['acme']);
    globexOnly = await createKey(t, 'gus', ['investigator'], ['globex']);
    ada1 = await login('acme', 'usr_ada', { email: 'Ada@Example.com', ip: '10.0.0.1', userAgent: 'curl/8' });
    ada2 = await login('acme', 'usr_ada', { email: ' ada@example.COM ', ip: '::ffff:10.0.0.1' });
    bob = await login('acme', 'usr_bob', { email: 'bob@example.com', ip: '10.0.0.2' });
    globexAda = await login('globex', 'usr_g7', { email: 'ada@example.com', ip: '10.0.0.1' });
    v6 = await login('acme', 'usr_v6', { ip: '2001:DB8:0:0:0:0:0:1' });
  });

  afterAll(async () => {
    await t.close();
    await dropTestDatabase(db);
  });

  it('finds every entry of an email, whatever its case and spaces, newest first', async () => {
    expect(await found(acmeOnly, 'personalEmail=ada%40example.com')).toEqual([ada2, ada1]);
    expect(await found(acmeOnly, 'personalEmail=%20ADA%40Example.Com')).toEqual([ada2, ada1]);
    expect(await found(acmeOnly, 'personalEmail=bob%40example.com')).toEqual([bob]);
    expect(await found(acmeOnly, 'personalEmail=carol%40example.com')).toEqual([]);
  });

  it('finds an IPv4 address by either spelling, and an IPv6 address by any of its forms', async () => {
    for (const spelling of ['10.0.0.1', '%3A%3Affff%3A10.0.0.1', '%3A%3AFFFF%3A0a00%3A1'])
      expect(await found(acmeOnly, `personalIp=${spelling}`)).toEqual([ada2, ada1]);
    expect(await found(acmeOnly, 'personalIp=2001%3Adb8%3A%3A1')).toEqual([v6]);
    expect(await found(acmeOnly, 'personalIp=2001%3Adb8%3A0%3A0%3A0%3A0%3A0%3A1')).toEqual([v6]);
  });

  it('combines with the other filters and with itself', async () => {
    expect(await found(acmeOnly, 'personalEmail=ada%40example.com&personalIp=10.0.0.1')).toEqual([ada2, ada1]);
    expect(await found(acmeOnly, 'personalEmail=bob%40example.com&personalIp=10.0.0.1')).toEqual([]);
    expect(await found(acmeOnly, 'personalIp=10.0.0.1&subject=usr_ada&tenant=acme')).toEqual([ada2, ada1]);
    expect(await found(acmeOnly, 'personalIp=10.0.0.1&subject=usr_bob')).toEqual([]);
    // Pages of one: the cursor carries on in the index's order.
    const first = await t.http().get('/v1/events?personalIp=10.0.0.1&limit=1').set(auth(acmeOnly)).expect(200);
    expect(first.body.items.map((i: { id: string }) => i.id)).toEqual([ada2]);
    const second = await t
      .http()
      .get(`/v1/events?personalIp=10.0.0.1&limit=1&cursor=${first.body.nextCursor}`)
      .set(auth(acmeOnly))
      .expect(200);
    expect(second.body.items.map((i: { id: string }) => i.id)).toEqual([ada1]);
    expect(second.body.nextCursor).toBeNull();
  });

  it("stays within the key's tenants: another tenant's key finds only its own entries", async () => {
    expect(await found(globexOnly, 'personalEmail=ada%40example.com')).toEqual([globexAda]);
    expect(await found(globexOnly, 'personalIp=10.0.0.2')).toEqual([]);
    // Another tenant's log is unknown to the key, like a missing one.
    await t.http().get('/v1/events?personalIp=10.0.0.2&tenant=acme').set(auth(globexOnly)).expect(404);
    expect(await found(investigator, 'personalEmail=ada%40example.com')).toEqual([globexAda, ada2, ada1]);
  });

  it('is under the row-level security of the ledger: a reader scoped to one tenant sees only its rows', async () => {
    const client = await superuserClient(db);
    try {
      await client.query('BEGIN');
      await client.query(
        "SELECT set_config('role', 'audit_reader', true), set_config('audit.tenants', 'globex', true)",
      );
      const { rows } = await client.query('SELECT DISTINCT log FROM ledger_personal_search');
      expect(rows.map((r: { log: string }) => r.log)).toEqual(['globex']);
      await client.query('ROLLBACK');
    } finally {
      await client.end();
    }
  });

  it('exports by a personal filter, the header withholding its value', async () => {
    const res = await t
      .http()
      .get('/v1/exports?tenant=acme&personalIp=%3A%3Affff%3A10.0.0.1')
      .set(auth(acmeOnly))
      .buffer(true)
      .parse(binary)
      .expect(200);
    const lines = (res.body as Buffer)
      .toString('utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(lines[0].count).toBe(2);
    expect(lines[0].filter).toEqual({ tenant: 'acme', personalIp: '[personal]' });
    expect(lines.slice(1).map((l: { personal: { data: { ip: string } } }) => l.personal.data.ip)).toEqual([
      '10.0.0.1',
      '::ffff:10.0.0.1',
    ]);
    expect((res.body as Buffer).toString('utf8')).not.toContain('%3A');
  });

  it('refuses what is not an email or an address with a 400 naming the parameter', async () => {
    for (const [query, path] of [
      ['personalEmail=ada', '/query/personalEmail'],
      ['personalEmail=ada%40host', '/query/personalEmail'],
      ['personalEmail=', '/query/personalEmail'],
      ['personalIp=10.0.0', '/query/personalIp'],
      ['personalIp=01.02.03.04', '/query/personalIp'],
      ['personalIp=example.com', '/query/personalIp'],
      ['personalIp=10.0.0.1&personalIp=10.0.0.2', '/query/personalIp'],
    ] as const) {
      const res = await t.http().get(`/v1/events?${query}`).set(auth(acmeOnly)).expect(400);
      expect(res.headers['content-type']).toMatch(/application\/json/);
      expect(res.body.details.map((d: { path: string }) => d.path)).toContain(path);
    }
    await t.http().get('/v1/exports?tenant=acme&personalIp=nope').set(auth(acmeOnly)).expect(400);
  });

  it('records every such search as a read, without the value searched for', async () => {
    await found(acmeOnly, 'personalEmail=Ada%40Example.com&personalIp=10.0.0.1');
    const records = (await platformEntries(db)).filter((e) => e.type === 'access.events.search');
    const withPersonal = records.filter((e) => e.context.filters.personalEmail !== undefined);
    expect(withPersonal.length).toBeGreaterThan(0);
    for (const record of withPersonal) expect(record.context.filters.personalEmail).toBe('[personal]');
    const text = JSON.stringify(records);
    for (const plain of ['ada@example.com', '@example', '10.0.0.1', '2001:db8', '0a00'])
      expect(text.toLowerCase()).not.toContain(plain.toLowerCase());
    // Nor beside the leaf: a personal filter names no subject (only a `subject` filter goes there).
    for (const record of withPersonal)
      if (record.context.filters.subject === undefined) expect(record.personal).toBeUndefined();
    const client = await superuserClient(db);
    try {
      // And the index holds digests, never a value.
      const index = await client.query('SELECT field, hmac, octet_length(hmac) AS n FROM personal_search');
      expect(index.rows.length).toBeGreaterThan(0);
      for (const row of index.rows) expect(row.n).toBe(32);
      expect(Buffer.concat(index.rows.map((r) => r.hmac as Buffer)).includes(Buffer.from('10.0.0.1'))).toBe(false);
    } finally {
      await client.end();
    }
  });

  it('walks its index in the order of a page (EXPLAIN)', async () => {
    const client = await superuserClient(db);
    try {
      const plan = async (where: string) => {
        const { rows } = await client.query(
          `EXPLAIN SELECT x.log, x.idx, x.recorded_at FROM ledger_personal_search x
           JOIN event_search s ON s.log = x.log AND s.recorded_at = x.recorded_at AND s.idx = x.idx
           WHERE ${where} ORDER BY x.recorded_at DESC, x.log DESC, x.idx DESC LIMIT 101`,
        );
        return rows.map((r: { 'QUERY PLAN': string }) => r['QUERY PLAN']).join('\n');
      };
      // 60,000 index rows over 30 tenants (rolled back), analysed, with the page's settings.
      await client.query('BEGIN');
      await client.query(
        `INSERT INTO personal_search (log, idx, field, hmac, recorded_at)
         SELECT 'tenant-' || (i % 30), 1000 + i, CASE WHEN i % 2 = 0 THEN 'ip' ELSE 'email' END,
                sha256(int4send(i % 5000)), now() - make_interval(secs => i)
         FROM generate_series(1, 60000) AS i`,
      );
      await client.query('ANALYZE personal_search');
      await client.query('SET LOCAL enable_bitmapscan = off');
      await client.query('SET LOCAL enable_sort = off');
      const hmac = 'sha256(int4send(42))';
      expect(await plan(`x.log = 'tenant-12' AND x.field = 'ip' AND x.hmac = ${hmac}`)).toMatch(
        /Index (Only )?Scan Backward using personal_search_log on personal_search/,
      );
      expect(await plan(`x.log = ANY('{tenant-12,tenant-13}') AND x.field = 'ip' AND x.hmac = ${hmac}`)).toMatch(
        /Index (Only )?Scan Backward using personal_search_lookup on personal_search/,
      );
      await client.query('ROLLBACK');
    } finally {
      await client.end();
    }
  });

  it('finds nothing once the data is erased, in search and in export', async () => {
    await erase('acme', 'usr_ada');
    expect(await found(acmeOnly, 'personalEmail=ada%40example.com')).toEqual([]);
    expect(await found(acmeOnly, 'personalIp=10.0.0.1')).toEqual([]);
    // Another subject's entries, and another tenant's, are still found.
    expect(await found(acmeOnly, 'personalEmail=bob%40example.com')).toEqual([bob]);
    expect(await found(investigator, 'personalIp=10.0.0.1')).toEqual([globexAda]);
    const res = await t
      .http()
      .get('/v1/exports?tenant=acme&personalEmail=ada%40example.com')
      .set(auth(acmeOnly))
      .buffer(true)
      .parse(binary)
      .expect(200);
    expect(JSON.parse((res.body as Buffer).toString('utf8').split('\n')[0]).count).toBe(0);
    const client = await superuserClient(db);
    try {
      const { rows } = await client.query(
        `SELECT count(*)::int AS n FROM personal_search x JOIN personal_data p USING (log, idx)
         WHERE p.log = 'acme' AND p.subject = 'usr_ada'`,
      );
      expect(rows[0].n).toBe(0);
    } finally {
      await client.end();
    }
  });
});
