import { readFileSync } from 'node:fs';
import { join } from 'node:path';
// A test may read the service's catalogue; the library itself never imports src/ (dependency-cruiser).
import { EVENT_CATALOGUE } from '../../../src/events/event-catalogue';
import { EVENT_TYPES } from './event-types';
import { OUTBOX_MIGRATION_SQL } from './outbox/outbox-schema';

describe("the client's type map", () => {
  it("equals the service's catalogue: every type, its category, context fields and personal fields", () => {
    const fromService = Object.fromEntries(
      Object.entries(EVENT_CATALOGUE).map(([type, s]) => [
        type,
        { category: s.category, context: Object.keys(s.context), personal: [...s.personal] },
      ]),
    );
    expect(EVENT_TYPES).toEqual(fromService);
  });
});

describe('the shipped migration', () => {
  it('is the SQL the package exports', () => {
    const file = readFileSync(join(__dirname, '..', 'migrations', '001-audit-outbox.sql'), 'utf8');
    expect(OUTBOX_MIGRATION_SQL).toBe(file);
  });
});
