import { LOG_NAME_PATTERN, canonicalJson, sha256 } from '@audit/ledger';
import { RequestValidationError, validator } from '../platform';
import type { DeletionKind, DeletionStatus } from './deletion-request.decider';

/**
 * The query of `GET /v1/deletion-requests` (docs/api.md "Deletion requests"): filters, a page
 * size and the opaque keyset cursor of the next page. Pure: parsing, checking, cursor encoding.
 */

export const DELETION_LIST_LIMITS = { defaultLimit: 50, maxLimit: 200 } as const;

export const DELETION_STATUSES: readonly DeletionStatus[] = [
  'queued',
  'running',
  'completed',
  'partially_blocked',
  'blocked',
  'failed',
];
export const DELETION_KINDS: readonly DeletionKind[] = ['subject_erasure', 'tenant_closure', 'retention_purge'];

/** What a listed request must match: every member named (exact match). `tenant` `*` is the purges'. */
export interface DeletionListFilter {
  readonly tenant?: string;
  readonly status?: DeletionStatus;
  readonly kind?: DeletionKind;
}

/** Where a page ended, in the list's order: newest request first, (requestedAt, id) descending. */
export interface DeletionListPosition {
  readonly requestedAt: string;
  readonly id: string;
}

export interface DeletionListQuery {
  readonly filter: DeletionListFilter;
  readonly limit: number;
  /** Continue after (older than) this position; null for the first page. */
  readonly after: DeletionListPosition | null;
}

const FILTER_NAMES = ['tenant', 'status', 'kind'] as const;

const validateList = validator<DeletionListFilter & { limit?: string; cursor?: string }>({
  type: 'object',
  additionalProperties: false,
  properties: {
    tenant: { type: 'string', anyOf: [{ const: '*' }, { pattern: LOG_NAME_PATTERN.source }] },
    status: { type: 'string', enum: DELETION_STATUSES },
    kind: { type: 'string', enum: DELETION_KINDS },
    limit: { type: 'string', pattern: '^[0-9]{1,7}$' },
    cursor: { type: 'string', minLength: 1, maxLength: 512 },
  },
});

function fail(name: string, message: string): never {
  throw new RequestValidationError([{ path: `/query/${name}`, message }]);
}

/**
 * Parses the query string of `GET /v1/deletion-requests`. Unknown or repeated parameters,
 * malformed values, a limit outside 1..200 and a cursor of another query are
 * RequestValidationErrors naming the parameter (`/query/<name>`).
 */
export function parseDeletionListQuery(query: unknown): DeletionListQuery {
  const checked = validateList(query ?? {}, '/query');
  const filter: Record<string, string> = {};
  for (const name of FILTER_NAMES) if (checked[name] !== undefined) filter[name] = checked[name] as string;
  let limit: number = DELETION_LIST_LIMITS.defaultLimit;
  if (checked.limit !== undefined) {
    limit = Number(checked.limit);
    if (limit < 1 || limit > DELETION_LIST_LIMITS.maxLimit)
      fail('limit', `must be from 1 to ${DELETION_LIST_LIMITS.maxLimit}`);
  }
  return {
    filter,
    limit,
    after: checked.cursor === undefined ? null : decodeDeletionCursor(checked.cursor, filter),
  };
}

// Bound to its filters, as the search's cursor: used with other filters it would page through
// another list without saying so, so it is refused instead.
function filterDigest(filter: DeletionListFilter): string {
  const record: Record<string, string> = {};
  for (const name of FILTER_NAMES) if (filter[name] !== undefined) record[name] = filter[name] as string;
  return sha256(Buffer.from(canonicalJson(record)))
    .subarray(0, 12)
    .toString('base64url');
}

const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The opaque cursor of the page after `position`, for `filter`. */
export function encodeDeletionCursor(filter: DeletionListFilter, position: DeletionListPosition): string {
  return Buffer.from(JSON.stringify([1, filterDigest(filter), position.requestedAt, position.id])).toString(
    'base64url',
  );
}

/** The position a cursor continues from; one not issued here, or for other filters, is a 400 on `/query/cursor`. */
export function decodeDeletionCursor(cursor: string, filter: DeletionListFilter): DeletionListPosition {
  let parts: unknown;
  try {
    parts = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    fail('cursor', 'is not a cursor this service issued');
  }
  if (
    !Array.isArray(parts) ||
    parts.length !== 4 ||
    parts[0] !== 1 ||
    typeof parts[1] !== 'string' ||
    typeof parts[2] !== 'string' ||
    !ISO_MS.test(parts[2]) ||
    Number.isNaN(Date.parse(parts[2])) ||
    typeof parts[3] !== 'string' ||
    !UUID.test(parts[3])
  ) {
    fail('cursor', 'is not a cursor this service issued');
  }
  if (parts[1] !== filterDigest(filter))
    fail('cursor', 'belongs to another query: use it with the same filters it came with');
  return { requestedAt: parts[2], id: parts[3] };
}
