import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Personal data at rest is encrypted (crypto-shredding: docs/ledger-format.md "Personal data at
 * rest"). Each (log, subject) gets a data key in `subject_keys`, wrapped by a key-encryption key
 * kept outside the database (src/ledger/subject-keys.ts); `personal_data.data` and `.salt` hold
 * AES-256-GCM sealed values when `sealed`. Rows written before stay readable in clear (`sealed`
 * false; `data` is their JSON text) until erased: PostgreSQL cannot encrypt them without the key,
 * which it never sees. Erasure deletes the subject's key row, and moves `logs.key_epoch` so that no
 * process seals new data under a key it still has cached: the append refuses itself as stale
 * (`audit_subject_keys_changed`, 40001) when its log's epoch moved.
 *
 * The published view `ledger_personal_data` keeps its columns (data now bytea: sealed, or the
 * JSON text of an old row) and gains `sealed`; readers open rows through the ledger's
 * PersonalDataReader port (src/ledger/README.md "Read contract").
 */
export class PersonalDataAtRest1765756800000 implements MigrationInterface {
  name = 'PersonalDataAtRest1765756800000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE subject_keys (
        log text NOT NULL,
        subject text NOT NULL,
        key bytea NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (log, subject)
      )`);
    await q.query('GRANT SELECT, INSERT, DELETE ON subject_keys TO audit_runtime');
    await q.query('GRANT SELECT ON subject_keys TO audit_reader');
    await q.query('ALTER TABLE subject_keys ENABLE ROW LEVEL SECURITY');
    await q.query('CREATE POLICY subject_keys_runtime ON subject_keys TO audit_runtime USING (true) WITH CHECK (true)');
    await q.query(
      'CREATE POLICY subject_keys_reader ON subject_keys FOR SELECT TO audit_reader USING (audit_tenant_visible(log))',
    );

    await q.query('ALTER TABLE logs ADD COLUMN key_epoch bigint NOT NULL DEFAULT 0');
    await q.query(`
      CREATE FUNCTION audit_subject_keys_changed() RETURNS void LANGUAGE plpgsql VOLATILE AS $$
      BEGIN
        RAISE EXCEPTION 'subject keys of a log changed since they were read' USING ERRCODE = '40001';
      END $$`);

    await q.query('DROP VIEW ledger_personal_data');
    await q.query('ALTER TABLE personal_data ADD COLUMN sealed boolean NOT NULL DEFAULT false');
    await q.query(`ALTER TABLE personal_data ALTER COLUMN data TYPE bytea USING convert_to(data::text, 'UTF8')`);
    await q.query(`
      CREATE VIEW ledger_personal_data WITH (security_invoker = true) AS
      SELECT log, idx, subject, data, salt, erased_at, sealed FROM personal_data`);
    await q.query('GRANT SELECT ON ledger_personal_data TO audit_runtime, audit_reader');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP VIEW ledger_personal_data');
    // Sealed rows cannot go back to clear here (the key-encryption key is not in the database).
    await q.query('UPDATE personal_data SET data = NULL, salt = NULL, erased_at = now() WHERE sealed');
    await q.query(`ALTER TABLE personal_data ALTER COLUMN data TYPE jsonb USING convert_from(data, 'UTF8')::jsonb`);
    await q.query('ALTER TABLE personal_data DROP COLUMN sealed');
    await q.query(`
      CREATE VIEW ledger_personal_data WITH (security_invoker = true) AS
      SELECT log, idx, subject, data, salt, erased_at FROM personal_data`);
    await q.query('GRANT SELECT ON ledger_personal_data TO audit_runtime, audit_reader');
    await q.query('DROP FUNCTION audit_subject_keys_changed()');
    await q.query('ALTER TABLE logs DROP COLUMN key_epoch');
    await q.query('DROP TABLE subject_keys');
  }
}
