import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `ledger_personal_data` also names the deletion request that erased a row (`erased_by`), so that
 * `GET /v1/events/{id}` can say when and by which request an entry's personal data was erased.
 * The column is appended: the view's other columns keep their positions (CREATE OR REPLACE).
 */
export class ErasureInReadContract1796359200000 implements MigrationInterface {
  name = 'ErasureInReadContract1796359200000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE OR REPLACE VIEW ledger_personal_data WITH (security_invoker = true) AS
      SELECT log, idx, subject, data, salt, erased_at, sealed, erased_by FROM personal_data`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP VIEW ledger_personal_data');
    await q.query(`
      CREATE VIEW ledger_personal_data WITH (security_invoker = true) AS
      SELECT log, idx, subject, data, salt, erased_at, sealed FROM personal_data`);
    await q.query('GRANT SELECT ON ledger_personal_data TO audit_runtime, audit_reader');
  }
}
