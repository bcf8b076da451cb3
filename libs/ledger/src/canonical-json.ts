import canonicalize from 'canonicalize';
import { LedgerError } from './ledger.errors';

/** A value that has exactly one JSON form and survives a round trip through it unchanged. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [member: string]: JsonValue };

/**
 * A value that RFC 8785 cannot encode without changing it: undefined, a function, a symbol, a
 * bigint, a non-finite number, an integer beyond 2^53, a string with a lone surrogate, a cycle,
 * a sparse array, or an object that is not a plain object (a Date, a Map, a class instance).
 * `path` names where it was found, in JSONPath-like form (`$.context.amount`).
 */
export class CanonicalJsonError extends LedgerError {
  readonly code = 'not_canonicalizable';

  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(`${path}: ${reason}`);
  }
}

/**
 * The RFC 8785 (JCS) canonical form of `value`. Requires a JsonValue in the strict sense above;
 * anything else is refused with a CanonicalJsonError rather than silently dropped, rounded or
 * replaced, because the bytes are signed and must mean exactly what the caller passed.
 */
export function canonicalJson(value: unknown): string {
  assertJsonValue(value, [], new Set());
  return canonicalize(value) as string;
}

/** The UTF-8 bytes of `canonicalJson(value)`; same preconditions. */
export function canonicalJsonBytes(value: unknown): Buffer {
  return Buffer.from(canonicalJson(value), 'utf8');
}

/**
 * The UTF-8 byte length of `canonicalJson(value)`, without building it; same preconditions and
 * errors. RFC 8785 writes strings, numbers and literals exactly as ECMAScript's JSON.stringify
 * does (section 3.2.2) and differs from it only in the order of members, so for a JsonValue the
 * two texts have the same length, and JSON.stringify is native: several times faster for the
 * size checks the service makes on every event before the one encoding that counts.
 */
export function canonicalJsonLength(value: unknown): number {
  assertJsonValue(value, [], new Set());
  return Buffer.byteLength(JSON.stringify(value), 'utf8');
}

/** `$` and then `.member` or `[index]` per step of `trail`, as CanonicalJsonError names a place. */
function pathOf(trail: readonly (string | number)[]): string {
  return `$${trail.map((step) => (typeof step === 'number' ? `[${step}]` : `.${step}`)).join('')}`;
}

/**
 * Refuses a value with no canonical form. `trail` is the way from the root, kept as a stack and
 * spelled out only for an error: this runs over every member of every appended event.
 */
function assertJsonValue(value: unknown, trail: (string | number)[], ancestors: Set<object>): void {
  switch (typeof value) {
    case 'string':
      if (!value.isWellFormed()) throw new CanonicalJsonError(pathOf(trail), 'string contains a lone surrogate');
      return;
    case 'boolean':
      return;
    case 'number':
      if (!Number.isFinite(value)) throw new CanonicalJsonError(pathOf(trail), 'number is not finite');
      if (Number.isInteger(value) && !Number.isSafeInteger(value)) {
        throw new CanonicalJsonError(pathOf(trail), 'integer is beyond 2^53 and would lose precision');
      }
      return;
    case 'object':
      break;
    default:
      throw new CanonicalJsonError(pathOf(trail), `${typeof value} has no JSON form`);
  }
  if (value === null) return;
  if (ancestors.has(value)) throw new CanonicalJsonError(pathOf(trail), 'value contains a cycle');
  ancestors.add(value);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      trail.push(i);
      if (!(i in value)) throw new CanonicalJsonError(pathOf(trail), 'array has a hole');
      assertJsonValue(value[i], trail, ancestors);
      trail.pop();
    }
  } else {
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) {
      throw new CanonicalJsonError(pathOf(trail), 'only plain objects have a canonical JSON form');
    }
    for (const key of Object.keys(value)) {
      if (!key.isWellFormed()) throw new CanonicalJsonError(pathOf(trail), 'member name contains a lone surrogate');
      trail.push(key);
      assertJsonValue((value as Record<string, unknown>)[key], trail, ancestors);
      trail.pop();
    }
  }
  ancestors.delete(value);
}
