import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Retention policies set by admins (src/retention). A category without a row keeps the default of
 * src/retention/retention-defaults.ts. Not tenant data: one policy per category for every tenant.
 * The runtime role may insert and update rows, never delete them (a policy returns to its default
 * only through a recorded change); and PostgreSQL itself refuses to shorten a compliance minimum
 * or to turn a compliance policy into a governance one, whoever asks.
 */
export class Retention1764547200000 implements MigrationInterface {
  name = 'Retention1764547200000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE retention_policies (
        category text PRIMARY KEY CHECK (category ~ '^[a-z][a-z0-9_]{0,63}$'),
        min_days integer NOT NULL CHECK (min_days >= 0),
        max_days integer CHECK (max_days IS NULL OR max_days >= min_days),
        mode text NOT NULL CHECK (mode IN ('compliance', 'governance')),
        updated_at timestamptz NOT NULL,
        updated_by text NOT NULL
      )`);
    await q.query(`
      CREATE FUNCTION retention_policy_guard() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.category <> OLD.category THEN
          RAISE EXCEPTION 'retention policy %: the category cannot change', OLD.category USING ERRCODE = 'check_violation';
        END IF;
        IF OLD.mode = 'compliance' AND (NEW.mode <> 'compliance' OR NEW.min_days < OLD.min_days) THEN
          RAISE EXCEPTION 'retention policy %: a compliance minimum cannot be shortened nor its mode changed', OLD.category USING ERRCODE = 'check_violation';
        END IF;
        RETURN NEW;
      END $$`);
    await q.query(`CREATE TRIGGER retention_policies_compliance BEFORE UPDATE ON retention_policies
      FOR EACH ROW EXECUTE FUNCTION retention_policy_guard()`);
    await q.query('GRANT SELECT, INSERT, UPDATE ON retention_policies TO audit_runtime');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE retention_policies');
    await q.query('DROP FUNCTION retention_policy_guard()');
  }
}
