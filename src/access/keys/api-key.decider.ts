import { GrantExceedsHolderError, KeyNotActiveError, KeyNotFoundError } from '../access.errors';
import { Principal, Role, coversAllTenants, keyIdOf } from '../roles';

/**
 * The life of an API key as plain functions: what a key is (state), what may happen to it
 * (decide), and what each happening does (evolve). No clock, randomness or storage: the caller
 * passes the time, the new secret's prefix and the stored state. The `api_keys` table is the fold
 * of these events (plus each key's secret hash, which no event carries): `RebuildApiKeys`.
 */

/** A key as the decisions need it and as it is listed: everything but its secret. */
export interface ApiKeyState {
  readonly id: string;
  readonly name: string;
  readonly prefix: string;
  readonly roles: readonly Role[];
  readonly tenants: readonly string[];
  readonly createdAt: string;
  /** The key that created it; null for the operator (command line, bootstrap). */
  readonly createdBy: string | null;
  readonly rotatedAt: string | null;
  readonly expiresAt: string | null;
  readonly revokedAt: string | null;
}

/** What a new key is to be, as its creator asked. */
export type CreateKeyRequest = Pick<ApiKeyState, 'id' | 'name' | 'prefix' | 'roles' | 'tenants' | 'expiresAt'>;

export type ApiKeyEvent =
  | {
      readonly type: 'api_key.created';
      readonly key: CreateKeyRequest;
      readonly by: string | null;
      readonly at: string;
    }
  | {
      readonly type: 'api_key.rotated';
      readonly id: string;
      readonly prefix: string;
      readonly previousPrefix: string;
      readonly at: string;
    }
  | { readonly type: 'api_key.revoked'; readonly id: string; readonly at: string };

/** The key an event is about. */
export function keyOfEvent(event: ApiKeyEvent): string {
  return event.type === 'api_key.created' ? event.key.id : event.id;
}

/**
 * Whether `by` may see and manage `key`: the key's whole tenant scope lies inside its own. A key
 * it may not manage is answered as missing.
 */
export function mayManage(by: Principal, key: Pick<ApiKeyState, 'tenants'>): boolean {
  return coversAllTenants(by, key.tenants);
}

function liveState(key: ApiKeyState, now: Date): 'active' | 'revoked' | 'expired' {
  if (key.revokedAt !== null) return 'revoked';
  if (key.expiresAt !== null && Date.parse(key.expiresAt) <= now.getTime()) return 'expired';
  return 'active';
}

/**
 * A new key. A key grants nothing it does not hold: no tenant outside its scope, and no life
 * beyond its own expiry. Any role may be granted: handing out roles is what `keys:manage` is for.
 */
export function decideCreate(by: Principal, request: CreateKeyRequest, now: Date): ApiKeyEvent[] {
  const outside = request.tenants.filter((tenant) => !coversAllTenants(by, [tenant]));
  if (outside.length > 0)
    throw new GrantExceedsHolderError(`this key may not grant access to tenant ${outside.join(', ')}`);
  if (
    by.expiresAt !== null &&
    (request.expiresAt === null || Date.parse(request.expiresAt) > Date.parse(by.expiresAt))
  ) {
    throw new GrantExceedsHolderError(`this key expires at ${by.expiresAt}; a key it creates must expire no later`);
  }
  const { id, name, prefix, roles, tenants, expiresAt } = request;
  return [
    {
      type: 'api_key.created',
      key: { id, name, prefix, roles, tenants, expiresAt },
      by: keyIdOf(by),
      at: now.toISOString(),
    },
  ];
}

/** A new secret for a live key; the old secret stops working with the same commit. */
export function decideRotate(by: Principal, key: ApiKeyState | undefined, prefix: string, now: Date): ApiKeyEvent[] {
  if (key === undefined || !mayManage(by, key)) throw new KeyNotFoundError();
  const state = liveState(key, now);
  if (state !== 'active') throw new KeyNotActiveError(state);
  return [{ type: 'api_key.rotated', id: key.id, prefix, previousPrefix: key.prefix, at: now.toISOString() }];
}

/** Revocation; revoking a revoked key changes nothing and records nothing. */
export function decideRevoke(by: Principal, key: ApiKeyState | undefined, now: Date): ApiKeyEvent[] {
  if (key === undefined || !mayManage(by, key)) throw new KeyNotFoundError();
  if (key.revokedAt !== null) return [];
  return [{ type: 'api_key.revoked', id: key.id, at: now.toISOString() }];
}

export function evolve(key: ApiKeyState | undefined, event: ApiKeyEvent): ApiKeyState {
  switch (event.type) {
    case 'api_key.created': {
      const { id, name, prefix, roles, tenants, expiresAt } = event.key;
      return {
        id,
        name,
        prefix,
        roles,
        tenants,
        createdAt: event.at,
        createdBy: event.by,
        rotatedAt: null,
        expiresAt,
        revokedAt: null,
      };
    }
    case 'api_key.rotated':
      return { ...(key as ApiKeyState), prefix: event.prefix, rotatedAt: event.at };
    case 'api_key.revoked':
      return { ...(key as ApiKeyState), revokedAt: event.at };
    default: {
      const never: never = event;
      throw new Error(`unknown key event ${(never as { type: string }).type}`);
    }
  }
}

/** The state after `events`, starting from `key` (undefined before creation). */
export function applyEvents(key: ApiKeyState | undefined, events: readonly ApiKeyEvent[]): ApiKeyState | undefined {
  return events.reduce<ApiKeyState | undefined>(evolve, key);
}
