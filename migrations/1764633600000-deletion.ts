import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Deletion work (docs/domain.md "Retention and deletion jobs"): erasure empties a
 * personal_data row (data and salt gone, the time and the request kept) while the leaf, which
 * holds only the digest, stays; deletion requests are rows first and jobs second; a closed tenant
 * takes no more events.
 */
export class Deletion1764633600000 implements MigrationInterface {
  name = 'Deletion1764633600000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE personal_data ALTER COLUMN salt DROP NOT NULL, ALTER COLUMN data DROP NOT NULL');
    await q.query('ALTER TABLE personal_data ADD COLUMN erased_at timestamptz, ADD COLUMN erased_by uuid');
    // Erased exactly when both the data and its salt are gone.
    await q.query(
      `ALTER TABLE personal_data ADD CONSTRAINT personal_data_erased CHECK ((erased_at IS NULL) = (data IS NOT NULL AND salt IS NOT NULL))`,
    );
    await q.query('CREATE INDEX personal_data_erased_by ON personal_data (erased_by) WHERE erased_by IS NOT NULL');

    await q.query(`
      CREATE TABLE deletion_requests (
        tenant text NOT NULL,
        id uuid NOT NULL,
        kind text NOT NULL CHECK (kind IN ('subject_erasure', 'tenant_closure', 'retention_purge')),
        subject text,
        reason text NOT NULL,
        requested_by jsonb NOT NULL,
        requested_at timestamptz NOT NULL,
        status text NOT NULL CHECK (status IN ('queued', 'running', 'completed', 'partially_blocked', 'blocked', 'failed')),
        erased integer NOT NULL DEFAULT 0,
        blocked integer NOT NULL DEFAULT 0,
        blocked_by jsonb NOT NULL DEFAULT '[]',
        receipt jsonb,
        receipt_digest text,
        retry_at timestamptz,
        recorded jsonb,
        updated_at timestamptz NOT NULL,
        PRIMARY KEY (tenant, id)
      )`);
    await q.query('CREATE INDEX deletion_requests_id ON deletion_requests (id)');
    await q.query(
      `CREATE INDEX deletion_requests_unfinished ON deletion_requests (status) WHERE status NOT IN ('completed', 'failed')`,
    );
    // One unfinished request per subject (or per tenant closure): a second one is the first.
    await q.query(`
      CREATE UNIQUE INDEX deletion_requests_one_unfinished ON deletion_requests (tenant, kind, coalesce(subject, ''))
      WHERE status NOT IN ('completed', 'failed')`);

    await q.query(`
      CREATE TABLE closed_tenants (
        tenant text PRIMARY KEY,
        closed_at timestamptz NOT NULL,
        request_id uuid NOT NULL
      )`);

    await q.query('GRANT SELECT, INSERT, UPDATE ON deletion_requests TO audit_runtime');
    await q.query('GRANT SELECT, INSERT ON closed_tenants TO audit_runtime');
    await q.query('GRANT SELECT ON deletion_requests TO audit_reader');
    await q.query('ALTER TABLE deletion_requests ENABLE ROW LEVEL SECURITY');
    await q.query(
      'CREATE POLICY deletion_requests_runtime ON deletion_requests TO audit_runtime USING (true) WITH CHECK (true)',
    );
    await q.query(
      'CREATE POLICY deletion_requests_reader ON deletion_requests FOR SELECT TO audit_reader USING (audit_tenant_visible(tenant))',
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE closed_tenants');
    await q.query('DROP TABLE deletion_requests');
    await q.query('ALTER TABLE personal_data DROP CONSTRAINT personal_data_erased');
    await q.query('ALTER TABLE personal_data DROP COLUMN erased_by, DROP COLUMN erased_at');
  }
}
