import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Key-encryption key rotation and the search index backfill (docs/operations.md "Rotating the
 * key-encryption key", "Backfilling the personal search index").
 *
 * `subject_keys.kek_id` names the key-encryption key that wraps each data key (`kek-` and the
 * first 16 hex digits of the key's SHA-256: it reveals nothing of the key). Rows wrapped before
 * this migration keep NULL: wrapped by the deployment's key of that time, which the service finds
 * by trying its configured keys. The rotation rewraps a row in place, so the runtime role may
 * update the two columns; the index lets a start list the ids in use without reading every row.
 *
 * `personal_search_backfill` holds where an interrupted backfill of the search index stopped.
 */
export class KeyEncryptionKeyRotation1796358500011 implements MigrationInterface {
  name = 'KeyEncryptionKeyRotation1796358500011';

  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE subject_keys ADD COLUMN kek_id text');
    await q.query('CREATE INDEX subject_keys_kek_id ON subject_keys (kek_id)');
    await q.query('GRANT UPDATE (key, kek_id) ON subject_keys TO audit_runtime');
    await q.query(`
      CREATE TABLE personal_search_backfill (
        only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
        log text NOT NULL,
        idx bigint NOT NULL
      )`);
    await q.query('GRANT SELECT, INSERT, UPDATE, DELETE ON personal_search_backfill TO audit_runtime');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE personal_search_backfill');
    await q.query('REVOKE UPDATE (key, kek_id) ON subject_keys FROM audit_runtime');
    await q.query('DROP INDEX subject_keys_kek_id');
    await q.query('ALTER TABLE subject_keys DROP COLUMN kek_id');
  }
}
