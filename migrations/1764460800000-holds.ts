import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The `holds` read model: each hold's current state (the decider's evolve over its events), a
 * projection of the `holds` entries in the ledger that can be rebuilt from them. Keyed by tenant
 * first like every table. `version` is the number of events applied: a change is written only
 * over the version it was decided on.
 */
export class Holds1764460800000 implements MigrationInterface {
  name = 'Holds1764460800000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE holds (
        tenant text NOT NULL,
        id uuid NOT NULL,
        status text NOT NULL CHECK (status IN ('active', 'released')),
        state jsonb NOT NULL,
        version integer NOT NULL,
        PRIMARY KEY (tenant, id)
      )`);
    await q.query('CREATE INDEX holds_id ON holds (id)');
    await q.query(`CREATE INDEX holds_active ON holds (tenant) WHERE status = 'active'`);
    // A projection, not the record: the runtime role may rewrite it (a rebuild replaces it).
    await q.query('GRANT SELECT, INSERT, UPDATE, DELETE ON holds TO audit_runtime');
    // Reads on behalf of a key see only holds of its tenants, `*` holds only with a `*` scope
    // (migration TenantIsolation).
    await q.query('GRANT SELECT ON holds TO audit_reader');
    await q.query('ALTER TABLE holds ENABLE ROW LEVEL SECURITY');
    await q.query('CREATE POLICY holds_runtime ON holds TO audit_runtime USING (true) WITH CHECK (true)');
    await q.query(
      'CREATE POLICY holds_reader ON holds FOR SELECT TO audit_reader USING (audit_tenant_visible(tenant))',
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE holds');
  }
}
