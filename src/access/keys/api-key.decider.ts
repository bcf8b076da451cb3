import {
  BeyondPrincipalGrantsError,
  GrantExceedsHolderError,
  KeyNotActiveError,
  KeyNotFoundError,
  PrincipalNotActiveError,
  PrincipalNotFoundError,
  ReservedNameError,
} from '../access.errors';
import { PermissionError } from '../../platform';
import { PrincipalState, isReservedName, mayManagePrincipal, rolesOver } from '../principals/principal.decider';
import { Principal, Role, coversAllTenants, keyIdOf, rolesGrant } from '../roles';

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
  /** The principal the key acts for; null only for a key older than principals, until it is adopted at start. */
  readonly principal: string | null;
  /** The principals who have seen the current secret: its principal and whoever created or last rotated it. */
  readonly knownTo: readonly string[];
}

/** What a new key is to be, as its creator asked. */
export type CreateKeyRequest = Pick<ApiKeyState, 'id' | 'name' | 'prefix' | 'roles' | 'tenants' | 'expiresAt'> & {
  readonly principal: string;
};

export type ApiKeyEvent =
  | {
      readonly type: 'api_key.created';
      readonly key: CreateKeyRequest;
      readonly by: string | null;
      /** The creator's principal: it has seen the secret. */
      readonly byPrincipal: string;
      readonly at: string;
    }
  | {
      readonly type: 'api_key.rotated';
      readonly id: string;
      readonly prefix: string;
      readonly previousPrefix: string;
      /** Who rotated it (absent in entries older than principals): it has seen the new secret. */
      readonly byPrincipal?: string;
      readonly at: string;
    }
  | { readonly type: 'api_key.revoked'; readonly id: string; readonly at: string }
  /** A key older than principals given one at start; whoever may have seen its secret is named. */
  | {
      readonly type: 'api_key.adopted';
      readonly id: string;
      readonly principal: string;
      readonly knownTo: readonly string[];
      readonly at: string;
    };

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
 * A new key for `principal`. A key grants nothing its creator does not hold (no tenant outside its
 * scope, no life beyond its own expiry) and nothing its principal's active grants do not cover.
 */
export function decideCreate(
  by: Principal,
  request: CreateKeyRequest,
  principal: PrincipalState | undefined,
  now: Date,
): ApiKeyEvent[] {
  if (isReservedName(request.name)) throw new ReservedNameError(request.name);
  if (principal === undefined || principal.id !== request.principal || !mayManagePrincipal(by, principal))
    throw new PrincipalNotFoundError();
  if (principal.revokedAt !== null) throw new PrincipalNotActiveError();
  const granted = rolesOver(principal.grants, request.tenants);
  const beyond = request.roles.filter((role) => !granted.includes(role));
  if (beyond.length > 0)
    throw new BeyondPrincipalGrantsError(
      `principal ${principal.name} holds no active grant of ${beyond.join(', ')} over every tenant of this key`,
    );
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
      key: { id, name, prefix, roles, tenants, expiresAt, principal: principal.id },
      by: keyIdOf(by),
      byPrincipal: by.principalId,
      at: now.toISOString(),
    },
  ];
}

/**
 * A new secret for a live key; the old secret stops working with the same commit. A key may
 * rotate itself (so its holder alone knows its secret); otherwise this is an admin's, within scope.
 */
export function decideRotate(by: Principal, key: ApiKeyState | undefined, prefix: string, now: Date): ApiKeyEvent[] {
  const self = key !== undefined && by.keyId === key.id;
  if (!self && !rolesGrant(by.roles, 'keys:manage'))
    throw new PermissionError("this key's roles do not allow keys:manage; a key may rotate only itself");
  if (key === undefined || (!self && !mayManage(by, key))) throw new KeyNotFoundError();
  const state = liveState(key, now);
  if (state !== 'active') throw new KeyNotActiveError(state);
  return [
    {
      type: 'api_key.rotated',
      id: key.id,
      prefix,
      previousPrefix: key.prefix,
      byPrincipal: by.principalId,
      at: now.toISOString(),
    },
  ];
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
      // Keys created before principals name none: they are adopted at start (api_key.adopted).
      const principal = (event.key as Partial<CreateKeyRequest>).principal ?? null;
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
        principal,
        knownTo: principal === null ? [] : seenBy(principal, event.byPrincipal),
      };
    }
    case 'api_key.rotated': {
      const current = key as ApiKeyState;
      const knownTo =
        current.principal === null || event.byPrincipal === undefined
          ? current.knownTo
          : seenBy(current.principal, event.byPrincipal);
      return { ...current, prefix: event.prefix, rotatedAt: event.at, knownTo };
    }
    case 'api_key.revoked':
      return { ...(key as ApiKeyState), revokedAt: event.at };
    case 'api_key.adopted':
      return { ...(key as ApiKeyState), principal: event.principal, knownTo: event.knownTo };
    default: {
      const never: never = event;
      throw new Error(`unknown key event ${(never as { type: string }).type}`);
    }
  }
}

/** The principals who know a secret `by` issued to `principal`. */
function seenBy(principal: string, by: string | undefined): string[] {
  return by === undefined || by === principal ? [principal] : [principal, by];
}

/** The state after `events`, starting from `key` (undefined before creation). */
export function applyEvents(key: ApiKeyState | undefined, events: readonly ApiKeyEvent[]): ApiKeyState | undefined {
  return events.reduce<ApiKeyState | undefined>(evolve, key);
}
