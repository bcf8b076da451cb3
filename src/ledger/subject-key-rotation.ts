import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { EntityRef, PLATFORM_LOG } from '@audit/ledger';
import { setTimeout as sleep } from 'node:timers/promises';
import { DataSource } from 'typeorm';
import { AppendedEntry, SERVICE_SOURCE } from './append-plan';
import { LEDGER_CATEGORY } from './rollback-acknowledgement';
import { Sequencer } from './sequencer';
import { SubjectKeyCompaction } from './subject-key-compaction';
import { KeyEncryptionKeyError, SubjectKeys, WrappedKey } from './subject-keys';

/** The type of the `platform` entry that records a rotation (permanent record: never renamed). */
export const KEK_ROTATED = 'ledger.kek_rotated';

/** Data keys rewrapped per transaction. */
export const ROTATION_BATCH = 1_000;

/** How long a rotation waits for keys other transactions hold (an erasure deleting them) before giving up. */
const LOCKED_WAIT_MS = 30_000;

/** What one run of the rotation did. */
export interface KekRotation {
  /** The id of the key every data key is wrapped by now. */
  readonly kekId: string;
  /** Data keys this run rewrapped, per id of the key that wrapped them before (`null`: wrapped before ids were kept). */
  readonly rewrapped: number;
  readonly from: Readonly<Record<string, number>>;
  /** The `platform` entry recording the run; null when there was nothing to rewrap (nothing recorded). */
  readonly entry: AppendedEntry | null;
  /** Whether the key table was compacted afterwards (the rewrapped rows' old versions gone from its file). */
  readonly compacted: boolean;
}

/** Labels `from` uses for rows wrapped before key ids were kept. */
const UNNAMED = 'unnamed';

/**
 * Rewraps every data key (`subject_keys`) not wrapped by the current key-encryption key under it
 * (docs/operations.md "Rotating the key-encryption key"): a batch per short READ COMMITTED
 * transaction, rows taken FOR UPDATE SKIP LOCKED so that several runs share the work and never
 * wait on an erasure (a row an erasure is deleting is skipped, then found gone or taken again).
 * A row is only ever updated in place, never inserted: a key an erasure destroyed, before or
 * during the rotation, stays destroyed. The data key itself does not change, so nothing sealed
 * under it is touched and no process's cache goes stale. Resumable and idempotent: what is
 * rewrapped already no longer matches, and a run with nothing to do records nothing.
 */
@Injectable()
export class SubjectKeyRotation {
  private readonly logger = new Logger(SubjectKeyRotation.name);

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly keys: SubjectKeys,
    private readonly sequencer: Sequencer,
    private readonly compaction: SubjectKeyCompaction,
  ) {}

  /**
   * Rotates, by `actor`, `batch` keys per transaction; `progress` hears the running count after
   * each committed batch. Throws KeyEncryptionKeyError, rewrapping nothing more, when a row opens
   * under none of the configured keys.
   */
  async rotate(
    actor: EntityRef,
    options: { batch?: number; progress?: (rewrapped: number) => Promise<void> | void } = {},
  ): Promise<KekRotation> {
    const current = this.keys.keyEncryptionKeyId;
    const from = new Map<string, number>();
    let rewrapped = 0;
    let waitedSince: number | null = null;
    for (;;) {
      const done = await this.db.transaction('READ COMMITTED', async (tx) => {
        const rows: WrappedKey[] = await tx.query(
          `SELECT log, subject, key, kek_id FROM subject_keys WHERE kek_id IS DISTINCT FROM $1
           ORDER BY log, subject LIMIT ${Math.trunc(options.batch ?? ROTATION_BATCH)} FOR UPDATE SKIP LOCKED`,
          [current],
        );
        if (rows.length === 0) return 0;
        const fresh = rows.map((row) => this.keys.rewrap(row));
        const unopened = rows.filter((_, i) => fresh[i] === null);
        if (unopened.length > 0)
          throw new KeyEncryptionKeyError(
            `${unopened.length} subject key(s) of log ${unopened[0].log} wrapped by ${unopened[0].kek_id ?? 'an unnamed key'} ` +
              'open under none of the configured key-encryption keys: add the key that wrapped them to ' +
              'AUDIT_KEY_ENCRYPTION_KEYS_PREVIOUS and run the rotation again',
          );
        await tx.query(
          `UPDATE subject_keys k SET key = r.key, kek_id = $4
           FROM unnest($1::text[], $2::text[], $3::bytea[]) AS r(log, subject, key)
           WHERE k.log = r.log AND k.subject = r.subject`,
          [rows.map((r) => r.log), rows.map((r) => r.subject), fresh, current],
        );
        for (const row of rows) from.set(row.kek_id ?? UNNAMED, (from.get(row.kek_id ?? UNNAMED) ?? 0) + 1);
        return rows.length;
      });
      if (done > 0) {
        rewrapped += done;
        waitedSince = null;
        await options.progress?.(rewrapped);
        continue;
      }
      // Nothing left to take: done, unless rows were skipped because another transaction holds them.
      const [{ left }]: { left: number }[] = await this.db.query(
        'SELECT count(*)::int AS left FROM subject_keys WHERE kek_id IS DISTINCT FROM $1',
        [current],
      );
      if (left === 0) break;
      waitedSince ??= Date.now();
      if (Date.now() - waitedSince > LOCKED_WAIT_MS)
        throw new Error(`${left} subject key(s) stayed locked by other transactions: run the rotation again later`);
      await sleep(200);
    }
    if (rewrapped === 0) return { kekId: current, rewrapped, from: {}, entry: null, compacted: false };
    const [entry] = await this.sequencer.append([
      {
        log: PLATFORM_LOG,
        source: SERVICE_SOURCE,
        type: KEK_ROTATED,
        category: LEDGER_CATEGORY,
        actor,
        target: { type: 'key_encryption_key', id: current },
        outcome: 'success',
        context: { kekId: current, rewrapped, from: Object.fromEntries(from) },
      },
    ]);
    // The rewrapped rows' old versions (wrapped by the old key) stay in the table's file until it is rewritten.
    let compacted = false;
    try {
      compacted = await this.compaction.compact(true);
    } catch (e) {
      this.logger.warn(
        `rotated, but could not compact subject_keys now (${(e as Error).message}); the maintenance job compacts it later`,
      );
    }
    this.logger.log(`rewrapped ${rewrapped} subject keys under ${current} (platform entry ${entry.index})`);
    return { kekId: current, rewrapped, from: Object.fromEntries(from), entry, compacted };
  }
}
