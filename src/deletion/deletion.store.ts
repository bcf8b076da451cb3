import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { Sql } from '../ledger/log-store';
import { withTenantScope } from '../platform/database/tenant-scoped-reads';
import { BlockReason } from './erasure-plan';

export type DeletionKind = 'subject_erasure' | 'tenant_closure' | 'retention_purge';
export type DeletionStatus = 'queued' | 'running' | 'completed' | 'partially_blocked' | 'blocked' | 'failed';

/** What the ledger was last told about a request, so a run that changes nothing records nothing. */
export interface RecordedOutcome {
  readonly status: DeletionStatus;
  readonly erased: number;
  readonly blocked: number;
  readonly receiptDigest: string | null;
}

export interface DeletionRequest {
  readonly id: string;
  readonly tenant: string;
  readonly kind: DeletionKind;
  readonly subject: string | null;
  readonly reason: string;
  readonly requestedBy: { readonly keyId: string | null; readonly name: string };
  readonly requestedAt: string;
  readonly status: DeletionStatus;
  readonly erased: number;
  readonly blocked: number;
  readonly blockedBy: readonly BlockReason[];
  readonly receipt: unknown;
  readonly receiptDigest: string | null;
  readonly retryAt: string | null;
  readonly recorded: RecordedOutcome | null;
  readonly updatedAt: string;
}

interface Row {
  id: string;
  tenant: string;
  kind: DeletionKind;
  subject: string | null;
  reason: string;
  requested_by: { keyId: string | null; name: string };
  requested_at: Date;
  status: DeletionStatus;
  erased: number;
  blocked: number;
  blocked_by: BlockReason[];
  receipt: unknown;
  receipt_digest: string | null;
  retry_at: Date | null;
  recorded: RecordedOutcome | null;
  updated_at: Date;
}

function fromRow(row: Row): DeletionRequest {
  return {
    id: row.id,
    tenant: row.tenant,
    kind: row.kind,
    subject: row.subject,
    reason: row.reason,
    requestedBy: row.requested_by,
    requestedAt: row.requested_at.toISOString(),
    status: row.status,
    erased: row.erased,
    blocked: row.blocked,
    blockedBy: row.blocked_by,
    receipt: row.receipt,
    receiptDigest: row.receipt_digest,
    retryAt: row.retry_at?.toISOString() ?? null,
    recorded: row.recorded,
    updatedAt: row.updated_at.toISOString(),
  };
}

const UNFINISHED = `status NOT IN ('completed', 'failed')`;

/** Deletion requests: the row is the truth, the BullMQ job only a reminder to work on it. */
@Injectable()
export class DeletionStore {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /**
   * Inserts a request inside the caller's transaction, unless an unfinished one of the same kind
   * for the same tenant and subject exists: then that one is returned, and `created` is false.
   * The one met by the insert may finish before the look-up sees it (the worker commits between
   * the two statements): then the insert is tried again, and now finds no conflict.
   */
  async create(
    sql: Sql,
    request: Pick<DeletionRequest, 'id' | 'tenant' | 'kind' | 'subject' | 'reason' | 'requestedBy' | 'requestedAt'>,
  ): Promise<{ request: DeletionRequest; created: boolean }> {
    for (;;) {
      const inserted = (await sql(
        `INSERT INTO deletion_requests (tenant, id, kind, subject, reason, requested_by, requested_at, status, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'queued', $7)
         ON CONFLICT (tenant, kind, coalesce(subject, '')) WHERE ${UNFINISHED} DO NOTHING
         RETURNING *`,
        [
          request.tenant,
          request.id,
          request.kind,
          request.subject,
          request.reason,
          request.requestedBy,
          request.requestedAt,
        ],
      )) as unknown as Row[];
      if (inserted.length === 1) return { request: fromRow(inserted[0]), created: true };
      const existing = (await sql(
        `SELECT * FROM deletion_requests WHERE tenant = $1 AND kind = $2 AND coalesce(subject, '') = coalesce($3, '') AND ${UNFINISHED}`,
        [request.tenant, request.kind, request.subject],
      )) as unknown as Row[];
      if (existing.length === 1) return { request: fromRow(existing[0]), created: false };
    }
  }

  async find(
    id: string,
    sql: Sql = (text, params) => this.db.query(text, params),
  ): Promise<DeletionRequest | undefined> {
    const rows = (await sql('SELECT * FROM deletion_requests WHERE id = $1', [id])) as unknown as Row[];
    return rows[0] && fromRow(rows[0]);
  }

  /** The request as a key with `tenants` may see it (PostgreSQL hides other tenants'). */
  async findFor(tenants: readonly string[], id: string): Promise<DeletionRequest | undefined> {
    return withTenantScope(this.db, tenants, (sql) => this.find(id, sql));
  }

  /** Marks a request running (from any unfinished state); false when it is finished already. */
  async start(id: string, at: Date): Promise<boolean> {
    const rows: unknown[] = await this.db.query(
      `WITH s AS (UPDATE deletion_requests SET status = 'running', updated_at = $2 WHERE id = $1 AND ${UNFINISHED} RETURNING id) SELECT id FROM s`,
      [id, at],
    );
    return rows.length === 1;
  }

  /** Writes the outcome of a run inside the caller's transaction. */
  async finish(
    sql: Sql,
    id: string,
    outcome: {
      status: DeletionStatus;
      erased: number;
      blocked: number;
      blockedBy: readonly BlockReason[];
      receipt: unknown;
      receiptDigest: string | null;
      retryAt: string | null;
      at: Date;
    },
  ): Promise<void> {
    await sql(
      `WITH f AS (UPDATE deletion_requests SET status = $2, erased = $3, blocked = $4, blocked_by = $5, receipt = $6, receipt_digest = $7, retry_at = $8, updated_at = $9
       WHERE id = $1 RETURNING id) SELECT id FROM f`,
      [
        id,
        outcome.status,
        outcome.erased,
        outcome.blocked,
        JSON.stringify(outcome.blockedBy),
        JSON.stringify(outcome.receipt),
        outcome.receiptDigest,
        outcome.retryAt,
        outcome.at,
      ],
    );
  }

  /** Notes what the ledger now says of the request; false when another run noted it first. */
  async noteRecorded(sql: Sql, id: string, before: RecordedOutcome | null, after: RecordedOutcome): Promise<boolean> {
    const rows = await sql(
      `WITH r AS (UPDATE deletion_requests SET recorded = $3 WHERE id = $1 AND recorded IS NOT DISTINCT FROM $2::jsonb RETURNING id) SELECT id FROM r`,
      [id, before === null ? null : JSON.stringify(before), JSON.stringify(after)],
    );
    return rows.length === 1;
  }

  async fail(id: string, at: Date): Promise<void> {
    await this.db.query(
      `WITH f AS (UPDATE deletion_requests SET status = 'failed', updated_at = $2 WHERE id = $1 RETURNING id) SELECT id FROM f`,
      [id, at],
    );
  }

  /** Requests Redis should be working on: queued or running (a crash or a flush loses jobs, never rows). */
  async unfinishedRuns(): Promise<string[]> {
    const rows: { id: string }[] = await this.db.query(
      `SELECT id FROM deletion_requests WHERE status IN ('queued', 'running') ORDER BY requested_at`,
    );
    return rows.map((row) => row.id);
  }

  /**
   * Blocked requests worth running again: a retention minimum ran out, or a hold that blocked
   * them is no longer active. `tenant` narrows to one tenant's requests (and purges).
   */
  async unblocked(now: Date, tenant?: string): Promise<string[]> {
    const rows: { id: string }[] = await this.db.query(
      `SELECT d.id FROM deletion_requests d
       WHERE d.status IN ('blocked', 'partially_blocked') AND ($2::text IS NULL OR d.tenant IN ($2, '*'))
         AND (d.retry_at <= $1 OR EXISTS (
           SELECT 1 FROM jsonb_array_elements(d.blocked_by) b
           WHERE b->>'kind' = 'hold' AND NOT EXISTS (SELECT 1 FROM holds h WHERE h.id = (b->>'id')::uuid AND h.status = 'active')))
       ORDER BY d.requested_at`,
      [now, tenant ?? null],
    );
    return rows.map((row) => row.id);
  }

  /** Every blocked or partially blocked request. */
  async blocked(): Promise<string[]> {
    const rows: { id: string }[] = await this.db.query(
      `SELECT id FROM deletion_requests WHERE status IN ('blocked', 'partially_blocked') ORDER BY requested_at`,
    );
    return rows.map((row) => row.id);
  }

  /** Tenants that take no more events. */
  async closedTenants(): Promise<Set<string>> {
    const rows: { tenant: string }[] = await this.db.query('SELECT tenant FROM closed_tenants');
    return new Set(rows.map((row) => row.tenant));
  }

  async close(sql: Sql, tenant: string, requestId: string, at: Date): Promise<void> {
    await sql(
      'INSERT INTO closed_tenants (tenant, closed_at, request_id) VALUES ($1, $2, $3) ON CONFLICT (tenant) DO NOTHING',
      [tenant, at, requestId],
    );
  }
}
