import {
  CanonicalJsonError,
  JsonValue,
  canonicalJson,
  canonicalJsonBytes,
  canonicalJsonLength,
} from './canonical-json';
import { HASH_SIZE, MAX_LEAF_BYTES } from './hashing';
import { LedgerError } from './ledger.errors';

/** The leaf format version this library writes and reads. */
export const LEAF_FORMAT_VERSION = 1;

/** A log (tenant) name: the log's name is the tenant id. */
export const LOG_NAME_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/;

/** The log of events that belong to no tenant, and of the service's own key and access records. */
export const PLATFORM_LOG = 'platform';

/** `prev` of the entry at index 0: standard base64 of 32 zero bytes. */
export const GENESIS_PREV = Buffer.alloc(HASH_SIZE).toString('base64');

const RFC3339_UTC_MILLIS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const BASE64_HASH = /^[A-Za-z0-9+/]{43}=$/;

/** `{type, id}`: who or what, by id; never a name or an email. */
export interface EntityRef {
  readonly type: string;
  readonly id: string;
}

/** The leaf's commitment to personal data kept beside the log (see personal-data.ts). */
export interface PersonalCommitment {
  readonly subject: string;
  readonly digest: string;
}

export type Outcome = 'success' | 'failure' | 'unknown';

/** The members of a leaf (docs/ledger-format.md "Leaves"). */
export interface LedgerEntry {
  readonly v: typeof LEAF_FORMAT_VERSION;
  readonly log: string;
  readonly index: number;
  readonly prev: string;
  readonly id: string;
  readonly recordedAt: string;
  readonly source: string;
  readonly type: string;
  readonly category: string;
  readonly actor: EntityRef;
  readonly target?: EntityRef;
  readonly outcome: Outcome;
  readonly occurredAt: string;
  readonly context?: { readonly [member: string]: JsonValue };
  readonly personal?: PersonalCommitment;
}

/** Bytes that are not a well-formed leaf of this format. `member` names the first offending one. */
export class EntryFormatError extends LedgerError {
  readonly code = 'malformed_entry';

  constructor(
    readonly member: string,
    reason: string,
  ) {
    super(`${member}: ${reason}`);
  }
}

/** A leaf longer than an entry bundle can carry (MAX_LEAF_BYTES). */
export class LeafTooLargeError extends LedgerError {
  readonly code = 'leaf_too_large';

  constructor(readonly size: number) {
    super(`leaf is ${size} bytes; the limit is ${MAX_LEAF_BYTES}`);
  }
}

/**
 * `prev` for the entry after the leaf whose hash is `previousLeafHash`, or GENESIS_PREV for the
 * first entry (null). Requires a HASH_SIZE-byte hash.
 */
export function prevLink(previousLeafHash: Buffer | null): string {
  if (previousLeafHash === null) return GENESIS_PREV;
  if (previousLeafHash.length !== HASH_SIZE) throw new RangeError(`leaf hash must be ${HASH_SIZE} bytes`);
  return previousLeafHash.toString('base64');
}

/**
 * The leaf bytes of `entry`: its RFC 8785 canonical JSON in UTF-8. Checks every member's shape
 * first (EntryFormatError), refuses values with no canonical form (CanonicalJsonError) and leaves
 * over MAX_LEAF_BYTES (LeafTooLargeError). Extra members are kept: the format allows more.
 */
export function encodeLeaf(entry: LedgerEntry): Buffer {
  assertEntryShape(entry as unknown as Record<string, unknown>);
  const bytes = canonicalJsonBytes(entry);
  if (bytes.length > MAX_LEAF_BYTES) throw new LeafTooLargeError(bytes.length);
  return bytes;
}

/**
 * The byte length of `encodeLeaf(entry)`, with the same checks except the size limit, without
 * building the leaf (canonicalJsonLength).
 */
export function leafLength(entry: LedgerEntry): number {
  assertEntryShape(entry as unknown as Record<string, unknown>);
  return canonicalJsonLength(entry);
}

/**
 * The entry that `leaf` encodes. Requires the bytes to be exactly `encodeLeaf` of a well-formed
 * entry: invalid UTF-8, non-canonical JSON or a malformed member is an EntryFormatError.
 */
export function decodeLeaf(leaf: Uint8Array): LedgerEntry {
  if (leaf.length > MAX_LEAF_BYTES) throw new LeafTooLargeError(leaf.length);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(leaf);
  } catch {
    throw new EntryFormatError('$', 'leaf is not valid UTF-8');
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new EntryFormatError('$', 'leaf is not JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new EntryFormatError('$', 'leaf is not a JSON object');
  }
  assertEntryShape(value as Record<string, unknown>);
  let canonical: Buffer;
  try {
    canonical = Buffer.from(canonicalJson(value), 'utf8');
  } catch (e) {
    if (e instanceof CanonicalJsonError) throw new EntryFormatError(e.path, e.reason);
    throw e;
  }
  if (!canonical.equals(leaf)) throw new EntryFormatError('$', 'leaf is not in RFC 8785 canonical form');
  return value as LedgerEntry;
}

function assertEntryShape(e: Record<string, unknown>): void {
  if (e.v !== LEAF_FORMAT_VERSION) throw new EntryFormatError('v', `must be ${LEAF_FORMAT_VERSION}`);
  if (typeof e.log !== 'string' || !LOG_NAME_PATTERN.test(e.log))
    throw new EntryFormatError('log', 'is not a log name');
  if (!Number.isSafeInteger(e.index) || (e.index as number) < 0)
    throw new EntryFormatError('index', 'must be an integer >= 0');
  if (typeof e.prev !== 'string' || !BASE64_HASH.test(e.prev))
    throw new EntryFormatError('prev', 'must be base64 of 32 bytes');
  if (e.index === 0 && e.prev !== GENESIS_PREV) throw new EntryFormatError('prev', 'of index 0 must be 32 zero bytes');
  for (const m of ['id', 'source', 'type', 'category'] as const) {
    if (typeof e[m] !== 'string' || e[m] === '') throw new EntryFormatError(m, 'must be a non-empty string');
  }
  for (const m of ['recordedAt', 'occurredAt'] as const) {
    if (
      typeof e[m] !== 'string' ||
      !RFC3339_UTC_MILLIS.test(e[m] as string) ||
      Number.isNaN(Date.parse(e[m] as string))
    ) {
      throw new EntryFormatError(m, 'must be an RFC 3339 UTC time with milliseconds');
    }
  }
  assertRef(e.actor, 'actor');
  if (e.target !== undefined) assertRef(e.target, 'target');
  if (e.outcome !== 'success' && e.outcome !== 'failure' && e.outcome !== 'unknown') {
    throw new EntryFormatError('outcome', 'must be success, failure or unknown');
  }
  if (e.context !== undefined && (typeof e.context !== 'object' || e.context === null || Array.isArray(e.context))) {
    throw new EntryFormatError('context', 'must be an object');
  }
  if (e.personal !== undefined) {
    const p = e.personal as Record<string, unknown>;
    if (typeof p !== 'object' || p === null || typeof p.subject !== 'string' || p.subject === '') {
      throw new EntryFormatError('personal.subject', 'must be a non-empty string');
    }
    if (typeof p.digest !== 'string' || !BASE64_HASH.test(p.digest)) {
      throw new EntryFormatError('personal.digest', 'must be base64 of 32 bytes');
    }
  }
}

function assertRef(ref: unknown, member: string): void {
  const r = ref as Record<string, unknown> | null;
  if (
    typeof r !== 'object' ||
    r === null ||
    typeof r.type !== 'string' ||
    r.type === '' ||
    typeof r.id !== 'string' ||
    r.id === ''
  ) {
    throw new EntryFormatError(member, 'must be {type, id} with non-empty strings');
  }
}
