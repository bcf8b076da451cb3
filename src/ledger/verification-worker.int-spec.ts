import { ClientConfig } from 'pg';
import { withTenantScope } from '../platform/database/tenant-scoped-reads';
import { Closable, OnTestDatabase, onTestDatabase } from '../../test/support/test-database';
import { endKeptConnection, keptConnection } from './verification-worker';

// The verification thread's kept connection (verification-worker.ts): reused by the next job,
// never carrying a job's scope into the next, and replaced whenever it can no longer serve.
describe('the verification thread keeps its connection', () => {
  let t: OnTestDatabase<Closable>;

  beforeAll(async () => (t = await onTestDatabase(() => Promise.resolve({ close: endKeptConnection }))));
  afterEach(() => endKeptConnection());
  afterAll(() => t.close());

  // Each test names its connections, so it sees only its own in pg_stat_activity.
  const configNamed = (name: string): ClientConfig => ({ connectionString: t.db, application_name: name });

  const backendOf = (config: ClientConfig, tenants: readonly string[] = ['*']) =>
    withTenantScope(keptConnection(config), tenants, async (sql) => {
      const [row] = await sql(
        "SELECT pg_backend_pid() AS pid, current_user AS role, current_setting('audit.tenants', true) AS scope",
      );
      return row as { pid: number; role: string; scope: string | null };
    });

  const connectionsNamed = async (name: string) =>
    Number(
      (await t.owner.query('SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1', [name])).rows[0].n,
    );

  const until = async (check: () => Promise<boolean>) => {
    const deadline = Date.now() + 5_000;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error('timed out');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };

  it('serves the next job on the same connection, without the previous job scope', async () => {
    const config = configNamed('kept-reuse');
    const scoped = await backendOf(config, ['acme']);
    expect(scoped).toMatchObject({ role: 'audit_reader', scope: 'acme' });
    const next = await backendOf(config);
    expect(next.pid).toBe(scoped.pid);
    expect(next.role).toBe('postgres');
    expect(next.scope ?? '').toBe('');
    expect(keptConnection(config)).toBe(keptConnection(config));
    expect(await connectionsNamed('kept-reuse')).toBe(1);
  });

  it('serves a job after one that failed', async () => {
    const config = configNamed('kept-failed');
    await expect(
      withTenantScope(keptConnection(config), ['*'], (sql) => sql('SELECT * FROM no_such_table')),
    ).rejects.toThrow(/no_such_table/);
    await expect(backendOf(config)).resolves.toMatchObject({ role: 'postgres' });
  });

  it('replaces a connection the database ended while it was idle', async () => {
    const config = configNamed('kept-ended');
    const first = await backendOf(config);
    await t.owner.query('SELECT pg_terminate_backend($1)', [first.pid]);
    // The idle client sees its socket close: the pool removes it (and emits 'error', which would
    // end the thread if nothing listened).
    await until(() => Promise.resolve(keptConnection(config).totalCount === 0));
    const next = await backendOf(config);
    expect(next.pid).not.toBe(first.pid);
  });

  it('replaces the pool when a job connects otherwise, closing the old connection', async () => {
    await backendOf(configNamed('kept-before'));
    expect(await connectionsNamed('kept-before')).toBe(1);
    await backendOf(configNamed('kept-after'));
    await until(async () => (await connectionsNamed('kept-before')) === 0);
    expect(await connectionsNamed('kept-after')).toBe(1);
  });

  it('closes the connection once idle, so an idle thread holds none', async () => {
    const config = configNamed('kept-idle');
    await withTenantScope(keptConnection(config, 100), ['*'], (sql) => sql('SELECT 1'));
    expect(await connectionsNamed('kept-idle')).toBe(1);
    await until(async () => (await connectionsNamed('kept-idle')) === 0);
  });
});
