import { GrantExceedsHolderError, KeyNotActiveError, KeyNotFoundError } from '../access.errors';
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
  return { keyId: 'k-admin', name: 'ops', roles: ['admin'], tenants, expiresAt };
}

function request(overrides: Partial<CreateKeyRequest> = {}): CreateKeyRequest {
  return {
    id: 'k1',
    name: 'billing',
    prefix: 'atk_AAAAAAAA',
    roles: ['emitter'],
    tenants: ['acme'],
    expiresAt: null,
    ...overrides,
  };
}

/** The state after `events`, the way a store would hold it. */
function given(...events: ApiKeyEvent[]): ApiKeyState {
  return applyEvents(undefined, events) as ApiKeyState;
}

const created: ApiKeyEvent = decideCreate(admin(['*']), request(), NOW)[0];

describe('API key decider', () => {
  describe('create', () => {
    it('creates a key inside the holder scope', () => {
      const events = decideCreate(admin(['acme', 'globex']), request(), NOW);
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
          },
          by: 'k-admin',
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
      });
    });

    it('refuses a tenant outside the holder scope, and "*" to a scoped holder', () => {
      expect(() => decideCreate(admin(['globex']), request(), NOW)).toThrow(GrantExceedsHolderError);
      expect(() => decideCreate(admin(['acme']), request({ tenants: ['*'] }), NOW)).toThrow(/tenant \*/);
      expect(() => decideCreate(admin(['acme']), request({ tenants: ['acme', 'initech'] }), NOW)).toThrow(/initech/);
    });

    it('refuses a life beyond the holder expiry', () => {
      const holder = admin(['*'], '2026-12-01T00:00:00.000Z');
      expect(() => decideCreate(holder, request(), NOW)).toThrow(GrantExceedsHolderError);
      expect(() => decideCreate(holder, request({ expiresAt: '2026-12-02T00:00:00.000Z' }), NOW)).toThrow(/no later/);
      expect(decideCreate(holder, request({ expiresAt: '2026-11-30T00:00:00.000Z' }), NOW)).toHaveLength(1);
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
