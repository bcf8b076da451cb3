import fc from 'fast-check';
import { HoldQuestion, HoldScope, holdCovers, narrowedDimensions } from './hold-scope';

const value = fc.constantFrom('a', 'b', 'c', 'd');
const list = fc.option(fc.uniqueArray(value, { maxLength: 3 }), { nil: undefined });
const time = fc
  .integer({ min: Date.UTC(2026, 0, 1), max: Date.UTC(2027, 0, 1) })
  .map((ms) => new Date(ms).toISOString());
const window = fc.option(
  fc.tuple(time, time).map(([a, b]) => (a <= b ? [a, b] : [b, a])),
  { nil: undefined },
);
const scope: fc.Arbitrary<HoldScope> = fc
  .record({ subjects: list, actors: list, categories: list, types: list, window })
  .map(({ window: w, ...lists }) => ({
    ...lists,
    ...(w ? { from: w[0], to: w[1] } : {}),
  }));
const tenant = fc.constantFrom('acme', 'globex');
const question: fc.Arbitrary<HoldQuestion> = fc.record(
  { tenant, subject: value, actor: value, category: value, type: value, at: time },
  { requiredKeys: ['tenant'] },
);

/** A scope at least as wide as `s`: lists gain values or become "all", the window grows or goes. */
const widened = (s: HoldScope): fc.Arbitrary<HoldScope> =>
  fc
    .record({ extra: fc.array(value, { maxLength: 2 }), all: fc.boolean(), open: fc.boolean() })
    .map(({ extra, all, open }) => {
      const grow = (l: readonly string[] | undefined) =>
        l === undefined || l.length === 0 || all ? undefined : [...new Set([...l, ...extra])];
      return {
        subjects: grow(s.subjects),
        actors: grow(s.actors),
        categories: grow(s.categories),
        types: grow(s.types),
        ...(open ? {} : { from: s.from, to: s.to }),
      };
    });

describe('hold scope', () => {
  it('matches the documented scope rule', () => {
    const hold = {
      tenant: 'acme',
      scope: { subjects: ['u1'], categories: ['billing'], from: '2026-01-01T00:00:00Z', to: '2026-07-01T00:00:00Z' },
    };
    expect(
      holdCovers(hold, {
        tenant: 'acme',
        subject: 'u1',
        category: 'billing',
        type: 'billing.invoice.paid',
        at: '2026-03-01T00:00:00Z',
      }),
    ).toBe(true);
    expect(holdCovers(hold, { tenant: 'globex', subject: 'u1', category: 'billing', at: '2026-03-01T00:00:00Z' })).toBe(
      false,
    );
    expect(holdCovers(hold, { tenant: 'acme', subject: 'u2', category: 'billing', at: '2026-03-01T00:00:00Z' })).toBe(
      false,
    );
    expect(holdCovers(hold, { tenant: 'acme', subject: 'u1', category: 'auth', at: '2026-03-01T00:00:00Z' })).toBe(
      false,
    );
    expect(holdCovers(hold, { tenant: 'acme', subject: 'u1', category: 'billing', at: '2026-07-01T00:00:00Z' })).toBe(
      false,
    );
    expect(holdCovers(hold, { tenant: 'acme', subject: 'u1', category: 'billing', at: '2026-01-01T00:00:00Z' })).toBe(
      true,
    );
    // Unknown dimensions match: "may I delete u1's data?" is held.
    expect(holdCovers(hold, { tenant: 'acme', subject: 'u1' })).toBe(true);
    expect(holdCovers({ tenant: '*', scope: {} }, { tenant: 'globex' })).toBe(true);
  });

  it('an empty scope covers everything in its tenant, and "*" every tenant', () => {
    fc.assert(
      fc.property(
        question,
        (q) => holdCovers({ tenant: q.tenant, scope: {} }, q) && holdCovers({ tenant: '*', scope: {} }, q),
      ),
    );
  });

  it('never covers another tenant', () => {
    fc.assert(
      fc.property(
        scope,
        question,
        (s, q) => !holdCovers({ tenant: q.tenant === 'acme' ? 'globex' : 'acme', scope: s }, q),
      ),
    );
  });

  it('a question with a named dimension outside the list is not covered', () => {
    fc.assert(
      fc.property(scope, question, (s, q) => {
        const outside = (s.subjects?.length ?? 0) > 0 && q.subject !== undefined && !s.subjects!.includes(q.subject);
        return !outside || !holdCovers({ tenant: q.tenant, scope: s }, q);
      }),
    );
  });

  it('leaving a dimension out of the question never uncovers it (when in doubt, held)', () => {
    fc.assert(
      fc.property(scope, question, fc.constantFrom('subject', 'actor', 'category', 'type', 'at'), (s, q, drop) => {
        const vaguer = { ...q, [drop]: undefined };
        return !holdCovers({ tenant: q.tenant, scope: s }, q) || holdCovers({ tenant: q.tenant, scope: s }, vaguer);
      }),
    );
  });

  it('widening a scope never uncovers anything, and is never reported as narrowing', () => {
    fc.assert(
      fc.property(
        scope.chain((s) => fc.tuple(fc.constant(s), widened(s))),
        question,
        ([before, after], q) =>
          narrowedDimensions(before, after).length === 0 &&
          (!holdCovers({ tenant: q.tenant, scope: before }, q) || holdCovers({ tenant: q.tenant, scope: after }, q)),
      ),
    );
  });

  it('names the dimensions an amendment would narrow', () => {
    expect(narrowedDimensions({}, { subjects: ['a'] })).toEqual(['subjects']);
    expect(narrowedDimensions({ actors: ['a', 'b'] }, { actors: ['a'] })).toEqual(['actors']);
    expect(narrowedDimensions({ actors: ['a'] }, { actors: [] })).toEqual([]);
    expect(
      narrowedDimensions(
        { from: '2026-01-01T00:00:00Z' },
        { from: '2026-02-01T00:00:00Z', to: '2026-03-01T00:00:00Z' },
      ),
    ).toEqual(['from', 'to']);
    expect(narrowedDimensions({ to: '2026-03-01T00:00:00Z' }, { to: '2026-04-01T00:00:00Z' })).toEqual([]);
  });
});
