import { LOG_NAME_PATTERN } from '@audit/ledger';

/** The roles of docs/domain.md "Users and roles". */
export const ROLES = ['emitter', 'investigator', 'legal', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** What a route may require. Every route names exactly one; a route without one does not start. */
export type Permission =
  | 'events:append'
  | 'events:read'
  | 'logs:read'
  | 'logs:verify'
  | 'keys:manage'
  | 'holds:manage'
  | 'holds:read'
  | 'holds:check'
  | 'retention:manage'
  | 'deletions:request'
  | 'deletions:read'
  /** Receive and follow data-subject requests (access, rectification, erasure), and fetch access bundles. */
  | 'subjects:request'
  /** Approve another person's pending `legal` grant (the second person of that rule). */
  | 'grants:approve'
  /** Create, change, replay and delete sinks (streaming to security tools) for tenants in scope. */
  | 'sinks:manage'
  /** Approve another person's sink that carries personal data. */
  | 'sinks:approve'
  /** Any valid key, whatever its roles: routes that answer every caller alike, but not anonymously. */
  | 'authenticated'
  | 'public';

const ROLE_PERMISSIONS: Record<Role, readonly Permission[]> = {
  emitter: ['events:append', 'holds:check'],
  investigator: ['events:read', 'logs:read', 'logs:verify', 'holds:read', 'holds:check'],
  legal: [
    'holds:manage',
    'holds:read',
    'holds:check',
    'deletions:request',
    'deletions:read',
    'grants:approve',
    'subjects:request',
    'sinks:approve',
  ],
  admin: ['keys:manage', 'retention:manage', 'holds:check', 'deletions:request', 'deletions:read', 'sinks:manage'],
};

/** Whether any of `roles` grants `permission`. */
export function rolesGrant(roles: readonly Role[], permission: Permission): boolean {
  return (
    permission === 'public' ||
    permission === 'authenticated' ||
    roles.some((role) => ROLE_PERMISSIONS[role].includes(permission))
  );
}

/** What a principal is: a person (legal staff, investigators), a service (an emitter), or the operator of the installation. */
export type PrincipalKind = 'person' | 'service' | 'operator';

/**
 * The authenticated caller: a principal (a person or a service, docs/api.md "Principals") acting
 * through one of its keys, or the operator at the command line (no key). `roles` and `tenants` are
 * what the key carries and its principal's grants still allow, at the time it authenticated.
 */
export interface Principal {
  /** The key's id; for the operator, `operator`. */
  readonly keyId: string;
  /** The key's name; for the operator, how it acts (`cli`, `bootstrap`, `scheduler`). */
  readonly keyName: string;
  /** The principal's stable id. */
  readonly principalId: string;
  /** The principal's unique name: the `source` of what it emits. */
  readonly name: string;
  readonly kind: PrincipalKind;
  readonly roles: readonly Role[];
  /** Tenants the key may touch; `['*']` for all. */
  readonly tenants: readonly string[];
  /** When the key stops working (RFC 3339), or null. */
  readonly expiresAt: string | null;
  /**
   * The principals who have seen the acting key's secret: its own principal, and whoever created
   * or last rotated it for them. A two-person rule counts every one of them as acting.
   */
  readonly knownTo: readonly string[];
}

const OPERATOR_KEY_ID = 'operator';

/** How the operator acts without a key. */
export type OperatorVia = 'cli' | 'bootstrap' | 'scheduler';

/**
 * The reserved principals of the operator (`operator/<via>`), with fixed ids: they exist in every
 * installation (`PrincipalsBootstrap`), and no one can create a principal of these names.
 */
export const OPERATOR_PRINCIPALS: Readonly<Record<OperatorVia, { readonly id: string; readonly name: string }>> = {
  bootstrap: { id: '00000000-0000-4000-8000-000000000001', name: 'operator/bootstrap' },
  cli: { id: '00000000-0000-4000-8000-000000000002', name: 'operator/cli' },
  scheduler: { id: '00000000-0000-4000-8000-000000000003', name: 'operator/scheduler' },
};

/**
 * The operator of the installation, acting without a key: at the command line (`cli`) or through
 * the environment at start (`bootstrap`), or on a schedule (`scheduler`). Admin of every tenant.
 */
export function operator(via: OperatorVia): Principal {
  const { id, name } = OPERATOR_PRINCIPALS[via];
  return {
    keyId: OPERATOR_KEY_ID,
    keyName: via,
    principalId: id,
    name,
    kind: 'operator',
    roles: ['admin'],
    tenants: ['*'],
    expiresAt: null,
    knownTo: [id],
  };
}

/** The id of the key acting, or null for the operator. */
export function keyIdOf(principal: Principal): string | null {
  return principal.keyId === OPERATOR_KEY_ID ? null : principal.keyId;
}

/** How a principal appears as the actor of the ledger entries it causes. */
export function actorOf(principal: Principal): { type: string; id: string } {
  const keyId = keyIdOf(principal);
  return keyId === null ? { type: 'operator', id: principal.keyName } : { type: 'api_key', id: keyId };
}

/** Whether the principal's tenant scope covers `tenant`. */
export function coversTenant(principal: Principal, tenant: string): boolean {
  return principal.tenants.includes('*') || principal.tenants.includes(tenant);
}

/** Whether every tenant of `tenants` is inside the principal's scope (`*` only inside `*`). */
export function coversAllTenants(principal: Principal, tenants: readonly string[]): boolean {
  return tenants.every((tenant) =>
    tenant === '*' ? principal.tenants.includes('*') : coversTenant(principal, tenant),
  );
}

/**
 * Whether `log` is a well-formed log name this principal's tenant scope covers. Routes answer
 * "no such log" when it is not, so another tenant's log looks exactly like a missing one.
 */
export function mayReadLog(principal: Principal, log: string): boolean {
  return LOG_NAME_PATTERN.test(log) && coversTenant(principal, log);
}
