import { onLargeLog, scansOf } from '../../test/support/large-log';
import { Closable, OnTestDatabase } from '../../test/support/test-database';
import { projectionStatement } from './event-search.store';

/**
 * The projector's plan on a log of many entries. It projects a few thousand entries of a log at
 * a time; a plan that reads the whole table for each chunk is correct on a small table and made
 * the projector 40 times slower than the appends at 5 million entries (bench --scale). Whatever
 * plan PostgreSQL picks (custom, or the generic one a named statement gets after five runs), it
 * must read only the range, through the primary key.
 */
describe('the search projector on a large log', () => {
  let large: OnTestDatabase<Closable>;

  beforeAll(async () => {
    large = await onLargeLog('big', 200_000);
  }, 120_000);

  afterAll(() => large.close());

  it.each([
    [false, false],
    [true, false],
    [false, true],
    [true, true],
  ])('reads one range of the primary key per log (wait %s, named logs %s), custom or generic', async (wait, some) => {
    const scans = await scansOf(
      large.owner,
      projectionStatement(wait, some),
      ['int', 'int', 'text[]'],
      ['2000', '8', "'{big}'"],
      'entries',
    );
    expect(scans.map((scan) => [scan.mode, scan.type, scan.index])).toEqual([
      ['force_custom_plan', 'Index Scan', 'entries_pkey'],
      ['force_generic_plan', 'Index Scan', 'entries_pkey'],
    ]);
    for (const scan of scans) expect(String(scan.cond)).toMatch(/idx >=.*idx </);
  });
});
