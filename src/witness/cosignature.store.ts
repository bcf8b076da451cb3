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
