import { CanonicalJsonError, JsonValue, canonicalJson, canonicalJsonBytes } from './canonical-json';
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

/** What an event brings to its leaf: every member except those the sequencer fills in. */
export type LeafMembers = Omit<LedgerEntry, 'v' | 'index' | 'prev' | 'id' | 'recordedAt' | 'occurredAt'> & {
  /** The emitter's time; the entry's `recordedAt` when absent. */
  readonly occurredAt?: string;
};

/** The members the sequencer fills in: where in its log an entry stands, and when it was recorded. */
export interface LeafPosition {
  readonly index: number;
  readonly prev: string;
  readonly id: string;
  readonly recordedAt: string;
}

/**
 * The leaf of an event whose position is still open. RFC 8785 orders members by name, and the
 * position's fall at fixed places among the event's: `id` and `index` after `context`, a missing
 * `occurredAt` after `log`, `prev` and `recordedAt` after `personal`. So the event's members are
 * checked and canonicalised once, as four runs of text, and a leaf is those runs with the
 * position written between them: byte for byte `encodeLeaf` of the whole entry. The service
 * measures an event's leaf at the longest position when it arrives (`byteLengthAt`) and writes it
 * when the sequencer places it (`leafAt`).
 */
export class LeafTemplate {
  private constructor(
    /** `{"actor":…,"category":…[,"context":…]` */
    private readonly beforeId: string,
    /** `,"log":…[,"occurredAt":…]` */
    private readonly afterIndex: string,
    private readonly ownTime: boolean,
    /** `,"outcome":…[,"personal":…]` */
    private readonly beforePrev: string,
    /** `,"source":…[,"target":…],"type":…,"v":1}` */
    private readonly afterRecordedAt: string,
  ) {}

  /**
   * The template of `members`, with encodeLeaf's checks of them: EntryFormatError for a malformed
   * member, CanonicalJsonError for a value with no canonical form (its path as in the whole entry).
   */
  static of(members: LeafMembers): LeafTemplate {
    const { actor, category, context, log, occurredAt, outcome, personal, source, target, type } = members;
    assertMembers(members as unknown as Record<string, unknown>, false);
    const ownTime = occurredAt !== undefined;
    return new LeafTemplate(
      `{${member('actor', actor)},${member('category', category)}${context !== undefined ? `,${member('context', context)}` : ''}`,
      `,${member('log', log)}${ownTime ? `,${member('occurredAt', occurredAt)}` : ''}`,
      ownTime,
      `,${member('outcome', outcome)}${personal !== undefined ? `,${member('personal', personal)}` : ''}`,
      `,${member('source', source)}${target !== undefined ? `,${member('target', target)}` : ''},${member('type', type)},"v":${LEAF_FORMAT_VERSION}}`,
    );
  }

  /** The leaf at `position`: EntryFormatError for a malformed position, LeafTooLargeError over MAX_LEAF_BYTES. */
  leafAt(position: LeafPosition): Buffer {
    const leaf = Buffer.from(this.textAt(position), 'utf8');
    if (leaf.length > MAX_LEAF_BYTES) throw new LeafTooLargeError(leaf.length);
    return leaf;
  }

  /** The byte length of the leaf at `position`, with the same checks except the size limit. */
  byteLengthAt(position: LeafPosition): number {
    return Buffer.byteLength(this.textAt(position), 'utf8');
  }

  private textAt(position: LeafPosition): string {
    assertPosition(position as unknown as Record<string, unknown>);
    const at = JSON.stringify(position.recordedAt);
    return (
      `${this.beforeId},"id":${JSON.stringify(position.id)},"index":${position.index}${this.afterIndex}` +
      `${this.ownTime ? '' : `,"occurredAt":${at}`}${this.beforePrev},"prev":${JSON.stringify(position.prev)}` +
      `,"recordedAt":${at}${this.afterRecordedAt}`
    );
  }
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
  assertMembers(e, true);
  assertPosition(e);
}

/** The members an event brings (LeafMembers); `occurredAt` may be absent only from an event's. */
function assertMembers(e: Record<string, unknown>, inEntry: boolean): void {
  if (typeof e.log !== 'string' || !LOG_NAME_PATTERN.test(e.log))
    throw new EntryFormatError('log', 'is not a log name');
  for (const m of ['source', 'type', 'category'] as const) assertNonEmpty(e[m], m);
  if (inEntry || e.occurredAt !== undefined) assertTime(e.occurredAt, 'occurredAt');
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

/**
 * `"name":value` in RFC 8785 form. A string, or an object of strings, numbers, booleans and nulls
 * (a ref, the personal commitment, a flat context), is written here: RFC 8785 writes those values
 * as JSON.stringify does and orders members by UTF-16 code units, as `sort()` does; this is most of
 * what events carry and several times faster than the general encoder. Anything else, and any
 * value with no canonical form, goes through canonicalJson, whose error then names the member.
 */
function member(name: string, value: unknown): string {
  if (typeof value === 'string' && value.isWellFormed()) return `"${name}":${JSON.stringify(value)}`;
  if (isFlatObject(value)) {
    const names = Object.keys(value).sort();
    return `"${name}":{${names.map((n) => `${JSON.stringify(n)}:${JSON.stringify(value[n])}`).join(',')}}`;
  }
  try {
    return `"${name}":${canonicalJson(value)}`;
  } catch (e) {
    if (e instanceof CanonicalJsonError) throw new CanonicalJsonError(`$.${name}${e.path.slice(1)}`, e.reason);
    throw e;
  }
}

/** A plain object whose member names and values need no more than JSON.stringify to be canonical. */
function isFlatObject(value: unknown): value is Record<string, string | number | boolean | null> {
  if (typeof value !== 'object' || value === null || Object.getPrototypeOf(value) !== Object.prototype) return false;
  for (const name in value) {
    if (!Object.hasOwn(value, name) || !name.isWellFormed()) return false;
    const v = (value as Record<string, unknown>)[name];
    if (typeof v === 'string') {
      if (!v.isWellFormed()) return false;
    } else if (typeof v === 'number') {
      if (!Number.isFinite(v) || (Number.isInteger(v) && !Number.isSafeInteger(v))) return false;
    } else if (typeof v !== 'boolean' && v !== null) return false;
  }
  return true;
}

/** The members a LeafPosition gives an entry (the sequencer's part of a leaf). */
function assertPosition(e: Record<string, unknown>): void {
  if (!Number.isSafeInteger(e.index) || (e.index as number) < 0)
    throw new EntryFormatError('index', 'must be an integer >= 0');
  if (typeof e.prev !== 'string' || !BASE64_HASH.test(e.prev))
    throw new EntryFormatError('prev', 'must be base64 of 32 bytes');
  if (e.index === 0 && e.prev !== GENESIS_PREV) throw new EntryFormatError('prev', 'of index 0 must be 32 zero bytes');
  assertNonEmpty(e.id, 'id');
  // A template writes the id into the leaf's text itself: it must have a canonical form.
  if (!(e.id as string).isWellFormed()) throw new EntryFormatError('id', 'must be well-formed Unicode');
  assertTime(e.recordedAt, 'recordedAt');
}

function assertNonEmpty(value: unknown, member: string): void {
  if (typeof value !== 'string' || value === '') throw new EntryFormatError(member, 'must be a non-empty string');
}

function assertTime(value: unknown, member: string): void {
  if (typeof value !== 'string' || !RFC3339_UTC_MILLIS.test(value) || Number.isNaN(Date.parse(value)))
    throw new EntryFormatError(member, 'must be an RFC 3339 UTC time with milliseconds');
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
