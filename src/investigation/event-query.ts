import { LOG_NAME_PATTERN, canonicalJson, sha256 } from '@audit/ledger';
import { parseRfc3339 } from '../platform';
import { RFC3339_PATTERN, validator } from '../platform';
import { RequestValidationError } from '../platform';
import { PersonalSearchField, normaliseTerm } from '../ledger';

/**
 * The query language of `GET /v1/events` and `GET /v1/exports` (docs/api.md "Search and
 * exports"): filters on the members of an entry, combined with AND, and the opaque cursor of a
 * keyset page. Pure: parsing, checking and cursor encoding only.
 */

/** Limits of a search page. */
export const SEARCH_LIMITS = { defaultLimit: 100, maxLimit: 1000 } as const;

/** What an entry must match: every member named (exact match); `from` inclusive, `to` exclusive, on `recordedAt`. */
export interface EventFilter {
  readonly tenant?: string;
  readonly type?: string;
  readonly category?: string;
  readonly actor?: string;
  readonly actorType?: string;
  readonly target?: string;
  readonly targetType?: string;
  readonly subject?: string;
  readonly source?: string;
  readonly outcome?: 'success' | 'failure' | 'unknown';
  readonly from?: string;
  readonly to?: string;
  /** An email address in the entry's personal data, normalised (trimmed, lower case). */
  readonly personalEmail?: string;
  /** An IP address in the entry's personal data, normalised (node:net's form; IPv4-mapped as IPv4). */
  readonly personalIp?: string;
}

/** The filters on personal data, and the kind of value each looks up in the ledger's search index. */
export const PERSONAL_FILTERS: Readonly<Record<'personalEmail' | 'personalIp', PersonalSearchField>> = {
  personalEmail: 'email',
  personalIp: 'ip',
};

/** What a record or an export header says instead of a personal filter's value. */
export const WITHHELD = '[personal]';

/** Where a page ended, in the order every search and export uses: (recordedAt, log, index). */
export interface SearchPosition {
  readonly recordedAt: string;
  readonly log: string;
  readonly index: number;
}

export interface SearchQuery {
  readonly filter: EventFilter;
  readonly limit: number;
  /** Continue after (older than) this position; null for the first page. */
  readonly after: SearchPosition | null;
}

export type ExportFormat = 'ndjson' | 'csv';

export interface ExportQuery {
  readonly filter: EventFilter & { readonly tenant: string };
  readonly format: ExportFormat;
  /** `quorum=1`: cut the export at the latest checkpoint whose cosignatures met the witness quorum. */
  readonly quorum?: boolean;
}

const id = { type: 'string', minLength: 1, maxLength: 256 };
const time = { type: 'string', maxLength: 40, pattern: RFC3339_PATTERN };
const FILTER_PROPERTIES = {
  tenant: { type: 'string', pattern: LOG_NAME_PATTERN.source },
  type: { type: 'string', minLength: 1, maxLength: 128 },
  category: { type: 'string', minLength: 1, maxLength: 64 },
  actor: id,
  actorType: { type: 'string', minLength: 1, maxLength: 64 },
  target: id,
  targetType: { type: 'string', minLength: 1, maxLength: 64 },
  subject: id,
  source: { type: 'string', minLength: 1, maxLength: 256 },
  outcome: { type: 'string', enum: ['success', 'failure', 'unknown'] },
  from: time,
  to: time,
  personalEmail: { type: 'string', minLength: 1, maxLength: 320 },
  personalIp: { type: 'string', minLength: 1, maxLength: 64 },
} as const;

/** The names a filter may use, in the order they are recorded and digested. */
export const FILTER_NAMES = Object.keys(FILTER_PROPERTIES) as (keyof EventFilter)[];

const validateSearch = validator<EventFilter & { limit?: string; cursor?: string }>({
  type: 'object',
  additionalProperties: false,
  properties: {
    ...FILTER_PROPERTIES,
    limit: { type: 'string', pattern: '^[0-9]{1,7}$' },
    cursor: { type: 'string', minLength: 1, maxLength: 512 },
  },
});

const validateExport = validator<EventFilter & { format?: ExportFormat; quorum?: '1' }>({
  type: 'object',
  additionalProperties: false,
  required: ['tenant'],
  properties: {
    ...FILTER_PROPERTIES,
    format: { type: 'string', enum: ['ndjson', 'csv'] },
    quorum: { type: 'string', enum: ['1'] },
  },
});

function fail(name: string, message: string): never {
  throw new RequestValidationError([{ path: `/query/${name}`, message }]);
}

/** The filter members of a checked query, times normalised to UTC with milliseconds. */
function filterOf(query: Record<string, unknown>): EventFilter {
  const filter: Record<string, string> = {};
  for (const name of FILTER_NAMES) {
    const value = query[name];
    if (typeof value !== 'string') continue;
    if (name === 'from' || name === 'to') {
      const ms = parseRfc3339(value);
      if (ms === null) fail(name, 'is not a valid date-time');
      filter[name] = new Date(ms).toISOString();
    } else if (name === 'personalEmail' || name === 'personalIp') {
      const normalised = normaliseTerm(PERSONAL_FILTERS[name], value);
      if (normalised === null)
        fail(name, name === 'personalEmail' ? 'is not an email address' : 'is not an IPv4 or IPv6 address');
      filter[name] = normalised;
    } else filter[name] = value;
  }
  if (filter.from !== undefined && filter.to !== undefined && filter.to <= filter.from)
    fail('to', 'must be later than from');
  return filter as EventFilter;
}

/**
 * Parses the query string of `GET /v1/events`. Unknown parameters, malformed values, an inverted
 * time range, a limit outside 1..1000 and a cursor of another query are RequestValidationErrors
 * naming the parameter (`/query/<name>`).
 */
export function parseSearchQuery(query: unknown): SearchQuery {
  const checked = validateSearch(query ?? {}, '/query');
  const filter = filterOf(checked as Record<string, unknown>);
  let limit: number = SEARCH_LIMITS.defaultLimit;
  if (checked.limit !== undefined) {
    limit = Number(checked.limit);
    if (limit < 1 || limit > SEARCH_LIMITS.maxLimit) fail('limit', `must be from 1 to ${SEARCH_LIMITS.maxLimit}`);
  }
  return { filter, limit, after: checked.cursor === undefined ? null : decodeCursor(checked.cursor, filter) };
}

/** Parses the query string of `GET /v1/exports`: the filters of a search, `tenant` required, and `format`. */
export function parseExportQuery(query: unknown): ExportQuery {
  const checked = validateExport(query ?? {}, '/query');
  return {
    filter: filterOf(checked as Record<string, unknown>) as ExportQuery['filter'],
    format: checked.format ?? 'ndjson',
    ...(checked.quorum === '1' ? { quorum: true } : {}),
  };
}

/** The filter as plain strings, in a fixed member order: what a cursor is bound to and an export records. */
export function filterRecord(filter: EventFilter): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of FILTER_NAMES) if (filter[name] !== undefined) out[name] = filter[name] as string;
  return out;
}

/** filterRecord with the personal filters' values withheld: what an export's header says it selected. */
export function withheldFilterRecord(filter: EventFilter): Record<string, string> {
  const out = filterRecord(filter);
  for (const name of Object.keys(PERSONAL_FILTERS)) if (out[name] !== undefined) out[name] = WITHHELD;
  return out;
}

// A cursor is bound to its query by a digest of the filter: a cursor used with other filters (or
// another tenant) would silently page through a different result, so it is refused instead. Not
// to a personal filter's value, only to its presence: a cursor is recorded with the read (in the
// leaf), and an unkeyed digest of an address could be reversed by trying every IPv4 address.
function filterDigest(filter: EventFilter): string {
  return sha256(Buffer.from(canonicalJson(withheldFilterRecord(filter))))
    .subarray(0, 12)
    .toString('base64url');
}

/** The opaque cursor of the page after `position`, for `filter`. */
export function encodeCursor(filter: EventFilter, position: SearchPosition): string {
  return Buffer.from(
    JSON.stringify([1, filterDigest(filter), position.recordedAt, position.log, position.index]),
  ).toString('base64url');
}

/**
 * The position a cursor continues from. A cursor that is not one of ours, or that was made for
 * other filters, is a RequestValidationError on `/query/cursor`.
 */
export function decodeCursor(cursor: string, filter: EventFilter): SearchPosition {
  let parts: unknown;
  try {
    parts = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    fail('cursor', 'is not a cursor this service issued');
  }
  if (
    !Array.isArray(parts) ||
    parts.length !== 5 ||
    parts[0] !== 1 ||
    typeof parts[1] !== 'string' ||
    typeof parts[2] !== 'string' ||
    !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/.test(parts[2]) ||
    Number.isNaN(Date.parse(parts[2])) ||
    typeof parts[3] !== 'string' ||
    !LOG_NAME_PATTERN.test(parts[3]) ||
    !Number.isSafeInteger(parts[4]) ||
    parts[4] < 0
  ) {
    fail('cursor', 'is not a cursor this service issued');
  }
  if (parts[1] !== filterDigest(filter))
    fail('cursor', 'belongs to another query: use it with the same filters it came with');
  return { recordedAt: parts[2], log: parts[3], index: parts[4] };
}
