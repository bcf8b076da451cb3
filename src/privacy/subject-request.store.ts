import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { Sql } from '../ledger';
import { EVERY_TENANT, SubjectRequestState } from './subject-request.decider';

/**
 * The `subject_requests` projection (migrations SubjectRequests): each request's state as its
 * entries left it. Writes run on the sequencer's transaction (`Sql`), only over the version the
 * change was decided on; reads filter by the key's tenant scope: a request is visible when every
 * one of its tenants is (`*` only to a `*` scope).
 */
@Injectable()
export class SubjectRequestStore {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  async find(id: string): Promise<SubjectRequestState | undefined> {
    const rows: { state: SubjectRequestState }[] = await this.db.query(
      'SELECT state FROM subject_requests WHERE id = $1',
      [id],
    );
    return rows[0]?.state;
  }

  /** The request as a key with `tenants` may see it. */
  async findFor(tenants: readonly string[], id: string): Promise<SubjectRequestState | undefined> {
    const request = await this.find(id);
    return request && visibleTo(tenants, request) ? request : undefined;
  }

  /** The requests a key with `tenants` may see, oldest first, optionally of one recorded status. */
  async listFor(tenants: readonly string[], limit: number): Promise<SubjectRequestState[]> {
    const every = tenants.includes(EVERY_TENANT);
    const rows: { state: SubjectRequestState }[] = await this.db.query(
      `SELECT state FROM subject_requests
       WHERE $1::boolean OR (NOT ($3 = ANY(tenants)) AND tenants <@ $2::text[])
       ORDER BY received_at, id LIMIT $4`,
      [every, tenants, EVERY_TENANT, limit],
    );
    return rows.map((row) => row.state);
  }

  /** Writes `state` if the row is still at `expected` events (0: new); false when it moved. */
  async save(sql: Sql, state: SubjectRequestState, expected: number): Promise<boolean> {
    const params = [
      state.id,
      state.kind,
      state.subject,
      state.tenants,
      state.status,
      state.receivedAt,
      state.dueAt,
      JSON.stringify(state),
      state.version,
    ];
    const rows =
      expected === 0
        ? await sql(
            `INSERT INTO subject_requests (id, kind, subject, tenants, status, received_at, due_at, state, version)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (id) DO NOTHING RETURNING id`,
            params,
          )
        : await sql(
            `WITH changed AS (UPDATE subject_requests SET status = $2, state = $3, version = $4
             WHERE id = $1 AND version = $5 RETURNING id) SELECT id FROM changed`,
            [state.id, state.status, JSON.stringify(state), state.version, expected],
          );
    return rows.length === 1;
  }

  /** Takes the table for a rebuild: every change writes it in the transaction of its entries, so waits. */
  async lockForRebuild(sql: Sql): Promise<void> {
    await sql('LOCK TABLE subject_requests IN EXCLUSIVE MODE');
  }

  /** Replaces every row with `states` (a rebuild, on its transaction). */
  async replaceAll(sql: Sql, states: readonly SubjectRequestState[]): Promise<void> {
    await sql('DELETE FROM subject_requests');
    for (const state of states)
      if (!(await this.save(sql, state, 0))) throw new Error(`subject request ${state.id} twice in the rebuild`);
  }

  /** Notes where a correction went once its index is known (after its append committed). */
  async setCorrectionIndex(id: string, log: string, index: number): Promise<void> {
    await this.db.query(
      `UPDATE subject_requests SET state = jsonb_set(state, '{correction}', $2::jsonb) WHERE id = $1`,
      [id, JSON.stringify({ log, index })],
    );
  }
}

function visibleTo(tenants: readonly string[], request: SubjectRequestState): boolean {
  if (tenants.includes(EVERY_TENANT)) return true;
  return request.tenants.every((tenant) => tenant !== EVERY_TENANT && tenants.includes(tenant));
}
