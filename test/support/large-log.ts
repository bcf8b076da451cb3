import { Client } from 'pg';
import { Closable, OnTestDatabase, onTestDatabase } from './test-database';

/**
 * A test database of its own holding `entries` rows of one log, written straight into it (the
 * service would take minutes to append them), of the sizes the service writes (a leaf of about 600
 * bytes), with statistics as PostgreSQL keeps them: for tests of the plans of statements that read
 * ranges of a large log.
 */
export function onLargeLog(log: string, entries: number): Promise<OnTestDatabase<Closable>> {
  return onTestDatabase(async (_db, owner) => {
    await owner.query("INSERT INTO logs (log, root) VALUES ($1, sha256(''))", [log]);
    await owner.query(
      `INSERT INTO entries (log, idx, id, recorded_at, prev, leaf_hash, tree_nodes, leaf)
       SELECT $1, i, gen_random_uuid(), now(), sha256(int8send(i)), sha256(int8send(-i - 1)), '', convert_to(repeat('x', 600), 'UTF8')
       FROM generate_series(0, $2 - 1) AS i`,
      [log, entries],
    );
    await owner.query('UPDATE logs SET size = $2 WHERE log = $1', [log, entries]);
    await owner.query('ANALYZE entries');
    return { close: () => Promise.resolve() };
  });
}

/**
 * The scans of `table` in the plans PostgreSQL makes for `statement` run as a prepared statement
 * with `args` (SQL literals): the custom plan and the generic one a named statement gets after
 * five runs. Each scan: its node type, index and index condition.
 */
export async function scansOf(
  owner: Client,
  statement: string,
  types: readonly string[],
  args: readonly string[],
  table: string,
): Promise<{ mode: string; type: unknown; index: unknown; cond: unknown }[]> {
  const nodes = (plan: Record<string, unknown>): Record<string, unknown>[] => [
    plan,
    ...((plan.Plans as Record<string, unknown>[] | undefined) ?? []).flatMap(nodes),
  ];
  const scans: { mode: string; type: unknown; index: unknown; cond: unknown }[] = [];
  for (const mode of ['force_custom_plan', 'force_generic_plan']) {
    await owner.query(`SET plan_cache_mode = ${mode}`);
    await owner.query('DEALLOCATE ALL');
    await owner.query(`PREPARE planned(${types.join(', ')}) AS ${statement}`);
    const { rows } = await owner.query(`EXPLAIN (FORMAT JSON) EXECUTE planned(${args.join(', ')})`);
    for (const node of nodes((rows[0]['QUERY PLAN'] as { Plan: Record<string, unknown> }[])[0].Plan))
      if (node['Relation Name'] === table)
        scans.push({ mode, type: node['Node Type'], index: node['Index Name'], cond: node['Index Cond'] });
  }
  await owner.query('RESET plan_cache_mode');
  await owner.query('DEALLOCATE ALL');
  return scans;
}
