import { EMPTY_ROOT, NodeId, TreeBuilder, hashRanges, nodeIdsForRanges } from '@audit/ledger';
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { v7 as uuidv7 } from 'uuid';
import { createTestDatabase, dropTestDatabase, superuserClient } from '../../test/support/test-database';
import {
  TestModule,
  billingEvent,
  lockWaitOf,
  sqlOn as onClient,
  startTestModule,
  withTwoTransactions,
} from '../../test/support/test-module';
import { DatabasePool } from '../platform';
import { EventToAppend, planAppend } from './append-plan';
import { LedgerModule } from './ledger.module';
import { LogAppend, LogHead, LogStore } from './log-store';
import { classifyStatementFailure } from './statement-failure';

/**
 * LogStore against the real PostgreSQL, as the runtime role, below the sequencer: what its SQL
 * does with the schema (keys, row locks, row-level security), with plans made by planAppend.
 */
describe('LogStore', () => {
  let db: string;
  let m: TestModule;
  let store: LogStore;
  let pool: DatabasePool;
  let owner: Client;

  const event = (log: string, note: string, key?: string): EventToAppend => ({
    ...billingEvent(log, note),
    ...(key ? { idempotency: { key, digest: Buffer.alloc(32, 7) } } : {}),
  });

  /** The rows and head of appending `notes` to `head` (claims for events with a key). */
  const planned = (head: LogHead, notes: string[], keyed = false): LogAppend => {
    const events = notes.map((n) => event(head.log, n, keyed ? `key-${n}` : undefined));
    const plan = planAppend(head, events, new Date(), uuidv7);
    return {
      log: head.log,
      entries: plan.entries,
      personal: plan.personal.map((p) => ({ ...p, data: Buffer.from(JSON.stringify(p.data)) })),
      keyEpoch: null,
      claims: events.flatMap((e, i) =>
        e.idempotency
          ? [
              {
                source: e.source,
                key: e.idempotency.key,
                digest: e.idempotency.digest,
                idx: plan.appended[i].index,
                id: plan.appended[i].id,
                leafHash: Buffer.from(plan.appended[i].leafHash, 'base64'),
                recordedAt: plan.appended[i].recordedAt,
              },
            ]
          : [],
      ),
      head: plan.head,
    };
  };

  /** Appends `notes` to `log` from its stored head, in autocommit. */
  const appendNotes = async (log: string, notes: string[]): Promise<LogHead> => {
    const append = planned(await store.openHead(store.sql(), log), notes);
    await store.append(store.sql(), [append]);
    return append.head;
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    owner = await superuserClient(db);
    m = await startTestModule(db, LedgerModule);
    store = m.moduleRef.get(LogStore);
    pool = m.moduleRef.get(DatabasePool);
  });

  afterAll(async () => {
    await owner?.end();
    await m?.close();
    await dropTestDatabase(db);
  });

  describe('heads', () => {
    it('openHead creates an empty log once; exists and logNames see it', async () => {
      expect(await store.exists('fresh')).toBe(false);
      expect(await store.head('fresh')).toBeNull();

      const [a, b] = await Promise.all([store.openHead(store.sql(), 'fresh'), store.openHead(store.sql(), 'fresh')]);
      for (const head of [a, b]) {
        expect(head).toEqual({
          log: 'fresh',
          size: 0,
          root: EMPTY_ROOT,
          frontier: [],
          lastLeafHash: null,
          lastRecordedAt: null,
        });
      }
      expect(await store.exists('fresh')).toBe(true);
      expect(await store.head('fresh')).toEqual(a);
      expect((await owner.query("SELECT count(*)::int AS n FROM logs WHERE log = 'fresh'")).rows[0].n).toBe(1);

      await store.openHead(store.sql(), 'another');
      const names = await store.logNames();
      expect(names).toEqual([...names].sort());
      expect(names).toEqual(expect.arrayContaining(['another', 'fresh']));
    });

    it('openHead with forUpdate holds the head row until the transaction ends: a second locker waits', async () => {
      await store.openHead(store.sql(), 'locked');
      await withTwoTransactions(pool, async (first, second, secondPid) => {
        const held = await store.openHead(onClient(first), 'locked', true);
        expect(held.size).toBe(0);

        // A plain read is not blocked by the lock.
        expect(await store.head('locked')).toMatchObject({ size: 0 });

        const waiter = store.openHead(onClient(second), 'locked', true);
        expect(await lockWaitOf(owner, secondPid, waiter)).not.toBe('done');

        // The first moves the head and commits; the waiter then reads the head as committed.
        const append = planned(held, ['under-lock']);
        await store.append(onClient(first), [append]);
        await first.query('COMMIT');
        expect(await waiter).toMatchObject({ size: 1, root: append.head.root });
        await second.query('COMMIT');
      });
    });
  });

  describe('append', () => {
    it('writes planned entries, personal data and claims of several logs in one statement, and moves their heads', async () => {
      const acme = await store.openHead(store.sql(), 'acme');
      const globex = await store.openHead(store.sql(), 'globex');
      // Sealed values as SubjectKeys and sealPersonal make them: the store writes the bytes it is given.
      const salt = randomBytes(60);
      const data = randomBytes(40);
      const a = planned(acme, ['a0', 'a1', 'a2'], true);
      const withPersonal: LogAppend = { ...a, personal: [{ idx: 1, subject: 'subject-1', salt, data }], keyEpoch: 0 };
      const g = planned(globex, ['g0', 'g1']);
      await store.append(store.sql(), [g, withPersonal]);

      for (const [log, append, notes] of [
        ['acme', a, ['a0', 'a1', 'a2']],
        ['globex', g, ['g0', 'g1']],
      ] as const) {
        const head = (await store.head(log)) as LogHead;
        expect(head.size).toBe(notes.length);
        expect(head.root).toEqual(append.head.root);
        expect(head.frontier).toEqual(append.head.frontier);
        expect(head.lastLeafHash).toEqual(append.entries[append.entries.length - 1].leafHash);
        expect(head.lastRecordedAt?.toISOString()).toBe(append.entries[0].recordedAt);
        expect(await store.leaves(log, 0, notes.length)).toEqual(append.entries.map((e) => e.leaf));
        expect(await store.storedEnd(log)).toBe(notes.length);
        const page = await store.entryPage(log, 0, 100);
        expect(page.map((p) => p.idx)).toEqual(notes.map((_, i) => i));
        expect(page.map((p) => p.leafHash)).toEqual(append.entries.map((e) => e.leafHash));
        expect(page.map((p) => p.treeNodes)).toEqual(append.entries.map((e) => e.treeNodes));
      }
      expect(await store.leaves('acme', 1, 2)).toEqual([a.entries[1].leaf]);

      const personal = await owner.query('SELECT log, idx::int, subject, salt, data, sealed FROM personal_data');
      expect(personal.rows).toEqual([{ log: 'acme', idx: 1, subject: 'subject-1', salt, data, sealed: true }]);
      const claims = await owner.query(
        "SELECT key, log, idx::int FROM idempotency_keys WHERE log = 'acme' ORDER BY idx",
      );
      expect(claims.rows).toEqual([
        { key: 'key-a0', log: 'acme', idx: 0 },
        { key: 'key-a1', log: 'acme', idx: 1 },
        { key: 'key-a2', log: 'acme', idx: 2 },
      ]);
      const prevs = await owner.query("SELECT prev FROM entries WHERE log = 'acme' ORDER BY idx");
      expect(prevs.rows.map((r: { prev: Buffer }) => r.prev)).toEqual([
        Buffer.alloc(32),
        a.entries[0].leafHash,
        a.entries[1].leafHash,
      ]);
    });

    it('refuses a plan from a stale head as a whole (nothing of any log written) with an error the sequencer replans on', async () => {
      const staleHead = (await store.head('acme')) as LogHead;
      await appendNotes('acme', ['meanwhile']);
      const beforeGlobex = (await store.head('globex')) as LogHead;

      const stale = planned(staleHead, ['from-stale']);
      const fine = planned(beforeGlobex, ['would-be-fine']);
      const refusal = await store.append(store.sql(), [stale, fine]).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(refusal).toMatchObject({ code: '23505' });
      expect(classifyStatementFailure(refusal)).toBe('stale');

      expect(await store.head('globex')).toEqual(beforeGlobex);
      expect(await store.storedEnd('globex')).toBe(beforeGlobex.size);
      expect((await store.head('acme'))?.size).toBe(staleHead.size + 1);
    });

    it("refuses as stale, writing nothing, an append whose keys were read under an older key epoch than its log's", async () => {
      const globex = (await store.head('globex')) as LogHead;
      const sealed = { idx: globex.size, subject: 'subject-9', salt: randomBytes(60), data: randomBytes(40) };
      const append: LogAppend = { ...planned(globex, ['under-old-keys']), personal: [sealed], keyEpoch: 0 };
      // An erasure destroyed keys of globex since those keys were read.
      await owner.query("UPDATE logs SET key_epoch = key_epoch + 1 WHERE log = 'globex'");
      try {
        const refusal = await store.append(store.sql(), [append]).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(refusal).toMatchObject({ code: '40001' });
        expect(classifyStatementFailure(refusal)).toBe('stale');
        expect(await store.head('globex')).toEqual(globex);
        expect(await store.storedEnd('globex')).toBe(globex.size);
        const rows = await owner.query("SELECT 1 FROM personal_data WHERE log = 'globex' AND subject = 'subject-9'");
        expect(rows.rowCount).toBe(0);
        // The same append under the log's epoch goes through; one without personal data never checks it.
        await store.append(store.sql(), [{ ...append, keyEpoch: 1 }]);
        expect((await store.head('globex'))?.size).toBe(globex.size + 1);
      } finally {
        await owner.query("UPDATE logs SET key_epoch = 0 WHERE log = 'globex'");
      }
    });

    it('storedEnd is 0 for a log without entries', async () => {
      await store.openHead(store.sql(), 'empty');
      expect(await store.storedEnd('empty')).toBe(0);
      expect(await store.entryPage('empty', 0, 10)).toEqual([]);
    });
  });

  describe('tree nodes', () => {
    it('nodeLookup serves every node of the stored tree, as a TreeBuilder recomputes them; roots and proofs follow', async () => {
      const notes = Array.from({ length: 13 }, (_, i) => `t${i}`);
      // Three appends, so nodes completed across append boundaries are stored too.
      await appendNotes('tree', notes.slice(0, 5));
      await appendNotes('tree', notes.slice(5, 6));
      const head = await appendNotes('tree', notes.slice(6));
      expect(head.size).toBe(13);

      const rebuilt = TreeBuilder.empty();
      const nodes: { level: number; index: number; hash: Buffer }[] = [];
      for (const row of await store.entryPage('tree', 0, 100)) rebuilt.append(row.leafHash, nodes);
      expect(rebuilt.root()).toEqual(head.root);

      const lookup = await store.nodeLookup(
        'tree',
        nodes.map(({ level, index }) => ({ level, index })),
      );
      for (const node of nodes) expect(lookup(node)).toEqual(node.hash);

      for (const size of [1, 2, 5, 6, 8, 13]) {
        const ranges = [{ begin: 0, end: size }];
        const sized = await store.nodeLookup('tree', nodeIdsForRanges(ranges));
        const prefix = TreeBuilder.empty();
        for (const node of nodes.filter((n) => n.level === 0 && n.index < size)) prefix.append(node.hash);
        expect(hashRanges(ranges, sized)).toEqual([prefix.root()]);
      }
    });

    it('nodeLookup throws for a node the store does not hold, and for any node when asked for none', async () => {
      const beyond: NodeId = { level: 2, index: 3 }; // leaves 12..15: not complete in a log of 13
      const lookup = await store.nodeLookup('tree', [beyond, { level: 0, index: 0 }]);
      expect(() => lookup(beyond)).toThrow('stored tree node 2/3 of log tree is missing');
      const none = await store.nodeLookup('tree', []);
      expect(() => none({ level: 0, index: 0 })).toThrow('missing');
    });
  });

  describe('checkpoints', () => {
    it('records a checkpoint once per size, answers the latest and all in order, and headsToSign follows them', async () => {
      const head = await appendNotes('signed', ['s0', 's1', 's2']);
      expect(await store.latestCheckpoint('signed')).toBeNull();
      expect((await store.headsToSign()).map((h) => h.log)).toContain('signed');

      expect(await store.insertCheckpoint('signed', { size: 2, root: randomBytes(32), note: 'note-2' })).toBe(true);
      expect((await store.headsToSign()).map((h) => h.log)).toContain('signed');
      expect(await store.insertCheckpoint('signed', { size: 3, root: head.root, note: 'note-3' })).toBe(true);
      // Another process recorded this size first.
      expect(await store.insertCheckpoint('signed', { size: 3, root: head.root, note: 'other' })).toBe(false);

      expect(await store.latestCheckpoint('signed')).toEqual({ size: 3, root: head.root, note: 'note-3' });
      expect((await store.checkpoints('signed')).map((c) => [c.size, c.note])).toEqual([
        [2, 'note-2'],
        [3, 'note-3'],
      ]);
      const toSign = await store.headsToSign();
      expect(toSign.map((h) => h.log)).not.toContain('signed');
      expect(toSign.map((h) => h.log)).not.toContain('empty');
      expect(toSign.map((h) => h.log)).toEqual([...toSign.map((h) => h.log)].sort());

      // Recording a checkpoint leaves the head row free: an open lock on it does not block it.
      const locker = await pool.connect();
      try {
        await locker.query('BEGIN');
        await store.openHead(onClient(locker), 'signed', true);
        expect(await store.insertCheckpoint('signed', { size: 1, root: randomBytes(32), note: 'note-1' })).toBe(true);
      } finally {
        await locker.query('ROLLBACK');
        locker.release();
      }
    });
  });

  describe('tenantScoped reads', () => {
    it('see only the rows of their tenants, and every row with *', async () => {
      await store.insertCheckpoint('globex', { size: 1, root: randomBytes(32), note: 'globex-1' });
      const acme = (await store.head('acme')) as LogHead;

      const asAcme = await store.tenantScoped(['acme'], async (sql) => ({
        acme: await store.head('acme', sql),
        globex: await store.head('globex', sql),
        globexLeaves: await store.leaves('globex', 0, 10, sql),
        globexPage: await store.entryPage('globex', 0, 10, sql),
        globexEnd: await store.storedEnd('globex', sql),
        globexCheckpoints: await store.checkpoints('globex', sql),
        globexLatest: await store.latestCheckpoint('globex', sql),
        acmeLeaves: await store.leaves('acme', 0, acme.size, sql),
        globexNodes: await store.nodeLookup('globex', [{ level: 0, index: 0 }], sql),
      }));
      expect(asAcme.acme).toEqual(acme);
      expect(asAcme.acmeLeaves).toHaveLength(acme.size);
      expect(asAcme.globex).toBeNull();
      expect(asAcme.globexLeaves).toEqual([]);
      expect(asAcme.globexPage).toEqual([]);
      expect(asAcme.globexEnd).toBe(0);
      expect(asAcme.globexCheckpoints).toEqual([]);
      expect(asAcme.globexLatest).toBeNull();
      expect(() => asAcme.globexNodes({ level: 0, index: 0 })).toThrow('missing');

      const none = await store.tenantScoped([], (sql) => store.head('acme', sql));
      expect(none).toBeNull();

      const both = await store.tenantScoped(['acme', 'globex'], async (sql) => [
        await store.head('acme', sql),
        await store.head('globex', sql),
      ]);
      expect(both.map((h) => h?.log)).toEqual(['acme', 'globex']);

      const all = await store.tenantScoped(['*'], async (sql) => ({
        globex: await store.head('globex', sql),
        checkpoints: await store.checkpoints('globex', sql),
      }));
      expect(all.globex?.log).toBe('globex');
      expect(all.checkpoints.map((c) => c.note)).toEqual(['globex-1']);
    });

    it('are read-only, and the connection goes back to the pool unscoped', async () => {
      const write = store.tenantScoped(['acme'], (sql) =>
        store.openHead(sql, 'created-in-a-scoped-read').then(() => 'written'),
      );
      await expect(write).rejects.toMatchObject({ code: expect.stringMatching(/^(25006|42501)$/) });
      expect(await store.exists('created-in-a-scoped-read')).toBe(false);
      // Every pooled connection is the runtime role again, without a tenant setting.
      const checks = await Promise.all(
        Array.from({ length: 4 }, () =>
          pool.query("SELECT current_user AS role, current_setting('audit.tenants', true) AS tenants"),
        ),
      );
      for (const [row] of checks) expect(row).toMatchObject({ role: 'audit_runtime' });
      for (const [row] of checks) expect([null, '']).toContain(row.tenants);
    });
  });
});
