import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { Sql } from './log-store';

/** An entry whose personal data is not erased yet, with what an erasure decides on. */
export interface ErasableEntry {
  readonly log: string;
  readonly index: number;
  readonly subject: string;
  readonly category: string;
  readonly type: string;
  /** The actor's id. */
  readonly actor: string;
  /** The service's time (retention runs on it, never on the emitter's occurredAt). */
  readonly recordedAt: string;
}

/**
 * Which erasable entries to list: those of one log (of one subject, or of all when `subject` is
 * null), in index order; or every log's, in (log, index) order strictly after `after`, up to
 * `limit` (a purge's batch).
 */
export type ErasableFilter =
  | { readonly log: string; readonly subject: string | null }
  | { readonly after: { readonly log: string; readonly index: number }; readonly limit: number };

interface CandidateRow {
  log: string;
  idx: string;
  subject: string;
  recorded_at: Date;
  category: string;
  type: string;
  actor: string;
}

const CANDIDATES = `
  SELECT p.log, p.idx, p.subject, e.recorded_at, l->>'category' AS category, l->>'type' AS type, l->'actor'->>'id' AS actor
  FROM personal_data p JOIN entries e USING (log, idx), LATERAL (SELECT convert_from(e.leaf, 'UTF8')::jsonb AS l) leaf`;

/**
 * The ledger's port for erasure: which entries still hold personal data, emptying it (data and
 * salt; the leaf keeps only the digest, so the chain and every proof stay valid), and what a
 * request erased. Listing and erasing run on the caller's transaction, which holds the hold locks
 * an erasure must decide under. Which entries to erase is the caller's decision, not the ledger's.
 */
@Injectable()
export class LedgerErasure {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  async candidates(sql: Sql, filter: ErasableFilter): Promise<ErasableEntry[]> {
    const rows =
      'log' in filter
        ? await sql(
            `${CANDIDATES} WHERE p.log = $1 AND p.erased_at IS NULL AND ($2::text IS NULL OR p.subject = $2) ORDER BY p.idx`,
            [filter.log, filter.subject],
          )
        : await sql(
            `${CANDIDATES} WHERE p.erased_at IS NULL AND (p.log, p.idx) > ($1, $2) ORDER BY p.log, p.idx LIMIT ${Math.trunc(filter.limit)}`,
            [filter.after.log, filter.after.index],
          );
    return (rows as unknown as CandidateRow[]).map((row) => ({
      log: row.log,
      index: Number(row.idx),
      subject: row.subject,
      category: row.category,
      type: row.type,
      actor: row.actor,
      recordedAt: row.recorded_at.toISOString(),
    }));
  }

  /**
   * Empties the personal data of these entries of `log` for request `by`, and forgets their
   * idempotency digests (which hash it). An entry erased before keeps its first erasure.
   */
  async erase(sql: Sql, log: string, indices: readonly number[], at: Date, by: string): Promise<void> {
    if (indices.length === 0) return;
    await sql(
      'UPDATE personal_data SET data = NULL, salt = NULL, erased_at = $3, erased_by = $4 WHERE log = $1 AND idx = ANY($2::bigint[]) AND erased_at IS NULL',
      [log, indices, at, by],
    );
    await sql('DELETE FROM idempotency_keys WHERE log = $1 AND idx = ANY($2::bigint[])', [log, indices]);
  }

  /** The indices of `log` that request `by` erased, in this run or an earlier one. */
  async erasedIndices(sql: Sql, by: string, log: string): Promise<number[]> {
    const rows = await sql('SELECT idx FROM personal_data WHERE erased_by = $1 AND log = $2', [by, log]);
    return rows.map((r) => Number(r.idx));
  }

  /** How many entries request `by` erased, per log, in log name order (committed erasures only). */
  async erasedCounts(by: string): Promise<{ log: string; count: number }[]> {
    const rows: { log: string; n: number }[] = await this.db.query(
      'SELECT log, count(*)::int AS n FROM personal_data WHERE erased_by = $1 GROUP BY log ORDER BY log',
      [by],
    );
    return rows.map((row) => ({ log: row.log, count: row.n }));
  }
}
