import { Principal } from '../access';
import {
  HoldEvent,
  HoldState,
  ReleaseRules,
  applyHoldEvents,
  decideAmend,
  decidePlace,
  decideRelease,
} from './hold.decider';
import { HoldNarrowingError, HoldNotFoundError, HoldReleasedError, HoldTenantOutOfScopeError } from './holds.errors';

const T0 = new Date('2026-11-27T10:00:00.000Z');
const later = (ms: number) => new Date(T0.getTime() + ms);
const HOUR = 3_600_000;
const RULES: ReleaseRules = { required: 2, approvalTtlMs: 72 * HOUR };

function legal(name: string, tenants: string[] = ['acme']): Principal {
  return { keyId: `key-${name}`, name, roles: ['legal'], tenants, expiresAt: null };
}
const alice = legal('alice');
const bob = legal('bob');
const carol = legal('carol');

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
        by: { keyId: 'key-alice', name: 'alice' },
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

  it('release: two distinct keys; the same key twice counts once', () => {
    const first = decideRelease(alice, given(...placed), 'settled', RULES, later(HOUR));
    expect(first.map((e) => e.type)).toEqual(['hold.release_requested']);
    expect(decideRelease(alice, given(...placed, ...first), 'again', RULES, later(2 * HOUR))).toEqual([]);
    const second = decideRelease(bob, given(...placed, ...first), 'settled', RULES, later(2 * HOUR));
    expect(second.map((e) => e.type)).toEqual(['hold.release_requested', 'hold.released']);
    expect(second[1]).toMatchObject({ approvers: [{ keyId: 'key-alice' }, { keyId: 'key-bob' }] });
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
    const first = decideRelease(alice, given(...placed), 'settled', RULES, later(HOUR));
    const tooLate = decideRelease(bob, given(...placed, ...first), 'settled', RULES, later(HOUR + RULES.approvalTtlMs));
    expect(tooLate.map((e) => e.type)).toEqual(['hold.release_requested']);
    // ... and the first key may ask again once its request expired.
    expect(
      decideRelease(
        alice,
        given(...placed, ...first, ...tooLate),
        'still settled',
        RULES,
        later(HOUR + RULES.approvalTtlMs),
      ).map((e) => e.type),
    ).toEqual(['hold.release_requested', 'hold.released']);
  });

  it('release: an amendment clears earlier requests', () => {
    const first = decideRelease(alice, given(...placed), 'settled', RULES, later(HOUR));
    const amended = decideAmend(
      carol,
      given(...placed, ...first),
      { scope: {}, reason: 'everything' },
      later(2 * HOUR),
    );
    expect(
      decideRelease(bob, given(...placed, ...first, ...amended), 'settled', RULES, later(3 * HOUR)).map((e) => e.type),
    ).toEqual(['hold.release_requested']);
  });

  it('release with one approval required releases at once', () => {
    expect(decideRelease(alice, given(...placed), 'done', { ...RULES, required: 1 }, T0).map((e) => e.type)).toEqual([
      'hold.release_requested',
      'hold.released',
    ]);
  });

  it('a released hold can be neither amended nor released; an unreachable one is "not found"', () => {
    const released = given(...placed, ...decideRelease(alice, given(...placed), 'done', { ...RULES, required: 1 }, T0));
    expect(() => decideRelease(bob, released, 'again', RULES, T0)).toThrow(HoldReleasedError);
    expect(() => decideAmend(bob, released, { scope: {}, reason: 'r' }, T0)).toThrow(HoldReleasedError);
    expect(() => decideRelease(legal('gina', ['globex']), given(...placed), 'r', RULES, T0)).toThrow(HoldNotFoundError);
    expect(() => decideRelease(alice, undefined, 'r', RULES, T0)).toThrow(HoldNotFoundError);
  });
});
