import { MigrationInterface, QueryRunner } from 'typeorm';

// The ledger's read models: every row carries the log (= tenant) it belongs to.
const TENANT_TABLES = ['entries', 'personal_data', 'checkpoints', 'logs'];

/**
 * Tenant isolation enforced by PostgreSQL as well as by the application: reads done on behalf of
 * an API key run as `audit_reader`, which may only SELECT, and only rows of the tenants listed in
 * the transaction's `audit.tenants` setting (comma-separated, or `*`); unset or empty, it sees
 * nothing. `audit_runtime` keeps seeing and writing every row, so the append path is unchanged.
 * The owner (migrations) and superusers bypass row-level security.
 */
export class TenantIsolation1764288000000 implements MigrationInterface {
  name = 'TenantIsolation1764288000000';

  async up(q: QueryRunner): Promise<void> {
    // Roles are shared by every database of the cluster, and test databases migrate in parallel.
    await q.query(`
      DO $$ BEGIN
        CREATE ROLE audit_reader NOLOGIN;
      EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
      END $$`);
    // audit_runtime (and so the owner's sessions switched to it) may SET ROLE audit_reader. The
    // reverse never: the reader must not reach the runtime role's writes.
    await q.query(`
      DO $$ BEGIN
        IF NOT pg_has_role('audit_runtime', 'audit_reader', 'MEMBER') THEN
          GRANT audit_reader TO audit_runtime;
        END IF;
      EXCEPTION WHEN unique_violation OR duplicate_object THEN NULL;
      END $$`);

    // Plain SQL, STABLE, not STRICT: the planner inlines it into the policy, so a read by primary
    // key stays an index scan with one extra filter per row. A substring test rather than
    // string_to_array: the setting is re-read for every row, and splitting a long list each time
    // costs far more (tenant names cannot contain a comma). Unset or empty: false, deny.
    await q.query(`
      CREATE FUNCTION audit_tenant_visible(tenant text) RETURNS boolean
      LANGUAGE sql STABLE PARALLEL SAFE AS $$
        SELECT coalesce(
          current_setting('audit.tenants', true) = '*'
          OR strpos(',' || nullif(current_setting('audit.tenants', true), '') || ',', ',' || tenant || ',') > 0,
          false)
      $$`);

    await q.query(`GRANT USAGE ON SCHEMA public TO audit_reader`);
    for (const table of TENANT_TABLES) {
      await q.query(`GRANT SELECT ON ${table} TO audit_reader`);
      await q.query(`ALTER TABLE ${table} ENABLE ROW LEVEL SECURITY`);
      await q.query(`CREATE POLICY ${table}_runtime ON ${table} TO audit_runtime USING (true) WITH CHECK (true)`);
      await q.query(
        `CREATE POLICY ${table}_reader ON ${table} FOR SELECT TO audit_reader USING (audit_tenant_visible(log))`,
      );
    }
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of TENANT_TABLES) {
      await q.query(`DROP POLICY ${table}_reader ON ${table}`);
      await q.query(`DROP POLICY ${table}_runtime ON ${table}`);
      await q.query(`ALTER TABLE ${table} DISABLE ROW LEVEL SECURITY`);
      await q.query(`REVOKE ALL ON ${table} FROM audit_reader`);
    }
    await q.query(`REVOKE USAGE ON SCHEMA public FROM audit_reader`);
    await q.query(`DROP FUNCTION audit_tenant_visible(text)`);
    // The role stays: other databases of the cluster may use it.
  }
}
