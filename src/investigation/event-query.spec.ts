import fc from 'fast-check';
import { RequestValidationError } from '../platform';
import { decodeCursor, encodeCursor, parseExportQuery, parseSearchQuery } from './event-query';

function problemPath(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof RequestValidationError) return e.problems[0].path;
    throw e;
  }
  throw new Error('no error');
}

describe('event query', () => {
  it('parses filters, normalises times to UTC milliseconds, and defaults the limit', () => {
    const q = parseSearchQuery({
      tenant: 'acme',
      actor: 'u1',
      from: '2026-11-27T10:00:00+02:00',
      to: '2026-11-27T09:00:00.5Z',
    });
    expect(q).toEqual({
      filter: { tenant: 'acme', actor: 'u1', from: '2026-11-27T08:00:00.000Z', to: '2026-11-27T09:00:00.500Z' },
      limit: 100,
      after: null,
    });
    expect(parseSearchQuery({ limit: '1000' }).limit).toBe(1000);
  });

  it.each([
    [{ nope: '1' }, '/query/nope'],
    [{ limit: '0' }, '/query/limit'],
    [{ limit: '1001' }, '/query/limit'],
    [{ limit: '-1' }, '/query/limit'],
    [{ from: '2026-02-30T00:00:00Z' }, '/query/from'],
    [{ to: '27/11/2026' }, '/query/to'],
    [{ from: '2026-11-27T10:00:00Z', to: '2026-11-27T10:00:00Z' }, '/query/to'],
    [{ actor: ['a', 'b'] }, '/query/actor'],
    [{ cursor: '!!!' }, '/query/cursor'],
  ])('refuses %j naming %s', (query, path) => {
    expect(problemPath(() => parseSearchQuery(query))).toBe(path);
  });

  it('requires a tenant for exports and takes a format', () => {
    expect(problemPath(() => parseExportQuery({ actor: 'u1' }))).toBe('/query/tenant');
    expect(parseExportQuery({ tenant: 'acme', format: 'csv' })).toEqual({ filter: { tenant: 'acme' }, format: 'csv' });
    expect(problemPath(() => parseExportQuery({ tenant: 'acme', format: 'xml' }))).toBe('/query/format');
  });

  it('round-trips any position through a cursor, and binds it to its filters', () => {
    fc.assert(
      fc.property(
        fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2200-01-01T00:00:00Z'), noInvalidDate: true }),
        fc.stringMatching(/^[a-z0-9][a-z0-9_-]{0,20}$/),
        fc.nat(),
        fc.option(fc.string({ minLength: 1, maxLength: 20 }), { nil: undefined }),
        (at, log, index, actor) => {
          const filter = { tenant: log, ...(actor !== undefined ? { actor } : {}) };
          const position = { recordedAt: at.toISOString(), log, index };
          const cursor = encodeCursor(filter, position);
          expect(decodeCursor(cursor, filter)).toEqual(position);
          expect(parseSearchQuery({ ...filter, cursor }).after).toEqual(position);
          expect(problemPath(() => decodeCursor(cursor, { ...filter, type: 'auth.logout' }))).toBe('/query/cursor');
        },
      ),
    );
  });
});
