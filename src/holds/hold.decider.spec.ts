import { Principal, operator } from '../access';
import {
  HoldEvent,
  HoldState,
  ReleaseRules,
  Standing,
  applyHoldEvents,
  decideAmend,
  decidePlace,
  decideRelease,
} from './hold.decider';
import {
  ApprovalNotIndependentError,
  HoldNarrowingError,
  HoldNotFoundError,
  HoldReleasedError,
  HoldTenantOutOfScopeError,
  ReleaseNeedsPersonError,
} from './holds.errors';

const T0 = new Date('2026-11-27T10:00:00.000Z');
const later = (ms: number) => new Date(T0.getTime() + ms);
const HOUR = 3_600_000;
const RULES: ReleaseRules = { required: 2, approvalTtlMs: 72 * HOUR };

/** A legal person acting through its own key, whose secret no one else has seen. */
function legal(name: string, tenants: string[] = ['acme']): Principal {
  return {
    keyId: `key-${name}`,
    keyName: `${name}-laptop`,
    principalId: `p-${name}`,
    name,
    kind: 'person',
    roles: ['legal'],
    tenants,
    expiresAt: null,
    knownTo: [`p-${name}`],
  };
}
const alice = legal('alice');
const bob = legal('bob');
const carol = legal('carol');
/** Alice's second key. */
const alicePhone: Principal = { ...alice, keyId: 'key-alice-phone', keyName: 'alice-phone' };
/** A key Alice made for Bob: she has seen its secret. */
const bobByAlice: Principal = { ...bob, keyId: 'key-bob-by-alice', knownTo: ['p-bob', 'p-alice'] };

/** How each key acts now, as `ApproverStanding` answers: the key's principal, or null once it cannot act. */
function standing(...keys: Principal[]): Map<string, Principal | null> {
  return new Map(keys.map((key): [string, Principal | null] => [key.keyId, key]));
}
const STANDING: Standing = standing(alice, bob, carol);

const placed = decidePlace(
  alice,
  {
    id: 'h1',
    tenant: 'acme',
    matter: 'MAT-1',
    description: 'dispute',
    scope: { subjects: ['u1'], categories: ['billing'] },
  },
  T0,
);

/** given(events) → state */
const given = (...events: HoldEvent[]) => applyHoldEvents(undefined, events) as HoldState;

/** A release request recorded before principals: it names the key only. */
function legacyRequest(by: Principal, at: Date): HoldEvent {
  return {
    type: 'hold.release_requested',
    id: 'h1',
    reason: 'settled',
    by: { keyId: by.keyId, name: by.name },
    at: at.toISOString(),
  };
}

describe('hold decider', () => {
  it('place: an active hold with its history', () => {
    expect(placed).toEqual([
      {
        type: 'hold.placed',
        id: 'h1',
        tenant: 'acme',
        matter: 'MAT-1',
        description: 'dispute',
        scope: { subjects: ['u1'], categories: ['billing'] },
        by: { keyId: 'key-alice', name: 'alice', principal: 'p-alice', persons: ['p-alice'] },
        at: T0.toISOString(),
      },
    ]);
    expect(given(...placed)).toMatchObject({
      status: 'active',
      placedAt: T0.toISOString(),
      history: placed,
      approvals: [],
    });
  });

  it('place: refuses a tenant the key cannot reach, and "*" to a scoped key', () => {
    expect(() =>
      decidePlace(alice, { id: 'h2', tenant: 'globex', matter: 'M', description: '', scope: {} }, T0),
    ).toThrow(HoldTenantOutOfScopeError);
    expect(() => decidePlace(alice, { id: 'h2', tenant: '*', matter: 'M', description: '', scope: {} }, T0)).toThrow(
      HoldTenantOutOfScopeError,
    );
    expect(
      decidePlace(legal('root', ['*']), { id: 'h2', tenant: '*', matter: 'M', description: '', scope: {} }, T0),
    ).toHaveLength(1);
  });

  it('amend: widens, and refuses to narrow', () => {
    const events = decideAmend(
      bob,
      given(...placed),
      { scope: { subjects: ['u1', 'u2'] }, reason: 'more people' },
      later(HOUR),
    );
    expect(events).toEqual([
      expect.objectContaining({
        type: 'hold.amended',
        scope: { subjects: ['u1', 'u2'] },
        description: 'dispute',
        reason: 'more people',
      }),
    ]);
    expect(given(...placed, ...events).scope).toEqual({ subjects: ['u1', 'u2'] });
    expect(() =>
      decideAmend(
        bob,
        given(...placed),
        { scope: { subjects: ['u1'], categories: ['billing'], to: '2027-01-01T00:00:00Z' }, reason: 'r' },
        T0,
      ),
    ).toThrow(HoldNarrowingError);
  });

  it('release: two distinct persons; the same person twice counts once', () => {
    const first = decideRelease(alice, given(...placed), 'settled', RULES, later(HOUR), STANDING);
    expect(first.map((e) => e.type)).toEqual(['hold.release_requested']);
    expect(decideRelease(alice, given(...placed, ...first), 'again', RULES, later(2 * HOUR), STANDING)).toEqual([]);
    const second = decideRelease(bob, given(...placed, ...first), 'settled', RULES, later(2 * HOUR), STANDING);
    expect(second.map((e) => e.type)).toEqual(['hold.release_requested', 'hold.released']);
    expect(second[1]).toMatchObject({
      approvers: [
        { keyId: 'key-alice', principal: 'p-alice' },
        { keyId: 'key-bob', principal: 'p-bob' },
      ],
    });
    const released = given(...placed, ...first, ...second);
    expect(released).toMatchObject({ status: 'released', releasedAt: later(2 * HOUR).toISOString() });
    expect(released.history.map((e) => e.type)).toEqual([
      'hold.placed',
      'hold.release_requested',
      'hold.release_requested',
      'hold.released',
    ]);
  });

  it('release: an expired request no longer counts', () => {
    const first = decideRelease(alice, given(...placed), 'settled', RULES, later(HOUR), STANDING);
    const tooLate = decideRelease(
      bob,
      given(...placed, ...first),
      'settled',
      RULES,
      later(HOUR + RULES.approvalTtlMs),
      STANDING,
    );
    expect(tooLate.map((e) => e.type)).toEqual(['hold.release_requested']);
    // ... and the first person may ask again once their request expired.
    expect(
      decideRelease(
        alice,
        given(...placed, ...first, ...tooLate),
        'still settled',
        RULES,
        later(HOUR + RULES.approvalTtlMs),
        STANDING,
      ).map((e) => e.type),
    ).toEqual(['hold.release_requested', 'hold.released']);
  });

  it('release: an amendment clears earlier requests', () => {
    const first = decideRelease(alice, given(...placed), 'settled', RULES, later(HOUR), STANDING);
    const amended = decideAmend(
      carol,
      given(...placed, ...first),
      { scope: {}, reason: 'everything' },
      later(2 * HOUR),
    );
    expect(
      decideRelease(bob, given(...placed, ...first, ...amended), 'settled', RULES, later(3 * HOUR), STANDING).map(
        (e) => e.type,
      ),
    ).toEqual(['hold.release_requested']);
  });

  it('release with one approval required releases at once', () => {
    expect(
      decideRelease(alice, given(...placed), 'done', { ...RULES, required: 1 }, T0, STANDING).map((e) => e.type),
    ).toEqual(['hold.release_requested', 'hold.released']);
  });

  it('a released hold can be neither amended nor released; an unreachable one is "not found"', () => {
    const released = given(
      ...placed,
      ...decideRelease(alice, given(...placed), 'done', { ...RULES, required: 1 }, T0, STANDING),
    );
    expect(() => decideRelease(bob, released, 'again', RULES, T0, STANDING)).toThrow(HoldReleasedError);
    expect(() => decideAmend(bob, released, { scope: {}, reason: 'r' }, T0)).toThrow(HoldReleasedError);
    expect(() => decideRelease(legal('gina', ['globex']), given(...placed), 'r', RULES, T0, STANDING)).toThrow(
      HoldNotFoundError,
    );
    expect(() => decideRelease(alice, undefined, 'r', RULES, T0, STANDING)).toThrow(HoldNotFoundError);
  });

  describe('release: one person, one vote, whatever keys they hold', () => {
    it('two keys of the same person count once', () => {
      const keys = standing(alice, alicePhone, bob);
      const first = decideRelease(alice, given(...placed), 'settled', RULES, later(HOUR), keys);
      const again = decideRelease(alicePhone, given(...placed, ...first), 'settled', RULES, later(2 * HOUR), keys);
      expect(again).toEqual([]);
      // Only a second person releases it.
      expect(
        decideRelease(bob, given(...placed, ...first), 'settled', RULES, later(2 * HOUR), keys).map((e) => e.type),
      ).toEqual(['hold.release_requested', 'hold.released']);
    });

    it('a key the first asker made for another person is not a second person', () => {
      const keys = standing(alice, bobByAlice);
      const first = decideRelease(alice, given(...placed), 'settled', RULES, later(HOUR), keys);
      expect(() =>
        decideRelease(bobByAlice, given(...placed, ...first), 'settled', RULES, later(2 * HOUR), keys),
      ).toThrow(ApprovalNotIndependentError);
    });

    it('nor is the one who made a key for the first asker', () => {
      const keys = standing(alice, bobByAlice);
      const first = decideRelease(bobByAlice, given(...placed), 'settled', RULES, later(HOUR), keys);
      expect(first.map((e) => e.type)).toEqual(['hold.release_requested']);
      expect(() => decideRelease(alice, given(...placed, ...first), 'settled', RULES, later(2 * HOUR), keys)).toThrow(
        ApprovalNotIndependentError,
      );
    });

    it('once its holder rotated it themself, that key counts as a second person', () => {
      const rotated: Principal = { ...bobByAlice, knownTo: ['p-bob'] };
      const keys = standing(alice, rotated);
      const first = decideRelease(alice, given(...placed), 'settled', RULES, later(HOUR), keys);
      expect(
        decideRelease(rotated, given(...placed, ...first), 'settled', RULES, later(2 * HOUR), keys).map((e) => e.type),
      ).toEqual(['hold.release_requested', 'hold.released']);
    });

    it('only a person asks to release: not a service, not the operator', () => {
      const service: Principal = { ...legal('billing-bot'), kind: 'service' };
      const one = { ...RULES, required: 1 };
      expect(() => decideRelease(service, given(...placed), 'r', one, T0, standing(service))).toThrow(
        ReleaseNeedsPersonError,
      );
      expect(() => decideRelease(operator('cli'), given(...placed), 'r', one, T0, STANDING)).toThrow(
        ReleaseNeedsPersonError,
      );
    });
  });

  describe('release: a request counts only while whoever made it still stands', () => {
    const gone: [string, Map<string, Principal | null>][] = [
      ['its key revoked or expired, or its principal revoked', new Map([...STANDING, ['key-alice', null]])],
      ['its key unknown', standing(bob, carol)],
      ['its legal grant withdrawn', standing({ ...alice, roles: [] }, bob, carol)],
      ['its legal no longer over the hold tenant', standing({ ...alice, tenants: ['globex'] }, bob, carol)],
      ['its key now acting for someone else', standing({ ...alice, principalId: 'p-mallory' }, bob, carol)],
      ['its key now acting for a non-person', standing({ ...alice, kind: 'service' }, bob, carol)],
    ];

    it.each(gone)('not once %s: the next person is the first that counts', (_, now) => {
      const first = decideRelease(alice, given(...placed), 'settled', RULES, later(HOUR), STANDING);
      const second = decideRelease(bob, given(...placed, ...first), 'settled', RULES, later(2 * HOUR), now);
      expect(second.map((e) => e.type)).toEqual(['hold.release_requested']);
      const third = decideRelease(carol, given(...placed, ...first, ...second), 'settled', RULES, later(3 * HOUR), now);
      expect(third[1]).toMatchObject({
        type: 'hold.released',
        approvers: [{ principal: 'p-bob' }, { principal: 'p-carol' }],
      });
    });
  });

  describe('release: requests recorded before principals are judged by how their key stands now', () => {
    const before = legacyRequest(alice, later(HOUR));

    it('counts while its key acts for a legal person', () => {
      const second = decideRelease(bob, given(...placed, before), 'settled', RULES, later(2 * HOUR), STANDING);
      expect(second.map((e) => e.type)).toEqual(['hold.release_requested', 'hold.released']);
      expect(second[1]).toMatchObject({ approvers: [{ keyId: 'key-alice', name: 'alice' }, { principal: 'p-bob' }] });
    });

    it('no longer counts once its key cannot act', () => {
      const now = standing(bob);
      expect(
        decideRelease(bob, given(...placed, before), 'settled', RULES, later(2 * HOUR), now).map((e) => e.type),
      ).toEqual(['hold.release_requested']);
    });

    it('is the same person as another key of its principal', () => {
      const keys = standing(alice, alicePhone);
      expect(decideRelease(alicePhone, given(...placed, before), 'settled', RULES, later(2 * HOUR), keys)).toEqual([]);
    });

    it('is not independent of whoever has seen its key secret', () => {
      const keys = standing({ ...alice, knownTo: ['p-alice', 'p-bob'] }, bob);
      expect(() => decideRelease(bob, given(...placed, before), 'settled', RULES, later(2 * HOUR), keys)).toThrow(
        ApprovalNotIndependentError,
      );
    });
  });
});
