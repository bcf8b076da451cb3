/**
 * Reading PostgreSQL's errors by their SQLSTATE, the one way every context decides what a refused
 * statement means (the sequencer's group commit, the search projection). Pure: the error only.
 */

/** The SQLSTATE of a PostgreSQL error (node-postgres, or TypeORM's copy of its fields), or undefined: Node's `ECONNRESET` and the like are not one. */
export function sqlState(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/**
 * Whether `code` says PostgreSQL refused a value the statement carried, rather than its own state:
 * class 22 (data exception: U+0000 in jsonb 22P05, invalid text 22021, out of range, ...), class 23
 * (integrity: check, not null, unique, foreign key, exclusion), class P0 (PL/pgSQL: a trigger's
 * RAISE 'P0001', an ASSERT 'P0004'), and the two limits a value can exceed: 54000
 * (program_limit_exceeded: an index row or a jsonb too large) and 54001 (statement_too_complex:
 * nesting too deep). Callers for whom a unique violation means something else (the sequencer: a
 * stale head) decide that first.
 */
export function refusesValue(code: string): boolean {
  return (
    code.startsWith('22') || code.startsWith('23') || code.startsWith('P0') || code === '54000' || code === '54001'
  );
}
