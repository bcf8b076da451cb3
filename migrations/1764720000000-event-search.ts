import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The search read model (docs/api.md "Search and exports"): one row per entry with the members
 * investigators filter on, kept apart from the ledger so it can be indexed freely and rebuilt from
 * the leaves at any time. It holds no personal data (only `personal.subject`, which is in the leaf
 * too), so erasure has nothing to remove here and a rebuild cannot bring erased data back.
 *
 * `audit_search_row` is the one projection from a leaf to a row: the append statement, the
 * rebuild command and the backfill below all call it.
 */
export class EventSearch1764720000000 implements MigrationInterface {
  name = 'EventSearch1764720000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE event_search (
        log text NOT NULL,
        idx bigint NOT NULL,
        id uuid NOT NULL,
        recorded_at timestamptz NOT NULL,
        source text NOT NULL,
        type text NOT NULL,
        category text NOT NULL,
        actor_type text NOT NULL,
        actor_id text NOT NULL,
        target_type text,
        target_id text,
        outcome text NOT NULL,
        subject text
      )`);

    await q.query(`
      CREATE FUNCTION audit_search_row(p_log text, p_idx bigint, p_id uuid, p_recorded_at timestamptz, p_leaf bytea)
      RETURNS event_search LANGUAGE sql STABLE PARALLEL SAFE AS $$
        SELECT p_log, p_idx, p_id, p_recorded_at, j->>'source', j->>'type', j->>'category',
               j->'actor'->>'type', j->'actor'->>'id', j->'target'->>'type', j->'target'->>'id',
               j->>'outcome', j->'personal'->>'subject'
        FROM (SELECT convert_from(p_leaf, 'UTF8')::jsonb AS j) AS leaf
      $$`);

    await q.query(`
      INSERT INTO event_search
      SELECT r.* FROM entries e, LATERAL audit_search_row(e.log, e.idx, e.id, e.recorded_at, e.leaf) r`);

    // Every order is newest first by (recorded_at, log, idx); each index ends in those columns so
    // a page is an index range, never a sort. A tenant's browse and time range; every tenant's;
    // then one per dimension an investigator starts from (who, what was touched, whose data).
    // No primary key: (log, idx) is unique because the append statement that writes a row also
    // inserts its entry, whose key refuses a duplicate; each index here costs every append.
    await q.query('CREATE UNIQUE INDEX event_search_id ON event_search (id)');
    await q.query('CREATE INDEX event_search_log_time ON event_search (log, recorded_at, idx)');
    await q.query('CREATE INDEX event_search_time ON event_search (recorded_at, log, idx)');
    await q.query('CREATE INDEX event_search_actor ON event_search (actor_id, recorded_at, log, idx)');
    await q.query(
      'CREATE INDEX event_search_target ON event_search (target_id, recorded_at, log, idx) WHERE target_id IS NOT NULL',
    );
    await q.query(
      'CREATE INDEX event_search_subject ON event_search (subject, recorded_at, log, idx) WHERE subject IS NOT NULL',
    );

    // The runtime role appends rows with the entries and may rebuild a log's rows (delete, then
    // insert from the leaves); readers see their tenants' rows only, like the ledger's tables.
    await q.query('GRANT SELECT, INSERT, DELETE ON event_search TO audit_runtime');
    await q.query('GRANT SELECT ON event_search TO audit_reader');
    await q.query('ALTER TABLE event_search ENABLE ROW LEVEL SECURITY');
    await q.query('CREATE POLICY event_search_runtime ON event_search TO audit_runtime USING (true) WITH CHECK (true)');
    await q.query(
      'CREATE POLICY event_search_reader ON event_search FOR SELECT TO audit_reader USING (audit_tenant_visible(log))',
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP FUNCTION audit_search_row(text, bigint, uuid, timestamptz, bytea)');
    await q.query('DROP TABLE event_search');
  }
}
