import { LOG_NAME_PATTERN } from '@audit/ledger';
import { normaliseRfc3339 } from '../platform';
import { RFC3339_PATTERN, validator } from '../platform';
import { RequestValidationError } from '../platform';
import { GuardedField, PersonalDataGuard } from '../platform';
import { HoldQuestion, HoldScope } from './hold-scope';

/** Limits on holds (docs/api.md "Legal holds"). */
export const HOLD_LIMITS = { listItems: 1000, textLength: 2000, matterLength: 200 } as const;

const tenant = { type: 'string', anyOf: [{ const: '*' }, { pattern: LOG_NAME_PATTERN.source }] };
const names = {
  type: 'array',
  maxItems: HOLD_LIMITS.listItems,
  uniqueItems: true,
  items: { type: 'string', minLength: 1, maxLength: 256 },
};
const time = { type: 'string', maxLength: 40, pattern: RFC3339_PATTERN };
// Text that says something: not empty, not only spaces.
const text = (maxLength: number) => ({ type: 'string', minLength: 1, maxLength, pattern: '\\S' });

export const SCOPE_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: { subjects: names, actors: names, categories: names, types: names, from: time, to: time },
} as const;

export const PLACE_HOLD_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['tenant', 'matter', 'scope'],
  properties: {
    tenant,
    matter: text(HOLD_LIMITS.matterLength),
    description: { type: 'string', maxLength: HOLD_LIMITS.textLength },
    scope: SCOPE_SCHEMA,
  },
} as const;

export const AMEND_HOLD_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['scope', 'reason'],
  properties: {
    scope: SCOPE_SCHEMA,
    description: { type: 'string', maxLength: HOLD_LIMITS.textLength },
    reason: text(HOLD_LIMITS.textLength),
  },
} as const;

export const RELEASE_HOLD_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['reason'],
  properties: { reason: text(HOLD_LIMITS.textLength) },
} as const;

export const CHECK_HOLDS_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['tenant'],
  properties: {
    tenant: { type: 'string', pattern: LOG_NAME_PATTERN.source },
    subject: { type: 'string', minLength: 1, maxLength: 256 },
    actor: { type: 'string', minLength: 1, maxLength: 256 },
    category: { type: 'string', minLength: 1, maxLength: 64 },
    type: { type: 'string', minLength: 1, maxLength: 128 },
    at: time,
  },
} as const;

type Scope = {
  subjects?: string[];
  actors?: string[];
  categories?: string[];
  types?: string[];
  from?: string;
  to?: string;
};

const validatePlace = validator<{ tenant: string; matter: string; description?: string; scope: Scope }>(
  PLACE_HOLD_SCHEMA,
);
const validateAmend = validator<{ scope: Scope; description?: string; reason: string }>(AMEND_HOLD_SCHEMA);
const validateRelease = validator<{ reason: string }>(RELEASE_HOLD_SCHEMA);
const validateCheck = validator<{
  tenant: string;
  subject?: string;
  actor?: string;
  category?: string;
  type?: string;
  at?: string;
}>(CHECK_HOLDS_SCHEMA);

function instant(value: string, path: string): string {
  const normalised = normaliseRfc3339(value);
  if (normalised === null)
    throw new RequestValidationError([{ path, message: 'is not a real calendar time in years 0001 to 9999' }]);
  return normalised;
}

/** A scope with its times normalised to UTC and an empty window refused. */
function scopeOf(scope: Scope, path: string): HoldScope {
  const normalised: Scope = { ...scope };
  if (scope.from !== undefined) normalised.from = instant(scope.from, `${path}/from`);
  if (scope.to !== undefined) normalised.to = instant(scope.to, `${path}/to`);
  if (normalised.from !== undefined && normalised.to !== undefined && normalised.from >= normalised.to) {
    throw new RequestValidationError([{ path: `${path}/to`, message: 'must be later than from' }]);
  }
  return normalised;
}

/**
 * The personal-data guard over what a hold request writes into the `platform` log (docs/api.md
 * "Personal data outside `personal`"): its matter, description and reason (free text: every kind
 * the guard looks for), the scope's actors (like an event's `actor.id`) and the scope's subjects
 * (pseudonymous ids, so only what looks like an email is refused).
 */
function guardHold(
  guard: PersonalDataGuard,
  request: { matter?: string; description?: string; reason?: string; scope?: Scope },
): void {
  const field =
    (name: string): GuardedField['field'] =>
    () =>
      name;
  guard.check('hold', [
    { path: '/matter', value: request.matter, field: field('/matter') },
    { path: '/description', value: request.description, field: field('/description') },
    { path: '/reason', value: request.reason, field: field('/reason') },
    { path: '/scope/actors', value: request.scope?.actors, field: field('/scope/actors/*') },
    { path: '/scope/subjects', value: request.scope?.subjects, field: field('/scope/subjects/*'), only: ['email'] },
  ]);
}

export function parsePlaceHold(
  body: unknown,
  guard: PersonalDataGuard,
): {
  tenant: string;
  matter: string;
  description: string;
  scope: HoldScope;
} {
  const request = validatePlace(body);
  guardHold(guard, request);
  return {
    tenant: request.tenant,
    matter: request.matter,
    description: request.description ?? '',
    scope: scopeOf(request.scope, '/scope'),
  };
}

export function parseAmendHold(
  body: unknown,
  guard: PersonalDataGuard,
): { scope: HoldScope; description?: string; reason: string } {
  const request = validateAmend(body);
  guardHold(guard, request);
  return { scope: scopeOf(request.scope, '/scope'), description: request.description, reason: request.reason };
}

export function parseReleaseHold(body: unknown, guard: PersonalDataGuard): { reason: string } {
  const request = validateRelease(body);
  guardHold(guard, request);
  return request;
}

export function parseCheckHolds(body: unknown): HoldQuestion {
  const request = validateCheck(body);
  return request.at === undefined ? request : { ...request, at: instant(request.at, '/at') };
}
