/**
 * What a refused group-commit statement means for the requests in it, decided from the error
 * alone (pure: no I/O). The sequencer acts on the answer:
 * - `stale`: plan again from fresh heads (another process appended, or claimed the same
 *   idempotency key, since they were read; a serialization failure; a deadlock).
 * - `request_data`: PostgreSQL refused a value one of the requests carries. Nothing was written
 *   (the statement is atomic), so the heads still hold; the statement is split until the request
 *   that carries the value fails alone and every other one commits.
 * - `other`: anything else (connection lost, server shutting down, a bug in the service's SQL).
 *   Splitting would not help and would multiply the load on a database already in trouble: every
 *   request gets the original error, and the outcome may be unknown, so the heads are read again.
 */
export type StatementFailure = 'stale' | 'request_data' | 'other';

/** The fields of a PostgreSQL error (node-postgres `DatabaseError`, or TypeORM's copy of it). */
export interface PgErrorFields {
  readonly code?: unknown;
  readonly message?: unknown;
  readonly constraint?: unknown;
  readonly table?: unknown;
  readonly column?: unknown;
  readonly schema?: unknown;
  readonly dataType?: unknown;
}

const STALE = new Set(['23505', '40001', '40P01']);

/**
 * SQLSTATEs caused by the values a request carries, not by the database's state:
 * class 22 (data exception: U+0000 in jsonb 22P05, invalid text 22021, out of range, ...),
 * class 23 (integrity: check, not null, foreign key, exclusion) except 23505, which is `stale`,
 * class P0 (PL/pgSQL: a trigger's RAISE, 'P0001'; an ASSERT, 'P0004'), and the two limits a
 * value can exceed: 54000 (program_limit_exceeded: an index row or a jsonb too large) and 54001
 * (statement_too_complex: nesting too deep to process).
 */
function isRequestData(code: string): boolean {
  if (STALE.has(code)) return false;
  return code.startsWith('22') || code.startsWith('23') || code.startsWith('P0') || code === '54000' || code === '54001';
}

/** How the sequencer handles a statement refused with `error` (see StatementFailure). */
export function classifyStatementFailure(error: unknown): StatementFailure {
  const code = sqlState(error);
  if (code === undefined) return 'other';
  if (STALE.has(code)) return 'stale';
  return isRequestData(code) ? 'request_data' : 'other';
}

/** The SQLSTATE of a PostgreSQL error, or undefined (Node's `ECONNRESET` and the like are not one). */
function sqlState(error: unknown): string | undefined {
  const code = (error as PgErrorFields | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/**
 * What PostgreSQL refused, said without the refused values: its SQLSTATE, its message, and the
 * constraint when one is named. Never the error's `detail`, which repeats the row (personal data
 * included). Some messages quote the value too (`invalid input syntax for type uuid: "…"`), so a
 * quoted string stays only when it is a name the error itself reports (table, column, constraint,
 * schema, type); any other is replaced by "…".
 */
export function describeRefusal(error: unknown): string {
  const e = (error ?? {}) as PgErrorFields;
  const names = new Set([e.constraint, e.table, e.column, e.schema, e.dataType].filter((n): n is string => typeof n === 'string'));
  const message = typeof e.message === 'string' ? e.message.replace(/"([^"]*)"/g, (quoted, inner: string) => (names.has(inner) ? quoted : '"…"')) : 'refused';
  const constraint = typeof e.constraint === 'string' && !message.includes(`"${e.constraint}"`) ? ` (constraint "${e.constraint}")` : '';
  return `the database refused this entry (SQLSTATE ${sqlState(error) ?? 'unknown'}): ${message}${constraint}`;
}
