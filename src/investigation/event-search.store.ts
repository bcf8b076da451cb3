import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { LogStore, Sql } from '../ledger/log-store';
import { EventFilter, SearchPosition } from './event-query';

/** An entry as search, event reads and exports serve it: the stored leaf and its personal data. */
export interface StoredEvent {
  readonly log: string;
  readonly index: number;
  readonly recordedAt: string;
  readonly leaf: Buffer;
  readonly leafHash: Buffer;
  /** The personal data row beside the leaf: null when the entry has none. */
  readonly personal: { readonly data: unknown; readonly salt: Buffer | null; readonly erased: boolean } | null;
}

// Filter member → read-model column. Every filter is an exact match on one column.
const COLUMNS: Readonly<Record<Exclude<keyof EventFilter, 'tenant' | 'from' | 'to'>, string>> = {
  type: 'type',
  category: 'category',
  actor: 'actor_id',
  actorType: 'actor_type',
  target: 'target_id',
  targetType: 'target_type',
  subject: 'subject',
  source: 'source',
  outcome: 'outcome',
};

/**
 * The WHERE clause of `filter` over `event_search s`, its parameters appended to `params`.
 * `logs` bounds a search without a tenant to the caller's tenants (null: every tenant).
 */
function whereOf(filter: EventFilter, logs: readonly string[] | null, params: unknown[]): string[] {
  const where: string[] = [];
  const param = (value: unknown) => `$${params.push(value)}`;
  if (filter.tenant !== undefined) where.push(`s.log = ${param(filter.tenant)}`);
  else if (logs !== null) where.push(`s.log = ANY(${param(logs)}::text[])`);
  for (const [member, column] of Object.entries(COLUMNS)) {
    const value = filter[member as keyof typeof COLUMNS];
    if (value !== undefined) where.push(`s.${column} = ${param(value)}`);
  }
  if (filter.from !== undefined) where.push(`s.recorded_at >= ${param(filter.from)}::timestamptz`);
  if (filter.to !== undefined) where.push(`s.recorded_at < ${param(filter.to)}::timestamptz`);
  return where;
}

/**
 * The keyset condition "strictly after `position`" in the order (recorded_at, log, idx), `op`
 * '>' oldest first, '<' newest first. Within one log (`oneLog`) the log column is fixed, so the
 * comparison leaves it out: in the column order of the (log, recorded_at, idx) index, it bounds
 * that index's range instead of filtering the rows before the cursor one by one.
 */
function afterClause(position: SearchPosition, op: '<' | '>', oneLog: boolean, params: unknown[]): string {
  const time = `$${params.push(position.recordedAt)}::timestamptz`;
  const index = `$${params.push(position.index)}::bigint`;
  if (oneLog) return `(s.recorded_at, s.idx) ${op} (${time}, ${index})`;
  return `(s.recorded_at, s.log, s.idx) ${op} (${time}, $${params.push(position.log)}, ${index})`;
}

/**
 * A page is a range of one index, walked in order up to the limit. Right after a bulk load, before
 * autovacuum has analysed the table, the planner takes a log's range for a few rows and prefers a
 * bitmap scan of all of it plus a sort, so each page reads every row after it (measured: 37 ms a
 * page with 50,000 rows left, 5 ms walking the index). Turning both off for the page's
 * transaction leaves the walk as the plan.
 */
async function walkIndexes(sql: Sql): Promise<void> {
  await sql(`SELECT set_config('enable_bitmapscan', 'off', true), set_config('enable_sort', 'off', true)`);
}

function toStoredEvent(row: Record<string, unknown>): StoredEvent {
  return {
    log: row.log as string,
    index: Number(row.idx),
    recordedAt: (row.recorded_at as Date).toISOString(),
    leaf: row.leaf as Buffer,
    leafHash: row.leaf_hash as Buffer,
    personal: row.has_personal ? { data: row.data ?? null, salt: (row.salt as Buffer | null) ?? null, erased: row.erased_at !== null } : null,
  };
}

// The rows of a page, joined to their leaves and personal data by primary key. The page itself
// is chosen in a subquery so the planner walks one read-model index for it, whatever it joins.
const PAGE_ROWS = `
  SELECT page.log, page.idx, page.recorded_at, e.leaf, e.leaf_hash, p.log IS NOT NULL AS has_personal, p.data, p.salt, p.erased_at
  FROM page
  JOIN entries e ON e.log = page.log AND e.idx = page.idx
  LEFT JOIN personal_data p ON p.log = page.log AND p.idx = page.idx`;

/**
 * Reads of the search read model (`event_search`, migration EventSearch), always through a
 * tenant-scoped `Sql` (LogStore.tenantScoped), plus its rebuild from the ledger.
 */
@Injectable()
export class EventSearchStore {
  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly logStore: LogStore,
  ) {}

  /**
   * Up to `limit` entries matching `filter`, newest first by (recordedAt, log, index), strictly
   * after `after` in that order. `logs` as in whereOf.
   */
  async search(sql: Sql, filter: EventFilter, logs: readonly string[] | null, after: SearchPosition | null, limit: number): Promise<StoredEvent[]> {
    const params: unknown[] = [];
    const where = whereOf(filter, logs, params);
    if (after) where.push(afterClause(after, '<', filter.tenant !== undefined, params));
    await walkIndexes(sql);
    const rows = await sql(
      `WITH page AS (
         SELECT s.log, s.idx, s.recorded_at FROM event_search s
         ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
         ORDER BY s.recorded_at DESC, s.log DESC, s.idx DESC LIMIT $${params.push(limit)}
       )
       ${PAGE_ROWS}
       ORDER BY page.recorded_at DESC, page.log DESC, page.idx DESC`,
      params,
    );
    return rows.map(toStoredEvent);
  }

  /** The entry with service id `id`, or null. */
  async byId(sql: Sql, id: string): Promise<StoredEvent | null> {
    const rows = await sql(`WITH page AS (SELECT s.log, s.idx, s.recorded_at FROM event_search s WHERE s.id = $1) ${PAGE_ROWS}`, [id]);
    return rows.length === 0 ? null : toStoredEvent(rows[0]);
  }

  /**
   * Up to `limit` entries of `filter.tenant` below index `size` matching `filter`, oldest first,
   * strictly after `after`: an export's next page.
   */
  async exportPage(sql: Sql, filter: EventFilter & { tenant: string }, size: number, after: SearchPosition | null, limit: number): Promise<StoredEvent[]> {
    const params: unknown[] = [];
    const where = [...whereOf(filter, null, params), `s.idx < $${params.push(size)}`];
    if (after) where.push(afterClause(after, '>', true, params));
    await walkIndexes(sql);
    const rows = await sql(
      `WITH page AS (
         SELECT s.log, s.idx, s.recorded_at FROM event_search s WHERE ${where.join(' AND ')}
         ORDER BY s.recorded_at, s.idx LIMIT $${params.push(limit)}
       )
       ${PAGE_ROWS}
       ORDER BY page.recorded_at, page.idx`,
      params,
    );
    return rows.map(toStoredEvent);
  }

  /** How many entries of `filter.tenant` below index `size` match `filter`. */
  async exportCount(sql: Sql, filter: EventFilter & { tenant: string }, size: number): Promise<number> {
    const params: unknown[] = [];
    const where = [...whereOf(filter, null, params), `s.idx < $${params.push(size)}`];
    const rows = await sql(`SELECT count(*) AS n FROM event_search s WHERE ${where.join(' AND ')}`, params);
    return Number(rows[0].n);
  }

  /**
   * Writes the read-model rows of entries not yet projected, for `logs` (null: every log but
   * `skip`), up to `perLog` entries of each of up to `maxLogs` logs. Returns the logs it brought up
   * to their heads, and whether more may be due at once (a log kept entries back, or the log limit
   * was reached).
   *
   * With `wait`, a log another projector holds is waited for, and logs are locked in name order
   * so two waiting callers cannot deadlock; without, a held log is left to its holder and the logs
   * are taken in random order, so a few busy logs cannot starve the rest.
   *
   * Entries of a log commit in index order (each append continues the head the previous one
   * committed), so the log's `size` in this statement's snapshot bounds a prefix that is entirely
   * visible: nothing is skipped.
   */
  async project(options: {
    logs: readonly string[] | null;
    skip?: readonly string[];
    wait: boolean;
    perLog: number;
    maxLogs: number;
  }): Promise<{ caughtUp: string[]; more: boolean }> {
    const { logs, wait } = options;
    // Named, so each connection plans each of the four forms once: a search runs this before it
    // reads, and planning it took longer than running it (2.3 ms against under 0.5 ms).
    const name = `audit_search_project_${wait ? 'wait' : 'skip'}_${logs === null ? 'all' : 'some'}`;
    const rows = await this.logStore.sql()(
      `WITH due AS (
         SELECT p.log, p.size AS from_idx, LEAST(l.size, p.size + $1) AS to_idx, l.size > p.size + $1 AS behind
         FROM event_search_progress p JOIN logs l ON l.log = p.log
         WHERE l.size > p.size AND ${logs === null ? 'p.log <> ALL($3::text[])' : 'l.log = ANY($3::text[])'}
         ORDER BY ${wait ? 'p.log' : 'random()'} LIMIT $2
         FOR UPDATE OF p${wait ? '' : ' SKIP LOCKED'}
       ), projected AS (
         INSERT INTO event_search
         SELECT r.* FROM due d
         JOIN entries e ON e.log = d.log AND e.idx >= d.from_idx AND e.idx < d.to_idx,
         LATERAL audit_search_row(e.log, e.idx, e.id, e.recorded_at, e.leaf) r
       ), moved AS (
         UPDATE event_search_progress p SET size = d.to_idx FROM due d WHERE p.log = d.log
         RETURNING d.log, d.behind
       )
       SELECT count(*) AS logs, coalesce(bool_or(behind), false) AS behind,
              coalesce(array_agg(log) FILTER (WHERE NOT behind), '{}') AS caught_up
       FROM moved`,
      [options.perLog, options.maxLogs, logs ?? options.skip ?? []],
      name,
    );
    return { caughtUp: rows[0].caught_up as string[], more: rows[0].behind === true || Number(rows[0].logs) >= options.maxLogs };
  }

  /** Entries appended but not yet in the read model, over every log. */
  async lag(): Promise<number> {
    const rows: { n: string }[] = await this.db.query(
      'SELECT coalesce(sum(l.size - coalesce(p.size, 0)), 0) AS n FROM logs l LEFT JOIN event_search_progress p ON p.log = l.log',
    );
    return Number(rows[0].n);
  }

  /**
   * Rebuilds the read model of `log` from its leaves, in one transaction that holds the log's
   * projection progress, so no projector writes it meanwhile; appends go on and are projected
   * after. Returns the rows written.
   */
  async rebuild(log: string): Promise<number> {
    return this.db.transaction(async (tx) => {
      const locked: { size: string }[] = await tx.query(
        'SELECT l.size FROM event_search_progress p JOIN logs l ON l.log = p.log WHERE p.log = $1 FOR UPDATE OF p',
        [log],
      );
      if (locked.length === 0) return 0;
      const size = Number(locked[0].size);
      await tx.query('DELETE FROM event_search WHERE log = $1', [log]);
      const rows: { n: string }[] = await tx.query(
        `WITH inserted AS (
           INSERT INTO event_search
           SELECT r.* FROM entries e, LATERAL audit_search_row(e.log, e.idx, e.id, e.recorded_at, e.leaf) r
           WHERE e.log = $1 AND e.idx < $2
           RETURNING 1
         )
         SELECT count(*) AS n FROM inserted`,
        [log, size],
      );
      await tx.query('UPDATE event_search_progress SET size = $2 WHERE log = $1', [log, size]);
      return Number(rows[0].n);
    });
  }
}
