import { refusesValue, sqlState } from '../platform';

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

/** A unique violation (another process appended, or claimed the key), a serialization failure, a deadlock. */
const STALE = new Set(['23505', '40001', '40P01']);

/** How the sequencer handles a statement refused with `error` (see StatementFailure). */
export function classifyStatementFailure(error: unknown): StatementFailure {
  const code = sqlState(error);
  if (code === undefined) return 'other';
  if (STALE.has(code)) return 'stale';
  return refusesValue(code) ? 'request_data' : 'other';
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
  const names = new Set(
    [e.constraint, e.table, e.column, e.schema, e.dataType].filter((n): n is string => typeof n === 'string'),
  );
  const message =
    typeof e.message === 'string'
      ? e.message.replace(/"([^"]*)"/g, (quoted, inner: string) => (names.has(inner) ? quoted : '"…"'))
      : 'refused';
  const constraint =
    typeof e.constraint === 'string' && !message.includes(`"${e.constraint}"`) ? ` (constraint "${e.constraint}")` : '';
  return `the database refused this entry (SQLSTATE ${sqlState(error) ?? 'unknown'}): ${message}${constraint}`;
}
