import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';

/** What a witness last cosigned for one origin; size 0 (never cosigned) has no root. */
export interface WitnessedState {
  readonly size: number;
  readonly rootHash: Buffer | null;
}

/**
 * The table `witness_state`: per origin, the latest cosigned size and root hash. `advance` checks
 * and moves it in one transaction with the row locked (SELECT ... FOR UPDATE), as tlog-witness
 * requires: two requests for one origin are serialised, so neither can roll back the other.
 */
@Injectable()
export class WitnessStateStore {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /**
   * Locks the state of `origin` (a row of size 0 is made first if there is none), calls `check`
   * with it (which throws to refuse: nothing is then written), and stores `next` in its place.
   */
  async advance(
    origin: string,
    check: (current: WitnessedState) => void | Promise<void>,
    next: { size: number; rootHash: Buffer },
  ): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.query(
        'INSERT INTO witness_state (origin, size, root_hash) VALUES ($1, 0, NULL) ON CONFLICT (origin) DO NOTHING',
        [origin],
      );
      const rows: { size: string; root_hash: Buffer | null }[] = await tx.query(
        'SELECT size, root_hash FROM witness_state WHERE origin = $1 FOR UPDATE',
        [origin],
      );
      await check({ size: Number(rows[0].size), rootHash: rows[0].root_hash });
      if (next.size === 0) return;
      await tx.query('UPDATE witness_state SET size = $2, root_hash = $3, updated_at = now() WHERE origin = $1', [
        origin,
        next.size,
        next.rootHash,
      ]);
    });
  }

  /** The state of `origin` (size 0 when never cosigned). */
  async current(origin: string): Promise<WitnessedState> {
    const rows: { size: string; root_hash: Buffer | null }[] = await this.db.query(
      'SELECT size, root_hash FROM witness_state WHERE origin = $1',
      [origin],
    );
    return rows.length === 0
      ? { size: 0, rootHash: null }
      : { size: Number(rows[0].size), rootHash: rows[0].root_hash };
  }
}
