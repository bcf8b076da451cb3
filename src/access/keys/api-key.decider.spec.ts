import {
  BeyondPrincipalGrantsError,
  GrantExceedsHolderError,
  KeyNotActiveError,
  KeyNotFoundError,
  PrincipalNotFoundError,
} from '../access.errors';
import { PrincipalState } from '../principals/principal.decider';
import { Principal } from '../roles';
import {
  ApiKeyEvent,
  ApiKeyState,
  CreateKeyRequest,
  applyEvents,
  decideCreate,
  decideRevoke,
  decideRotate,
  mayManage,
} from './api-key.decider';

const NOW = new Date('2026-11-27T12:00:00.000Z');

function admin(tenants: string[], expiresAt: string | null = null): Principal {
  return {
    keyId: 'k-admin',
    keyName: 'ops-laptop',
    principalId: 'p-ops',
    name: 'ops',
    kind: 'person',
    roles: ['admin'],
    tenants,
    expiresAt,
    knownTo: ['p-ops'],
  };
}

/** The service the key is for, holding `emitter` over `tenants` through an active grant. */
function billing(tenants: string[] = ['acme']): PrincipalState {
  return {
    id: 'p-billing',
    name: 'billing',
    kind: 'service',
    email: null,
    oidcSubject: null,
    createdAt: NOW.toISOString(),
    createdBy: 'p-ops',
    revokedAt: null,
    grants: [
      {
        id: 'g-billing',
        role: 'emitter',
        tenants,
        status: 'active',
        requestedBy: 'p-ops',
        requestedAt: NOW.toISOString(),
        approvedBy: null,
        approvedAt: NOW.toISOString(),
        revokedAt: null,
      },
    ],
  };
}

function request(overrides: Partial<CreateKeyRequest> = {}): CreateKeyRequest {
  return {
    id: 'k1',
    name: 'billing',
    prefix: 'atk_AAAAAAAA',
    roles: ['emitter'],
    tenants: ['acme'],
    expiresAt: null,
    principal: 'p-billing',
    ...overrides,
  };
}

/** The state after `events`, the way a store would hold it. */
function given(...events: ApiKeyEvent[]): ApiKeyState {
  return applyEvents(undefined, events) as ApiKeyState;
}

const created: ApiKeyEvent = decideCreate(admin(['*']), request(), billing(), NOW)[0];

describe('API key decider', () => {
  describe('create', () => {
    it('creates a key inside the holder scope', () => {
      const events = decideCreate(admin(['acme', 'globex']), request(), billing(), NOW);
      expect(events).toEqual([
        {
          type: 'api_key.created',
          key: {
            id: 'k1',
            name: 'billing',
            prefix: 'atk_AAAAAAAA',
            roles: ['emitter'],
            tenants: ['acme'],
            expiresAt: null,
            principal: 'p-billing',
          },
          by: 'k-admin',
          byPrincipal: 'p-ops',
          at: NOW.toISOString(),
        },
      ]);
      expect(given(...events)).toEqual({
        id: 'k1',
        name: 'billing',
        prefix: 'atk_AAAAAAAA',
        roles: ['emitter'],
        tenants: ['acme'],
        createdAt: NOW.toISOString(),
        createdBy: 'k-admin',
        rotatedAt: null,
        expiresAt: null,
        revokedAt: null,
        principal: 'p-billing',
        knownTo: ['p-billing', 'p-ops'],
      });
    });

    it('refuses a tenant outside the holder scope, and "*" to a scoped holder', () => {
      // A principal whose grants reach beyond the holder is hidden from it before the key is judged...
      expect(() => decideCreate(admin(['globex']), request(), billing(), NOW)).toThrow(PrincipalNotFoundError);
      expect(() => decideCreate(admin(['acme']), request({ tenants: ['*'] }), billing(['*']), NOW)).toThrow(
        PrincipalNotFoundError,
      );
      expect(() =>
        decideCreate(admin(['acme']), request({ tenants: ['acme', 'initech'] }), billing(['acme', 'initech']), NOW),
      ).toThrow(PrincipalNotFoundError);
      // ...one it may manage holds nothing there to give...
      expect(() => decideCreate(admin(['acme']), request({ tenants: ['*'] }), billing(), NOW)).toThrow(
        BeyondPrincipalGrantsError,
      );
      // ...and the holder's own scope still bounds a key that asks for no role at all.
      const roleless = { roles: [] };
      expect(() => decideCreate(admin(['globex']), request(roleless), { ...billing(), grants: [] }, NOW)).toThrow(
        GrantExceedsHolderError,
      );
      expect(() => decideCreate(admin(['acme']), request({ ...roleless, tenants: ['*'] }), billing(), NOW)).toThrow(
        /tenant \*/,
      );
      expect(() =>
        decideCreate(admin(['acme']), request({ ...roleless, tenants: ['acme', 'initech'] }), billing(), NOW),
      ).toThrow(/initech/);
    });

    it('refuses a life beyond the holder expiry', () => {
      const holder = admin(['*'], '2026-12-01T00:00:00.000Z');
      expect(() => decideCreate(holder, request(), billing(), NOW)).toThrow(GrantExceedsHolderError);
      expect(() => decideCreate(holder, request({ expiresAt: '2026-12-02T00:00:00.000Z' }), billing(), NOW)).toThrow(
        /no later/,
      );
      expect(decideCreate(holder, request({ expiresAt: '2026-11-30T00:00:00.000Z' }), billing(), NOW)).toHaveLength(1);
    });
  });

  describe('rotate', () => {
    it('gives a live key a new prefix and rotation time, and keeps the rest', () => {
      const events = decideRotate(admin(['*']), given(created), 'atk_BBBBBBBB', NOW);
      expect(events).toEqual([
        {
          type: 'api_key.rotated',
          id: 'k1',
          prefix: 'atk_BBBBBBBB',
          previousPrefix: 'atk_AAAAAAAA',
          byPrincipal: 'p-ops',
          at: NOW.toISOString(),
        },
      ]);
      expect(given(created, ...events)).toEqual({
        ...given(created),
        prefix: 'atk_BBBBBBBB',
        rotatedAt: NOW.toISOString(),
      });
    });

    it('answers "no such key" for a missing key and for one outside the caller scope alike', () => {
      expect(() => decideRotate(admin(['*']), undefined, 'atk_B', NOW)).toThrow(KeyNotFoundError);
      expect(() => decideRotate(admin(['globex']), given(created), 'atk_B', NOW)).toThrow(KeyNotFoundError);
    });

    it('refuses a revoked or expired key', () => {
      const revoked = given(created, { type: 'api_key.revoked', id: 'k1', at: NOW.toISOString() });
      expect(() => decideRotate(admin(['*']), revoked, 'atk_B', NOW)).toThrow(KeyNotActiveError);
      const expired = { ...given(created), expiresAt: '2026-11-27T11:59:59.999Z' };
      expect(() => decideRotate(admin(['*']), expired, 'atk_B', NOW)).toThrow(/expired/);
    });
  });

  describe('revoke', () => {
    it('revokes once; a second revocation records nothing', () => {
      const events = decideRevoke(admin(['acme']), given(created), NOW);
      expect(events).toEqual([{ type: 'api_key.revoked', id: 'k1', at: NOW.toISOString() }]);
      expect(decideRevoke(admin(['acme']), given(created, ...events), NOW)).toEqual([]);
    });

    it('hides keys outside the caller scope', () => {
      expect(() => decideRevoke(admin(['globex']), given(created), NOW)).toThrow(KeyNotFoundError);
      const everywhere = { ...given(created), tenants: ['*'] };
      expect(() => decideRevoke(admin(['acme']), everywhere, NOW)).toThrow(KeyNotFoundError);
    });
  });

  it('lets a holder manage exactly the keys inside its scope', () => {
    expect(mayManage(admin(['*']), { tenants: ['*'] })).toBe(true);
    expect(mayManage(admin(['acme', 'globex']), { tenants: ['acme'] })).toBe(true);
    expect(mayManage(admin(['acme']), { tenants: ['acme', 'globex'] })).toBe(false);
    expect(mayManage(admin(['acme']), { tenants: ['*'] })).toBe(false);
  });
});
