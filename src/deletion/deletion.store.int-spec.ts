import { Client } from 'pg';
import { createTestDatabase, dropTestDatabase, superuserClient } from '../../test/support/test-database';
import type { Sql } from '../ledger';
import { DeletionStore } from './deletion.store';

// Real: the migrated PostgreSQL schema (its one-unfinished-request index). The store's `create`
// runs on the caller's transaction only, so nothing else is needed.

describe('DeletionStore.create', () => {
  let db: string;
  let requester: Client;
  let worker: Client;
  const unused = undefined as never;
  const store = new DeletionStore(unused, unused, unused, unused, unused);
  const request = (id: string) => ({
    id,
    tenant: 'acme',
    kind: 'subject_erasure' as const,
    subject: 'u1',
    reason: 'asked',
    requestedBy: { keyId: null, name: 'counsel' },
    requestedAt: new Date().toISOString(),
  });

  beforeAll(async () => {
    db = await createTestDatabase();
    requester = await superuserClient(db);
    worker = await superuserClient(db);
  });

  afterAll(async () => {
    await requester.end();
    await worker.end();
    await dropTestDatabase(db);
  });

  it('a request that finishes between the conflicting insert and the look-up is not returned as existing: a new one is created', async () => {
    const first = '01890000-0000-7000-8000-000000000001';
    const second = '01890000-0000-7000-8000-000000000002';
    await store.create((text, params) => requester.query(text, params).then((r) => r.rows), request(first));
    // The deletion worker completes the first request right after the second one's insert met it.
    let statements = 0;
    const sql: Sql = async (text, params) => {
      const rows = (await requester.query(text, params)).rows;
      if (++statements === 1)
        await worker.query(`UPDATE deletion_requests SET status = 'completed' WHERE id = $1`, [first]);
      return rows;
    };
    await requester.query('BEGIN');
    try {
      const outcome = await store.create(sql, request(second));
      expect(outcome).toMatchObject({ created: true, request: { id: second, status: 'queued' } });
    } finally {
      await requester.query('COMMIT');
    }
  });
});
