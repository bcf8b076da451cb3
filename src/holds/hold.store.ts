import { Injectable } from '@nestjs/common';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import { DataSource, In, Repository } from 'typeorm';
import type { Sql } from '../ledger';
import { DatabasePool, withTenantScope } from '../platform';
import { HoldState } from './hold.decider';
import { EVERY_TENANT } from './hold-scope';
import { HoldRow } from './hold.row';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The `holds` projection: each hold's state as its events left it. Plain reads go through the
 * repository; raw SQL stays where it earns its place: reads on behalf of a key run as the reader
 * role under row-level security (`withTenantScope`), and writes run on the caller's `Sql` inside
 * the sequencer's transaction, which commits them with their entries.
 */
@Injectable()
export class HoldStore {
  constructor(
    @InjectDataSource() private readonly db: DataSource,
    @InjectRepository(HoldRow) private readonly holds: Repository<HoldRow>,
    private readonly pool: DatabasePool,
  ) {}

  /** The hold, for the service itself (no tenant scope). */
  async find(id: string): Promise<HoldState | undefined> {
    return (await this.holds.findOne({ where: { id }, select: { state: true } }))?.state;
  }

  /** The hold as a key with `tenants` may see it: PostgreSQL hides other tenants' holds. */
  async findFor(tenants: readonly string[], id: string): Promise<HoldState | undefined> {
    const rows = await withTenantScope(this.pool, tenants, (sql) => sql('SELECT state FROM holds WHERE id = $1', [id]));
    return (rows[0] as { state: HoldState } | undefined)?.state;
  }

  /**
   * The holds a key with `tenants` may see (`*` holds only with a `*` scope), optionally of one
   * tenant and status, oldest first.
   */
  async listFor(tenants: readonly string[], filter: { tenant?: string; status?: string }): Promise<HoldState[]> {
    const visible = tenants.includes(EVERY_TENANT) ? null : tenants;
    const rows = await withTenantScope(this.pool, tenants, (sql) =>
      sql(
        `SELECT state FROM holds
         WHERE ($1::text[] IS NULL OR tenant = ANY($1)) AND ($2::text IS NULL OR tenant = $2) AND ($3::text IS NULL OR status = $3)
         ORDER BY state->>'placedAt', id`,
        [visible, filter.tenant ?? null, filter.status ?? null],
      ),
    );
    return (rows as { state: HoldState }[]).map((row) => row.state);
  }

  /** The active holds that can cover data of `tenant`: its own and those on every tenant. */
  async activeFor(tenant: string, sql: Sql = (text, params) => this.db.query(text, params)): Promise<HoldState[]> {
    const rows = (await sql(`SELECT state FROM holds WHERE status = 'active' AND tenant IN ($1, $2)`, [
      tenant,
      EVERY_TENANT,
    ])) as { state: HoldState }[];
    return rows.map((row) => row.state);
  }

  /** Which of `ids` are active holds: for contexts that keep hold ids and must not read this table. */
  async activeIds(ids: readonly string[]): Promise<Set<string>> {
    // An id that is no uuid is no hold at all: left out, rather than failing the uuid cast.
    const uuids = [...new Set(ids)].filter((id) => UUID.test(id));
    if (uuids.length === 0) return new Set();
    const rows = await this.holds.find({ where: { status: 'active', id: In(uuids) }, select: { id: true } });
    return new Set(rows.map((row) => row.id));
  }

  /**
   * Writes `state` inside the caller's transaction, only over the version it was decided on
   * (`expected`: the number of events the decision saw; 0 for a new hold). Returns false when
   * another change committed first.
   */
  async save(sql: Sql, state: HoldState, expected: number): Promise<boolean> {
    const rows =
      expected === 0
        ? await sql(
            `INSERT INTO holds (tenant, id, status, state, version) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (tenant, id) DO NOTHING RETURNING id`,
            [state.tenant, state.id, state.status, state, state.history.length],
          )
        : await sql(
            `WITH changed AS (UPDATE holds SET status = $3, state = $4, version = $5 WHERE tenant = $1 AND id = $2 AND version = $6 RETURNING id)
             SELECT id FROM changed`,
            [state.tenant, state.id, state.status, state, state.history.length, expected],
          );
    return rows.length === 1;
  }

  /** Keeps every hold change out until the caller's transaction ends (the rebuild). */
  async lockForRebuild(sql: Sql): Promise<void> {
    await sql('LOCK TABLE holds IN EXCLUSIVE MODE');
  }

  /** Replaces the whole projection inside the caller's transaction (the rebuild). */
  async replaceAll(sql: Sql, states: readonly HoldState[]): Promise<void> {
    await sql('DELETE FROM holds');
    for (const state of states) {
      await sql('INSERT INTO holds (tenant, id, status, state, version) VALUES ($1, $2, $3, $4, $5)', [
        state.tenant,
        state.id,
        state.status,
        state,
        state.history.length,
      ]);
    }
  }
}

/**
 * Serialises, per tenant, placing a hold against deleting data of the tenant: both take this lock
 * in their transaction, so a deletion never misses a hold placed while it ran. A hold on every
 * tenant takes the `*` lock, which deletions take as well.
 */
export async function lockHoldsOf(sql: Sql, tenant: string): Promise<void> {
  await sql('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`holds:${tenant}`]);
}
