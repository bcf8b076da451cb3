import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * People and services behind keys (docs/api.md "Principals"). `principals` and `grants` are
 * projections of the `principals` entries of the `platform` log, as `api_keys` is of the key
 * entries. Names are unique without regard to case and never reused: a revoked principal keeps its
 * row. `api_keys.principal_id` is null only for keys made before principals existed; the service
 * gives each of them a principal at start (`PrincipalsBootstrap`).
 * `api_keys.known_to`: the principals who have seen the key's current secret (its principal,
 * and whoever created or last rotated it): a two-person rule counts each of them.
 */
export class Principals1765324800000 implements MigrationInterface {
  name = 'Principals1765324800000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE principals (
        id uuid PRIMARY KEY,
        name text NOT NULL,
        kind text NOT NULL CHECK (kind IN ('person', 'service', 'operator')),
        email text,
        oidc_subject text,
        created_at timestamptz NOT NULL,
        created_by uuid,
        revoked_at timestamptz
      )`);
    await q.query('CREATE UNIQUE INDEX principals_name ON principals (lower(name))');
    await q.query('CREATE UNIQUE INDEX principals_email ON principals (lower(email)) WHERE email IS NOT NULL');
    await q.query(
      'CREATE UNIQUE INDEX principals_oidc_subject ON principals (oidc_subject) WHERE oidc_subject IS NOT NULL',
    );
    await q.query(`
      CREATE TABLE grants (
        id uuid PRIMARY KEY,
        principal_id uuid NOT NULL REFERENCES principals (id),
        role text NOT NULL,
        tenants text[] NOT NULL,
        status text NOT NULL CHECK (status IN ('pending', 'active', 'revoked')),
        requested_by uuid,
        requested_at timestamptz NOT NULL,
        approved_by uuid,
        approved_at timestamptz,
        revoked_at timestamptz
      )`);
    await q.query('CREATE INDEX grants_principal ON grants (principal_id)');
    await q.query('ALTER TABLE api_keys ADD COLUMN principal_id uuid REFERENCES principals (id)');
    await q.query(`ALTER TABLE api_keys ADD COLUMN known_to uuid[] NOT NULL DEFAULT '{}'`);
    await q.query('CREATE INDEX api_keys_principal ON api_keys (principal_id)');
    await q.query('GRANT SELECT, INSERT, UPDATE, DELETE ON principals, grants TO audit_runtime');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE api_keys DROP COLUMN known_to');
    await q.query('ALTER TABLE api_keys DROP COLUMN principal_id');
    await q.query('DROP TABLE grants');
    await q.query('DROP TABLE principals');
  }
}
