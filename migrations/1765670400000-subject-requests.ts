import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The `subject_requests` read model (src/privacy): each data-subject request's state as its
 * `privacy` entries in the ledger left it. `version` is the number of events applied: a change
 * is written only over the version it was decided on. The subject is personal data, like the
 * `subject` of deletion_requests: kept for the case's life, never in a leaf.
 */
export class SubjectRequests1765670400000 implements MigrationInterface {
  name = 'SubjectRequests1765670400000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE subject_requests (
        id uuid PRIMARY KEY,
        kind text NOT NULL CHECK (kind IN ('access', 'rectification', 'erasure')),
        subject text NOT NULL,
        tenants text[] NOT NULL,
        status text NOT NULL CHECK (status IN ('received', 'in_progress', 'completed')),
        received_at timestamptz NOT NULL,
        due_at timestamptz NOT NULL,
        state jsonb NOT NULL,
        version integer NOT NULL
      )`);
    await q.query('CREATE INDEX subject_requests_received ON subject_requests (received_at, id)');
    await q.query('GRANT SELECT, INSERT, UPDATE, DELETE ON subject_requests TO audit_runtime');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE subject_requests');
  }
}
