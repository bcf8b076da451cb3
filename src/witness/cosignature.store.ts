import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';

/** One verified cosignature of a checkpoint of this deployment. */
export interface StoredCosignature {
  readonly witnessKey: string;
  /** The note signature line, with its final newline. */
  readonly line: string;
}

/**
 * The submitting side's tables: `witness_submissions` (per log and witness verifier key, the size
 * the witness last cosigned as far as known, and its last refusal) and `checkpoint_cosignatures`
 * (verified cosignature lines beside the checkpoint, by log and size).
 */
@Injectable()
export class CosignatureStore {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /** The size `witnessKey` is known to have cosigned for `log` (0 when never). */
  async knownSize(log: string, witnessKey: string): Promise<number> {
    const rows: { size: string }[] = await this.db.query(
      'SELECT size FROM witness_submissions WHERE log = $1 AND witness_key = $2',
      [log, witnessKey],
    );
    return rows.length === 0 ? 0 : Number(rows[0].size);
  }

  /** Records the witness's size (after a cosignature or a 409) and the outcome. */
  async recordSize(
    log: string,
    witnessKey: string,
    size: number,
    status: number | null,
    error: string | null,
  ): Promise<void> {
    await this.db.query(
      `INSERT INTO witness_submissions (log, witness_key, size, last_status, last_error) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (log, witness_key) DO UPDATE SET size = $3, last_status = $4, last_error = $5, updated_at = now()`,
      [log, witnessKey, size, status, error],
    );
  }

  /** Records a refusal, keeping the known size. */
  async recordFailure(log: string, witnessKey: string, status: number | null, error: string): Promise<void> {
    await this.db.query(
      `INSERT INTO witness_submissions (log, witness_key, size, last_status, last_error) VALUES ($1, $2, 0, $3, $4)
       ON CONFLICT (log, witness_key) DO UPDATE SET last_status = $3, last_error = $4, updated_at = now()`,
      [log, witnessKey, status, error],
    );
  }

  async addCosignature(log: string, size: number, witnessKey: string, line: string, cosignedAt: Date): Promise<void> {
    await this.db.query(
      `INSERT INTO checkpoint_cosignatures (log, size, witness_key, line, cosigned_at) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (log, size, witness_key) DO NOTHING`,
      [log, size, witnessKey, line, cosignedAt],
    );
  }

  /** Whether `witnessKey` has cosigned checkpoint `size` of `log`. */
  async hasCosignature(log: string, size: number, witnessKey: string): Promise<boolean> {
    const rows: unknown[] = await this.db.query(
      'SELECT 1 FROM checkpoint_cosignatures WHERE log = $1 AND size = $2 AND witness_key = $3',
      [log, size, witnessKey],
    );
    return rows.length > 0;
  }

  /** Per log and witness key, the largest checkpoint size it cosigned and its cosignature time. */
  async latestCosignatures(): Promise<{ log: string; witnessKey: string; size: number; cosignedAt: Date }[]> {
    const rows: { log: string; witness_key: string; size: string; cosigned_at: Date }[] = await this.db.query(
      `SELECT DISTINCT ON (log, witness_key) log, witness_key, size, cosigned_at FROM checkpoint_cosignatures
       ORDER BY log, witness_key, size DESC`,
    );
    return rows.map((r) => ({
      log: r.log,
      witnessKey: r.witness_key,
      size: Number(r.size),
      cosignedAt: r.cosigned_at,
    }));
  }

  /**
   * The witness keys that cosigned each checkpoint of each log at or above `floors` (a log not in
   * it: from 0), by log then size. A floor spares re-reading what is already known to be behind.
   */
  async cosignersFrom(floors: ReadonlyMap<string, number>): Promise<Map<string, Map<number, string[]>>> {
    const rows: { log: string; size: string; keys: string[] }[] = await this.db.query(
      `SELECT c.log, c.size, array_agg(c.witness_key) AS keys FROM checkpoint_cosignatures c
       LEFT JOIN unnest($1::text[], $2::bigint[]) AS f(log, floor) ON f.log = c.log
       WHERE c.size >= coalesce(f.floor, 0)
       GROUP BY c.log, c.size`,
      [[...floors.keys()], [...floors.values()]],
    );
    const byLog = new Map<string, Map<number, string[]>>();
    for (const row of rows) {
      const sizes = byLog.get(row.log) ?? new Map<number, string[]>();
      sizes.set(Number(row.size), row.keys);
      byLog.set(row.log, sizes);
    }
    return byLog;
  }

  /** The witness keys whose last submission, for some log, failed. */
  async failingWitnessKeys(): Promise<string[]> {
    const rows: { witness_key: string }[] = await this.db.query(
      'SELECT DISTINCT witness_key FROM witness_submissions WHERE last_error IS NOT NULL',
    );
    return rows.map((r) => r.witness_key);
  }

  /** Every stored cosignature of `log`, by checkpoint size (largest first). */
  async cosignaturesOf(log: string): Promise<Map<number, StoredCosignature[]>> {
    const rows: { size: string; witness_key: string; line: string }[] = await this.db.query(
      'SELECT size, witness_key, line FROM checkpoint_cosignatures WHERE log = $1 ORDER BY size DESC, witness_key',
      [log],
    );
    const bySize = new Map<number, StoredCosignature[]>();
    for (const row of rows) {
      const size = Number(row.size);
      const list = bySize.get(size) ?? [];
      list.push({ witnessKey: row.witness_key, line: row.line });
      bySize.set(size, list);
    }
    return bySize;
  }
}
