import fc from 'fast-check';
import { RequestValidationError } from '../platform';
import {
  DELETION_LIST_LIMITS,
  decodeDeletionCursor,
  encodeDeletionCursor,
  parseDeletionListQuery,
} from './deletion-list-query';
import { entriesWithinReach } from './deletion-requests-covered.handler';

function pathOf(run: () => unknown): string | undefined {
  try {
    run();
  } catch (e) {
    if (e instanceof RequestValidationError) return e.problems[0]?.path;
    throw e;
  }
  return undefined;
}

describe('deletion request list query', () => {
  it('takes the filters, a limit and no cursor by default', () => {
    expect(parseDeletionListQuery({})).toEqual({ filter: {}, limit: DELETION_LIST_LIMITS.defaultLimit, after: null });
    expect(parseDeletionListQuery({ tenant: 'acme', status: 'blocked', kind: 'tenant_closure', limit: '7' })).toEqual({
      filter: { tenant: 'acme', status: 'blocked', kind: 'tenant_closure' },
      limit: 7,
      after: null,
    });
    expect(parseDeletionListQuery({ tenant: '*' }).filter).toEqual({ tenant: '*' });
  });

  it('names the parameter of every bad value', () => {
    expect(pathOf(() => parseDeletionListQuery({ status: 'done' }))).toBe('/query/status');
    expect(pathOf(() => parseDeletionListQuery({ status: ['blocked', 'queued'] }))).toBe('/query/status');
    expect(pathOf(() => parseDeletionListQuery({ kind: 'all' }))).toBe('/query/kind');
    expect(pathOf(() => parseDeletionListQuery({ limit: '0' }))).toBe('/query/limit');
    expect(pathOf(() => parseDeletionListQuery({ limit: '201' }))).toBe('/query/limit');
    expect(pathOf(() => parseDeletionListQuery({ tenant: 'A B' }))).toBe('/query/tenant');
    expect(pathOf(() => parseDeletionListQuery({ subject: 'x' }))).toBe('/query/subject');
    expect(pathOf(() => parseDeletionListQuery({ cursor: 'not-ours' }))).toBe('/query/cursor');
  });

  it('round-trips a position through its cursor, and refuses it for other filters', () => {
    fc.assert(
      fc.property(
        fc.date({ min: new Date('1970-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59Z'), noInvalidDate: true }),
        fc.uuid(),
        fc.constantFrom('acme', 'globex', undefined),
        (at, id, tenant) => {
          const filter = tenant === undefined ? {} : { tenant };
          const position = { requestedAt: at.toISOString(), id };
          const cursor = encodeDeletionCursor(filter, position);
          expect(decodeDeletionCursor(cursor, filter)).toEqual(position);
          expect(parseDeletionListQuery({ ...filter, cursor }).after).toEqual(position);
          expect(pathOf(() => decodeDeletionCursor(cursor, { ...filter, status: 'queued' }))).toBe('/query/cursor');
        },
      ),
    );
  });
});

describe('entries within a deletion request reach', () => {
  const covered = [
    { log: 'acme', subject: 's1', entries: 3 },
    { log: 'acme', subject: 's2', entries: 2 },
    { log: 'globex', subject: 's1', entries: 1 },
  ];

  it('counts its subject in its tenant, its whole tenant for a closure, everything for a purge', () => {
    expect(entriesWithinReach({ kind: 'subject_erasure', tenant: 'acme', subject: 's1' }, covered)).toBe(3);
    expect(entriesWithinReach({ kind: 'subject_erasure', tenant: 'globex', subject: 's2' }, covered)).toBe(0);
    expect(entriesWithinReach({ kind: 'tenant_closure', tenant: 'acme', subject: null }, covered)).toBe(5);
    expect(entriesWithinReach({ kind: 'retention_purge', tenant: '*', subject: null }, covered)).toBe(6);
  });
});
