import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Key custody (docs/domain.md "Key custody"): the checkpoint signing key is no longer kept in the
 * database it signs for. The runtime role may no longer add a key to `service_keys`, so a process
 * of an earlier version cannot start a second key there; it may delete the row, which the service
 * does at start once it has moved the key into AUDIT_SIGNING_KEY_FILE (src/ledger/signing-key.ts).
 * It keeps SELECT to find that row. The table stays, empty once every process has started.
 */
export class KeyCustody1765411200000 implements MigrationInterface {
  name = 'KeyCustody1765411200000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('REVOKE INSERT, UPDATE ON service_keys FROM audit_runtime');
    await q.query('GRANT SELECT, DELETE ON service_keys TO audit_runtime');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('REVOKE DELETE ON service_keys FROM audit_runtime');
    await q.query('GRANT SELECT, INSERT ON service_keys TO audit_runtime');
  }
}
