import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Console sessions (docs/console.md): a signed-in person's session, by the SHA-256 of its token
 * (the token itself lives only in the person's HttpOnly cookie). A session acts through the key it
 * was opened with, so revoking the key ends it; signing out ends it at once. Rows are not
 * evidence (sign-in and sign-out are `platform` entries); expired rows may be deleted.
 */
export class ConsoleSessions1796358072007 implements MigrationInterface {
  name = 'ConsoleSessions1796358072007';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE console_sessions (
        token_hash bytea PRIMARY KEY,
        key_id uuid NOT NULL,
        created_at timestamptz NOT NULL,
        expires_at timestamptz NOT NULL,
        signed_out_at timestamptz
      )`);
    await q.query('CREATE INDEX console_sessions_expiry ON console_sessions (expires_at)');
    await q.query('GRANT SELECT, INSERT, UPDATE, DELETE ON console_sessions TO audit_runtime');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE console_sessions');
  }
}
