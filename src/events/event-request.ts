import {
  CanonicalJsonError,
  GENESIS_PREV,
  JsonValue,
  LOG_NAME_PATTERN,
  LeafPosition,
  MAX_LEAF_BYTES,
  PLATFORM_LOG,
  canonicalJsonBytes,
  canonicalJsonLength,
  personalDigest,
  sha256,
} from '@audit/ledger';
import { randomBytes } from 'node:crypto';
import { coversTenant, Principal } from '../access';
import { EventToAppend, leafTemplateOf } from '../ledger';
import { normaliseRfc3339 } from '../platform';
import { RFC3339_PATTERN, jsonDepth, validator } from '../platform';
import { PayloadTooLargeError, PermissionError, RequestValidationError } from '../platform';
import { GuardedFinding, PersonalDataGuard, pointerSegment } from '../platform';
import { EVENT_TYPE_PATTERN, categorize, eventTypeSchema } from './event-catalogue';

/** Limits on what an emitter may send (docs/api.md "Limits"). */
export const EVENT_LIMITS = {
  batchEvents: 1000,
  jsonDepth: 16,
  personalDataBytes: 16 * 1024,
  idempotencyKeyLength: 200,
} as const;

const ref = {
  type: 'object',
  additionalProperties: false,
  required: ['type', 'id'],
  properties: {
    type: { type: 'string', minLength: 1, maxLength: 64, pattern: '^[a-z][a-z0-9_.-]*$' },
    id: { type: 'string', minLength: 1, maxLength: 256 },
  },
};

/** JSON schema of one event as emitters send it (also published in the OpenAPI document). */
export const EVENT_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['tenant', 'type', 'actor'],
  properties: {
    tenant: { type: 'string', pattern: LOG_NAME_PATTERN.source },
    type: { type: 'string', maxLength: 128, pattern: EVENT_TYPE_PATTERN },
    category: { type: 'string', minLength: 1, maxLength: 32 },
    actor: ref,
    target: ref,
    outcome: { type: 'string', enum: ['success', 'failure', 'unknown'] },
    occurredAt: { type: 'string', maxLength: 40, pattern: RFC3339_PATTERN },
    context: { type: 'object' },
    personal: {
      type: 'object',
      additionalProperties: false,
      required: ['subject', 'data'],
      properties: {
        subject: { type: 'string', minLength: 1, maxLength: 256 },
        data: { type: 'object' },
      },
    },
  },
} as const;

const BATCH_ITEM_SCHEMA = {
  ...EVENT_SCHEMA,
  properties: {
    ...EVENT_SCHEMA.properties,
    idempotencyKey: {
      type: 'string',
      minLength: 1,
      maxLength: EVENT_LIMITS.idempotencyKeyLength,
      pattern: '^[\\x21-\\x7e]+$',
    },
  },
} as const;

export const BATCH_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['events'],
  properties: { events: { type: 'array', minItems: 1, items: { type: 'object' } } },
} as const;

interface EventBody {
  tenant: string;
  type: string;
  category?: string;
  actor: { type: string; id: string };
  target?: { type: string; id: string };
  outcome?: 'success' | 'failure' | 'unknown';
  occurredAt?: string;
  context?: Record<string, JsonValue>;
  personal?: { subject: string; data: Record<string, JsonValue> };
  idempotencyKey?: string;
}

const validateEvent = validator<EventBody>(EVENT_SCHEMA);
const validateBatchItem = validator<EventBody>(BATCH_ITEM_SCHEMA);
const validateBatch = validator<{ events: unknown[] }>(BATCH_SCHEMA);

// The longest position the sequencer can give a leaf (its ids are UUIDs), to size-check an event
// before it is queued.
const LONGEST_POSITION: LeafPosition = {
  index: Number.MAX_SAFE_INTEGER,
  prev: GENESIS_PREV,
  id: '00000000-0000-7000-8000-000000000000',
  recordedAt: '2026-01-01T00:00:00.000Z',
};

/** Bytes of the salt of each event's personal data digest. */
const SALT_BYTES = 32;
/** Salts drawn from the random source at once: one call per 64 events, not one each (4% of a batch). */
const SALTS_PER_DRAW = 64;
let saltPool = Buffer.alloc(0);
let saltAt = 0;

/** A salt no other event has: the next unused bytes of a pool of fresh random bytes, never reused. */
function freshSalt(): Buffer {
  if (saltAt === saltPool.length) {
    saltPool = randomBytes(SALT_BYTES * SALTS_PER_DRAW);
    saltAt = 0;
  }
  saltAt += SALT_BYTES;
  return saltPool.subarray(saltAt - SALT_BYTES, saltAt);
}

function invalid(path: string, message: string): RequestValidationError {
  return new RequestValidationError([{ path, message }]);
}

/**
 * Keeps personal data out of the leaf (docs/api.md "Personal data outside `personal`"): every
 * string of `actor.id`, `target.id` and `context` (values, recursively; not member names), and
 * `personal.subject` (emails only: subjects are pseudonymous ids), except the `context` fields the
 * type declares not personal; and, for a catalogued type, any `context` field it declares personal.
 * The metric's field label keeps a `context` member name only when the type declares it.
 */
function guardPersonalData(guard: PersonalDataGuard, body: EventBody, path: string): void {
  const schema = eventTypeSchema(body.type);
  const contextPath = `${path}/context`;
  const declared: GuardedFinding[] = [];
  const named = new Set<string>();
  if (schema !== undefined) {
    for (const name of [...Object.keys(schema.context), ...schema.personal, ...schema.notPersonal]) named.add(name);
    if (body.context !== undefined) {
      for (const name of schema.personal) {
        if (Object.hasOwn(body.context, name))
          declared.push({
            path: `${contextPath}/${pointerSegment(name)}`,
            kind: 'declared',
            field: `/context/${name}`,
          });
      }
    }
  }
  // Fields declared either way are not scanned: refused already, or not personal.
  const skipped = new Set([
    ...(schema?.notPersonal ?? []).map((name) => `${contextPath}/${pointerSegment(name)}`),
    ...declared.map((finding) => finding.path),
  ]);
  guard.check(
    body.type,
    [
      { path: `${path}/actor/id`, value: body.actor.id, field: () => '/actor/id' },
      { path: `${path}/target/id`, value: body.target?.id, field: () => '/target/id' },
      {
        path: `${path}/personal/subject`,
        value: body.personal?.subject,
        field: () => '/personal/subject',
        only: ['email'],
      },
      {
        path: contextPath,
        value: body.context,
        skip: skipped.size === 0 ? undefined : (p) => skipped.has(p),
        field: (p) => {
          const [first, ...rest] = p.slice(contextPath.length + 1).split('/');
          const shown = named.has(first) ? first : '*';
          return `/context/${shown}${rest.length > 0 ? '/...' : ''}`;
        },
      },
    ],
    declared,
  );
}

/**
 * Turns one emitter event into what the sequencer appends, checking everything that could make
 * the append fail later: schema, tenant scope, category, depth, personal data outside `personal`,
 * canonical form and leaf size. `path` prefixes field paths in errors (`/events/3`). Personal data
 * gets a fresh salt here.
 */
function prepare(
  body: EventBody,
  path: string,
  principal: Principal,
  idempotencyKey: string | undefined,
  guard: PersonalDataGuard,
): EventToAppend {
  if (!coversTenant(principal, body.tenant))
    throw new PermissionError(`this key may not write to tenant ${body.tenant}`);
  // The platform log holds the service's own facts (keys, holds, reads, deletions), which its
  // projections are rebuilt from: an emitter's entry there, even one from a key scoped to every
  // tenant, could pose as one of them.
  if (body.tenant === PLATFORM_LOG)
    throw invalid(`${path}/tenant`, "is the audit service's own log; platform services write to their tenants' logs");
  const decision = categorize(body.type, body.category);
  if (!decision.ok) throw invalid(`${path}/${decision.field}`, decision.reason);
  if (body.context !== undefined && jsonDepth(body.context, EVENT_LIMITS.jsonDepth + 1) > EVENT_LIMITS.jsonDepth) {
    throw invalid(`${path}/context`, `is nested deeper than ${EVENT_LIMITS.jsonDepth} levels`);
  }
  guardPersonalData(guard, body, path);
  let occurredAt: string | undefined;
  if (body.occurredAt !== undefined) {
    const normalised = normaliseRfc3339(body.occurredAt);
    if (normalised === null) throw invalid(`${path}/occurredAt`, 'is not a real calendar time in years 0001 to 9999');
    occurredAt = normalised;
  }
  let personal: EventToAppend['personal'];
  if (body.personal !== undefined) {
    if (jsonDepth(body.personal.data, EVENT_LIMITS.jsonDepth + 1) > EVENT_LIMITS.jsonDepth) {
      throw invalid(`${path}/personal/data`, `is nested deeper than ${EVENT_LIMITS.jsonDepth} levels`);
    }
    const salt = freshSalt();
    const digest = canonicalCheck(() => personalDigest(salt, body.personal!.data), `${path}/personal/data`);
    if (canonicalJsonLength(body.personal.data) > EVENT_LIMITS.personalDataBytes) {
      throw new PayloadTooLargeError(
        `personal data is larger than ${EVENT_LIMITS.personalDataBytes} bytes`,
        `${path}/personal/data`,
      );
    }
    personal = { subject: body.personal.subject, data: body.personal.data, salt, digest };
  }
  const event: EventToAppend = {
    log: body.tenant,
    source: principal.name,
    type: body.type,
    category: decision.category,
    actor: body.actor,
    ...(body.target ? { target: body.target } : {}),
    outcome: body.outcome ?? 'unknown',
    ...(occurredAt ? { occurredAt } : {}),
    ...(body.context ? { context: body.context } : {}),
    ...(personal ? { personal } : {}),
  };
  const appended = idempotencyKey === undefined ? event : withIdempotency(event, body, idempotencyKey, path);
  // The leaf's size, bounded from above: the leaf at the longest position the sequencer can give
  // it. Its template also proves the members have a canonical form.
  const leafSize = canonicalCheck(() => leafTemplateOf(appended).byteLengthAt(LONGEST_POSITION), path);
  if (leafSize > MAX_LEAF_BYTES)
    throw new PayloadTooLargeError(`the event is larger than ${MAX_LEAF_BYTES} bytes as a ledger entry`, path || '/');
  return appended;
}

/** `event` with its idempotency key: a retry must be the same request (tenant, fields and personal data). */
function withIdempotency(event: EventToAppend, body: EventBody, key: string, path: string): EventToAppend {
  const { idempotencyKey: _ignored, ...request } = body;
  return { ...event, idempotency: { key, digest: canonicalCheck(() => sha256(canonicalJsonBytes(request)), path) } };
}

function canonicalCheck<T>(work: () => T, path: string): T {
  try {
    return work();
  } catch (e) {
    if (e instanceof CanonicalJsonError)
      throw invalid(
        `${path}${e.path
          .replace(/^\$/, '')
          .replace(/\.([^.[]+)/g, '/$1')
          .replace(/\[(\d+)\]/g, '/$1')}`,
        e.reason,
      );
    throw e;
  }
}

/** One event of `POST /v1/events`, with the Idempotency-Key header when given. */
export function prepareSingleEvent(
  body: unknown,
  principal: Principal,
  idempotencyKey: string | undefined,
  guard: PersonalDataGuard,
): EventToAppend {
  if (idempotencyKey !== undefined && !/^[\x21-\x7e]{1,200}$/.test(idempotencyKey)) {
    throw invalid('/headers/idempotency-key', 'must be 1 to 200 printable ASCII characters');
  }
  return prepare(validateEvent(body), '', principal, idempotencyKey, guard);
}

/**
 * Events of a batch prepared in one turn of the event loop. A batch of 1,000 is tens of
 * milliseconds of validation and canonicalisation; in one turn, under sustained batches, it kept
 * the checkpoint signer's and every other timer waiting (event-loop lag p99 of 0.2 to 0.6 s).
 */
export const BATCH_PREPARE_CHUNK = 100;

/**
 * The events of `POST /v1/events/batch`: all valid, or the whole batch is refused. Prepared in
 * chunks of BATCH_PREPARE_CHUNK with a turn of the event loop between them (`yieldTurn`); nothing
 * is queued before the last one is ready, so order and all-or-nothing stay as in one pass.
 */
export async function prepareBatch(
  body: unknown,
  principal: Principal,
  guard: PersonalDataGuard,
  yieldTurn: () => Promise<unknown> = () => new Promise((resolve) => setImmediate(resolve)),
): Promise<EventToAppend[]> {
  const { events } = validateBatch(body);
  if (events.length > EVENT_LIMITS.batchEvents) {
    throw new PayloadTooLargeError(`a batch holds at most ${EVENT_LIMITS.batchEvents} events`, '/events');
  }
  const prepared: EventToAppend[] = [];
  for (let i = 0; i < events.length; i++) {
    if (i > 0 && i % BATCH_PREPARE_CHUNK === 0) await yieldTurn();
    const event = validateBatchItem(events[i], `/events/${i}`);
    prepared.push(prepare(event, `/events/${i}`, principal, event.idempotencyKey, guard));
  }
  return prepared;
}
