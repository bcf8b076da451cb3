import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { ensureDatabase, runMigrations } from '../../src/platform/database/database-bootstrap';

const SERVER = process.env.TEST_DATABASE_SERVER ?? 'postgres://postgres@127.0.0.1:5432';
const TEST_PREFIX = 'audit_test_';

/** Refuses to touch a database that is not a throwaway test database. */
export function assertTestDatabase(url: string): void {
  const name = new URL(url).pathname.slice(1);
  if (!name.startsWith(TEST_PREFIX)) throw new Error(`refusing to use non-test database "${name}" in tests`);
}

/** A fresh, migrated database of its own for one test file. */
export async function createTestDatabase(): Promise<string> {
  const url = `${SERVER}/${TEST_PREFIX}${randomBytes(6).toString('hex')}`;
  assertTestDatabase(url);
  await ensureDatabase(url);
  await runMigrations(url);
  return url;
}

/** Drops a test database, ending its connections first. */
export async function dropTestDatabase(url: string): Promise<void> {
  assertTestDatabase(url);
  const name = new URL(url).pathname.slice(1);
  const client = new Client({ connectionString: `${SERVER}/postgres` });
  await client.connect();
  try {
    await client.query(
      'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
      [name],
    );
    await client.query(`DROP DATABASE IF EXISTS "${name}"`);
  } finally {
    await client.end();
  }
}

/** A superuser connection to a test database, for what the service itself must never do. */
export async function superuserClient(url: string): Promise<Client> {
  assertTestDatabase(url);
  const client = new Client({ connectionString: url });
  await client.connect();
  return client;
}

/** What a test runs on its database: a service instance, a module graph. */
export interface Closable {
  close(): Promise<void>;
}

/** `T` on a test database of its own (`db`), with `owner`, a superuser connection to it. */
export type OnTestDatabase<T extends Closable> = T & { readonly db: string; readonly owner: Client };

/**
 * A fresh, migrated test database, `owner` (a superuser connection to it) and what `start` runs on
 * it; `close()` closes that, ends `owner` and drops the database. Nothing is left over when `start`
 * fails.
 */
export async function onTestDatabase<T extends Closable>(
  start: (db: string, owner: Client) => Promise<T>,
): Promise<OnTestDatabase<T>> {
  const db = await createTestDatabase();
  const owner = await superuserClient(db);
  const dispose = async () => {
    await owner.end();
    await dropTestDatabase(db);
  };
  let running: T;
  try {
    running = await start(db, owner);
  } catch (error) {
    await dispose();
    throw error;
  }
  return {
    ...running,
    db,
    owner,
    async close() {
      try {
        await running.close();
      } finally {
        await dispose();
      }
    },
  };
}

/** Entries appended but not yet in the search read model, over every log. */
export async function searchLag(client: Client): Promise<number> {
  const { rows } = await client.query(
    'SELECT coalesce(sum(l.size - coalesce(p.size, 0)), 0)::int AS n FROM logs l LEFT JOIN event_search_progress p ON p.log = l.log',
  );
  return rows[0].n as number;
}

/** Waits (up to 10 s) until a background projector has brought every log's read model up to its head. */
export async function untilProjected(client: Client): Promise<void> {
  for (let i = 0; i < 400 && (await searchLag(client)) > 0; i++)
    await new Promise((resolve) => setTimeout(resolve, 25));
  expect(await searchLag(client)).toBe(0);
}
