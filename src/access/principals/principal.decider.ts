import {
  GrantExceedsHolderError,
  GrantNeedsPersonError,
  GrantNotFoundError,
  GrantNotPendingError,
  PrincipalNotActiveError,
  PrincipalNotFoundError,
  ReservedNameError,
  SecondPersonRequiredError,
} from '../access.errors';
import { Principal, PrincipalKind, Role, coversAllTenants } from '../roles';

/**
 * People and services behind keys as plain functions (docs/api.md "Principals"): what a principal
 * and its grants are (state), what may happen to them (decide) and what each happening does
 * (evolve). No clock, ids or storage: the caller passes them. The `principals` and `grants` tables
 * are the fold of these events, recorded as `principals` entries of the `platform` log. Event type
 * strings are permanent record.
 */

/** A role given to a principal over tenants; a `legal` grant is `pending` until a second legal person approves it. */
export interface GrantState {
  readonly id: string;
  readonly role: Role;
  readonly tenants: readonly string[];
  readonly status: 'pending' | 'active' | 'revoked';
  /** The principal who asked for it; null for the operator's first legal person. */
  readonly requestedBy: string | null;
  readonly requestedAt: string;
  readonly approvedBy: string | null;
  readonly approvedAt: string | null;
  readonly revokedAt: string | null;
}

export interface PrincipalState {
  readonly id: string;
  readonly name: string;
  readonly kind: PrincipalKind;
  /** A person's email (personal data: its entry carries it beside the leaf, never in it). */
  readonly email: string | null;
  readonly oidcSubject: string | null;
  readonly createdAt: string;
  readonly createdBy: string | null;
  readonly revokedAt: string | null;
  readonly grants: readonly GrantState[];
}

export interface NewPrincipal {
  readonly id: string;
  readonly name: string;
  readonly kind: Exclude<PrincipalKind, 'operator'>;
  readonly email: string | null;
  readonly oidcSubject: string | null;
}

export interface NewGrant {
  readonly id: string;
  readonly role: Role;
  readonly tenants: readonly string[];
}

export type PrincipalEvent =
  | {
      readonly type: 'principal.created';
      readonly principal: NewPrincipal | (Omit<NewPrincipal, 'kind'> & { readonly kind: 'operator' });
      readonly by: string | null;
      readonly at: string;
      /** The key this principal was made for, when it was made for a key older than principals. */
      readonly adoptedKey?: string;
    }
  | { readonly type: 'principal.revoked'; readonly id: string; readonly by: string; readonly at: string }
  /** A grant active at once (every role but `legal`, and a first legal person). */
  | {
      readonly type: 'principal.grant_added';
      readonly id: string;
      readonly grant: NewGrant;
      readonly by: string | null;
      readonly at: string;
    }
  /** A `legal` grant, pending a second legal person. */
  | {
      readonly type: 'principal.grant_requested';
      readonly id: string;
      readonly grant: NewGrant;
      readonly by: string;
      readonly at: string;
    }
  | {
      readonly type: 'principal.grant_approved';
      readonly id: string;
      readonly grantId: string;
      readonly by: string;
      readonly at: string;
    }
  | {
      readonly type: 'principal.grant_revoked';
      readonly id: string;
      readonly grantId: string;
      readonly by: string;
      readonly at: string;
    };

/** Names no one may take: the service's own `source`, and the operator's principals. */
export function isReservedName(name: string): boolean {
  const lower = name.toLowerCase();
  return lower === 'audit-trail' || lower === 'operator' || lower.startsWith('operator/');
}

/** The roles a principal holds over every tenant of `tenants` through its active grants. */
export function rolesOver(grants: readonly GrantState[], tenants: readonly string[]): Role[] {
  const roles = new Set<Role>();
  for (const grant of grants) {
    if (grant.status !== 'active') continue;
    const covers = tenants.every((tenant) =>
      tenant === '*' ? grant.tenants.includes('*') : grant.tenants.includes('*') || grant.tenants.includes(tenant),
    );
    if (covers) roles.add(grant.role);
  }
  return [...roles];
}

/**
 * Whether `by` may see and manage `principal`: every grant it holds lies inside `by`'s tenant
 * scope (a principal without grants is visible to every admin). Others are answered as missing.
 */
export function mayManagePrincipal(by: Principal, principal: PrincipalState): boolean {
  return principal.grants.every((grant) => grant.status === 'revoked' || coversAllTenants(by, grant.tenants));
}

function grantOf(principal: PrincipalState, grantId: string): GrantState {
  const grant = principal.grants.find((candidate) => candidate.id === grantId);
  if (grant === undefined) throw new GrantNotFoundError();
  return grant;
}

function live(by: Principal, principal: PrincipalState | undefined): PrincipalState {
  if (principal === undefined || !mayManagePrincipal(by, principal)) throw new PrincipalNotFoundError();
  if (principal.revokedAt !== null) throw new PrincipalNotActiveError();
  return principal;
}

export function decideCreatePrincipal(by: Principal, request: NewPrincipal, now: Date): PrincipalEvent[] {
  if (isReservedName(request.name)) throw new ReservedNameError(request.name);
  return [{ type: 'principal.created', principal: request, by: by.principalId, at: now.toISOString() }];
}

/** One of the operator's reserved principals (`operator/<via>`), admin of every tenant: made once, at start. */
export function decideOperatorPrincipal(
  operatorPrincipal: { id: string; name: string },
  grantId: string,
  now: Date,
): PrincipalEvent[] {
  const at = now.toISOString();
  return [
    {
      type: 'principal.created',
      principal: { ...operatorPrincipal, kind: 'operator', email: null, oidcSubject: null },
      by: null,
      at,
    },
    {
      type: 'principal.grant_added',
      id: operatorPrincipal.id,
      grant: { id: grantId, role: 'admin', tenants: ['*'] },
      by: null,
      at,
    },
  ];
}

/**
 * A principal for a key made before principals existed, holding exactly what the key holds (its
 * roles over its tenants, `legal` included: the key held it already). A key with `legal` gets a
 * person (legal is a person's role), any other a service. Said by the service at start.
 */
export function decideAdoption(
  adopted: { id: string; name: string; kind: 'person' | 'service'; key: string },
  grants: readonly NewGrant[],
  now: Date,
): PrincipalEvent[] {
  const at = now.toISOString();
  const { key, ...principal } = adopted;
  return [
    {
      type: 'principal.created',
      principal: { ...principal, email: null, oidcSubject: null },
      by: null,
      at,
      adoptedKey: key,
    },
    ...grants.map((grant): PrincipalEvent => ({ type: 'principal.grant_added', id: adopted.id, grant, by: null, at })),
  ];
}

/**
 * The first legal person of an installation: by the operator at the command line, legal over
 * every tenant at once. The caller refuses it once any person holds `legal`.
 */
export function decideFirstLegalPerson(
  by: Principal,
  person: Omit<NewPrincipal, 'kind'>,
  grantId: string,
  now: Date,
): PrincipalEvent[] {
  if (by.kind !== 'operator') throw new SecondPersonRequiredError('the first legal person comes from the command line');
  if (isReservedName(person.name)) throw new ReservedNameError(person.name);
  const at = now.toISOString();
  return [
    { type: 'principal.created', principal: { ...person, kind: 'person' }, by: by.principalId, at },
    {
      type: 'principal.grant_added',
      id: person.id,
      grant: { id: grantId, role: 'legal', tenants: ['*'] },
      by: by.principalId,
      at,
    },
  ];
}

/**
 * A service principal for a key created without one (`POST /keys` without `principal`): named as
 * the key, holding exactly the key's roles over the key's tenants, never `legal`.
 */
export function decideServiceForKey(
  by: Principal,
  service: { id: string; name: string },
  grants: readonly NewGrant[],
  now: Date,
): PrincipalEvent[] {
  if (grants.some((grant) => grant.role === 'legal')) throw new GrantNeedsPersonError();
  const created = decideCreatePrincipal(
    by,
    { id: service.id, name: service.name, kind: 'service', email: null, oidcSubject: null },
    now,
  );
  const state = applyPrincipalEvents(undefined, created);
  return [...created, ...grants.flatMap((grant) => decideGrant(by, state, grant, now))];
}

/**
 * A role for a principal over tenants inside the granter's own scope. `legal` only for a person,
 * and only pending: a second legal person approves it (`decideApproveGrant`).
 */
export function decideGrant(
  by: Principal,
  principal: PrincipalState | undefined,
  grant: NewGrant,
  now: Date,
): PrincipalEvent[] {
  const current = live(by, principal);
  if (current.kind === 'operator') throw new PrincipalNotFoundError();
  const outside = grant.tenants.filter((tenant) => !coversAllTenants(by, [tenant]));
  if (outside.length > 0)
    throw new GrantExceedsHolderError(`this key may not grant access to tenant ${outside.join(', ')}`);
  const at = now.toISOString();
  if (grant.role !== 'legal') return [{ type: 'principal.grant_added', id: current.id, grant, by: by.principalId, at }];
  if (current.kind !== 'person') throw new GrantNeedsPersonError();
  return [{ type: 'principal.grant_requested', id: current.id, grant, by: by.principalId, at }];
}

/**
 * The approval of a pending `legal` grant: by a person who holds `legal` over every tenant of it,
 * who is neither the grantee nor whoever asked for it, through a key whose secret neither of them
 * has seen (else the asker could approve through a key it made for someone else).
 */
export function decideApproveGrant(
  by: Principal,
  principal: PrincipalState | undefined,
  grantId: string,
  now: Date,
): PrincipalEvent[] {
  const current = live(by, principal);
  const grant = grantOf(current, grantId);
  if (grant.status !== 'pending') throw new GrantNotPendingError(grant.status);
  if (by.kind !== 'person' || !by.roles.includes('legal') || !coversAllTenants(by, grant.tenants))
    throw new SecondPersonRequiredError('a legal grant is approved by a person who holds legal over its tenants');
  const involved = [current.id, ...(grant.requestedBy === null ? [] : [grant.requestedBy])];
  if (involved.includes(by.principalId))
    throw new SecondPersonRequiredError('neither the grantee nor whoever asked for the grant may approve it');
  if (by.knownTo.some((seen) => involved.includes(seen)))
    throw new SecondPersonRequiredError(
      "this key's secret was issued by the grantee or whoever asked for the grant; its holder must rotate it first",
    );
  return [{ type: 'principal.grant_approved', id: current.id, grantId, by: by.principalId, at: now.toISOString() }];
}

/** A grant withdrawn, pending or active; withdrawing a withdrawn grant records nothing. */
export function decideRevokeGrant(
  by: Principal,
  principal: PrincipalState | undefined,
  grantId: string,
  now: Date,
): PrincipalEvent[] {
  const current = live(by, principal);
  if (grantOf(current, grantId).status === 'revoked') return [];
  return [{ type: 'principal.grant_revoked', id: current.id, grantId, by: by.principalId, at: now.toISOString() }];
}

/** A principal revoked: its keys stop working and its name stays taken. */
export function decideRevokePrincipal(
  by: Principal,
  principal: PrincipalState | undefined,
  now: Date,
): PrincipalEvent[] {
  if (principal === undefined || !mayManagePrincipal(by, principal) || principal.kind === 'operator')
    throw new PrincipalNotFoundError();
  if (principal.revokedAt !== null) return [];
  return [{ type: 'principal.revoked', id: principal.id, by: by.principalId, at: now.toISOString() }];
}

/** The principal an event is about. */
export function principalOfEvent(event: PrincipalEvent): string {
  return event.type === 'principal.created' ? event.principal.id : event.id;
}

function changeGrant(state: PrincipalState, grantId: string, change: Partial<GrantState>): PrincipalState {
  return {
    ...state,
    grants: state.grants.map((grant) => (grant.id === grantId ? { ...grant, ...change } : grant)),
  };
}

export function evolve(principal: PrincipalState | undefined, event: PrincipalEvent): PrincipalState {
  switch (event.type) {
    case 'principal.created': {
      const { id, name, kind, email, oidcSubject } = event.principal;
      return {
        id,
        name,
        kind,
        email,
        oidcSubject,
        createdAt: event.at,
        createdBy: event.by,
        revokedAt: null,
        grants: [],
      };
    }
    case 'principal.revoked':
      return { ...(principal as PrincipalState), revokedAt: event.at };
    case 'principal.grant_added':
    case 'principal.grant_requested': {
      const state = principal as PrincipalState;
      const added = event.type === 'principal.grant_added';
      const grant: GrantState = {
        id: event.grant.id,
        role: event.grant.role,
        tenants: event.grant.tenants,
        status: added ? 'active' : 'pending',
        requestedBy: event.by,
        requestedAt: event.at,
        approvedBy: null,
        approvedAt: added ? event.at : null,
        revokedAt: null,
      };
      return { ...state, grants: [...state.grants, grant] };
    }
    case 'principal.grant_approved':
      return changeGrant(principal as PrincipalState, event.grantId, {
        status: 'active',
        approvedBy: event.by,
        approvedAt: event.at,
      });
    case 'principal.grant_revoked':
      return changeGrant(principal as PrincipalState, event.grantId, { status: 'revoked', revokedAt: event.at });
    default: {
      const never: never = event;
      throw new Error(`unknown principal event ${(never as { type: string }).type}`);
    }
  }
}

/** The state after `events`, starting from `principal` (undefined before creation). */
export function applyPrincipalEvents(
  principal: PrincipalState | undefined,
  events: readonly PrincipalEvent[],
): PrincipalState | undefined {
  return events.reduce<PrincipalState | undefined>(evolve, principal);
}
