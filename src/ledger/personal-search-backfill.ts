import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { Sql } from './log-store';
import { PersonalDataReader } from './personal-data-reader';
import { PersonalSearch } from './personal-search-key';

/** Entries read per transaction. */
export const BACKFILL_BATCH = 1_000;

/** What one run of the backfill did. */
export interface SearchBackfill {
  /** Entries with personal data not erased that it read. */
  readonly scanned: number;
  /** Index rows it wrote that were missing. */
  readonly added: number;
  /** Whether it went on from where an interrupted run stopped. */
  readonly resumed: boolean;
}

/**
 * Writes the personal search index rows (`personal_search`) that entries lack: entries appended
 * before the index existed, or rows lost (docs/operations.md "Backfilling the personal search
 * index"). Walks the personal data not erased in (log, index) order, a batch per short READ
 * COMMITTED transaction: opens each row (PersonalDataReader), digests its terms under the current
 * search key and inserts what is missing (ON CONFLICT DO NOTHING: idempotent). The batch's rows
 * are read FOR SHARE, so an erasure of one of them waits until the batch committed and then
 * deletes its index rows with the data; an entry erased before is not read at all. Where it got
 * is saved after each batch (`personal_search_backfill`), so a run that dies goes on from there;
 * a finished run forgets it.
 */
@Injectable()
export class PersonalSearchBackfill {
  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly reader: PersonalDataReader,
    private readonly search: PersonalSearch,
  ) {}

  /** Backfills from the saved position (or the start, with `restart`); `progress` hears the running counts after each batch. */
  async run(
    options: { restart?: boolean; batch?: number; progress?: (done: SearchBackfill) => Promise<void> | void } = {},
  ): Promise<SearchBackfill> {
    if (options.restart) await this.db.query('DELETE FROM personal_search_backfill');
    const saved: { log: string; idx: string }[] = await this.db.query('SELECT log, idx FROM personal_search_backfill');
    const resumed = saved.length > 0;
    let after = resumed ? { log: saved[0].log, idx: Number(saved[0].idx) } : { log: '', idx: -1 };
    let scanned = 0;
    let added = 0;
    const limit = Math.trunc(options.batch ?? BACKFILL_BATCH);
    for (;;) {
      const batch = await this.db.transaction('READ COMMITTED', async (tx) => {
        const sql: Sql = (text, params) => tx.query(text, params);
        const rows = (await sql(
          `SELECT p.log, p.idx, p.subject, p.data, p.salt, p.sealed, e.recorded_at
           FROM personal_data p JOIN entries e USING (log, idx)
           WHERE p.erased_at IS NULL AND (p.log, p.idx) > ($1, $2)
           ORDER BY p.log, p.idx LIMIT ${limit} FOR SHARE OF p`,
          [after.log, after.idx],
        )) as { log: string; idx: string; recorded_at: Date }[];
        if (rows.length === 0) return 0;
        const opened = await this.reader.openViewRows(sql, rows);
        const index: { log: string; idx: number; field: string; hmac: Buffer; recordedAt: Date }[] = [];
        rows.forEach((row, i) => {
          const clear = opened[i];
          if (clear === null) return;
          for (const term of this.search.rowsFor(clear.data))
            index.push({ log: row.log, idx: Number(row.idx), ...term, recordedAt: row.recorded_at });
        });
        if (index.length > 0) {
          const inserted = await sql(
            `WITH added AS (
               INSERT INTO personal_search (log, idx, field, hmac, recorded_at)
               SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::bytea[], $5::timestamptz[])
               ON CONFLICT DO NOTHING RETURNING 1
             ) SELECT count(*)::int AS n FROM added`,
            [
              index.map((r) => r.log),
              index.map((r) => r.idx),
              index.map((r) => r.field),
              index.map((r) => r.hmac),
              index.map((r) => r.recordedAt),
            ],
          );
          added += (inserted[0] as { n: number }).n;
        }
        const last = rows[rows.length - 1];
        after = { log: last.log, idx: Number(last.idx) };
        await sql(
          `INSERT INTO personal_search_backfill (only_row, log, idx) VALUES (true, $1, $2)
           ON CONFLICT (only_row) DO UPDATE SET log = excluded.log, idx = excluded.idx`,
          [after.log, after.idx],
        );
        return rows.length;
      });
      scanned += batch;
      if (batch > 0) await options.progress?.({ scanned, added, resumed });
      if (batch < limit) break;
    }
    await this.db.query('DELETE FROM personal_search_backfill');
    return { scanned, added, resumed };
  }
}
