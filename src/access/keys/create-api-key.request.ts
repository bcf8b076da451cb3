import { parseRfc3339 } from '../../platform';
import { RFC3339_PATTERN, validator } from '../../platform';
import { RequestValidationError } from '../../platform';
import { NAME_SCHEMA, TENANTS_SCHEMA, checkTenants } from '../principals/principals.request';
import { ROLES, Role } from '../roles';

/** `POST /v1/keys` and `npm run cli -- keys create`: one set of rules for both. */
export const CREATE_KEY_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'roles', 'tenants'],
  properties: {
    /** The principal's id; without it, a service principal named as the key is made for it. */
    principal: { type: 'string', pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' },
    name: NAME_SCHEMA,
    roles: { type: 'array', minItems: 1, uniqueItems: true, items: { type: 'string', enum: [...ROLES] } },
    tenants: TENANTS_SCHEMA,
    expiresAt: { type: 'string', pattern: RFC3339_PATTERN },
  },
} as const;

const validateCreateKey = validator<{
  principal?: string;
  name: string;
  roles: Role[];
  tenants: string[];
  expiresAt?: string;
}>(CREATE_KEY_SCHEMA);

/** Validated creation request, with the expiry normalised to RFC 3339 UTC. */
export function parseCreateKey(
  body: unknown,
  now = Date.now(),
): { principal: string | null; name: string; roles: Role[]; tenants: string[]; expiresAt: string | null } {
  const request = validateCreateKey(body);
  checkTenants(request.tenants);
  let expiresAt: string | null = null;
  if (request.expiresAt !== undefined) {
    const ms = parseRfc3339(request.expiresAt);
    if (ms === null || ms <= now)
      throw new RequestValidationError([{ path: '/expiresAt', message: 'must be a valid time in the future' }]);
    expiresAt = new Date(ms).toISOString();
  }
  return {
    principal: request.principal ?? null,
    name: request.name,
    roles: request.roles,
    tenants: request.tenants,
    expiresAt,
  };
}
