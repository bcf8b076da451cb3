import { LOG_NAME_PATTERN } from '@audit/ledger';

/** The roles of DESIGN.md "Users and roles". */
export const ROLES = ['emitter', 'investigator', 'legal', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** What a route may require. Every route names exactly one; a route without one does not start. */
export type Permission =
  | 'events:append'
  | 'events:read'
  | 'logs:read'
  | 'logs:verify'
  | 'keys:manage'
  | 'public';

const ROLE_PERMISSIONS: Record<Role, readonly Permission[]> = {
  emitter: ['events:append'],
  investigator: ['events:read', 'logs:read', 'logs:verify'],
  legal: [],
  admin: ['keys:manage'],
};

/** Whether any of `roles` grants `permission`. */
export function rolesGrant(roles: readonly Role[], permission: Permission): boolean {
  return permission === 'public' || roles.some((role) => ROLE_PERMISSIONS[role].includes(permission));
}

/** The authenticated caller, from its API key. */
export interface Principal {
  readonly keyId: string;
  readonly name: string;
  readonly roles: readonly Role[];
  /** Tenants the key may touch; `['*']` for all. */
  readonly tenants: readonly string[];
}

/** Whether the principal's tenant scope covers `tenant`. */
export function coversTenant(principal: Principal, tenant: string): boolean {
  return principal.tenants.includes('*') || principal.tenants.includes(tenant);
}

/**
 * Whether `log` is a well-formed log name this principal's tenant scope covers. Routes answer
 * "no such log" when it is not, so another tenant's log looks exactly like a missing one.
 */
export function mayReadLog(principal: Principal, log: string): boolean {
  return LOG_NAME_PATTERN.test(log) && coversTenant(principal, log);
}
