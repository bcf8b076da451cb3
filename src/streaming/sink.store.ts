import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { PLATFORM_LOG } from '@audit/ledger';
import { DataSource } from 'typeorm';
import { SecretSealer, SecretUnreadableError } from '../ledger';
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
  (secret IS NOT NULL OR secret_sealed IS NOT NULL) AS secret_set, created_by, created_by_known_to, approved_by, created_at, failures,
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

/** What a sealed secret of a sink is bound to: a sealed secret copied to another sink does not open. */
const secretPlace = (id: string) => `sink:${id}`;

/**
 * The `sinks` and `sink_positions` tables. Changes run inside the sequencer's transaction (the
 * `Sql` of `Sequencer.append`), written only over the version they were decided on. The secret
 * is sealed here under the key-encryption key (`secret_sealed`, `secret_key_id`) and opened only
 * by `secretOf` (delivery); no read of the API returns it. A secret left in clear (`secret`) by
 * a version before sealing, or sealed under a key a rotation retired, is sealed again at start.
 */
@Injectable()
export class SinkStore implements OnModuleInit {
  private readonly logger = new Logger(SinkStore.name);

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly sealer: SecretSealer,
  ) {}

  private sql: Sql = (text, params) => this.db.query(text, params);

  /**
   * Seals under the current key-encryption key every secret that is not: one written in clear
   * before sealing existed, or one sealed under a key a rotation moved to
   * AUDIT_KEY_ENCRYPTION_KEYS_PREVIOUS. Each row only if unchanged meanwhile (processes start together).
   */
  async onModuleInit(): Promise<void> {
    const rows = await this.sql(
      'SELECT id, secret, secret_sealed, secret_key_id FROM sinks WHERE secret IS NOT NULL OR secret_key_id <> $1',
      [this.sealer.keyId()],
    );
    for (const row of rows) {
      const id = row.id as string;
      let clear: string;
      try {
        clear =
          (row.secret as string | null) ??
          this.sealer.open(secretPlace(id), {
            sealed: row.secret_sealed as Buffer,
            keyId: row.secret_key_id as string,
          });
      } catch (e) {
        if (!(e instanceof SecretUnreadableError)) throw e;
        // Not a reason to refuse to start: its deliveries fail naming the key, until an admin sets a new secret.
        this.logger.warn(`sink ${id}: ${e.message}; set its secret again (PATCH /v1/sinks/${id})`);
        continue;
      }
      const { sealed, keyId } = this.sealer.seal(secretPlace(id), clear);
      await this.sql(
        `WITH s AS (UPDATE sinks SET secret_sealed = $2, secret_key_id = $3, secret = NULL
         WHERE id = $1 AND secret IS NOT DISTINCT FROM $4 AND secret_sealed IS NOT DISTINCT FROM $5 RETURNING id)
         SELECT id FROM s`,
        [id, sealed, keyId, row.secret, row.secret_sealed],
      );
    }
    if (rows.length > 0) this.logger.log(`sealed the secrets of ${rows.length} sink(s) under ${this.sealer.keyId()}`);
  }

  async find(id: string, sql: Sql = this.sql): Promise<SinkRecord | undefined> {
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(id)) return undefined;
    const [row] = await sql(`SELECT ${COLUMNS} FROM sinks WHERE id = $1`, [id]);
    return row === undefined ? undefined : recordOf(row);
  }

  async all(sql: Sql = this.sql): Promise<SinkRecord[]> {
    return (await sql(`SELECT ${COLUMNS} FROM sinks ORDER BY created_at, id`)).map(recordOf);
  }

  /**
   * For delivery: the sink, if active and not held by another delivery, locked until the
   * transaction ends (`FOR UPDATE SKIP LOCKED`: one process per sink at a time), with its secret
   * opened (as `secretOf`), from one read.
   */
  async lockForDelivery(id: string, sql: Sql): Promise<{ sink: SinkRecord; secret: string | null } | undefined> {
    const [row] = await sql(
      `SELECT ${COLUMNS}, secret, secret_sealed, secret_key_id FROM sinks WHERE id = $1 AND status = 'active' FOR UPDATE SKIP LOCKED`,
      [id],
    );
    if (row === undefined) return undefined;
    const secret = row.secret_sealed
      ? this.sealer.open(secretPlace(id), { sealed: row.secret_sealed as Buffer, keyId: row.secret_key_id as string })
      : ((row.secret as string | null) ?? null);
    return { sink: recordOf(row), secret };
  }

  /**
   * The sink's positions in every log its tenants cover, locked until the transaction ends; a log
   * without a row (it came after the sink) gets one at 0 first.
   */
  async lockPositions(sql: Sql, sink: SinkState): Promise<{ log: string; position: number }[]> {
    const read = () =>
      sql(
        `SELECT l.log, (SELECT p.position FROM sink_positions p WHERE p.sink_id = $1 AND p.log = l.log FOR UPDATE) AS position
         FROM ledger_log_sizes l WHERE l.log <> $2 AND ($3::text[] @> ARRAY['*'] OR l.log = ANY($3::text[]))
         ORDER BY l.log`,
        [sink.id, PLATFORM_LOG, sink.tenants],
      );
    let rows = await read();
    if (rows.some((r) => r.position === null)) {
      await sql(
        `INSERT INTO sink_positions (sink_id, log, position, updated_at) SELECT $1, log, 0, now() FROM unnest($2::text[]) AS l(log)
         ON CONFLICT DO NOTHING`,
        [sink.id, rows.filter((r) => r.position === null).map((r) => r.log)],
      );
      rows = await read();
    }
    return rows.map((r) => ({ log: r.log as string, position: Number(r.position) }));
  }

  /** Moves the positions of a delivery, in its transaction. */
  async advance(
    sql: Sql,
    id: string,
    moves: readonly { log: string; position: number; sent: number }[],
  ): Promise<void> {
    if (moves.length === 0) return;
    await sql(
      `UPDATE sink_positions p SET position = m.position, sent = p.sent + m.sent, updated_at = now()
       FROM unnest($2::text[], $3::bigint[], $4::bigint[]) AS m(log, position, sent) WHERE p.sink_id = $1 AND p.log = m.log`,
      [id, moves.map((m) => m.log), moves.map((m) => m.position), moves.map((m) => m.sent)],
    );
  }

  /** The sink's secret, opened, for delivery only. A secret still in clear (not yet sealed at start) is used as it is. */
  async secretOf(id: string, sql: Sql = this.sql): Promise<string | null> {
    const [row] = await sql('SELECT secret, secret_sealed, secret_key_id FROM sinks WHERE id = $1', [id]);
    if (row?.secret_sealed)
      return this.sealer.open(secretPlace(id), {
        sealed: row.secret_sealed as Buffer,
        keyId: row.secret_key_id as string,
      });
    return (row?.secret as string | null | undefined) ?? null;
  }

  private sealed(id: string, secret: string | null): [Buffer | null, string | null] {
    if (secret === null) return [null, null];
    const { sealed, keyId } = this.sealer.seal(secretPlace(id), secret);
    return [sealed, keyId];
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
      `INSERT INTO sinks (id, name, kind, url, secret_sealed, secret_key_id, tenants, categories, types, start_from,
         personal_data, status, created_by, created_by_known_to, approved_by, created_at, version)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`,
      [
        sink.id,
        sink.name,
        sink.kind,
        sink.url,
        ...this.sealed(sink.id, secret),
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
         secret = CASE WHEN $14::boolean THEN NULL ELSE secret END,
         secret_sealed = CASE WHEN $14::boolean THEN $15 ELSE secret_sealed END,
         secret_key_id = CASE WHEN $14::boolean THEN $16 ELSE secret_key_id END,
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
        ...this.sealed(next.id, secret ?? null),
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
