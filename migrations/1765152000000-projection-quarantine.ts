import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Projections that cannot stall (src/investigation/README.md "Quarantine").
 *
 * `projection_quarantine` keeps the entries a projection could not write, so that one entry never
 * stops the projection of its log and of every other: the projector writes the rest and moves its
 * progress past the entry. A row names the entry (log, index, id), the projection ("search"
 * today), the reason as a SQLSTATE and its condition name (never the database's message, which can
 * quote the entry's values), and since when. Reads that cover a quarantined entry say so.
 *
 * `audit_search_row` read the leaf with `::jsonb`, which refuses the escape `\u0000` that a leaf
 * holds for U+0000 in any string (PostgreSQL's text cannot hold that character): one such entry
 * stopped the projector for every log. In the read model only, U+0000 now reads as U+FFFD; the
 * leaf itself is never changed, and reads serve it as it is.
 */
export class ProjectionQuarantine1765152000000 implements MigrationInterface {
  name = 'ProjectionQuarantine1765152000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE projection_quarantine (
        projection text NOT NULL,
        log text NOT NULL,
        idx bigint NOT NULL,
        id uuid NOT NULL,
        error text NOT NULL,
        since timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (projection, log, idx)
      )`);

    // The runtime role quarantines entries and, when a rebuild projects one after all, releases
    // it; readers see their tenants' rows only, like the read model itself.
    await q.query('GRANT SELECT, INSERT, DELETE ON projection_quarantine TO audit_runtime');
    await q.query('GRANT SELECT ON projection_quarantine TO audit_reader');
    await q.query('ALTER TABLE projection_quarantine ENABLE ROW LEVEL SECURITY');
    await q.query(
      'CREATE POLICY projection_quarantine_runtime ON projection_quarantine TO audit_runtime USING (true) WITH CHECK (true)',
    );
    await q.query(
      'CREATE POLICY projection_quarantine_reader ON projection_quarantine FOR SELECT TO audit_reader USING (audit_tenant_visible(log))',
    );

    // The escape is replaced only where it is one: after every escaped backslash ("\\") is set
    // aside (as U+0001, which canonical JSON always escapes, so no leaf holds it as it is), each
    // "\u0000" left starts an escape. A leaf without the escape, nearly all of them, is cast as
    // before; strpos costs next to nothing beside the cast.
    await q.query(String.raw`
      CREATE FUNCTION audit_search_jsonb(leaf text) RETURNS jsonb LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
        SELECT CASE WHEN strpos(leaf, '\u0000') = 0 THEN leaf::jsonb
               ELSE replace(replace(replace(leaf, '\\', chr(1)), '\u0000', '\ufffd'), chr(1), '\\')::jsonb END
      $$`);
    await q.query(rowFunction("audit_search_jsonb(convert_from(p_leaf, 'UTF8'))"));
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(rowFunction("convert_from(p_leaf, 'UTF8')::jsonb"));
    await q.query('DROP FUNCTION audit_search_jsonb(text)');
    await q.query('DROP TABLE projection_quarantine');
  }
}

// As in SearchProjector1764806400000: OFFSET 0 keeps the leaf parsed once per row.
function rowFunction(json: string): string {
  return `
    CREATE OR REPLACE FUNCTION audit_search_row(p_log text, p_idx bigint, p_id uuid, p_recorded_at timestamptz, p_leaf bytea)
    RETURNS event_search LANGUAGE sql STABLE PARALLEL SAFE AS $$
      SELECT p_log, p_idx, p_id, p_recorded_at, j->>'source', j->>'type', j->>'category',
             j->'actor'->>'type', j->'actor'->>'id', j->'target'->>'type', j->'target'->>'id',
             j->>'outcome', j->'personal'->>'subject'
      FROM (SELECT ${json} AS j OFFSET 0) AS leaf
    $$`;
}
