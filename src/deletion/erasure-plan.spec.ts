import fc from 'fast-check';
import { ErasureCandidate, indexRanges, planErasure, statusOf } from './erasure-plan';

const NOW = new Date('2026-11-27T12:00:00.000Z');
const DAY = 86_400_000;
const daysAgo = (n: number) => new Date(NOW.getTime() - n * DAY).toISOString();

function entry(index: number, overrides: Partial<ErasureCandidate> = {}): ErasureCandidate {
  return {
    log: 'acme',
    index,
    subject: 'u1',
    category: 'auth',
    type: 'auth.login.succeeded',
    actor: 'u1',
    recordedAt: daysAgo(400),
    ...overrides,
  };
}

// auth: 365 days minimum; billing: 3650.
const minimumUntil = (category: string, recordedAt: string) =>
  new Date(Date.parse(recordedAt) + (category === 'billing' ? 3650 : 365) * DAY).toISOString();

describe('erasure plan', () => {
  it('erases what no hold and no retention minimum protects', () => {
    const plan = planErasure([entry(0), entry(1)], [], minimumUntil, NOW);
    expect(plan.erase.map((c) => c.index)).toEqual([0, 1]);
    expect(plan.kept).toEqual([]);
    expect(plan.blockedBy).toEqual([]);
    expect(plan.retryAt).toBeNull();
  });

  it('keeps what an active hold covers, naming the hold', () => {
    const holds = [
      { id: 'h1', tenant: 'acme', scope: { categories: ['auth'] } },
      { id: 'h2', tenant: '*', scope: { subjects: ['u1'], types: ['auth.logout'] } },
      { id: 'h3', tenant: 'globex', scope: {} },
    ];
    const plan = planErasure(
      [entry(0), entry(1, { category: 'support', type: 'auth.logout' })],
      holds,
      minimumUntil,
      NOW,
    );
    expect(plan.erase).toEqual([]);
    expect(plan.kept.map((k) => [k.candidate.index, k.blockedBy])).toEqual([
      [0, [{ kind: 'hold', id: 'h1' }]],
      [1, [{ kind: 'hold', id: 'h2' }]],
    ]);
    expect(plan.blockedBy).toEqual([
      { kind: 'hold', id: 'h1' },
      { kind: 'hold', id: 'h2' },
    ]);
  });

  it('keeps what a retention minimum protects until it runs out, on recordedAt', () => {
    const young = entry(0, { recordedAt: daysAgo(10) });
    const billing = entry(1, { category: 'billing', recordedAt: daysAgo(400) });
    const plan = planErasure([young, billing, entry(2)], [], minimumUntil, NOW);
    expect(plan.erase.map((c) => c.index)).toEqual([2]);
    expect(plan.blockedBy).toEqual([
      { kind: 'retention', category: 'auth', until: minimumUntil('auth', young.recordedAt) },
      { kind: 'retention', category: 'billing', until: minimumUntil('billing', billing.recordedAt) },
    ]);
    expect(plan.retryAt).toBe(minimumUntil('auth', young.recordedAt));
    // At retryAt the young entry is free.
    expect(planErasure([young], [], minimumUntil, new Date(plan.retryAt!)).erase).toEqual([young]);
  });

  it('every candidate is either erased or kept, never both', () => {
    const candidate = fc.record({
      index: fc.nat(1000),
      subject: fc.constantFrom('u1', 'u2'),
      category: fc.constantFrom('auth', 'billing'),
      age: fc.integer({ min: 0, max: 5000 }),
    });
    fc.assert(
      fc.property(fc.uniqueArray(candidate, { selector: (c) => c.index }), fc.boolean(), (cs, held) => {
        const candidates = cs.map((c) =>
          entry(c.index, { subject: c.subject, category: c.category, recordedAt: daysAgo(c.age) }),
        );
        const plan = planErasure(
          candidates,
          held ? [{ id: 'h', tenant: 'acme', scope: { subjects: ['u2'] } }] : [],
          minimumUntil,
          NOW,
        );
        const erased = new Set(plan.erase.map((c) => c.index));
        return (
          plan.erase.length + plan.kept.length === candidates.length &&
          plan.kept.every((k) => !erased.has(k.candidate.index) && k.blockedBy.length > 0)
        );
      }),
    );
  });

  it('statuses', () => {
    expect(statusOf(0, 0)).toBe('completed');
    expect(statusOf(3, 0)).toBe('completed');
    expect(statusOf(3, 1)).toBe('partially_blocked');
    expect(statusOf(0, 1)).toBe('blocked');
  });

  it('index ranges', () => {
    expect(indexRanges([5, 0, 1, 2, 9, 10, 2])).toEqual([
      [0, 2],
      [5, 5],
      [9, 10],
    ]);
    expect(indexRanges([])).toEqual([]);
  });
});
