import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The personal-data search index (docs/api.md "Search by personal data"). `personal_search` holds,
 * per entry whose personal data contains an email or IP address, one row per such value: its kind
 * and its HMAC-SHA256 under the search key kept outside the database (src/ledger/personal-search.ts),
 * never the value. The append statement writes the rows with the entry's personal data; erasure
 * deletes them with it. `recorded_at` is the entry's, so a search walks an index in its own
 * order, like the read model's other indexes.
 * Published as the view `ledger_personal_search` (src/ledger/README.md "Read contract"), under the
 * same row-level security as the ledger's other tables.
 *
 * `personal_search_key_check` holds the search key's digest of a fixed text, so a start with
 * another key is refused rather than silently finding nothing. Entries appended before this
 * migration are not indexed (their personal data is sealed; PostgreSQL cannot read it).
 */
export class PersonalSearch1796358047001 implements MigrationInterface {
  name = 'PersonalSearch1796358047001';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE personal_search (
        log text NOT NULL,
        idx bigint NOT NULL,
        field text NOT NULL CHECK (field IN ('email', 'ip')),
        hmac bytea NOT NULL CHECK (octet_length(hmac) = 32),
        recorded_at timestamptz NOT NULL,
        PRIMARY KEY (log, idx, field, hmac)
      )`);
    // A tenant's search walks the first, a search over several tenants the second, each in the
    // order of a page (newest first); the primary key serves erasure, which deletes by entry.
    await q.query('CREATE INDEX personal_search_log ON personal_search (log, field, hmac, recorded_at, idx)');
    await q.query('CREATE INDEX personal_search_lookup ON personal_search (field, hmac, recorded_at, log, idx)');
    await q.query('GRANT SELECT, INSERT, DELETE ON personal_search TO audit_runtime');
    await q.query('GRANT SELECT ON personal_search TO audit_reader');
    await q.query('ALTER TABLE personal_search ENABLE ROW LEVEL SECURITY');
    await q.query(
      'CREATE POLICY personal_search_runtime ON personal_search TO audit_runtime USING (true) WITH CHECK (true)',
    );
    await q.query(
      'CREATE POLICY personal_search_reader ON personal_search FOR SELECT TO audit_reader USING (audit_tenant_visible(log))',
    );
    await q.query(`
      CREATE VIEW ledger_personal_search WITH (security_invoker = true) AS
      SELECT log, idx, field, hmac, recorded_at FROM personal_search`);
    await q.query('GRANT SELECT ON ledger_personal_search TO audit_runtime, audit_reader');

    await q.query(`
      CREATE TABLE personal_search_key_check (
        only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
        mac bytea NOT NULL
      )`);
    await q.query('GRANT SELECT, INSERT ON personal_search_key_check TO audit_runtime');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE personal_search_key_check');
    await q.query('DROP VIEW ledger_personal_search');
    await q.query('DROP TABLE personal_search');
  }
}
