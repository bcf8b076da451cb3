import { Client, Pool } from 'pg';
import { UnknownLogError } from '../src/ledger/ledger.errors';
import { LogReader } from '../src/ledger/log-reader';
import { LogVerification } from '../src/ledger/log-verification';
import { runtimeConnection } from '../src/platform/database/database-bootstrap';
import { ScopedSql, withTenantScope } from '../src/platform/database/tenant-scoped-reads';
import { TestApp, createKey, startTestApp } from './support/test-app';
import { createTestDatabase, dropTestDatabase, superuserClient } from './support/test-database';

// Real: PostgreSQL (both connection modes of the runtime role), the whole service over HTTP.

const TABLES = ['entries', 'personal_data', 'checkpoints', 'logs'];

/** Another tenant's log answers exactly as a missing one does. */
const NO_SUCH_LOG = { statusCode: 404, error: 'Not Found', code: 'not_found', message: 'no such log' };

const event = (tenant: string, i: number) => ({
  tenant,
  type: 'billing.invoice.paid',
  actor: { type: 'user', id: `u${i}` },
  target: { type: 'invoice', id: `inv${i}` },
  outcome: 'success',
  personal: { subject: `customer${i}`, data: { email: `c${i}@example.com` } },
});

type Counts = Record<string, Record<string, number>>;

/** Rows per log of every tenant table, as `sql` sees them. */
async function countsPerLog(sql: ScopedSql): Promise<Counts> {
  const counts: Counts = {};
  for (const table of TABLES) {
    const rows = await sql(`SELECT log, count(*)::int AS n FROM ${table} GROUP BY log`);
    counts[table] = Object.fromEntries(rows.map((r) => [r.log as string, r.n as number]));
  }
  return counts;
}

function only(counts: Counts, logs: string[]): Counts {
  return Object.fromEntries(
    Object.entries(counts).map(([table, byLog]) => [table, Object.fromEntries(logs.map((log) => [log, byLog[log]]))]),
  );
}

/** The service's pool as either connection mode builds it, with one connection, so every call reuses it. */
function runtimePool(db: string, mode: 'owner login' | 'runtime login'): Pool {
  const runtimeUrl = new URL(db);
  runtimeUrl.username = 'audit_runtime';
  const connection = runtimeConnection(db, mode === 'runtime login' ? runtimeUrl.toString() : undefined);
  return new Pool({ connectionString: connection.url, ...connection.extra, max: 1 });
}

describe('tenant isolation in PostgreSQL', () => {
  let db: string;
  let t: TestApp;
  let acmeReader: string;
  let allReader: string;
  let owner: Client;
  let stored: Counts;
  const auth = (key: string) => ({ authorization: `Bearer ${key}` });

  beforeAll(async () => {
    db = await createTestDatabase();
    t = await startTestApp(db);
    const emitter = await createKey(t, 'billing', ['emitter'], ['acme', 'globex']);
    acmeReader = await createKey(t, 'acme-secops', ['investigator'], ['acme']);
    allReader = await createKey(t, 'secops', ['investigator'], ['*']);
    const events = [
      ...Array.from({ length: 5 }, (_, i) => event('acme', i)),
      ...Array.from({ length: 3 }, (_, i) => event('globex', i)),
    ];
    await t.http().post('/v1/events/batch').set(auth(emitter)).send({ events }).expect(201);
    for (const [log, size] of [
      ['acme', 5],
      ['globex', 3],
    ] as const) {
      for (let i = 0; ; i++) {
        const res = await t.http().get(`/v1/logs/${log}/checkpoint`).set(auth(allReader));
        if (res.status === 200 && Number(res.text.split('\n')[1]) >= size) break;
        if (i > 400) throw new Error(`no checkpoint of ${log}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    }
    owner = await superuserClient(db);
    stored = only(await countsPerLog(async (text, params) => (await owner.query(text, params)).rows), [
      'acme',
      'globex',
    ]);
    expect(stored).toEqual({
      entries: { acme: 5, globex: 3 },
      personal_data: { acme: 5, globex: 3 },
      checkpoints: { acme: expect.any(Number), globex: expect.any(Number) },
      logs: { acme: 1, globex: 1 },
    });
  });

  afterAll(async () => {
    await owner?.end();
    await t?.close();
    await dropTestDatabase(db);
  });

  describe.each(['owner login', 'runtime login'] as const)('reads as audit_reader (%s)', (mode) => {
    let ds: Pool;

    beforeAll(async () => {
      ds = runtimePool(db, mode);
      const {
        rows: [session],
      } = await ds.query('SELECT session_user AS login, current_user AS role');
      expect(session).toEqual({
        login: mode === 'runtime login' ? 'audit_runtime' : 'postgres',
        role: 'audit_runtime',
      });
    });

    afterAll(async () => {
      await ds?.end();
    });

    it("sees only the scoped tenants' rows in entries, personal_data, checkpoints and logs", async () => {
      expect(await withTenantScope(ds, ['acme'], countsPerLog)).toEqual(only(stored, ['acme']));
      expect(await withTenantScope(ds, ['globex'], countsPerLog)).toEqual(only(stored, ['globex']));
      // A read naming another tenant's log, as a route that forgot its check would, finds nothing.
      expect(await withTenantScope(ds, ['acme'], (sql) => sql("SELECT idx FROM entries WHERE log = 'globex'"))).toEqual(
        [],
      );
    });

    it('sees every tenant with *', async () => {
      const counts = await withTenantScope(ds, ['*'], countsPerLog);
      expect(only(counts, ['acme', 'globex'])).toEqual(stored);
      expect(counts.entries.platform).toBeGreaterThan(0);
    });

    it('sees nothing with an empty scope, or with none set at all', async () => {
      const none = Object.fromEntries(TABLES.map((table) => [table, {}]));
      expect(await withTenantScope(ds, [], countsPerLog)).toEqual(none);
      // Deny by default: the role alone, no scope set.
      const runner = await ds.connect();
      try {
        await runner.query('BEGIN');
        await runner.query('SET LOCAL ROLE audit_reader');
        expect(await countsPerLog((text, params) => runner.query(text, params).then((r) => r.rows))).toEqual(none);
      } finally {
        await runner.query('ROLLBACK');
        await runner.release();
      }
    });

    it('cannot INSERT, UPDATE or DELETE, nor read the other tables', async () => {
      for (const statement of [
        "INSERT INTO logs (log, root) VALUES ('initech', '\\x00')",
        "UPDATE logs SET size = 0 WHERE log = 'acme'",
        "DELETE FROM personal_data WHERE log = 'acme'",
        "UPDATE personal_data SET data = '{}' WHERE log = 'acme'",
        "INSERT INTO checkpoints (log, size, root, note) VALUES ('acme', 99, '\\x00', 'x')",
        "DELETE FROM entries WHERE log = 'acme'",
        'SELECT * FROM api_keys',
        'SELECT * FROM idempotency_keys',
        'SELECT * FROM service_keys',
      ]) {
        // Straight on the role (not through the read-only transaction), so the grants are what refuses.
        const runner = await ds.connect();
        try {
          await runner.query('BEGIN');
          await runner.query('SET LOCAL ROLE audit_reader');
          await runner.query("SELECT set_config('audit.tenants', '*', true)");
          await expect(runner.query(statement)).rejects.toThrow(/permission denied/);
        } finally {
          await runner.query('ROLLBACK');
          await runner.release();
        }
      }
    });

    it('hands the connection back as the runtime role with no scope, after success and after an error', async () => {
      const state = async () =>
        (await ds.query("SELECT current_user AS role, coalesce(current_setting('audit.tenants', true), '') AS scope"))
          .rows[0];
      expect(await withTenantScope(ds, ['acme'], async (sql) => (await sql('SELECT current_user AS role'))[0])).toEqual(
        { role: 'audit_reader' },
      );
      expect(await state()).toEqual({ role: 'audit_runtime', scope: '' });
      await expect(withTenantScope(ds, ['acme'], (sql) => sql('SELECT no_such_column FROM logs'))).rejects.toThrow(
        /no_such_column/,
      );
      expect(await state()).toEqual({ role: 'audit_runtime', scope: '' });
      await expect(withTenantScope(ds, ['acme'], async () => Promise.reject(new Error('boom')))).rejects.toThrow(
        'boom',
      );
      expect(await state()).toEqual({ role: 'audit_runtime', scope: '' });
    });

    it('leaves the runtime role seeing and writing every row (RETURNING, ON CONFLICT, UPDATE)', async () => {
      expect(
        only(await countsPerLog((text, params) => ds.query(text, params).then((r) => r.rows)), ['acme', 'globex']),
      ).toEqual(stored);
      const runner = await ds.connect();
      try {
        await runner.query('BEGIN');
        await runner.query("INSERT INTO logs (log, root) VALUES ('initech', '\\x00') ON CONFLICT (log) DO NOTHING");
        await runner.query("INSERT INTO logs (log, root) VALUES ('initech', '\\x00') ON CONFLICT (log) DO NOTHING");
        expect(
          (
            await runner.query(
              "INSERT INTO checkpoints (log, size, root, note) VALUES ('initech', 1, '\\x00', 'n') ON CONFLICT DO NOTHING RETURNING size",
            )
          ).rows,
        ).toEqual([{ size: '1' }]);
        expect((await runner.query("UPDATE logs SET size = 1 WHERE log = 'initech' RETURNING size")).rows).toEqual([
          { size: '1' },
        ]);
      } finally {
        await runner.query('ROLLBACK');
        await runner.release();
      }
    });
  });

  it('refuses a tenant name that could widen the scope', async () => {
    await expect(t.app.get(LogReader).latestCheckpoint('acme', ['acme,globex'])).rejects.toThrow(/invalid tenant/);
  });

  it("answers as if a log does not exist when the caller's tenants do not cover it, even without the route's check", async () => {
    const reader = t.app.get(LogReader);
    await expect(reader.latestCheckpoint('globex', ['acme'])).rejects.toBeInstanceOf(UnknownLogError);
    await expect(reader.inclusionProof('globex', 0, 3, ['acme'])).rejects.toBeInstanceOf(UnknownLogError);
    await expect(reader.consistencyProof('globex', 1, 3, ['acme'])).rejects.toBeInstanceOf(UnknownLogError);
    await expect(reader.tile('globex', 'tile/0/000.p/3', ['acme'])).rejects.toBeInstanceOf(UnknownLogError);
    await expect(reader.tile('globex', 'tile/entries/000.p/3', ['acme'])).rejects.toBeInstanceOf(UnknownLogError);
    await expect(t.app.get(LogVerification).verify('globex', ['acme'])).rejects.toBeInstanceOf(UnknownLogError);
    expect((await reader.inclusionProof('globex', 0, 3, ['globex'])).size).toBe(3);
    expect((await t.app.get(LogVerification).verify('globex', ['*'])).ok).toBe(true);
  });

  it("serves the read routes for the key's own tenant, and 404 for another", async () => {
    const paths = (size: number) => [
      'checkpoint',
      `proof/inclusion?index=2&size=${size}`,
      `proof/consistency?from=2&size=${size}`,
      `tile/0/000.p/${size}`,
      `tile/entries/000.p/${size}`,
    ];
    for (const path of paths(5)) await t.http().get(`/v1/logs/acme/${path}`).set(auth(acmeReader)).expect(200);
    for (const path of paths(3)) {
      const hidden = await t.http().get(`/v1/logs/globex/${path}`).set(auth(acmeReader)).expect(404);
      expect([path, hidden.body]).toEqual([path, NO_SUCH_LOG]);
      await t.http().get(`/v1/logs/globex/${path}`).set(auth(allReader)).expect(200);
    }
    const verified = await t.http().post('/v1/logs/acme/verify').set(auth(acmeReader)).expect(200);
    expect(verified.body).toMatchObject({ ok: true, size: 5 });
    expect((await t.http().post('/v1/logs/globex/verify').set(auth(acmeReader)).expect(404)).body).toEqual(NO_SUCH_LOG);
    expect((await t.http().post('/v1/logs/globex/verify').set(auth(allReader)).expect(200)).body).toMatchObject({
      ok: true,
      size: 3,
    });
  });
});
