import fc from 'fast-check';
import { Principal, operator } from '../access';
import { CATEGORIES } from '../events';
import { RETENTION_DEFAULTS, defaultPolicy } from './retention-defaults';
import {
  DAY_MS,
  PolicyChange,
  RetentionEvent,
  RetentionPolicy,
  decideChange,
  evolve,
  minimumUntil,
  purgeAt,
  purgeDue,
} from './retention-policy.decider';
import { retentionEventEntry } from './retention-policy.entries';
import {
  ComplianceMinimumError,
  ComplianceModeError,
  ReasonRequiredError,
  RetentionPeriodError,
} from './retention.errors';

const NOW = new Date('2026-11-27T10:00:00.000Z');
const admin: Principal = {
  keyId: 'key-ada',
  keyName: 'ada-laptop',
  principalId: 'p-ada',
  name: 'ada',
  kind: 'person',
  roles: ['admin'],
  tenants: ['*'],
  expiresAt: null,
  knownTo: ['p-ada'],
};

const compliance: RetentionPolicy = { category: 'billing', minDays: 3653, maxDays: 4018, mode: 'compliance' };
const governance: RetentionPolicy = { category: 'auth', minDays: 365, maxDays: 730, mode: 'governance' };

/** given(policy).when(change) → then: the events, or the error thrown. */
function given(policy: RetentionPolicy) {
  return {
    when: (change: PolicyChange) => {
      const run = () => decideChange(admin, policy, change, NOW);
      return {
        then: (expected: RetentionEvent[]) => expect(run()).toEqual(expected),
        thenRefused: (error: new (...args: never[]) => Error) => expect(run).toThrow(error),
        thenPolicy: () => run().reduce(evolve, policy),
      };
    },
  };
}

const changed = (
  before: RetentionPolicy,
  after: Omit<RetentionPolicy, 'category'>,
  reason: string | null,
): RetentionEvent => ({
  type: 'retention.policy_changed',
  category: before.category,
  before: { minDays: before.minDays, maxDays: before.maxDays, mode: before.mode },
  after,
  reason,
  by: { type: 'api_key', id: 'key-ada' },
  at: NOW.toISOString(),
});

describe('retention policy decider: compliance', () => {
  it('lengthens the minimum, with or without a reason', () => {
    given(compliance)
      .when({ minDays: 4000, maxDays: 4018, mode: 'compliance', reason: 'new tax rule' })
      .then([changed(compliance, { minDays: 4000, maxDays: 4018, mode: 'compliance' }, 'new tax rule')]);
    given(compliance)
      .when({ minDays: 4000, maxDays: 4018, mode: 'compliance' })
      .then([changed(compliance, { minDays: 4000, maxDays: 4018, mode: 'compliance' }, null)]);
  });

  it('never shortens the minimum, whatever the reason', () => {
    given(compliance)
      .when({ minDays: 3652, maxDays: 4018, mode: 'compliance', reason: 'board decision' })
      .thenRefused(ComplianceMinimumError);
    given(compliance)
      .when({ minDays: 0, maxDays: null, mode: 'governance', reason: 'r' })
      .thenRefused(ComplianceMinimumError);
  });

  it('never becomes governance, even with the same minimum', () => {
    given(compliance)
      .when({ minDays: 3653, maxDays: 4018, mode: 'governance', reason: 'r' })
      .thenRefused(ComplianceModeError);
  });

  it('may change its maximum (never below the minimum) and drop it', () => {
    given(compliance)
      .when({ minDays: 3653, maxDays: 3653, mode: 'compliance' })
      .then([changed(compliance, { minDays: 3653, maxDays: 3653, mode: 'compliance' }, null)]);
    given(compliance)
      .when({ minDays: 3653, maxDays: null, mode: 'compliance' })
      .then([changed(compliance, { minDays: 3653, maxDays: null, mode: 'compliance' }, null)]);
    given(compliance).when({ minDays: 3653, maxDays: 3000, mode: 'compliance' }).thenRefused(RetentionPeriodError);
  });
});

describe('retention policy decider: governance', () => {
  it('shortens the minimum only with a reason', () => {
    given(governance).when({ minDays: 180, maxDays: 730, mode: 'governance' }).thenRefused(ReasonRequiredError);
    given(governance)
      .when({ minDays: 180, maxDays: 730, mode: 'governance', reason: '   ' })
      .thenRefused(ReasonRequiredError);
    given(governance)
      .when({ minDays: 180, maxDays: 730, mode: 'governance', reason: 'privacy review' })
      .then([changed(governance, { minDays: 180, maxDays: 730, mode: 'governance' }, 'privacy review')]);
  });

  it('lengthens, or becomes compliance, without a reason', () => {
    given(governance)
      .when({ minDays: 400, maxDays: 730, mode: 'governance' })
      .then([changed(governance, { minDays: 400, maxDays: 730, mode: 'governance' }, null)]);
    const locked = given(governance).when({ minDays: 365, maxDays: 730, mode: 'compliance' }).thenPolicy();
    expect(locked).toEqual({ category: 'auth', minDays: 365, maxDays: 730, mode: 'compliance' });
    // ... after which it is compliance: no more shortening.
    given(locked)
      .when({ minDays: 100, maxDays: 730, mode: 'compliance', reason: 'r' })
      .thenRefused(ComplianceMinimumError);
  });

  it('a shortening that also becomes compliance still needs a reason', () => {
    given(governance).when({ minDays: 100, maxDays: 730, mode: 'compliance' }).thenRefused(ReasonRequiredError);
  });
});

describe('retention policy decider: any policy', () => {
  it('a change that changes nothing records nothing, reason or not', () => {
    given(governance).when({ minDays: 365, maxDays: 730, mode: 'governance', reason: 'again' }).then([]);
    given(compliance).when({ minDays: 3653, maxDays: 4018, mode: 'compliance' }).then([]);
  });

  it('refuses periods that cannot be a policy, naming the field', () => {
    const refusal = (change: PolicyChange) => {
      try {
        decideChange(admin, governance, change, NOW);
      } catch (e) {
        return [(e as RetentionPeriodError).constructor, (e as RetentionPeriodError).path];
      }
      return null;
    };
    expect(refusal({ minDays: 800, maxDays: 730, mode: 'governance' })).toEqual([RetentionPeriodError, '/maxDays']);
    expect(refusal({ minDays: -1, maxDays: 730, mode: 'governance', reason: 'r' })).toEqual([
      RetentionPeriodError,
      '/minDays',
    ]);
    expect(refusal({ minDays: 1.5, maxDays: 730, mode: 'governance', reason: 'r' })).toEqual([
      RetentionPeriodError,
      '/minDays',
    ]);
    expect(refusal({ minDays: 365, maxDays: 730.5, mode: 'governance' })).toEqual([RetentionPeriodError, '/maxDays']);
    expect(refusal({ minDays: 0, maxDays: 0, mode: 'governance', reason: 'r' })).toBeNull();
  });

  it('evolve applies the new terms', () => {
    expect(
      given(governance).when({ minDays: 30, maxDays: null, mode: 'governance', reason: 'r' }).thenPolicy(),
    ).toEqual({ category: 'auth', minDays: 30, maxDays: null, mode: 'governance' });
  });

  it('a change is a platform-log entry with the acting key, the policy, before, after and reason', () => {
    const [event] = decideChange(
      admin,
      governance,
      { minDays: 180, maxDays: 730, mode: 'governance', reason: 'privacy review' },
      NOW,
    );
    expect(retentionEventEntry(event)).toEqual({
      log: 'platform',
      source: 'audit-trail',
      type: 'retention.policy_changed',
      category: 'retention',
      actor: { type: 'api_key', id: 'key-ada' },
      target: { type: 'retention_policy', id: 'auth' },
      outcome: 'success',
      occurredAt: NOW.toISOString(),
      context: {
        category: 'auth',
        before: { minDays: 365, maxDays: 730, mode: 'governance' },
        after: { minDays: 180, maxDays: 730, mode: 'governance' },
        reason: 'privacy review',
      },
    });
    expect(
      decideChange(operator('cli'), governance, { minDays: 400, maxDays: 730, mode: 'governance' }, NOW)[0].by,
    ).toEqual({
      type: 'operator',
      id: 'cli',
    });
  });

  it('property: whatever is asked, an accepted change never shortens a compliance minimum and keeps max ≥ min', () => {
    const terms = fc.record({
      minDays: fc.integer({ min: 0, max: 5000 }),
      maxDays: fc.option(fc.integer({ min: 0, max: 5000 }), { nil: null }),
      mode: fc.constantFrom('compliance' as const, 'governance' as const),
    });
    fc.assert(
      fc.property(terms, terms, fc.option(fc.constant('why'), { nil: undefined }), (current, change, reason) => {
        fc.pre(current.maxDays === null || current.maxDays >= current.minDays);
        const policy = { category: 'x', ...current };
        let events: RetentionEvent[];
        try {
          events = decideChange(admin, policy, { ...change, reason }, NOW);
        } catch {
          return;
        }
        const next = events.reduce(evolve, policy);
        if (current.mode === 'compliance')
          expect(next.mode === 'compliance' && next.minDays >= current.minDays).toBe(true);
        if (next.minDays < current.minDays) expect(events[0].reason).toBe('why');
        expect(next.maxDays === null || next.maxDays >= next.minDays).toBe(true);
      }),
    );
  });
});

describe('retention clocks (run on recordedAt)', () => {
  const recordedAt = '2026-01-31T23:30:00.000Z';
  const policy = { minDays: 365, maxDays: 730, mode: 'governance' as const };

  it('minimumUntil: recordedAt + minDays UTC days, as an instant, also once past', () => {
    expect(minimumUntil(policy, recordedAt)).toBe('2027-01-31T23:30:00.000Z');
    expect(minimumUntil({ ...policy, minDays: 0 }, recordedAt)).toBe(recordedAt);
    expect(minimumUntil(policy, '2020-01-01T00:00:00Z')).toBe('2020-12-31T00:00:00.000Z');
    // Any offset in, UTC with milliseconds out.
    expect(minimumUntil({ ...policy, minDays: 1 }, '2026-03-29T01:30:00+02:00')).toBe('2026-03-29T23:30:00.000Z');
    expect(() => minimumUntil(policy, 'yesterday')).toThrow(RangeError);
  });

  it('purgeAt: recordedAt + maxDays, or null when the policy never purges', () => {
    expect(purgeAt(policy, recordedAt)).toBe('2028-01-31T23:30:00.000Z');
    expect(purgeAt({ ...policy, maxDays: null }, recordedAt)).toBeNull();
  });

  it('purgeDue: from the instant maxDays ran out, inclusive; never with no maximum', () => {
    const at = Date.parse(recordedAt) + 730 * DAY_MS;
    expect(purgeDue(policy, recordedAt, new Date(at - 1))).toBe(false);
    expect(purgeDue(policy, recordedAt, new Date(at))).toBe(true);
    expect(purgeDue(policy, recordedAt, new Date(at + 10 * DAY_MS))).toBe(true);
    expect(purgeDue({ ...policy, maxDays: null }, recordedAt, new Date(at + 1e5 * DAY_MS))).toBe(false);
    expect(purgeDue({ ...policy, minDays: 0, maxDays: 0 }, recordedAt, new Date(recordedAt))).toBe(true);
  });

  it('purgeDue: never before the minimum ran out, even for terms that break max ≥ min', () => {
    const broken = { minDays: 100, maxDays: 10, mode: 'governance' as const };
    expect(purgeDue(broken, recordedAt, new Date(Date.parse(recordedAt) + 50 * DAY_MS))).toBe(false);
    expect(purgeDue(broken, recordedAt, new Date(Date.parse(recordedAt) + 100 * DAY_MS))).toBe(true);
  });

  it('property: a due purge is always at or past the minimum', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 4000 }),
        fc.integer({ min: 0, max: 4000 }),
        fc.integer({ min: 0, max: 9000 }),
        (min, extra, ageDays) => {
          const p = { minDays: min, maxDays: min + extra, mode: 'governance' as const };
          const now = new Date(Date.parse(recordedAt) + ageDays * DAY_MS);
          if (purgeDue(p, recordedAt, now))
            expect(now.getTime()).toBeGreaterThanOrEqual(Date.parse(minimumUntil(p, recordedAt)));
        },
      ),
    );
  });
});

describe('retention defaults', () => {
  it('every declared category has a valid default', () => {
    for (const category of CATEGORIES) {
      const policy = defaultPolicy(category);
      expect(policy.category).toBe(category);
      expect(Number.isInteger(policy.minDays) && policy.minDays >= 0).toBe(true);
      expect(policy.maxDays === null || policy.maxDays >= policy.minDays).toBe(true);
    }
  });

  it('compliance defaults are pinned: lowering one in code would shorten a minimum nobody may shorten', () => {
    const pinned = Object.fromEntries(
      Object.entries(RETENTION_DEFAULTS)
        .filter(([, terms]) => terms.mode === 'compliance')
        .map(([category, terms]) => [category, terms.minDays]),
    );
    // Raising one, or adding a compliance category, is fine: update this list. Lowering one is not.
    const floors: Record<string, number> = {
      billing: 3653,
      marketplace: 2192,
      access: 365,
      holds: 3653,
      deletion: 3653,
      retention: 3653,
      principals: 3653,
      ledger: 3653,
      privacy: 3653,
      streaming: 3653,
    };
    for (const [category, minDays] of Object.entries(floors)) expect(pinned[category]).toBeGreaterThanOrEqual(minDays);
    expect(Object.keys(pinned).sort()).toEqual(Object.keys(floors).sort());
  });

  it('billing keeps ten full years (leap days included) in compliance mode', () => {
    expect(RETENTION_DEFAULTS.billing).toMatchObject({ mode: 'compliance' });
    expect(minimumUntil(RETENTION_DEFAULTS.billing, '2026-01-01T00:00:00.000Z') >= '2036-01-01T00:00:00.000Z').toBe(
      true,
    );
  });
});
