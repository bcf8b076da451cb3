import { refusesValue, sqlState } from '../platform';
import { EventFilter } from './event-query';

/**
 * What keeps a projection from stalling on one entry (README "Quarantine"). Pure: which failures
 * are an entry's own, how to find the entries that fail in a range, and whether a quarantined
 * entry's leaf matches a filter the read model could not apply to it.
 */

// The class names of the SQLSTATEs an entry's own data can cause (refusesValue): the value does
// not fit (22), a constraint or trigger refuses it (23, P0), it is too large (54). Any other
// failure (a lost connection, a missing grant, a deadlock) is the service's or the database's
// fault: quarantining would set aside every entry it met, so the pass fails instead, and is seen.
const ENTRY_CLASSES: Readonly<Record<string, string>> = {
  '22': 'data_exception',
  '23': 'integrity_constraint_violation',
  P0: 'plpgsql_error',
  '54': 'program_limit_exceeded',
};

// Condition names of the codes an entry most often meets (PostgreSQL, Appendix A).
const CONDITIONS: Readonly<Record<string, string>> = {
  '22001': 'string_data_right_truncation',
  '22021': 'character_not_in_repertoire',
  '22023': 'invalid_parameter_value',
  '22030': 'duplicate_json_object_key_value',
  '22032': 'invalid_json_text',
  '22P02': 'invalid_text_representation',
  '22P05': 'untranslatable_character',
  '23502': 'not_null_violation',
  '23505': 'unique_violation',
  '23514': 'check_violation',
  P0001: 'raise_exception',
  '54000': 'program_limit_exceeded',
};

/**
 * Why an entry could not be projected, when `error` is the entry's own fault: its SQLSTATE and
 * condition name ("22P05 untranslatable_character"). Never the database's message, which may quote
 * the entry's values (personal data). Null when the failure is not the entry's (see ENTRY_CLASSES):
 * the caller must then let the error through. A unique violation is the entry's
 * too: the projector holds its log's progress, so no other writer can have put the row there.
 */
export function entryFailure(error: unknown): string | null {
  const code = sqlState(error);
  if (code === undefined || !refusesValue(code)) return null;
  return `${code} ${CONDITIONS[code] ?? ENTRY_CLASSES[code.slice(0, 2)]}`;
}

/**
 * The entries of [from, to) that fail alone, found by halving: `attempt(a, b)` projects [a, b)
 * and answers null when it did, or the reason when an entry of it failed (having written
 * nothing of it); any other failure it throws. Ranges are attempted in ascending order, so what
 * is written stays in index order. One bad entry among n costs about 2·log2(n) attempts.
 * Requires from <= to, both integers.
 */
export async function isolateFailures<R>(
  from: number,
  to: number,
  attempt: (from: number, to: number) => Promise<R | null>,
): Promise<{ index: number; reason: R }[]> {
  const failed: { index: number; reason: R }[] = [];
  const visit = async (a: number, b: number): Promise<void> => {
    if (a >= b) return;
    const reason = await attempt(a, b);
    if (reason === null) return;
    if (b - a === 1) {
      failed.push({ index: a, reason });
      return;
    }
    const middle = a + Math.floor((b - a) / 2);
    await visit(a, middle);
    await visit(middle, b);
  };
  await visit(from, to);
  return failed;
}

// Filter member → where audit_search_row reads it in the leaf (migrations EventSearch,
// ProjectionQuarantine): the read model's columns, for an entry that has no row.
// The personal filters are not the leaf's (the caller looks them up in the ledger's search index).
const LEAF_PATHS: Readonly<
  Record<Exclude<keyof EventFilter, 'tenant' | 'from' | 'to' | 'personalEmail' | 'personalIp'>, readonly string[]>
> = {
  type: ['type'],
  category: ['category'],
  actor: ['actor', 'id'],
  actorType: ['actor', 'type'],
  target: ['target', 'id'],
  targetType: ['target', 'type'],
  subject: ['personal', 'subject'],
  source: ['source'],
  outcome: ['outcome'],
};

/**
 * Whether a leaf (parsed JSON) matches every member of `filter` but `tenant`, `from` and `to`
 * (the log and the recorded time are the entry's row, not its leaf: the caller bounds those), as
 * the read model would have matched it: exact string equality, U+0000 read as U+FFFD.
 */
export function leafMatchesFilter(leaf: unknown, filter: EventFilter): boolean {
  for (const [member, path] of Object.entries(LEAF_PATHS)) {
    const wanted = filter[member as keyof typeof LEAF_PATHS];
    if (wanted === undefined) continue;
    let value: unknown = leaf;
    for (const key of path)
      value =
        typeof value === 'object' && value !== null && !Array.isArray(value)
          ? (value as Record<string, unknown>)[key]
          : undefined;
    if (typeof value !== 'string' || value.replaceAll('\u0000', '\uFFFD') !== wanted) return false;
  }
  return true;
}
