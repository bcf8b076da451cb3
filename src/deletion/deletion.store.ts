import { Injectable } from '@nestjs/common';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import { DataSource, In, Repository } from 'typeorm';
import type { AppendedEntry, Sql } from '../ledger';
import { Sequencer } from '../ledger';
import { DatabasePool, withTenantScope } from '../platform';
import {
  DeletionCommand,
  DeletionKind,
  DeletionRequestState,
  DeletionStatus,
  RecordedOutcome,
  RunOutcome,
  applyDeletionEvents,
  decide,
} from './deletion-request.decider';
import { ClosedTenantRow, DeletionRequestRow } from './deletion.entities';
import { isOutcomeEvent, outcomeEntry } from './deletion.entries';
import { DeletionRequestFinishedError, DeletionRequestNotFoundError } from './deletion.errors';
import { BlockReason } from './erasure-plan';
import type { DeletionListFilter, DeletionListPosition } from './deletion-list-query';

export type { DeletionKind, DeletionStatus, RecordedOutcome };

/** A row of deletion_requests: the decider's state but `requeued`, which is no column. */
export type DeletionRequest = Omit<DeletionRequestState, 'requeued'>;

/**
 * What the ledger says of a request (RebuildDeletionRequests), with the status the rebuild settled
 * on: the ledger's outcome, or the row's own when it is operational (queued, running, failed).
 */
export type DeletionFacts = Pick<
  DeletionRequest,
  | 'id'
  | 'tenant'
  | 'kind'
  | 'subject'
  | 'reason'
  | 'requestedBy'
  | 'requestedAt'
  | 'status'
  | 'erased'
  | 'blocked'
  | 'blockedBy'
  | 'receiptDigest'
  | 'recorded'
>;

/** A blocked request and what blocks it, for deciding whether it may run again. */
export interface BlockedRequest {
  readonly id: string;
  readonly retryAt: string | null;
  readonly holdIds: readonly string[];
}

/** A row as raw SQL returns it (snake_case). */
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

function fromEntity(row: DeletionRequestRow): DeletionRequest {
  return {
    ...row,
    requestedAt: row.requestedAt.toISOString(),
    retryAt: row.retryAt?.toISOString() ?? null,
    updatedAt: row.updatedAt.toISOString(),
  };
}

/** The decider's state of a row: `requeued` is no column (the BullMQ job is its only trace). */
function stateOf(request: DeletionRequest): DeletionRequestState {
  return { ...request, requeued: null };
}

/** Raised inside a transition's transaction to undo it: the row moved since it was read. */
class Moved extends Error {}

const UNFINISHED = `status NOT IN ('completed', 'failed')`;

/**
 * Deletion requests: the row is the truth, the BullMQ job only a reminder to work on it. Every
 * transition is decided by deletion-request.decider.ts on the row as read, and written over that
 * row only if it has not moved since (else read and decided again); an outcome the ledger must
 * hear of is appended in the transaction that writes the row, so neither exists without the other.
 */
@Injectable()
export class DeletionStore {
  constructor(
    @InjectDataSource() private readonly db: DataSource,
    @InjectRepository(DeletionRequestRow) private readonly requests: Repository<DeletionRequestRow>,
    @InjectRepository(ClosedTenantRow) private readonly closed: Repository<ClosedTenantRow>,
    private readonly pool: DatabasePool,
    private readonly sequencer: Sequencer,
  ) {}

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
    // Raw SQL: ON CONFLICT against the partial unique index (one unfinished request per subject)
    // is the race-free "insert unless one exists", which a repository cannot say.
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

  /** The request, for the service itself (no tenant scope); with `sql`, on the caller's connection. */
  async find(id: string, sql?: Sql): Promise<DeletionRequest | undefined> {
    if (sql === undefined) {
      const row = await this.requests.findOneBy({ id });
      return row === null ? undefined : fromEntity(row);
    }
    const rows = (await sql('SELECT * FROM deletion_requests WHERE id = $1', [id])) as unknown as Row[];
    return rows[0] && fromRow(rows[0]);
  }

  /** The request as a key with `tenants` may see it (PostgreSQL hides other tenants'). */
  async findFor(tenants: readonly string[], id: string): Promise<DeletionRequest | undefined> {
    // Raw SQL on the scoped connection: row-level security, set per transaction by withTenantScope,
    // does the hiding, which a repository on the shared DataSource would bypass.
    return withTenantScope(this.pool, tenants, (sql) => this.find(id, sql));
  }

  /**
   * A page of the requests a key with `tenants` may see (PostgreSQL hides the others'), newest
   * first by (requestedAt, id), strictly after `after`, matching every member of `filter`.
   */
  async listFor(
    tenants: readonly string[],
    filter: DeletionListFilter,
    after: DeletionListPosition | null,
    limit: number,
  ): Promise<DeletionRequest[]> {
    return withTenantScope(this.pool, tenants, async (sql) => {
      const rows = (await sql(
        `SELECT * FROM deletion_requests
         WHERE ($1::text IS NULL OR tenant = $1) AND ($2::text IS NULL OR status = $2) AND ($3::text IS NULL OR kind = $3)
           AND ($4::timestamptz IS NULL OR (requested_at, id) < ($4::timestamptz, $5::uuid))
         ORDER BY requested_at DESC, id DESC
         LIMIT ${Math.trunc(limit)}`,
        [
          filter.tenant ?? null,
          filter.status ?? null,
          filter.kind ?? null,
          after?.requestedAt ?? null,
          after?.id ?? null,
        ],
      )) as unknown as Row[];
      return rows.map(fromRow);
    });
  }

  /** Unfinished requests (queued, running, blocked) of `of` (tenant names, `*` for purges) a key with `tenants` may see. */
  async unfinishedFor(tenants: readonly string[], of: readonly string[]): Promise<DeletionRequest[]> {
    return withTenantScope(this.pool, tenants, async (sql) => {
      const rows = (await sql(
        `SELECT * FROM deletion_requests WHERE tenant = ANY($1::text[]) AND ${UNFINISHED} ORDER BY requested_at, id`,
        [[...of]],
      )) as unknown as Row[];
      return rows.map(fromRow);
    });
  }

  /** Marks a request running (from any unfinished state); false when it is finished already or unknown. */
  async start(id: string, at: Date): Promise<boolean> {
    return this.transition(id, { type: 'start' }, at).then(
      () => true,
      (e: unknown) => refusedAsFinished(e),
    );
  }

  /**
   * Writes the outcome of a run, and, when it differs from what the ledger last said, its
   * `deletion.*` entry in the same transaction. Returns the request as written and that entry.
   * Throws DeletionRequestNotRunningError or DeletionRequestFinishedError when the request is not
   * running (another run finished it): nothing is written then.
   */
  async finish(
    id: string,
    outcome: RunOutcome,
    at: Date,
  ): Promise<{ request: DeletionRequest; entry: AppendedEntry | undefined }> {
    return this.transition(id, { type: 'finish', outcome }, at);
  }

  /** Marks an unfinished request failed; false when it is finished already (a completed request stays completed). */
  async fail(id: string, at: Date): Promise<boolean> {
    return this.transition(id, { type: 'fail' }, at).then(
      () => true,
      (e: unknown) => refusedAsFinished(e),
    );
  }

  private async transition(
    id: string,
    command: DeletionCommand,
    at: Date,
  ): Promise<{ request: DeletionRequest; entry: AppendedEntry | undefined }> {
    for (;;) {
      const found = await this.find(id);
      const before = found === undefined ? null : stateOf(found);
      const events = decide(before, command, at);
      const after = applyDeletionEvents(before, events) as DeletionRequestState;
      const request = toRequest(after);
      if (events.length === 0) return { request, entry: undefined };
      const save = async (sql: Sql) => {
        if (!(await this.saveOver(sql, before as DeletionRequestState, after))) throw new Moved();
      };
      try {
        const outcome = events.find(isOutcomeEvent);
        if (outcome === undefined) {
          await this.db.transaction((tx) => save((text, params) => tx.query(text, params)));
          return { request, entry: undefined };
        }
        const [entry] = await this.sequencer.append([outcomeEntry(outcome, after.tenant, after.kind)], save);
        return { request, entry };
      } catch (e) {
        if (!(e instanceof Moved)) throw e;
      }
    }
  }

  /**
   * Writes `after` over the row only if it is still `before`: status, update time and what the
   * ledger was told together stand for a version (every transition that matters moves one of them).
   */
  private async saveOver(sql: Sql, before: DeletionRequestState, after: DeletionRequestState): Promise<boolean> {
    const rows = await sql(
      `WITH s AS (UPDATE deletion_requests
         SET status = $2, erased = $3, blocked = $4, blocked_by = $5, receipt = $6, receipt_digest = $7, retry_at = $8, recorded = $9, updated_at = $10
         WHERE id = $1 AND status = $11 AND updated_at = $12 AND recorded IS NOT DISTINCT FROM $13::jsonb RETURNING id)
       SELECT id FROM s`,
      [
        after.id,
        after.status,
        after.erased,
        after.blocked,
        JSON.stringify(after.blockedBy),
        JSON.stringify(after.receipt),
        after.receiptDigest,
        after.retryAt,
        after.recorded === null ? null : JSON.stringify(after.recorded),
        after.updatedAt,
        before.status,
        before.updatedAt,
        before.recorded === null ? null : JSON.stringify(before.recorded),
      ],
    );
    return rows.length === 1;
  }

  /**
   * Every transition and every new request writes the table in the transaction of its entry: with
   * it locked first, each one is either in the rebuild's scan of the ledger or waits for the rebuild.
   */
  async lockForRebuild(sql: Sql): Promise<void> {
    await sql('LOCK TABLE deletion_requests IN EXCLUSIVE MODE');
  }

  /** Every row's status, by request id, on the caller's transaction. */
  async statuses(sql: Sql): Promise<Map<string, DeletionStatus>> {
    const rows = (await sql('SELECT id, status FROM deletion_requests')) as { id: string; status: DeletionStatus }[];
    return new Map(rows.map((row) => [row.id, row.status]));
  }

  /**
   * Writes `facts` over the request's row, on the caller's transaction, leaving the receipt and the
   * operational columns (retry_at) alone; returns whether anything differed. A corrected row gets
   * `at` as its update time: a transition that read it before must see that it moved (saveOver),
   * else it would write back what it read.
   */
  async correctFacts(sql: Sql, facts: DeletionFacts, at: Date): Promise<boolean> {
    // In a CTE, as saveOver: TypeORM answers a bare UPDATE with [rows, count], not the rows.
    const rows = await sql(
      `WITH s AS (UPDATE deletion_requests
         SET tenant = $2, kind = $3, subject = $4, reason = $5, requested_by = $6, requested_at = $7, status = $8,
             erased = $9, blocked = $10, blocked_by = $11, receipt_digest = $12, recorded = $13, updated_at = $14
       WHERE id = $1
         AND (tenant, kind, subject, reason, requested_by, requested_at, status, erased, blocked, blocked_by, receipt_digest, recorded)
             IS DISTINCT FROM
             ($2::text, $3::text, $4::text, $5::text, $6::jsonb, $7::timestamptz, $8::text, $9::int, $10::int, $11::jsonb, $12::text, $13::jsonb)
       RETURNING id)
       SELECT id FROM s`,
      [...factParams(facts), at],
    );
    return rows.length === 1;
  }

  /**
   * Creates a row the table lost, from `facts`, on the caller's transaction. Its receipt is gone
   * (the ledger has only its digest); `updatedAt` is the time of its last entry, and `retryAt`
   * whatever the caller says (a rebuilt blocked request is due at once: its run recomputes it).
   */
  async recreate(sql: Sql, facts: DeletionFacts, updatedAt: string, retryAt: string | null): Promise<void> {
    await sql(
      `INSERT INTO deletion_requests
         (id, tenant, kind, subject, reason, requested_by, requested_at, status, erased, blocked, blocked_by, receipt_digest, recorded, updated_at, retry_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
      [...factParams(facts), updatedAt, retryAt],
    );
  }

  /** Requests Redis should be working on: queued or running (a crash or a flush loses jobs, never rows). */
  async unfinishedRuns(): Promise<string[]> {
    const rows = await this.requests.find({
      select: { id: true },
      where: { status: In(['queued', 'running']) },
      order: { requestedAt: 'ASC' },
    });
    return rows.map((row) => row.id);
  }

  /**
   * Blocked or partially blocked requests with their retry time and the holds that blocked them;
   * `tenant` narrows to one tenant's requests (and purges). Whether a hold still blocks is the
   * holds context's to say (deletion-queueing.ts asks it).
   */
  async blockedRequests(tenant?: string): Promise<BlockedRequest[]> {
    const rows = await this.requests.find({
      select: { id: true, retryAt: true, blockedBy: true },
      where: {
        status: In(['blocked', 'partially_blocked']),
        ...(tenant !== undefined ? { tenant: In([tenant, '*']) } : {}),
      },
      order: { requestedAt: 'ASC' },
    });
    return rows.map((row) => ({
      id: row.id,
      retryAt: row.retryAt?.toISOString() ?? null,
      holdIds: row.blockedBy.flatMap((reason) => (reason.kind === 'hold' ? [reason.id] : [])),
    }));
  }

  /** Every blocked or partially blocked request. */
  async blocked(): Promise<string[]> {
    return (await this.blockedRequests()).map((request) => request.id);
  }

  /** Tenants that take no more events. */
  async closedTenants(): Promise<Set<string>> {
    const rows = await this.closed.find({ select: { tenant: true } });
    return new Set(rows.map((row) => row.tenant));
  }

  async close(sql: Sql, tenant: string, requestId: string, at: Date): Promise<void> {
    // Raw SQL on the caller's transaction: the closure commits with its request and its entry.
    await sql(
      'INSERT INTO closed_tenants (tenant, closed_at, request_id) VALUES ($1, $2, $3) ON CONFLICT (tenant) DO NOTHING',
      [tenant, at, requestId],
    );
  }
}

function factParams(facts: DeletionFacts): unknown[] {
  return [
    facts.id,
    facts.tenant,
    facts.kind,
    facts.subject,
    facts.reason,
    JSON.stringify(facts.requestedBy),
    facts.requestedAt,
    facts.status,
    facts.erased,
    facts.blocked,
    JSON.stringify(facts.blockedBy),
    facts.receiptDigest,
    facts.recorded === null ? null : JSON.stringify(facts.recorded),
  ];
}

function toRequest(state: DeletionRequestState): DeletionRequest {
  const { requeued, ...request } = state;
  return request;
}

/** `start` and `fail` answer false for a request that is finished (or was never stored). */
function refusedAsFinished(e: unknown): false {
  if (e instanceof DeletionRequestFinishedError || e instanceof DeletionRequestNotFoundError) return false;
  throw e;
}
