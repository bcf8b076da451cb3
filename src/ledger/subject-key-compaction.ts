import { Inject, Injectable } from '@nestjs/common';
import { Client } from 'pg';
import { APP_CONFIG, AppConfig } from '../platform';

/** How long compaction waits for its lock before giving up until the next run (key reads queue behind it meanwhile). */
const LOCK_TIMEOUT = '2s';

/**
 * Compacts `subject_keys` after erasures destroyed keys: `VACUUM (FULL)` writes the live rows to a
 * new file and drops the old one, so a destroyed key's bytes (a deleted row is only marked dead,
 * and plain VACUUM leaves its bytes in the page's free space) are no longer in the table's file.
 * VACUUM needs the table's owner, so this runs on the owner's login (DATABASE_URL, as migrations
 * do), never the runtime role's. It holds an ACCESS EXCLUSIVE lock for as long as copying the
 * live keys takes (the table is small: one row per subject with personal data): appends that
 * need a key the process has not cached wait that long, cached ones and appends without personal
 * data do not. It waits at most LOCK_TIMEOUT for the lock, so it never queues everyone behind a
 * long transaction.
 */
@Injectable()
export class SubjectKeyCompaction {
  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  /** Compacts when the statistics show deleted key rows (`force`: always). Returns whether it ran. */
  async compact(force = false): Promise<boolean> {
    const owner = new Client({ connectionString: this.config.databaseUrl });
    await owner.connect();
    try {
      if (!force) {
        const { rows } = await owner.query<{ dead: string }>(
          "SELECT coalesce(n_dead_tup, 0) AS dead FROM pg_stat_user_tables WHERE relname = 'subject_keys'",
        );
        if (Number(rows[0]?.dead ?? 0) === 0) return false;
      }
      await owner.query(`SET lock_timeout = '${LOCK_TIMEOUT}'`);
      await owner.query('VACUUM (FULL) subject_keys');
      return true;
    } finally {
      await owner.end();
    }
  }
}
