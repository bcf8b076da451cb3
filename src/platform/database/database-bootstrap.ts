import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { MIGRATIONS } from './migrations';

/** The role the service's queries run as: no UPDATE, DELETE or TRUNCATE on the ledger, owns nothing. */
export const RUNTIME_ROLE = 'audit_runtime';

// Any fixed number; it only has to be the same in every process that migrates this database.
const MIGRATION_LOCK_KEY = 0x61756469; // "audi"

function databaseName(url: string): string {
  const name = decodeURIComponent(new URL(url).pathname.replace(/^\//, ''));
  if (!/^[A-Za-z0-9_-]{1,63}$/.test(name))
    throw new Error('DATABASE_URL must name a database of letters, digits, _ and -');
  return name;
}

/** Creates the database `url` names when it does not exist yet (the owner's credentials are used). */
export async function ensureDatabase(url: string): Promise<void> {
  const name = databaseName(url);
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount === 0) {
      try {
        await client.query(`CREATE DATABASE "${name}"`);
      } catch (e) {
        // Another process created it first: 42P04 (duplicate_database) when its creation had
        // committed before ours started, 23505 (unique_violation on pg_database's name index) when
        // both were under way at once, as with several processes of a deployment starting together.
        const code = (e as { code?: string }).code;
        if (code !== '42P04' && code !== '23505') throw e;
      }
    }
  } finally {
    await client.end();
  }
}

/**
 * Runs the pending migrations as the owner, one process at a time (an advisory lock held on the
 * migrating connection).
 */
export async function runMigrations(url: string): Promise<void> {
  const owner = new DataSource({ type: 'postgres', url, migrations: MIGRATIONS, extra: { max: 1 }, logging: false });
  await owner.initialize();
  try {
    await owner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      await owner.runMigrations({ transaction: 'each' });
    } finally {
      await owner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
    }
  } finally {
    await owner.destroy();
  }
}

/**
 * Connection options for the runtime DataSource: a direct login of the runtime role when
 * `runtimeUrl` is given, otherwise the owner's login switched to the runtime role for the whole
 * session at connection start, before any query can run.
 */
export function runtimeConnection(
  ownerUrl: string,
  runtimeUrl?: string,
): { url: string; extra: Record<string, unknown> } {
  return runtimeUrl ? { url: runtimeUrl, extra: {} } : { url: ownerUrl, extra: { options: `-c role=${RUNTIME_ROLE}` } };
}
