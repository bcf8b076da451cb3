import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The ledger's published read contract (src/ledger/README.md "Read contract"): the relations read
 * models outside the ledger (the search projection, its reads and its quarantine) may name in SQL.
 * They join them in set-based statements, so a port answering row by row would cost them round
 * trips; views keep those statements one statement each. The ledger may change its tables; it
 * keeps these views (columns and meaning) as they are, or changes them in a migration of its own
 * together with every reader.
 *
 * Plain single-table views, so the planner inlines them: a query plans as if it named the table.
 * `security_invoker`: the underlying tables' grants and row-level security apply to whoever reads
 * the view, so `audit_reader` still sees only its tenants' rows (with the owner's rights, the
 * default, a view would bypass row-level security, as the owner does).
 */
export class LedgerReadContract1765238400000 implements MigrationInterface {
  name = 'LedgerReadContract1765238400000';

  async up(q: QueryRunner): Promise<void> {
    // Every entry: the stored leaf bytes and their hash, nothing of the tree.
    await q.query(`
      CREATE VIEW ledger_entries WITH (security_invoker = true) AS
      SELECT log, idx, id, recorded_at, leaf_hash, leaf FROM entries`);
    // The personal data beside an entry, when it has any; data and salt are null once erased.
    await q.query(`
      CREATE VIEW ledger_personal_data WITH (security_invoker = true) AS
      SELECT log, idx, subject, data, salt, erased_at FROM personal_data`);
    // Entries [0, size) of each log are committed.
    await q.query(`
      CREATE VIEW ledger_log_sizes WITH (security_invoker = true) AS
      SELECT log, size FROM logs`);

    for (const view of VIEWS) await q.query(`GRANT SELECT ON ${view} TO audit_runtime, audit_reader`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const view of [...VIEWS].reverse()) await q.query(`DROP VIEW ${view}`);
  }
}

const VIEWS = ['ledger_entries', 'ledger_personal_data', 'ledger_log_sizes'];
