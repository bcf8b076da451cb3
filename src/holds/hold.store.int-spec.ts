import { Client, PoolClient } from 'pg';
import { v7 as uuidv7 } from 'uuid';
import { OnTestDatabase, onTestDatabase } from '../../test/support/test-database';
import {
  TestModule,
  lockWaitOf as lockWaitAs,
  sqlOn as onClient,
  startTestModule,
  withTwoTransactions as withTwoOf,
} from '../../test/support/test-module';
import { DatabasePool } from '../platform';
import { HoldEvent, HoldState, applyHoldEvents } from './hold.decider';
import { HoldStore, lockHoldsOf } from './hold.store';
import { HoldsModule } from './holds.module';

/**
 * HoldStore against the real PostgreSQL, as the runtime role: the version check of a change, the
 * tenant scope of reads (row-level security), the rebuild's table lock, and the per-tenant hold
 * lock that hold placement and erasure share. Waits are observed in pg_stat_activity / pg_locks.
 */
describe('HoldStore', () => {
  let m: OnTestDatabase<TestModule>;
  let store: HoldStore;
  let pool: DatabasePool;
  let owner: Client;

  const by = { keyId: null, name: 'counsel' };
  let clock = Date.parse('2030-01-01T00:00:00.000Z');
  const at = () => new Date((clock += 1000)).toISOString();

  const placed = (tenant: string, matter = 'matter'): HoldState =>
    applyHoldEvents(undefined, [
      {
        type: 'hold.placed',
        id: uuidv7(),
        tenant,
        matter,
        description: `${matter} on ${tenant}`,
        scope: { subjects: ['u1'] },
        by,
        at: at(),
      },
    ]) as HoldState;
  const amended = (hold: HoldState, description: string): HoldState =>
    applyHoldEvents(hold, [
      { type: 'hold.amended', id: hold.id, scope: hold.scope, description, reason: 'widened', by, at: at() },
    ]) as HoldState;
  const released = (hold: HoldState): HoldState =>
    applyHoldEvents(hold, [
      { type: 'hold.released', id: hold.id, reason: 'matter closed', approvers: [by], at: at() } as HoldEvent,
    ]) as HoldState;

  /** Saves `state` in a transaction of its own. */
  const saveNow = async (state: HoldState, expected: number): Promise<boolean> => {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      const saved = await store.save(onClient(client), state, expected);
      await client.query('COMMIT');
      return saved;
    } finally {
      client.release();
    }
  };

  const versionOf = async (id: string): Promise<number | undefined> =>
    (await owner.query('SELECT version FROM holds WHERE id = $1', [id])).rows[0]?.version;

  const withTwoTransactions = (fn: (first: PoolClient, second: PoolClient, secondPid: number) => Promise<void>) =>
    withTwoOf(pool, fn);
  const lockWaitOf = (pid: number, work: Promise<unknown>) => lockWaitAs(owner, pid, work);

  beforeAll(async () => {
    m = await onTestDatabase((db) => startTestModule(db, HoldsModule));
    ({ owner } = m);
    store = m.moduleRef.get(HoldStore);
    pool = m.moduleRef.get(DatabasePool);
  });

  afterAll(() => m?.close());

  describe('save', () => {
    it('creates a hold once and changes it only over the version it was decided on', async () => {
      const hold = placed('acme');
      expect(await saveNow(hold, 0)).toBe(true);
      expect(await store.find(hold.id)).toEqual(hold);
      expect(await versionOf(hold.id)).toBe(1);
      // A second "new hold" with the same id loses.
      expect(await saveNow({ ...hold, description: 'again' }, 0)).toBe(false);

      const first = amended(hold, 'first change');
      expect(await saveNow(first, 1)).toBe(true);
      expect(await versionOf(hold.id)).toBe(2);
      // Decided on version 1 as well, but the first change committed: it loses, nothing written.
      const stale = amended(hold, 'stale change');
      expect(await saveNow(stale, 1)).toBe(false);
      expect(await store.find(hold.id)).toEqual(first);

      const closed = released(first);
      expect(await saveNow(closed, 2)).toBe(true);
      expect(await store.find(hold.id)).toMatchObject({ status: 'released', history: closed.history });
    });

    it('two concurrent changes over one version: the second waits for the first and then loses', async () => {
      const hold = placed('acme', 'race');
      expect(await saveNow(hold, 0)).toBe(true);
      const mine = amended(hold, 'mine');
      const theirs = amended(hold, 'theirs');

      await withTwoTransactions(async (first, second, secondPid) => {
        expect(await store.save(onClient(first), mine, 1)).toBe(true);
        const waiting = store.save(onClient(second), theirs, 1);
        expect(await lockWaitOf(secondPid, waiting)).toBe('transactionid');
        await first.query('COMMIT');
        expect(await waiting).toBe(false);
      });
      expect(await store.find(hold.id)).toEqual(mine);
      expect(await versionOf(hold.id)).toBe(2);
    });

    it('two concurrent placements of one new hold: the second waits and then loses', async () => {
      const hold = placed('globex', 'twice');
      await withTwoTransactions(async (first, second, secondPid) => {
        expect(await store.save(onClient(first), hold, 0)).toBe(true);
        const waiting = store.save(onClient(second), { ...hold, description: 'other' }, 0);
        expect(await lockWaitOf(secondPid, waiting)).toBe('transactionid');
        await first.query('COMMIT');
        expect(await waiting).toBe(false);
      });
      expect(await store.find(hold.id)).toEqual(hold);
    });
  });

  describe('reads', () => {
    const acme = placed('acme', 'scoped');
    const acmeReleased = released(placed('acme', 'closed'));
    const globex = placed('globex', 'scoped');
    const everyTenant = placed('*', 'everything');

    beforeAll(async () => {
      await owner.query('DELETE FROM holds');
      for (const hold of [acme, acmeReleased, globex, everyTenant]) expect(await saveNow(hold, 0)).toBe(true);
    });

    it('find sees every hold; findFor only those of the tenants in scope, `*` holds only with `*`', async () => {
      for (const hold of [acme, globex, everyTenant]) expect(await store.find(hold.id)).toEqual(hold);
      expect(await store.find(uuidv7())).toBeUndefined();

      expect(await store.findFor(['acme'], acme.id)).toEqual(acme);
      expect(await store.findFor(['acme'], globex.id)).toBeUndefined();
      expect(await store.findFor(['acme'], everyTenant.id)).toBeUndefined();
      expect(await store.findFor(['acme', 'globex'], globex.id)).toEqual(globex);
      expect(await store.findFor([], acme.id)).toBeUndefined();
      expect(await store.findFor(['*'], everyTenant.id)).toEqual(everyTenant);
      expect(await store.findFor(['*'], globex.id)).toEqual(globex);
    });

    it('listFor lists what the scope sees, filtered by tenant and status, oldest first', async () => {
      const ids = (holds: HoldState[]) => holds.map((h) => h.id);
      expect(ids(await store.listFor(['acme'], {}))).toEqual([acme.id, acmeReleased.id]);
      expect(ids(await store.listFor(['acme'], { status: 'active' }))).toEqual([acme.id]);
      // Asking for another tenant's holds does not widen the scope.
      expect(await store.listFor(['acme'], { tenant: 'globex' })).toEqual([]);
      expect(ids(await store.listFor(['*'], {}))).toEqual([acme.id, acmeReleased.id, globex.id, everyTenant.id]);
      expect(ids(await store.listFor(['*'], { tenant: '*' }))).toEqual([everyTenant.id]);
      expect(ids(await store.listFor(['acme', 'globex'], { status: 'active' }))).toEqual([acme.id, globex.id]);
    });

    it("activeFor answers a tenant's active holds and those on every tenant, on the pool or a transaction", async () => {
      const ids = (holds: HoldState[]) => holds.map((h) => h.id).sort();
      expect(ids(await store.activeFor('acme'))).toEqual([acme.id, everyTenant.id].sort());
      expect(ids(await store.activeFor('globex'))).toEqual([globex.id, everyTenant.id].sort());
      expect(ids(await store.activeFor('initech'))).toEqual([everyTenant.id]);
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        expect(ids(await store.activeFor('acme', onClient(client)))).toEqual([acme.id, everyTenant.id].sort());
      } finally {
        await client.query('ROLLBACK');
        client.release();
      }
    });

    it('activeIds answers which ids are active holds, ignoring what is no uuid', async () => {
      const active = await store.activeIds([acme.id, acmeReleased.id, everyTenant.id, uuidv7(), 'not-a-uuid', acme.id]);
      expect([...active].sort()).toEqual([acme.id, everyTenant.id].sort());
      expect(await store.activeIds([])).toEqual(new Set());
    });
  });

  describe('rebuild', () => {
    it('lockForRebuild keeps changes out (reads go on) until replaceAll commits; a change decided before then loses', async () => {
      await owner.query('DELETE FROM holds');
      const kept = placed('acme', 'kept');
      const dropped = placed('globex', 'dropped');
      expect(await saveNow(kept, 0)).toBe(true);
      expect(await saveNow(dropped, 0)).toBe(true);
      // What the rebuild finds in the ledger: `kept` was amended meanwhile, `dropped` is no hold.
      const rebuilt = amended(kept, 'from the ledger');
      const fresh = placed('initech', 'fresh');

      await withTwoTransactions(async (rebuild, writer, writerPid) => {
        await store.lockForRebuild(onClient(rebuild));
        // Reads are not blocked by the rebuild's lock.
        expect(await store.find(kept.id)).toEqual(kept);
        expect((await store.activeFor('acme')).map((h) => h.id)).toEqual([kept.id]);

        const change = store.save(onClient(writer), amended(kept, 'decided before the rebuild'), 1);
        expect(await lockWaitOf(writerPid, change)).toBe('relation');

        await store.replaceAll(onClient(rebuild), [rebuilt, fresh]);
        await rebuild.query('COMMIT');
        expect(await change).toBe(false);
        await writer.query('COMMIT');
      });

      expect(await store.find(kept.id)).toEqual(rebuilt);
      expect(await store.find(fresh.id)).toEqual(fresh);
      expect(await store.find(dropped.id)).toBeUndefined();
      expect(await versionOf(kept.id)).toBe(2);
      const { rows } = await owner.query('SELECT count(*)::int AS n FROM holds');
      expect(rows[0].n).toBe(2);
    });
  });

  describe('lockHoldsOf', () => {
    /** Whether `pid` waits on an advisory lock it has asked for (pg_locks). */
    const waitsOnAdvisory = async (pid: number) =>
      (await owner.query("SELECT 1 FROM pg_locks WHERE pid = $1 AND locktype = 'advisory' AND NOT granted", [pid])).rows
        .length > 0;

    it('serialises two transactions on one tenant; another tenant does not wait; the lock ends with the transaction', async () => {
      await withTwoTransactions(async (placing, erasing, erasingPid) => {
        await lockHoldsOf(onClient(placing), 'acme');
        const erasure = lockHoldsOf(onClient(erasing), 'acme');
        expect(await lockWaitOf(erasingPid, erasure)).toBe('advisory');
        expect(await waitsOnAdvisory(erasingPid)).toBe(true);

        // Another tenant's lock is free meanwhile.
        const other = await pool.connect();
        try {
          await other.query('BEGIN');
          await lockHoldsOf(onClient(other), 'globex');
        } finally {
          await other.query('ROLLBACK');
          other.release();
        }

        await placing.query('COMMIT');
        await erasure;
        expect(await waitsOnAdvisory(erasingPid)).toBe(false);
      });
      // Both transactions ended: nobody holds an advisory lock in this database any more.
      const { rows } = await owner.query(
        "SELECT count(*)::int AS n FROM pg_locks l JOIN pg_database d ON d.oid = l.database WHERE l.locktype = 'advisory' AND d.datname = current_database()",
      );
      expect(rows[0].n).toBe(0);
    });

    it('a hold on every tenant (`*`) and an erasure, which takes `*` then its tenant, wait on each other', async () => {
      await withTwoTransactions(async (placing, erasing, erasingPid) => {
        await lockHoldsOf(onClient(placing), '*');
        const erasure = (async () => {
          await lockHoldsOf(onClient(erasing), '*');
          await lockHoldsOf(onClient(erasing), 'acme');
        })();
        expect(await lockWaitOf(erasingPid, erasure)).toBe('advisory');
        await placing.query('COMMIT');
        await erasure;
      });
    });
  });
});
