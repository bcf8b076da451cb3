import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The ledger's storage: per-log heads, entries (leaf bytes as stored bytes, never re-serialised),
 * the tree nodes each append completes, signed checkpoints, personal data beside the leaves,
 * idempotency claims and API keys. Entries and checkpoints are immutable: triggers refuse UPDATE,
 * DELETE and TRUNCATE, and the runtime role has neither those grants nor ownership (so it cannot
 * switch the triggers off). Every table is keyed by log first, so it can be sharded on it.
 */
export class Ledger1764201600000 implements MigrationInterface {
  name = 'Ledger1764201600000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      DO $$ BEGIN
        CREATE ROLE audit_runtime LOGIN;
      EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
      END $$`);

    await q.query(`
      CREATE TABLE logs (
        log text PRIMARY KEY,
        size bigint NOT NULL DEFAULT 0,
        root bytea NOT NULL,
        -- Roots of the tree's maximal perfect subtrees, left to right, 32 bytes each: all an
        -- append needs to continue the tree.
        frontier bytea NOT NULL DEFAULT ''::bytea,
        last_leaf_hash bytea,
        last_recorded_at timestamptz,
        checkpoint_size bigint NOT NULL DEFAULT -1,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);

    await q.query(`
      CREATE TABLE entries (
        log text NOT NULL,
        idx bigint NOT NULL CHECK (idx >= 0),
        id uuid NOT NULL,
        recorded_at timestamptz NOT NULL,
        prev bytea NOT NULL,
        leaf_hash bytea NOT NULL,
        -- Hashes of the interior nodes that appending this leaf completed, lowest level first:
        -- node (level l, index i) lives with leaf (i + 1) * 2^l - 1 at offset (l - 1) * 32.
        tree_nodes bytea NOT NULL,
        leaf bytea NOT NULL,
        PRIMARY KEY (log, idx),
        CONSTRAINT entries_one_successor UNIQUE (log, prev)
      )`);

    await q.query(`
      CREATE TABLE checkpoints (
        log text NOT NULL,
        size bigint NOT NULL,
        root bytea NOT NULL,
        note text NOT NULL,
        signed_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (log, size)
      )`);

    await q.query(`
      CREATE TABLE personal_data (
        log text NOT NULL,
        idx bigint NOT NULL,
        subject text NOT NULL,
        salt bytea NOT NULL,
        data jsonb NOT NULL,
        PRIMARY KEY (log, idx)
      )`);
    await q.query(`CREATE INDEX personal_data_subject ON personal_data (log, subject)`);

    await q.query(`
      CREATE TABLE idempotency_keys (
        source text NOT NULL,
        key text NOT NULL,
        request_digest bytea NOT NULL,
        log text NOT NULL,
        idx bigint NOT NULL,
        id uuid NOT NULL,
        leaf_hash bytea NOT NULL,
        recorded_at timestamptz NOT NULL,
        PRIMARY KEY (source, key)
      )`);

    await q.query(`
      CREATE TABLE api_keys (
        id uuid PRIMARY KEY,
        name text NOT NULL,
        prefix text NOT NULL,
        secret_hash bytea NOT NULL UNIQUE,
        roles text[] NOT NULL,
        tenants text[] NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        created_by uuid,
        expires_at timestamptz,
        revoked_at timestamptz
      )`);

    await q.query(`
      CREATE TABLE service_keys (
        name text PRIMARY KEY,
        private_key text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);

    await q.query(`
      CREATE FUNCTION refuse_ledger_change() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'ledger table % is append-only: % refused', TG_TABLE_NAME, TG_OP
          USING ERRCODE = 'insufficient_privilege';
      END $$`);
    for (const table of ['entries', 'checkpoints']) {
      await q.query(`CREATE TRIGGER ${table}_append_only BEFORE UPDATE OR DELETE ON ${table}
        FOR EACH ROW EXECUTE FUNCTION refuse_ledger_change()`);
      await q.query(`CREATE TRIGGER ${table}_no_truncate BEFORE TRUNCATE ON ${table}
        FOR EACH STATEMENT EXECUTE FUNCTION refuse_ledger_change()`);
    }

    // The runtime role: reads and appends, never rewrites the ledger.
    await q.query(`GRANT USAGE ON SCHEMA public TO audit_runtime`);
    await q.query(`GRANT SELECT, INSERT ON entries, checkpoints TO audit_runtime`);
    await q.query(`GRANT SELECT, INSERT, UPDATE ON logs TO audit_runtime`);
    await q.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON personal_data, idempotency_keys, api_keys TO audit_runtime`);
    await q.query(`GRANT SELECT, INSERT ON service_keys TO audit_runtime`);
  }

  async down(): Promise<void> {
    throw new Error('the ledger migration is not reversible: it would destroy the audit trail');
  }
}
