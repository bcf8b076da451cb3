import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { Sql } from '../ledger/log-store';
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
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /**
   * Up to `limit` entries matching `filter`, newest first by (recordedAt, log, index), strictly
   * after `after` in that order. `logs` as in whereOf.
   */
  async search(sql: Sql, filter: EventFilter, logs: readonly string[] | null, after: SearchPosition | null, limit: number): Promise<StoredEvent[]> {
    const params: unknown[] = [];
    const where = whereOf(filter, logs, params);
    if (after) where.push(`(s.recorded_at, s.log, s.idx) < ($${params.push(after.recordedAt)}::timestamptz, $${params.push(after.log)}, $${params.push(after.index)}::bigint)`);
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
    if (after) where.push(`(s.recorded_at, s.log, s.idx) > ($${params.push(after.recordedAt)}::timestamptz, $${params.push(after.log)}, $${params.push(after.index)}::bigint)`);
    const rows = await sql(
      `WITH page AS (
         SELECT s.log, s.idx, s.recorded_at FROM event_search s WHERE ${where.join(' AND ')}
         ORDER BY s.recorded_at, s.log, s.idx LIMIT $${params.push(limit)}
       )
       ${PAGE_ROWS}
       ORDER BY page.recorded_at, page.log, page.idx`,
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
   * Rebuilds the read model of `log` from its leaves, in one transaction that holds the log's
   * head, so appends to it wait and no entry is missed or doubled. Returns the rows written.
   */
  async rebuild(log: string): Promise<number> {
    return this.db.transaction(async (tx) => {
      await tx.query('SELECT 1 FROM logs WHERE log = $1 FOR UPDATE', [log]);
      await tx.query('DELETE FROM event_search WHERE log = $1', [log]);
      const rows: { n: string }[] = await tx.query(
        `WITH inserted AS (
           INSERT INTO event_search
           SELECT r.* FROM entries e, LATERAL audit_search_row(e.log, e.idx, e.id, e.recorded_at, e.leaf) r
           WHERE e.log = $1
           RETURNING 1
         )
         SELECT count(*) AS n FROM inserted`,
        [log],
      );
      return Number(rows[0].n);
    });
  }
}
