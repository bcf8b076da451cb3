import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { assertTestDatabase } from '../../support/test-database';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A copy of `source` as a new test database (no one may be connected to `source`). */
export async function copyDatabase(source: string): Promise<string> {
  assertTestDatabase(source);
  const name = `audit_test_${randomBytes(6).toString('hex')}`;
  const url = new URL(source);
  const from = url.pathname.slice(1);
  url.pathname = '/postgres';
  const admin = new Client({ connectionString: url.toString() });
  await admin.connect();
  try {
    // The killed process's connections may take a moment to end on the server side.
    for (let attempt = 0; ; attempt++) {
      try {
        await admin.query(`CREATE DATABASE ${name} TEMPLATE ${from}`);
        break;
      } catch (error) {
        if (attempt > 50 || !/being accessed by other users/.test((error as Error).message)) throw error;
        await sleep(100);
      }
    }
  } finally {
    await admin.end();
  }
  url.pathname = `/${name}`;
  return url.toString();
}
