import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { PLATFORM_LOG } from '@audit/ledger';
import { DataSource } from 'typeorm';
import type { Sql } from '../ledger';
import { SinkKind, SinkStart } from './sink-request';
import { SinkState, SinkStatus } from './sink.decider';

/** A sink's position in one log: the next index to send; lag is what the log holds beyond it. */
export interface SinkPosition {
  readonly log: string;
  readonly position: number;
  readonly size: number;
  readonly lag: number;
  readonly sent: number;
}

/** What the store keeps beside the decided state: delivery health. */
export interface SinkRecord extends SinkState {
  readonly createdAt: string;
  readonly failures: number;
  readonly lastError: string | null;
  readonly lastErrorAt: string | null;
}

const COLUMNS = `id, name, kind, url, tenants, categories, types, start_from, personal_data, status,
  secret IS NOT NULL AS secret_set, created_by, created_by_known_to, approved_by, created_at, failures,
  last_error, last_error_at, version`;

const iso = (value: unknown) => (value === null ? null : new Date(value as string).toISOString());

function recordOf(row: Record<string, unknown>): SinkRecord {
  return {
    id: row.id as string,
    name: row.name as string,
    kind: row.kind as SinkKind,
    url: row.url as string,
    tenants: row.tenants as string[],
    categories: row.categories as string[] | null,
    types: row.types as string[] | null,
    from: row.start_from as SinkStart,
    personalData: row.personal_data as boolean,
    status: row.status as SinkStatus,
    secretSet: row.secret_set as boolean,
    createdBy: row.created_by as string,
    createdByKnownTo: row.created_by_known_to as string[],
    approvedBy: row.approved_by as string | null,
    version: row.version as number,
    createdAt: iso(row.created_at) as string,
    failures: row.failures as number,
    lastError: row.last_error as string | null,
    lastErrorAt: iso(row.last_error_at),
  };
}

/**
 * The `sinks` and `sink_positions` tables. Changes run inside the sequencer's transaction (the
 * `Sql` of `Sequencer.append`), written only over the version they were decided on. The secret
 * is written here and read only by `secretOf` (delivery); no read of the API returns it.
 */
@Injectable()
export class SinkStore {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  private sql: Sql = (text, params) => this.db.query(text, params);

  async find(id: string, sql: Sql = this.sql): Promise<SinkRecord | undefined> {
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(id)) return undefined;
    const [row] = await sql(`SELECT ${COLUMNS} FROM sinks WHERE id = $1`, [id]);
    return row === undefined ? undefined : recordOf(row);
  }

  async all(sql: Sql = this.sql): Promise<SinkRecord[]> {
    return (await sql(`SELECT ${COLUMNS} FROM sinks ORDER BY created_at, id`)).map(recordOf);
  }

  /** The sink's secret, for delivery only. */
  async secretOf(id: string, sql: Sql = this.sql): Promise<string | null> {
    const [row] = await sql('SELECT secret FROM sinks WHERE id = $1', [id]);
    return (row?.secret as string | null | undefined) ?? null;
  }

  /** The tenant logs `tenants` covers (never `platform`), with their committed size. */
  async logsOf(tenants: readonly string[], sql: Sql = this.sql): Promise<{ log: string; size: number }[]> {
    const rows = await sql(
      `SELECT log, size FROM ledger_log_sizes WHERE log <> $1 AND ($2::text[] @> ARRAY['*'] OR log = ANY($2::text[])) ORDER BY log`,
      [PLATFORM_LOG, tenants],
    );
    return rows.map((r) => ({ log: r.log as string, size: Number(r.size) }));
  }

  /** Position and lag in every log the sink covers; a log without a row starts at 0 (it came after the sink). */
  async positions(sink: SinkState, sql: Sql = this.sql): Promise<SinkPosition[]> {
    const logs = await this.logsOf(sink.tenants, sql);
    const rows = await sql('SELECT log, position, sent FROM sink_positions WHERE sink_id = $1', [sink.id]);
    const at = new Map(rows.map((r) => [r.log as string, { position: Number(r.position), sent: Number(r.sent) }]));
    return logs.map(({ log, size }) => {
      const { position, sent } = at.get(log) ?? { position: 0, sent: 0 };
      return { log, position, size, lag: Math.max(0, size - position), sent };
    });
  }

  /** Inserts a new sink and its first positions: each log's current size (`end`) or 0 (`start`). */
  async insert(sql: Sql, sink: SinkState, secret: string | null, at: Date): Promise<void> {
    await sql(
      `INSERT INTO sinks (id, name, kind, url, secret, tenants, categories, types, start_from, personal_data, status,
         created_by, created_by_known_to, approved_by, created_at, version)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
      [
        sink.id,
        sink.name,
        sink.kind,
        sink.url,
        secret,
        sink.tenants,
        sink.categories,
        sink.types,
        sink.from,
        sink.personalData,
        sink.status,
        sink.createdBy,
        sink.createdByKnownTo,
        sink.approvedBy,
        at,
        sink.version,
      ],
    );
    await sql(
      `INSERT INTO sink_positions (sink_id, log, position, updated_at)
       SELECT $1, log, CASE WHEN $2 = 'end' THEN size ELSE 0 END, $4 FROM ledger_log_sizes
        WHERE log <> $5 AND ($3::text[] @> ARRAY['*'] OR log = ANY($3::text[]))`,
      [sink.id, sink.from, sink.tenants, at, PLATFORM_LOG],
    );
  }

  /** Writes `next` over `version`; false when another change won. A new secret only when given. */
  async update(sql: Sql, next: SinkState, version: number, secret: string | undefined): Promise<boolean> {
    const rows = await sql(
      `WITH changed AS (UPDATE sinks SET name = $3, url = $4, tenants = $5, categories = $6, types = $7, personal_data = $8,
         status = $9, approved_by = $10, created_by = $11, created_by_known_to = $12, version = $13,
         secret = CASE WHEN $14::boolean THEN $15 ELSE secret END,
         failures = CASE WHEN $9 = 'active' THEN 0 ELSE failures END
       WHERE id = $1 AND version = $2 RETURNING id) SELECT id FROM changed`,
      [
        next.id,
        version,
        next.name,
        next.url,
        next.tenants,
        next.categories,
        next.types,
        next.personalData,
        next.status,
        next.approvedBy,
        next.createdBy,
        next.createdByKnownTo,
        next.version,
        secret !== undefined,
        secret ?? null,
      ],
    );
    return rows.length === 1;
  }

  async remove(sql: Sql, id: string, version: number): Promise<boolean> {
    // In a CTE: TypeORM answers a bare UPDATE or DELETE with [rows, count], not the rows.
    const sql_ = 'WITH gone AS (DELETE FROM sinks WHERE id = $1 AND version = $2 RETURNING id) SELECT id FROM gone';
    return (await sql(sql_, [id, version])).length === 1;
  }

  /** Moves the position in `log` back to `from`, unless it moved meanwhile; the position before. */
  async rewind(sql: Sql, id: string, log: string, from: number, at: Date): Promise<void> {
    await sql(
      `INSERT INTO sink_positions (sink_id, log, position, updated_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (sink_id, log) DO UPDATE SET position = EXCLUDED.position, updated_at = EXCLUDED.updated_at`,
      [id, log, from, at],
    );
  }

  /** The position in `log`, locked until the transaction ends. */
  async lockPosition(sql: Sql, id: string, log: string): Promise<number> {
    const [row] = await sql('SELECT position FROM sink_positions WHERE sink_id = $1 AND log = $2 FOR UPDATE', [
      id,
      log,
    ]);
    return row === undefined ? 0 : Number(row.position);
  }
}
