import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { ErasureJournal, fromRanges, toRanges } from './erasure-journal';
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
 * salt, and the subject's key once none of its data is left; the leaf keeps only the digest, so
 * the chain and every proof stay valid), and what a
 * request erased. Listing and erasing run on the caller's transaction, which holds the hold locks
 * an erasure must decide under. Which entries to erase is the caller's decision, not the ledger's.
 */
@Injectable()
export class LedgerErasure implements OnApplicationBootstrap {
  private readonly logger = new Logger(LedgerErasure.name);

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly journal: ErasureJournal,
  ) {}

  /**
   * At start, before the service answers: every erasure the journal outside the database names is
   * done again where the database still holds the data (a restored older backup). Entries the
   * database does not hold, or holds erased, are left as they are.
   */
  async onApplicationBootstrap(): Promise<void> {
    let again = 0;
    for (const erasure of await this.journal.read()) {
      const indices = fromRanges(erasure.ranges);
      again += await this.db.transaction((tx) =>
        this.eraseRows(
          (text, params) => tx.query(text, params),
          erasure.log,
          indices,
          new Date(erasure.at),
          erasure.by,
        ),
      );
    }
    if (again > 0)
      this.logger.warn(
        `erased again ${again} entries whose erasure the erasure journal records and the database had lost (a restored backup)`,
      );
  }

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
   * idempotency digests (which hash it). An entry erased before keeps its first erasure. A subject
   * left with no personal data in `log` loses its key too (crypto-shredding: the sealed values it
   * opened, in older row versions, the WAL and backups, are noise without it); its other entries
   * keep theirs. Must run in a READ COMMITTED transaction (each statement sees the appends
   * committed before it). Journaled first outside the database (ErasureJournal), so that a
   * restore of an older backup cannot bring the data back.
   */
  async erase(sql: Sql, log: string, indices: readonly number[], at: Date, by: string): Promise<void> {
    if (indices.length === 0) return;
    await this.journal.record({ log, ranges: toRanges(indices), at: at.toISOString(), by });
    await this.eraseRows(sql, log, indices, at, by);
  }

  /** The erasure itself; answers how many entries it erased. */
  private async eraseRows(sql: Sql, log: string, indices: readonly number[], at: Date, by: string): Promise<number> {
    if (indices.length === 0) return 0;
    // Statements that change rows are wrapped in a SELECT: a transaction's query answers a bare
    // UPDATE ... RETURNING with [rows, count].
    const erased = await sql(
      `WITH erased AS (
         UPDATE personal_data SET data = NULL, salt = NULL, erased_at = $3, erased_by = $4
         WHERE log = $1 AND idx = ANY($2::bigint[]) AND erased_at IS NULL RETURNING subject
       ) SELECT subject FROM erased`,
      [log, indices, at, by],
    );
    await sql('DELETE FROM idempotency_keys WHERE log = $1 AND idx = ANY($2::bigint[])', [log, indices]);
    // The search index's rows go with the data: a search by the erased email or address finds nothing.
    await sql('DELETE FROM personal_search WHERE log = $1 AND idx = ANY($2::bigint[])', [log, indices]);
    const subjects = [...new Set(erased.map((row) => row.subject as string))];
    if (subjects.length > 0) await this.destroyKeys(sql, log, subjects);
    return erased.length;
  }

  /**
   * Deletes the keys of those `subjects` that have no unerased personal data left in `log`.
   *
   * An append of new data for one of them must not seal under a key deleted meanwhile, so the
   * deletion holds the log's head row: such an append has committed before the lock is granted
   * (and is seen by the check after it) or waits and then finds the key epoch moved (it is refused
   * as stale and seals under a fresh key). Every append of the log waits while the head row is
   * held, so it is held as briefly as possible: the subjects that still have data (in a purge,
   * nearly all of a batch's) are found first without the lock, and after the lock only the entries
   * appended since the head was read are checked, a handful of rows however large the log.
   * Each check is a statement of its own, so its snapshot is taken after what it must see.
   */
  private async destroyKeys(sql: Sql, log: string, subjects: readonly string[]): Promise<void> {
    const [head] = await sql('SELECT size FROM logs WHERE log = $1', [log]);
    const bare = await sql(
      `SELECT k.subject FROM subject_keys k WHERE k.log = $1 AND k.subject = ANY($2::text[])
         AND NOT EXISTS (SELECT 1 FROM personal_data p WHERE p.log = k.log AND p.subject = k.subject AND p.erased_at IS NULL)`,
      [log, subjects],
    );
    if (bare.length === 0) return;
    await sql('SELECT 1 FROM logs WHERE log = $1 FOR NO KEY UPDATE', [log]);
    const destroyed = await sql(
      `WITH destroyed AS (
         DELETE FROM subject_keys k WHERE k.log = $1 AND k.subject = ANY($2::text[])
           AND NOT EXISTS (SELECT 1 FROM personal_data p WHERE p.log = k.log AND p.idx >= $3 AND p.subject = k.subject AND p.erased_at IS NULL)
         RETURNING k.subject
       ) SELECT subject FROM destroyed`,
      [log, bare.map((row) => row.subject as string), head.size],
    );
    if (destroyed.length > 0) await sql('UPDATE logs SET key_epoch = key_epoch + 1 WHERE log = $1', [log]);
  }

  /** The indices of `log` that request `by` erased, in this run or an earlier one. */
  async erasedIndices(sql: Sql, by: string, log: string): Promise<number[]> {
    const rows = await sql('SELECT idx FROM personal_data WHERE erased_by = $1 AND log = $2', [by, log]);
    return rows.map((r) => Number(r.idx));
  }

  /**
   * How many data keys request `by` left destroyed (crypto-shredded) in `log` (every log when
   * null): the subjects of the sealed entries it erased that have no key there now. Counted, not
   * remembered: a subject given a new key since (new personal data) is no longer counted.
   */
  async keysDestroyed(sql: Sql, by: string, log: string | null): Promise<number> {
    const rows = await sql(
      `SELECT count(*)::int AS n FROM (
         SELECT DISTINCT p.log, p.subject FROM personal_data p
         WHERE p.erased_by = $1 AND ($2::text IS NULL OR p.log = $2) AND p.sealed
           AND NOT EXISTS (SELECT 1 FROM subject_keys k WHERE k.log = p.log AND k.subject = p.subject)
       ) shredded`,
      [by, log],
    );
    return (rows[0] as { n: number }).n;
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
