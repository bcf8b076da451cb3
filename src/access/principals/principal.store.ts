import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { Sql } from '../../ledger';
import { NameTakenError } from '../access.errors';
import { GrantState, PrincipalState } from './principal.decider';

interface PrincipalRow {
  id: string;
  name: string;
  kind: PrincipalState['kind'];
  email: string | null;
  oidc_subject: string | null;
  created_at: Date;
  created_by: string | null;
  revoked_at: Date | null;
  grants: {
    id: string;
    role: GrantState['role'];
    tenants: string[];
    status: GrantState['status'];
    requested_by: string | null;
    requested_at: string;
    approved_by: string | null;
    approved_at: string | null;
    revoked_at: string | null;
  }[];
}

const iso = (value: string | null) => (value === null ? null : new Date(value).toISOString());

function toState(row: PrincipalRow): PrincipalState {
  return {
    id: row.id,
    name: row.name,
    kind: row.kind,
    email: row.email,
    oidcSubject: row.oidc_subject,
    createdAt: row.created_at.toISOString(),
    createdBy: row.created_by,
    revokedAt: row.revoked_at?.toISOString() ?? null,
    grants: row.grants.map((grant) => ({
      id: grant.id,
      role: grant.role,
      tenants: grant.tenants,
      status: grant.status,
      requestedBy: grant.requested_by,
      requestedAt: iso(grant.requested_at) as string,
      approvedBy: grant.approved_by,
      approvedAt: iso(grant.approved_at),
      revokedAt: iso(grant.revoked_at),
    })),
  };
}

const SELECT_PRINCIPALS = `
  SELECT p.*, COALESCE((
    SELECT json_agg(g ORDER BY g.requested_at, g.id) FROM grants g WHERE g.principal_id = p.id), '[]') AS grants
  FROM principals p`;

/**
 * The `principals` and `grants` tables: the projection of the `principals` entries. Changes run
 * inside the Sequencer's append transaction (they get its `Sql`), so a principal exists exactly
 * when its entry does.
 */
@Injectable()
export class PrincipalStore {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  async find(id: string): Promise<PrincipalState | undefined> {
    const rows: PrincipalRow[] = await this.db.query(`${SELECT_PRINCIPALS} WHERE p.id = $1`, [id]);
    return rows.length === 0 ? undefined : toState(rows[0]);
  }

  /** The principal registered with this identity-provider subject (`<issuer>#<sub>`), if any. */
  async findBySubject(oidcSubject: string): Promise<PrincipalState | undefined> {
    const rows: PrincipalRow[] = await this.db.query(`${SELECT_PRINCIPALS} WHERE p.oidc_subject = $1`, [oidcSubject]);
    return rows.length === 0 ? undefined : toState(rows[0]);
  }

  /** The principal a grant belongs to, if the grant exists. */
  async holderOfGrant(grantId: string): Promise<string | undefined> {
    const rows: { principal_id: string }[] = await this.db.query('SELECT principal_id FROM grants WHERE id = $1', [
      grantId,
    ]);
    return rows[0]?.principal_id;
  }

  /** Whether a principal has or had this name (without regard to case). */
  async nameTaken(name: string): Promise<boolean> {
    const rows: unknown[] = await this.db.query('SELECT 1 FROM principals WHERE lower(name) = lower($1)', [name]);
    return rows.length > 0;
  }

  /** Every principal, oldest first. */
  async list(): Promise<PrincipalState[]> {
    const rows: PrincipalRow[] = await this.db.query(`${SELECT_PRINCIPALS} ORDER BY p.created_at, p.id`);
    return rows.map(toState);
  }

  /**
   * Stores a new principal inside the caller's transaction. A name, email or identity-provider
   * subject another principal holds or held (revoked ones keep theirs) is refused: NameTakenError.
   */
  async insert(sql: Sql, principal: PrincipalState): Promise<void> {
    const rows = await sql(
      `INSERT INTO principals (id, name, kind, email, oidc_subject, created_at, created_by)
       VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING RETURNING id`,
      [
        principal.id,
        principal.name,
        principal.kind,
        principal.email,
        principal.oidcSubject,
        principal.createdAt,
        principal.createdBy,
      ],
    );
    if (rows.length === 1) {
      await this.saveGrants(sql, principal);
      return;
    }
    const taken = await sql(
      `SELECT lower(name) = lower($1) AS name, lower(email) = lower($2) AS email FROM principals
       WHERE lower(name) = lower($1) OR lower(email) = lower($2) OR oidc_subject = $3 OR id = $4`,
      [principal.name, principal.email, principal.oidcSubject, principal.id],
    );
    const found = taken[0] as { name: boolean; email: boolean | null } | undefined;
    if (found?.name) throw new NameTakenError('principal', principal.name);
    if (found?.email) throw new NameTakenError('email', principal.email as string);
    throw new NameTakenError('identity provider subject', principal.oidcSubject ?? principal.id);
  }

  /**
   * Writes the principal's changes inside the caller's transaction, over the state the decision
   * saw: false when another change came first (the row is locked, so it cannot come in between).
   */
  async save(sql: Sql, before: PrincipalState, after: PrincipalState): Promise<boolean> {
    const current = await sql(
      `SELECT revoked_at, (SELECT count(*) FROM grants WHERE principal_id = $1)::int AS grants,
         (SELECT count(*) FROM grants WHERE principal_id = $1 AND status <> 'revoked')::int AS live,
         (SELECT count(*) FROM grants WHERE principal_id = $1 AND status = 'active')::int AS active
       FROM principals WHERE id = $1 FOR UPDATE`,
      [after.id],
    );
    const row = current[0] as { revoked_at: Date | null; grants: number; live: number; active: number } | undefined;
    const count = (status: (grant: GrantState) => boolean) => before.grants.filter(status).length;
    if (
      row === undefined ||
      (row.revoked_at === null) !== (before.revokedAt === null) ||
      row.grants !== before.grants.length ||
      row.live !== count((grant) => grant.status !== 'revoked') ||
      row.active !== count((grant) => grant.status === 'active')
    )
      return false;
    await sql('UPDATE principals SET revoked_at = $2 WHERE id = $1', [after.id, after.revokedAt]);
    await this.saveGrants(sql, after);
    return true;
  }

  /** Whether the principal is live, locking it against revocation until the caller's transaction ends. */
  async lockLive(sql: Sql, id: string): Promise<boolean> {
    const rows = await sql('SELECT 1 FROM principals WHERE id = $1 AND revoked_at IS NULL FOR SHARE', [id]);
    return rows.length === 1;
  }

  /**
   * Whether a person holds `legal` anywhere: the first legal person comes from the command line
   * only once. A pending grant is no legal person yet (nobody could approve it).
   */
  async legalPersonExists(sql: Sql): Promise<boolean> {
    await sql(`SELECT pg_advisory_xact_lock(hashtext('first_legal_person'))`);
    const rows = await sql(
      `SELECT 1 FROM grants g JOIN principals p ON p.id = g.principal_id
       WHERE g.role = 'legal' AND g.status = 'active' AND p.kind = 'person' LIMIT 1`,
    );
    return rows.length > 0;
  }

  /** Keeps every principal and grant change out until the caller's transaction ends (the rebuild); reads go on. */
  async lockForRebuild(sql: Sql): Promise<void> {
    await sql('LOCK TABLE principals, grants IN EXCLUSIVE MODE');
  }

  /**
   * Makes the tables exactly `principals` and their grants inside the caller's transaction (the
   * rebuild): every principal's and grant's columns are its state, and a grant the ledger never
   * made is deleted. A principal the ledger never created is deleted too, unless a key still names
   * it (`api_keys.principal_id`): then its row stays as found, without grants (its keys act with
   * no role), and its id is answered, for the operator to look at the key.
   */
  async replaceAll(sql: Sql, principals: readonly PrincipalState[]): Promise<string[]> {
    const ids = principals.map((principal) => principal.id);
    const grants = principals.flatMap((principal) =>
      principal.grants.map((grant) => ({
        id: grant.id,
        principal_id: principal.id,
        role: grant.role,
        tenants: grant.tenants,
        status: grant.status,
        requested_by: grant.requestedBy,
        requested_at: grant.requestedAt,
        approved_by: grant.approvedBy,
        approved_at: grant.approvedAt,
        revoked_at: grant.revokedAt,
      })),
    );
    // A grant row under another principal than its entries say goes too: it comes back below, and
    // a principal deleted next holds no grant.
    await sql(
      `DELETE FROM grants g WHERE NOT EXISTS (
         SELECT 1 FROM unnest($1::uuid[], $2::uuid[]) AS f (id, principal_id)
         WHERE f.id = g.id AND f.principal_id = g.principal_id)`,
      [grants.map((grant) => grant.id), grants.map((grant) => grant.principal_id)],
    );
    await sql(
      `DELETE FROM principals p WHERE p.id <> ALL($1::uuid[])
         AND NOT EXISTS (SELECT 1 FROM api_keys k WHERE k.principal_id = p.id)`,
      [ids],
    );
    const kept = await sql('SELECT id FROM principals WHERE id <> ALL($1::uuid[]) ORDER BY id', [ids]);
    const columns = {
      id: ids,
      name: principals.map((principal) => principal.name),
      kind: principals.map((principal) => principal.kind),
      email: principals.map((principal) => principal.email),
      oidcSubject: principals.map((principal) => principal.oidcSubject),
    };
    // Names, emails and subjects are unique: a damaged row may hold another's, so the rows about
    // to change them give theirs up first (a uuid is no name anyone holds).
    await sql(
      `UPDATE principals p SET name = p.id::text, email = NULL, oidc_subject = NULL
       FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[]) AS f (id, name, email, oidc_subject)
       WHERE p.id = f.id AND (p.name, p.email, p.oidc_subject) IS DISTINCT FROM (f.name, f.email, f.oidc_subject)`,
      [columns.id, columns.name, columns.email, columns.oidcSubject],
    );
    await sql(
      `INSERT INTO principals (id, name, kind, email, oidc_subject, created_at, created_by, revoked_at)
       SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[],
         $7::uuid[], $8::timestamptz[])
       ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, kind = EXCLUDED.kind, email = EXCLUDED.email,
         oidc_subject = EXCLUDED.oidc_subject, created_at = EXCLUDED.created_at, created_by = EXCLUDED.created_by,
         revoked_at = EXCLUDED.revoked_at`,
      [
        columns.id,
        columns.name,
        columns.kind,
        columns.email,
        columns.oidcSubject,
        principals.map((principal) => principal.createdAt),
        principals.map((principal) => principal.createdBy),
        principals.map((principal) => principal.revokedAt),
      ],
    );
    // Tenants are arrays: the grants travel as one JSON document rather than parallel arrays.
    await sql(
      `INSERT INTO grants (id, principal_id, role, tenants, status, requested_by, requested_at, approved_by,
         approved_at, revoked_at)
       SELECT * FROM jsonb_to_recordset($1::jsonb) AS g (id uuid, principal_id uuid, role text, tenants text[],
         status text, requested_by uuid, requested_at timestamptz, approved_by uuid, approved_at timestamptz,
         revoked_at timestamptz)
       ON CONFLICT (id) DO UPDATE SET principal_id = EXCLUDED.principal_id, role = EXCLUDED.role,
         tenants = EXCLUDED.tenants, status = EXCLUDED.status, requested_by = EXCLUDED.requested_by,
         requested_at = EXCLUDED.requested_at, approved_by = EXCLUDED.approved_by,
         approved_at = EXCLUDED.approved_at, revoked_at = EXCLUDED.revoked_at`,
      [JSON.stringify(grants)],
    );
    return kept.map((row) => row.id as string);
  }

  private async saveGrants(sql: Sql, principal: PrincipalState): Promise<void> {
    for (const grant of principal.grants)
      await sql(
        `INSERT INTO grants (id, principal_id, role, tenants, status, requested_by, requested_at, approved_by,
           approved_at, revoked_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT (id) DO UPDATE SET status = $5, approved_by = $8, approved_at = $9, revoked_at = $10`,
        [
          grant.id,
          principal.id,
          grant.role,
          grant.tenants,
          grant.status,
          grant.requestedBy,
          grant.requestedAt,
          grant.approvedBy,
          grant.approvedAt,
          grant.revokedAt,
        ],
      );
  }
}
