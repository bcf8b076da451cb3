import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { APP_CONFIG, AppConfig } from '../platform';
import { sealPersonal } from './personal-data-reader';
import { SubjectKeys } from './subject-keys';

/** Rows sealed per transaction. */
const BATCH = 1_000;

/**
 * Seals the personal data written before it was encrypted (`personal_data.sealed` false: the
 * JSON text and the raw salt), at start in each process that runs the sequencer, a batch per
 * short transaction, rows taken with SKIP LOCKED so several processes share the work. Until then
 * such rows are read in clear (PersonalDataReader reads both forms). A row's old version stays in
 * the table file until the space is reused (`VACUUM (FULL) personal_data` as the owner drops it)
 * and in the WAL and backups made before: docs/ledger-format.md "Personal data at rest".
 */
@Injectable()
export class LegacyPersonalData implements OnApplicationBootstrap {
  private readonly logger = new Logger(LegacyPersonalData.name);

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @InjectDataSource() private readonly db: DataSource,
    private readonly keys: SubjectKeys,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (!this.config.components.has('sequencer')) return;
    const sealed = await this.sealAll();
    if (sealed > 0) this.logger.log(`sealed ${sealed} rows of personal data written before it was encrypted`);
  }

  /** Seals every unerased row in clear; returns how many this process sealed. */
  async sealAll(): Promise<number> {
    let total = 0;
    for (;;) {
      const count = await this.db.transaction('READ COMMITTED', async (tx) => {
        const rows: { log: string; idx: string; subject: string; data: Buffer; salt: Buffer }[] = await tx.query(
          `SELECT log, idx, subject, data, salt FROM personal_data WHERE NOT sealed AND erased_at IS NULL
           ORDER BY log, idx LIMIT ${BATCH} FOR UPDATE SKIP LOCKED`,
        );
        if (rows.length === 0) return 0;
        const subjects = new Map<string, Set<string>>();
        for (const row of rows) subjects.set(row.log, (subjects.get(row.log) ?? new Set()).add(row.subject));
        // An unerased row of a subject keeps its key from being destroyed, and these are locked.
        const keys = await this.keys.forAppend(subjects);
        const sealed = rows.map((row) =>
          sealPersonal(keys.get(row.log)?.keys.get(row.subject) as Buffer, row.log, {
            idx: Number(row.idx),
            subject: row.subject,
            data: JSON.parse(row.data.toString('utf8')),
            salt: row.salt,
          }),
        );
        await tx.query(
          `UPDATE personal_data p SET data = s.data, salt = s.salt, sealed = true
           FROM unnest($1::text[], $2::bigint[], $3::bytea[], $4::bytea[]) AS s(log, idx, data, salt)
           WHERE p.log = s.log AND p.idx = s.idx AND NOT p.sealed AND p.erased_at IS NULL`,
          [rows.map((r) => r.log), rows.map((r) => r.idx), sealed.map((s) => s.data), sealed.map((s) => s.salt)],
        );
        return rows.length;
      });
      total += count;
      if (count < BATCH) return total;
    }
  }
}
