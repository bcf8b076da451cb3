import { onLargeLog, scansOf } from '../../test/support/large-log';
import { Closable, OnTestDatabase } from '../../test/support/test-database';
import { DELIVERED_LEAVES, DELIVERED_PERSONAL_DATA } from './sink-delivery';

/**
 * A sink delivery's reads on a log of many entries: a batch of a few hundred entries per log must
 * be read through the primary key, never by reading the table (a join on a range of indices can
 * plan as a hash join over every row: see event-search.plan.int-spec.ts).
 */
describe('sink delivery reads on a large log', () => {
  let large: OnTestDatabase<Closable>;

  beforeAll(async () => {
    large = await onLargeLog('big', 200_000);
    await large.owner.query(
      `INSERT INTO personal_data (log, idx, subject, salt, data, sealed)
       SELECT 'big', i, 'subject-' || (i % 1000), sha256(int8send(i)), convert_to(repeat('x', 100), 'UTF8'), true
       FROM generate_series(0, 199999) AS i`,
    );
    await large.owner.query('ANALYZE personal_data');
  }, 120_000);

  afterAll(() => large.close());

  it.each([
    ['leaves', DELIVERED_LEAVES, 'entries', 'entries_pkey'],
    ['personal data', DELIVERED_PERSONAL_DATA, 'personal_data', 'personal_data_pkey'],
  ])(
    'reads the %s of each range through the primary key, custom or generic plan',
    async (_what, statement, table, index) => {
      const args = ["'{big}'", "'{150000}'", "'{150500}'"];
      const scans = await scansOf(large.owner, statement, ['text[]', 'bigint[]', 'bigint[]'], args, table);
      expect(scans.map((scan) => [scan.mode, scan.type, scan.index])).toEqual([
        ['force_custom_plan', 'Index Scan', index],
        ['force_generic_plan', 'Index Scan', index],
      ]);
      for (const scan of scans) expect(String(scan.cond)).toMatch(/idx >=.*idx </);
    },
  );
});
