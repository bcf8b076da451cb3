import { EMPTY_ROOT, NoteVerifier } from '@audit/ledger';
import type { Sql } from './log-store';
import { pauseAfter, verifyStoredLog } from './stored-log-verification';

describe('pauseAfter', () => {
  it('pauses the given percentage of the work, nothing when unpaced', () => {
    expect(pauseAfter(40, 100)).toBe(40);
    expect(pauseAfter(40, 250)).toBe(100);
    expect(pauseAfter(40, 0)).toBe(0);
    expect(pauseAfter(0, 100)).toBe(0);
  });
});

describe('verifyStoredLog paced (AUDIT_VERIFY_PAUSE_PERCENT)', () => {
  // A log whose stored end is 3,000 (three pages) but whose pages come back empty after `readMs`:
  // enough to see when each page is read, and that every range is still looked at.
  const READ_MS = 40;
  const nobody: NoteVerifier = { name: 'test', keyHash: 0, verify: () => false };

  function fakeStore(): { sql: Sql; pageReads: number[]; ranges: unknown[] } {
    const pageReads: number[] = [];
    const ranges: unknown[] = [];
    const t0 = performance.now();
    const sql: Sql = async (text, params) => {
      if (text.startsWith('SELECT * FROM logs'))
        return [{ log: 'acme', size: '0', root: EMPTY_ROOT, frontier: Buffer.alloc(0) }];
      if (text.includes('FROM checkpoints')) return [];
      if (text.includes('max(idx)')) return [{ end: '3000' }];
      pageReads.push(performance.now() - t0);
      ranges.push(params?.slice(1));
      await new Promise((resolve) => setTimeout(resolve, READ_MS));
      return [];
    };
    return { sql, pageReads, ranges };
  }

  const verifyYielding = (sql: Sql, appends: Int32Array) =>
    verifyStoredLog(sql, {
      log: 'acme',
      origin: 'audit.example/acme',
      verifier: nobody,
      mirrored: null,
      pausePercent: 0,
      appends,
    });
  const verify = (sql: Sql, pausePercent: number) =>
    verifyStoredLog(sql, { log: 'acme', origin: 'audit.example/acme', verifier: nobody, mirrored: null, pausePercent });

  it('reads the next page only after a pause as long as the last page took, and still covers every range', async () => {
    const { sql, pageReads, ranges } = fakeStore();
    await verify(sql, 100);
    expect(pageReads).toHaveLength(3);
    // Each page: its read (READ_MS), then a pause as long, then the next read; timers never fire early
    // by more than a millisecond.
    for (let i = 1; i < pageReads.length; i++)
      expect(pageReads[i] - pageReads[i - 1]).toBeGreaterThanOrEqual(2 * READ_MS - 2);
    // The pacing skips no range.
    expect(ranges).toEqual([
      [0, 1000],
      [1000, 2000],
      [2000, 3000],
    ]);
  });

  it('unpaced, reads the next page while checking this one', async () => {
    const { sql, pageReads } = fakeStore();
    await verify(sql, 0);
    expect(pageReads).toHaveLength(3);
    // The second read is issued as soon as the first page arrives, before it is checked.
    expect(pageReads[1] - pageReads[0]).toBeLessThan(2 * READ_MS - 2);
  });

  it('with appends in flight, reads 100 rows at a time, each after they settle (or a wait of at most 20 ms), covering every range', async () => {
    const { sql, pageReads, ranges } = fakeStore();
    const appends = new Int32Array(new SharedArrayBuffer(8));
    appends[0] = 1; // an append that never settles: the verification waits its bounded time and goes on
    await verifyYielding(sql, appends);
    // No read ahead: each read after the one before arrived (READ_MS) and a wait (20 ms).
    for (let i = 1; i < pageReads.length; i++)
      expect(pageReads[i] - pageReads[i - 1]).toBeGreaterThanOrEqual(READ_MS + 20 - 2);
    expect(ranges).toEqual(Array.from({ length: 30 }, (_, i) => [i * 100, i * 100 + 100]));
  });

  it('with a counter but no append in flight, reads pages of 1,000 ahead as unpaced', async () => {
    const { sql, pageReads, ranges } = fakeStore();
    const appends = new Int32Array(new SharedArrayBuffer(8));
    await verifyYielding(sql, appends);
    expect(ranges).toEqual([
      [0, 1000],
      [1000, 2000],
      [2000, 3000],
    ]);
    expect(pageReads[1] - pageReads[0]).toBeLessThan(2 * READ_MS - 2);
  });

  it('while appends begin between its reads (none in flight when it looks), reads 100 rows at a time', async () => {
    const { sql: store, ranges } = fakeStore();
    const appends = new Int32Array(new SharedArrayBuffer(8));
    // An append begins (and settles) during every read.
    const sql: Sql = async (text, params) => {
      if (text.includes('leaf')) Atomics.add(appends, 1, 1);
      return store(text, params);
    };
    await verifyYielding(sql, appends);
    // The first read, before any append began, is a whole page; every read after one during which
    // an append began is small.
    expect(ranges).toEqual([[0, 1000], ...Array.from({ length: 20 }, (_, i) => [1000 + i * 100, 1100 + i * 100])]);
  });
});
