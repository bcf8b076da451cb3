import { LOG_NAME_PATTERN } from '@audit/ledger';
import { parseRfc3339 } from '../../platform';
import { RFC3339_PATTERN, validator } from '../../platform';
import { RequestValidationError } from '../../platform';
import { ROLES, Role } from '../roles';

/** `POST /v1/keys` and `npm run cli -- keys create`: one set of rules for both. */
export const CREATE_KEY_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'roles', 'tenants'],
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9][A-Za-z0-9_.:-]*$' },
    roles: { type: 'array', minItems: 1, uniqueItems: true, items: { type: 'string', enum: [...ROLES] } },
    tenants: {
      type: 'array',
      minItems: 1,
      maxItems: 1000,
      uniqueItems: true,
      items: { type: 'string', anyOf: [{ const: '*' }, { pattern: LOG_NAME_PATTERN.source }] },
    },
    expiresAt: { type: 'string', pattern: RFC3339_PATTERN },
  },
} as const;

const validateCreateKey = validator<{ name: string; roles: Role[]; tenants: string[]; expiresAt?: string }>(
  CREATE_KEY_SCHEMA,
);

/** Validated creation request, with the expiry normalised to RFC 3339 UTC. */
export function parseCreateKey(
  body: unknown,
  now = Date.now(),
): { name: string; roles: Role[]; tenants: string[]; expiresAt: string | null } {
  const request = validateCreateKey(body);
  if (request.tenants.includes('*') && request.tenants.length > 1) {
    throw new RequestValidationError([{ path: '/tenants', message: '"*" stands alone' }]);
  }
  let expiresAt: string | null = null;
  if (request.expiresAt !== undefined) {
    const ms = parseRfc3339(request.expiresAt);
    if (ms === null || ms <= now)
      throw new RequestValidationError([{ path: '/expiresAt', message: 'must be a valid time in the future' }]);
    expiresAt = new Date(ms).toISOString();
  }
  return { name: request.name, roles: request.roles, tenants: request.tenants, expiresAt };
}
