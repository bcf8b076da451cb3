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
});
