import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The witness component's memory (src/witness, C2SP tlog-witness): for each log origin it
 * witnesses, the size and root hash of the latest checkpoint it cosigned. A request is checked
 * against this row and the row advanced in one transaction (SELECT ... FOR UPDATE), so two
 * concurrent requests can never roll it back. Size 0 has no root (root_hash NULL).
 * Also the submitting side (this deployment asking witnesses to cosign its checkpoints).
 */
export class WitnessState1796358301003 implements MigrationInterface {
  name = 'WitnessState1796358301003';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE witness_state (
        origin text PRIMARY KEY,
        size bigint NOT NULL CHECK (size >= 0),
        root_hash bytea CHECK (octet_length(root_hash) = 32),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CHECK ((size = 0) = (root_hash IS NULL))
      )`);
    await q.query('GRANT SELECT, INSERT, UPDATE ON witness_state TO audit_runtime');
    // The submitting side: per log and witness (by its verifier key), the size that witness last
    // cosigned (as far as this deployment knows) and the last refusal; and each verified
    // cosignature, beside the checkpoint (log, size) it signs. Cosignatures are public data.
    await q.query(`
      CREATE TABLE witness_submissions (
        log text NOT NULL,
        witness_key text NOT NULL,
        size bigint NOT NULL CHECK (size >= 0),
        last_status int,
        last_error text,
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (log, witness_key)
      )`);
    await q.query(`
      CREATE TABLE checkpoint_cosignatures (
        log text NOT NULL,
        size bigint NOT NULL,
        witness_key text NOT NULL,
        line text NOT NULL,
        cosigned_at timestamptz NOT NULL,
        PRIMARY KEY (log, size, witness_key)
      )`);
    await q.query('GRANT SELECT, INSERT, UPDATE ON witness_submissions, checkpoint_cosignatures TO audit_runtime');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE checkpoint_cosignatures, witness_submissions, witness_state');
  }
}
