import { LOG_NAME_PATTERN } from '@audit/ledger';
import { RequestValidationError, validator } from '../../platform';
import { ROLES, Role } from '../roles';

/** Names of principals and keys: letters, digits and `_.:-`, starting with a letter or digit. */
export const NAME_SCHEMA = {
  type: 'string',
  minLength: 1,
  maxLength: 100,
  pattern: '^[A-Za-z0-9][A-Za-z0-9_.:-]*$',
} as const;

export const TENANTS_SCHEMA = {
  type: 'array',
  minItems: 1,
  maxItems: 1000,
  uniqueItems: true,
  items: { type: 'string', anyOf: [{ const: '*' }, { pattern: LOG_NAME_PATTERN.source }] },
} as const;

/** A tenant list is a list of tenants or `["*"]` alone. */
export function checkTenants(tenants: readonly string[], path = '/tenants'): void {
  if (tenants.includes('*') && tenants.length > 1)
    throw new RequestValidationError([{ path, message: '"*" stands alone' }]);
}

/** `POST /v1/principals`. */
export const CREATE_PRINCIPAL_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'kind'],
  properties: {
    name: NAME_SCHEMA,
    kind: { type: 'string', enum: ['person', 'service'] },
    email: { type: 'string', minLength: 3, maxLength: 254, pattern: '^[^@\\s]+@[^@\\s]+$' },
    oidcSubject: { type: 'string', minLength: 1, maxLength: 255 },
  },
} as const;

const validateCreatePrincipal = validator<{
  name: string;
  kind: 'person' | 'service';
  email?: string;
  oidcSubject?: string;
}>(CREATE_PRINCIPAL_SCHEMA);

export function parseCreatePrincipal(body: unknown): {
  name: string;
  kind: 'person' | 'service';
  email: string | null;
  oidcSubject: string | null;
} {
  const request = validateCreatePrincipal(body);
  if (request.kind === 'person' && request.email === undefined)
    throw new RequestValidationError([{ path: '/email', message: 'a person has an email' }]);
  if (request.kind === 'service' && (request.email !== undefined || request.oidcSubject !== undefined))
    throw new RequestValidationError([
      { path: '/kind', message: 'a service has no email or identity-provider subject' },
    ]);
  return {
    name: request.name,
    kind: request.kind,
    email: request.email ?? null,
    oidcSubject: request.oidcSubject ?? null,
  };
}

/** `POST /v1/principals/{id}/grants`. */
export const GRANT_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['role', 'tenants'],
  properties: { role: { type: 'string', enum: [...ROLES] }, tenants: TENANTS_SCHEMA },
} as const;

const validateGrant = validator<{ role: Role; tenants: string[] }>(GRANT_SCHEMA);

export function parseGrant(body: unknown): { role: Role; tenants: string[] } {
  const request = validateGrant(body);
  checkTenants(request.tenants);
  return request;
}
