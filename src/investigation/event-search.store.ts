import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { LogStore, PersonalDataReader, PersonalSearch, Sql } from '../ledger';
import { EventFilter, PERSONAL_FILTERS, SearchPosition } from './event-query';
import { entryFailure, isolateFailures } from './projection-quarantine';

/** The name of this read model's rows in `projection_quarantine`. */
const PROJECTION = 'search';

/** An entry the search projection could not write (`projection_quarantine`). */
export interface QuarantinedEntry {
  readonly log: string;
  readonly index: number;
  readonly id: string;
  /** SQLSTATE and condition name: never the database's message (it may quote personal data). */
  readonly error: string;
  readonly since: string;
}

/** An entry as search, event reads and exports serve it: the stored leaf and its personal data. */
export interface StoredEvent {
  readonly log: string;
  readonly index: number;
  readonly recordedAt: string;
  readonly leaf: Buffer;
  readonly leafHash: Buffer;
  /** The personal data row beside the leaf: null when the entry has none. */
  readonly personal: {
    readonly data: unknown;
    readonly salt: Buffer | null;
    readonly erased: boolean;
    /** When and by which deletion request it was erased (`by` null for an erasure that named none). */
    readonly erasure: { readonly at: string; readonly by: string | null } | null;
  } | null;
}

// Filter member → read-model column. Every filter is an exact match on one column.
const COLUMNS: Readonly<
  Record<Exclude<keyof EventFilter, 'tenant' | 'from' | 'to' | 'personalEmail' | 'personalIp'>, string>
> = {
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

/** A personal filter as the ledger's search index holds it: the kind and the value's HMAC. */
interface PersonalLookup {
  readonly field: string;
  readonly hmac: Buffer;
}

/**
 * The rows a page is chosen from, and the WHERE clause of `filter` over them, its parameters
 * appended to `params`. Without personal filters: `event_search s`. With them: the ledger's
 * search index `ledger_personal_search x` for the first (its index walked in the page's order,
 * as the read model's are), joined to the read model's row, the others as EXISTS; `alias` is the
 * relation that gives the order (log, recorded_at, idx). `logs` bounds a search without a tenant
 * to the caller's tenants (null: every tenant).
 */
function whereOf(
  filter: EventFilter,
  logs: readonly string[] | null,
  params: unknown[],
  personal: readonly PersonalLookup[] = [],
): { from: string; alias: 's' | 'x'; where: string[] } {
  const where: string[] = [];
  const param = (value: unknown) => `$${params.push(value)}`;
  const alias = personal.length > 0 ? 'x' : 's';
  if (filter.tenant !== undefined) where.push(`${alias}.log = ${param(filter.tenant)}`);
  else if (logs !== null) where.push(`${alias}.log = ANY(${param(logs)}::text[])`);
  let from = 'event_search s';
  personal.forEach((lookup, i) => {
    const condition = (y: string) => `${y}.field = ${param(lookup.field)} AND ${y}.hmac = ${param(lookup.hmac)}`;
    if (i === 0) {
      from =
        'ledger_personal_search x JOIN event_search s ON s.log = x.log AND s.recorded_at = x.recorded_at AND s.idx = x.idx';
      where.push(condition('x'));
    } else
      where.push(
        `EXISTS (SELECT 1 FROM ledger_personal_search y${i} WHERE y${i}.log = x.log AND y${i}.idx = x.idx AND ${condition(`y${i}`)})`,
      );
  });
  for (const [member, column] of Object.entries(COLUMNS)) {
    const value = filter[member as keyof typeof COLUMNS];
    if (value !== undefined) where.push(`s.${column} = ${param(value)}`);
  }
  if (filter.from !== undefined) where.push(`${alias}.recorded_at >= ${param(filter.from)}::timestamptz`);
  if (filter.to !== undefined) where.push(`${alias}.recorded_at < ${param(filter.to)}::timestamptz`);
  return { from, alias, where };
}

/**
 * The keyset condition "strictly after `position`" in the order (recorded_at, log, idx), `op`
 * '>' oldest first, '<' newest first. Within one log (`oneLog`) the log column is fixed, so the
 * comparison leaves it out: in the column order of the (log, recorded_at, idx) index, it bounds
 * that index's range instead of filtering the rows before the cursor one by one.
 */
function afterClause(position: SearchPosition, op: '<' | '>', oneLog: boolean, params: unknown[], alias = 's'): string {
  const time = `$${params.push(position.recordedAt)}::timestamptz`;
  const index = `$${params.push(position.index)}::bigint`;
  if (oneLog) return `(${alias}.recorded_at, ${alias}.idx) ${op} (${time}, ${index})`;
  return `(${alias}.recorded_at, ${alias}.log, ${alias}.idx) ${op} (${time}, $${params.push(position.log)}, ${index})`;
}

/**
 * A page is a range of one index, walked in order up to the limit. Right after a bulk load, before
 * autovacuum has analysed the table, the planner takes a log's range for a few rows and prefers a
 * bitmap scan of all of it plus a sort, so each page reads every row after it (measured: 37 ms a
 * page with 50,000 rows left, 5 ms walking the index). Turning both off for the page's
 * transaction leaves the walk as the plan. JIT goes off too: a disabled sort costs the plan so much
 * on paper that PostgreSQL compiles it (measured: 190-240 ms for a page holding quarantined
 * entries, 0.45 ms without). Merge joins go off as well: a page (at most 1,001 rows) joins its
 * leaves and personal data by primary key, a nested loop (with sorts off a merge join would need
 * the page in key order, and it is in time order), yet the planner still built and costed
 * merge-join paths for every join. Planning,
 * not running, is most of a one-entry page: a personalIp page planned in 1.39 ms
 * (p50, warm connection) and ran in 0.29 ms; without merge joins it plans in 1.07 ms, and a day
 * page in 0.88 ms against 1.00 (docs/benchmarks.md "Searches by personal data").
 */
async function walkIndexes(sql: Sql): Promise<void> {
  await sql(
    `SELECT set_config('enable_bitmapscan', 'off', true), set_config('enable_sort', 'off', true), set_config('jit', 'off', true), set_config('enable_mergejoin', 'off', true)`,
  );
}

/** Conditions on `projection_quarantine q JOIN ledger_entries e`: this projection's entries recorded within [from, to). */
function quarantinedWhere(range: { from?: string; to?: string }, params: unknown[]): string[] {
  const where = [`q.projection = '${PROJECTION}'`];
  if (range.from !== undefined) where.push(`e.recorded_at >= $${params.push(range.from)}::timestamptz`);
  if (range.to !== undefined) where.push(`e.recorded_at < $${params.push(range.to)}::timestamptz`);
  return where;
}

/**
 * The logs a projection takes, each with its range [from_idx, to_idx) and whether more is left:
 * up to $2 logs behind (`some`: among $3; else not among $3), up to $1 entries each, their progress
 * locked (without waiting unless `wait`).
 */
function dueLogs(wait: boolean, some: boolean): string {
  return `SELECT p.log, p.size AS from_idx, LEAST(l.size, p.size + $1) AS to_idx, l.size > p.size + $1 AS behind
         FROM event_search_progress p JOIN ledger_log_sizes l ON l.log = p.log
         WHERE l.size > p.size AND ${some ? 'l.log = ANY($3::text[])' : 'p.log <> ALL($3::text[])'}
         ORDER BY ${wait ? 'p.log' : 'random()'} LIMIT $2
         FOR UPDATE OF p${wait ? '' : ' SKIP LOCKED'}`;
}

/**
 * The projector's statement: the entries of the due logs (dueLogs) into the read model, and their
 * progress moved. Exported for the test of its plan (event-search.plan.int-spec.ts).
 */
export function projectionStatement(wait: boolean, some: boolean): string {
  return `WITH due AS (${dueLogs(wait, some)}), projected AS (
         INSERT INTO event_search
         SELECT r.* FROM due d,
         -- A range of the primary key per log. As a join, PostgreSQL read the whole table for
         -- every chunk (a hash join: 2 s a chunk at 5 million entries, the projector 40 times
         -- slower than the appends); the LIMIT (the range holds at most that many) keeps it apart.
         LATERAL (SELECT * FROM ledger_entries e WHERE e.log = d.log AND e.idx >= d.from_idx AND e.idx < d.to_idx LIMIT $1) e,
         LATERAL audit_search_row(e.log, e.idx, e.id, e.recorded_at, e.leaf) r
       ), moved AS (
         UPDATE event_search_progress p SET size = d.to_idx FROM due d WHERE p.log = d.log
         RETURNING d.log, d.behind
       )
       SELECT count(*) AS logs, coalesce(bool_or(behind), false) AS behind,
              coalesce(array_agg(log) FILTER (WHERE NOT behind), '{}') AS caught_up
       FROM moved`;
}

/** What `project` projects: see there. */
interface ProjectOptions {
  readonly logs: readonly string[] | null;
  readonly skip?: readonly string[];
  readonly wait: boolean;
  readonly perLog: number;
  readonly maxLogs: number;
}

/**
 * The rows of PAGE_ROWS as entries, their personal data opened by the ledger (the view holds it
 * sealed: src/ledger/README.md "Read contract"), with the subject keys `sql` may read.
 */
async function toStoredEvents(
  reader: PersonalDataReader,
  sql: Sql,
  rows: readonly Record<string, unknown>[],
): Promise<StoredEvent[]> {
  const withPersonal = rows.filter((row) => row.has_personal);
  const opened = await reader.openViewRows(sql, withPersonal);
  const personal = new Map(withPersonal.map((row, i) => [row, opened[i]]));
  return rows.map((row) => {
    const open = personal.get(row);
    return {
      log: row.log as string,
      index: Number(row.idx),
      recordedAt: (row.recorded_at as Date).toISOString(),
      leaf: row.leaf as Buffer,
      leafHash: row.leaf_hash as Buffer,
      personal: row.has_personal
        ? {
            data: open?.data ?? null,
            salt: open?.salt ?? null,
            erased: row.erased_at !== null,
            erasure:
              row.erased_at === null
                ? null
                : { at: (row.erased_at as Date).toISOString(), by: (row.erased_by as string | null) ?? null },
          }
        : null,
    };
  });
}

// The rows of a page, joined to their leaves and personal data by primary key. The page itself
// is chosen in a subquery so the planner walks one read-model index for it, whatever it joins.
const PAGE_ROWS = `
  SELECT page.log, page.idx, page.recorded_at, e.leaf, e.leaf_hash, p.log IS NOT NULL AS has_personal, p.subject, p.data, p.salt, p.sealed, p.erased_at, p.erased_by
  FROM page
  JOIN ledger_entries e ON e.log = page.log AND e.idx = page.idx
  LEFT JOIN ledger_personal_data p ON p.log = page.log AND p.idx = page.idx`;

/**
 * Reads of the search read model (`event_search`, migration EventSearch), always through a
 * tenant-scoped `Sql` (LogStore.tenantScoped), plus its rebuild from the ledger. The ledger's rows
 * are named only through its published views (`ledger_entries`, `ledger_personal_data`,
 * `ledger_log_sizes`: migration LedgerReadContract), joined in the same statements as the read
 * model's, so that a page or a projection pass stays one statement.
 */
@Injectable()
export class EventSearchStore {
  private readonly logger = new Logger(EventSearchStore.name);

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly logStore: LogStore,
    private readonly personalData: PersonalDataReader,
    private readonly personalSearch: PersonalSearch,
  ) {}

  /** The personal filters of `filter` as index lookups: their HMACs under the ledger's search key. */
  private lookups(filter: EventFilter): PersonalLookup[] {
    const out: PersonalLookup[] = [];
    for (const [name, field] of Object.entries(PERSONAL_FILTERS)) {
      const value = filter[name as keyof typeof PERSONAL_FILTERS];
      if (value !== undefined) out.push({ field, hmac: this.personalSearch.digest({ field, value }) });
    }
    return out;
  }

  /**
   * Those of `indices` (entries of `log`) that every personal filter of `filter` matches in the
   * ledger's search index; all of them when it has none.
   */
  async personalMatches(sql: Sql, log: string, indices: readonly number[], filter: EventFilter): Promise<number[]> {
    const lookups = this.lookups(filter);
    if (lookups.length === 0 || indices.length === 0) return [...indices];
    const params: unknown[] = [log, indices];
    const conditions = lookups.map(
      (l) =>
        `EXISTS (SELECT 1 FROM ledger_personal_search x WHERE x.log = $1 AND x.idx = i.idx AND x.field = $${params.push(l.field)} AND x.hmac = $${params.push(l.hmac)})`,
    );
    const rows = await sql(
      `SELECT i.idx FROM unnest($2::bigint[]) AS i(idx) WHERE ${conditions.join(' AND ')} ORDER BY i.idx`,
      params,
    );
    return rows.map((r) => Number(r.idx));
  }

  /**
   * Up to `limit` entries matching `filter`, newest first by (recordedAt, log, index), strictly
   * after `after` in that order. `logs` as in whereOf.
   */
  async search(
    sql: Sql,
    filter: EventFilter,
    logs: readonly string[] | null,
    after: SearchPosition | null,
    limit: number,
  ): Promise<StoredEvent[]> {
    const params: unknown[] = [];
    const { from, alias: o, where } = whereOf(filter, logs, params, this.lookups(filter));
    if (after) where.push(afterClause(after, '<', filter.tenant !== undefined, params, o));
    await walkIndexes(sql);
    const rows = await sql(
      `WITH page AS (
         SELECT ${o}.log, ${o}.idx, ${o}.recorded_at FROM ${from}
         ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
         ORDER BY ${o}.recorded_at DESC, ${o}.log DESC, ${o}.idx DESC LIMIT $${params.push(limit)}
       )
       ${PAGE_ROWS}
       ORDER BY page.recorded_at DESC, page.log DESC, page.idx DESC`,
      params,
    );
    return toStoredEvents(this.personalData, sql, rows);
  }

  /**
   * Entries [from, to) of `log` in index order, from the ledger's own rows (not the read model:
   * the pull stream must not skip an entry the projector has not reached or set aside).
   */
  async range(sql: Sql, log: string, from: number, to: number): Promise<StoredEvent[]> {
    const rows = await sql(
      `WITH page AS (
         SELECT e.log, e.idx, e.recorded_at FROM ledger_entries e WHERE e.log = $1 AND e.idx >= $2 AND e.idx < $3
       ) ${PAGE_ROWS} ORDER BY page.idx`,
      [log, from, to],
    );
    return toStoredEvents(this.personalData, sql, rows);
  }

  /** The entry with service id `id`, or null. A quarantined entry has no row: found by its quarantine's. */
  async byId(sql: Sql, id: string): Promise<StoredEvent | null> {
    const rows = await sql(
      `WITH page AS (
         (SELECT s.log, s.idx, s.recorded_at FROM event_search s WHERE s.id = $1)
         UNION ALL
         (SELECT e.log, e.idx, e.recorded_at FROM projection_quarantine q JOIN ledger_entries e ON e.log = q.log AND e.idx = q.idx
          WHERE q.id = $1 AND q.projection = '${PROJECTION}')
         LIMIT 1
       ) ${PAGE_ROWS}`,
      [id],
    );
    return rows.length === 0 ? null : (await toStoredEvents(this.personalData, sql, rows.slice(0, 1)))[0];
  }

  /**
   * Up to `limit` entries of `filter.tenant` below index `size` matching `filter`, oldest first,
   * strictly after `after`: an export's next page. `extra`: indices of quarantined entries (no
   * read-model row) to merge in, in the same order; the caller decided they match.
   */
  async exportPage(
    sql: Sql,
    filter: EventFilter & { tenant: string },
    size: number,
    after: SearchPosition | null,
    limit: number,
    extra: readonly number[] = [],
  ): Promise<StoredEvent[]> {
    const params: unknown[] = [];
    const { from, alias: o, where } = whereOf(filter, null, params, this.lookups(filter));
    where.push(`${o}.idx < $${params.push(size)}`);
    if (after) where.push(afterClause(after, '>', true, params, o));
    const rowsOf = `SELECT ${o}.log, ${o}.idx, ${o}.recorded_at FROM ${from} WHERE ${where.join(' AND ')}
         ORDER BY ${o}.recorded_at, ${o}.idx LIMIT $${params.push(limit)}`;
    // Nearly every export has no quarantined entry: its statement stays the plain index walk.
    let page = rowsOf;
    if (extra.length > 0) {
      const more = [`e.log = $${params.push(filter.tenant)}`, `e.idx = ANY($${params.push(extra)}::bigint[])`];
      if (after) more.push(afterClause(after, '>', true, params, 'e'));
      page = `SELECT * FROM ((${rowsOf}) UNION ALL (SELECT e.log, e.idx, e.recorded_at FROM ledger_entries e WHERE ${more.join(' AND ')})) u
         ORDER BY u.recorded_at, u.idx LIMIT $${params.push(limit)}`;
    }
    await walkIndexes(sql);
    const rows = await sql(
      `WITH page AS (
         ${page}
       )
       ${PAGE_ROWS}
       ORDER BY page.recorded_at, page.idx`,
      params,
    );
    return toStoredEvents(this.personalData, sql, rows);
  }

  /** How many entries of `filter.tenant` below index `size` match `filter` in the read model. */
  async exportCount(sql: Sql, filter: EventFilter & { tenant: string }, size: number): Promise<number> {
    const params: unknown[] = [];
    const { from, alias: o, where } = whereOf(filter, null, params, this.lookups(filter));
    where.push(`${o}.idx < $${params.push(size)}`);
    const rows = await sql(`SELECT count(*) AS n FROM ${from} WHERE ${where.join(' AND ')}`, params);
    return Number(rows[0].n);
  }

  /**
   * Quarantined entries a search of `logs` (null: every log `sql` shows) within [from, to) on
   * recordedAt could have found: the read model has no row for them, so no filter can say they do
   * not match. Oldest log name and index first, up to `limit`.
   */
  async quarantinedIn(
    sql: Sql,
    logs: readonly string[] | null,
    range: { from?: string; to?: string },
    limit: number,
  ): Promise<{ log: string; index: number }[]> {
    const params: unknown[] = [];
    const where = quarantinedWhere(range, params);
    if (logs !== null) where.push(`q.log = ANY($${params.push(logs)}::text[])`);
    const rows = await sql(
      `SELECT q.log, q.idx FROM projection_quarantine q JOIN ledger_entries e ON e.log = q.log AND e.idx = q.idx
       WHERE ${where.join(' AND ')} ORDER BY q.log, q.idx LIMIT $${params.push(limit)}`,
      params,
    );
    return rows.map((r) => ({ log: r.log as string, index: Number(r.idx) }));
  }

  /**
   * The quarantined entries of `log` below index `size` recorded within [from, to), with their
   * leaves, in index order, up to `limit`: what an export must account for itself.
   */
  async quarantinedLeaves(
    sql: Sql,
    log: string,
    size: number,
    range: { from?: string; to?: string },
    limit: number,
  ): Promise<{ index: number; leaf: Buffer }[]> {
    const params: unknown[] = [];
    const where = [...quarantinedWhere(range, params), `q.log = $${params.push(log)}`, `q.idx < $${params.push(size)}`];
    const rows = await sql(
      `SELECT q.idx, e.leaf FROM projection_quarantine q JOIN ledger_entries e ON e.log = q.log AND e.idx = q.idx
       WHERE ${where.join(' AND ')} ORDER BY q.idx LIMIT $${params.push(limit)}`,
      params,
    );
    return rows.map((r) => ({ index: Number(r.idx), leaf: r.leaf as Buffer }));
  }

  /** The quarantined entries of `log`, in index order. */
  async quarantineOf(sql: Sql, log: string): Promise<QuarantinedEntry[]> {
    const rows = await sql(
      `SELECT log, idx, id, error, since FROM projection_quarantine WHERE projection = '${PROJECTION}' AND log = $1 ORDER BY idx`,
      [log],
    );
    return rows.map((r) => ({
      log: r.log as string,
      index: Number(r.idx),
      id: r.id as string,
      error: r.error as string,
      since: (r.since as Date).toISOString(),
    }));
  }

  /** How many entries are quarantined, over every log. */
  async quarantinedCount(): Promise<number> {
    const rows: { n: string }[] = await this.db.query(
      `SELECT count(*) AS n FROM projection_quarantine WHERE projection = '${PROJECTION}'`,
    );
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
   *
   * An entry whose row cannot be written (entryFailure: its own data, not the database's state)
   * is quarantined and passed: the progress moves on, so one entry never stalls its log or any
   * other. Any other failure is thrown, and nothing moves.
   */
  async project(options: ProjectOptions): Promise<{ caughtUp: string[]; more: boolean }> {
    try {
      return await this.projectAtOnce(options);
    } catch (e) {
      // One refused row fails the statement for every log it took: those logs are taken again,
      // one transaction, their ranges halved around the entries that fail. Rare, so slow is fine.
      if (entryFailure(e) === null) throw e;
      return this.projectIsolating(options);
    }
  }

  private async projectAtOnce(options: ProjectOptions): Promise<{ caughtUp: string[]; more: boolean }> {
    const { logs, wait } = options;
    // Named, so each connection plans each of the four forms once: a search runs this before it
    // reads, and planning it took longer than running it (2.3 ms against under 0.5 ms).
    const name = `audit_search_project_${wait ? 'wait' : 'skip'}_${logs === null ? 'all' : 'some'}`;
    const rows = await this.logStore.sql()(
      projectionStatement(wait, logs !== null),
      [options.perLog, options.maxLogs, logs ?? options.skip ?? []],
      name,
    );
    return {
      caughtUp: rows[0].caught_up as string[],
      more: rows[0].behind === true || Number(rows[0].logs) >= options.maxLogs,
    };
  }

  /** `project`, a log and a range at a time, quarantining the entries that fail alone. */
  private async projectIsolating(options: ProjectOptions): Promise<{ caughtUp: string[]; more: boolean }> {
    const { logs, wait } = options;
    const quarantined: { log: string; failed: { index: number; reason: string }[] }[] = [];
    const result = await this.db.transaction(async (tx) => {
      const due: { log: string; from_idx: string; to_idx: string; behind: boolean }[] = await tx.query(
        dueLogs(wait, logs !== null),
        [options.perLog, options.maxLogs, logs ?? options.skip ?? []],
      );
      for (const d of due) {
        const { failed } = await this.projectRange(tx, d.log, Number(d.from_idx), Number(d.to_idx));
        if (failed.length > 0) quarantined.push({ log: d.log, failed });
        await tx.query('UPDATE event_search_progress SET size = $2 WHERE log = $1', [d.log, d.to_idx]);
      }
      return {
        caughtUp: due.filter((d) => !d.behind).map((d) => d.log),
        more: due.some((d) => d.behind) || due.length >= options.maxLogs,
      };
    });
    for (const { log, failed } of quarantined) this.reportQuarantined(log, failed);
    return result;
  }

  /**
   * Writes the rows of entries [from, to) of `log` inside `tx` (which holds the log's progress),
   * in one statement when it can; the entries that fail alone go to the quarantine instead.
   */
  private async projectRange(
    tx: EntityManager,
    log: string,
    from: number,
    to: number,
  ): Promise<{ written: number; failed: { index: number; reason: string }[] }> {
    let written = 0;
    const failed = await isolateFailures(from, to, async (a, b) => {
      // A savepoint per attempt: a refused row undoes its attempt, not what the others wrote.
      await tx.query('SAVEPOINT project_range');
      try {
        const rows: { n: string }[] = await tx.query(
          `WITH inserted AS (
             INSERT INTO event_search
             SELECT r.* FROM ledger_entries e, LATERAL audit_search_row(e.log, e.idx, e.id, e.recorded_at, e.leaf) r
             WHERE e.log = $1 AND e.idx >= $2 AND e.idx < $3
             RETURNING 1
           )
           SELECT count(*) AS n FROM inserted`,
          [log, a, b],
        );
        await tx.query('RELEASE SAVEPOINT project_range');
        written += Number(rows[0].n);
        return null;
      } catch (e) {
        await tx.query('ROLLBACK TO SAVEPOINT project_range');
        const reason = entryFailure(e);
        if (reason === null) throw e;
        return reason;
      }
    });
    for (const { index, reason } of failed) {
      // An entry quarantined before keeps its `since`.
      await tx.query(
        `INSERT INTO projection_quarantine (projection, log, idx, id, error)
         SELECT $1, e.log, e.idx, e.id, $4 FROM ledger_entries e WHERE e.log = $2 AND e.idx = $3
         ON CONFLICT DO NOTHING`,
        [PROJECTION, log, index, reason],
      );
    }
    return { written, failed };
  }

  /** Says, once committed, which entries were set aside: the log's name and indices, never their values. */
  private reportQuarantined(log: string, failed: readonly { index: number; reason: string }[]): void {
    for (const { index, reason } of failed)
      this.logger.warn(`search projection quarantined entry ${index} of log ${log}: ${reason}`);
  }

  /** Entries appended but not yet in the read model, over every log. */
  async lag(): Promise<number> {
    const rows: { n: string }[] = await this.db.query(
      'SELECT coalesce(sum(l.size - coalesce(p.size, 0)), 0) AS n FROM ledger_log_sizes l LEFT JOIN event_search_progress p ON p.log = l.log',
    );
    return Number(rows[0].n);
  }

  /**
   * Rebuilds the read model of `log` from its leaves, in one transaction that holds the log's
   * projection progress, so no projector writes it meanwhile; appends go on and are projected
   * after. Quarantined entries are tried again: those that project now leave the quarantine (the
   * cause was mended), the others stay, with their `since`. Returns the rows written.
   */
  async rebuild(log: string): Promise<number> {
    let failed: { index: number; reason: string }[] = [];
    const written = await this.db.transaction(async (tx) => {
      const locked: { size: string }[] = await tx.query(
        'SELECT l.size FROM event_search_progress p JOIN ledger_log_sizes l ON l.log = p.log WHERE p.log = $1 FOR UPDATE OF p',
        [log],
      );
      if (locked.length === 0) return 0;
      const size = Number(locked[0].size);
      await tx.query('DELETE FROM event_search WHERE log = $1', [log]);
      const range = await this.projectRange(tx, log, 0, size);
      failed = range.failed;
      await tx.query(
        'DELETE FROM projection_quarantine WHERE projection = $1 AND log = $2 AND NOT (idx = ANY($3::bigint[]))',
        [PROJECTION, log, failed.map((f) => f.index)],
      );
      await tx.query('UPDATE event_search_progress SET size = $2 WHERE log = $1', [log, size]);
      return range.written;
    });
    this.reportQuarantined(log, failed);
    return written;
  }
}
