import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { PLATFORM_LOG, canonicalJson } from '@audit/ledger';
import { createHash } from 'node:crypto';
import { DataSource } from 'typeorm';
import { HoldStore, lockHoldsOf } from '../holds/hold.store';
import { EVERY_TENANT } from '../holds/hold-scope';
import { SERVICE_SOURCE } from '../ledger/append-plan';
import type { Sql } from '../ledger/log-store';
import { Sequencer } from '../ledger/sequencer';
import { Notifier } from '../notifications/notifier';
import { CLOCK, Clock } from '../platform/clock/clock';
import { RetentionPolicies } from '../retention/retention-policies';
import { minimumUntil, purgeDue } from '../retention/retention-policy.decider';
import { DeletionRequest, DeletionStore, RecordedOutcome } from './deletion.store';
import { BlockReason, ErasureCandidate, indexRanges, planErasure, statusOf } from './erasure-plan';

// Rows one purge transaction takes: short transactions, so nothing waits long on a purge.
const PURGE_BATCH = 2000;

interface CandidateRow {
  log: string;
  idx: string;
  subject: string;
  recorded_at: Date;
  category: string;
  type: string;
  actor: string;
}

function candidateOf(row: CandidateRow): ErasureCandidate {
  return {
    log: row.log,
    index: Number(row.idx),
    subject: row.subject,
    category: row.category,
    type: row.type,
    actor: row.actor,
    recordedAt: row.recorded_at.toISOString(),
  };
}

const CANDIDATES = `
  SELECT p.log, p.idx, p.subject, e.recorded_at, l->>'category' AS category, l->>'type' AS type, l->'actor'->>'id' AS actor
  FROM personal_data p JOIN entries e USING (log, idx), LATERAL (SELECT convert_from(e.leaf, 'UTF8')::jsonb AS l) leaf`;

/**
 * Runs a deletion request: erases the personal data (and its salt) of every entry it covers that
 * no active hold and no retention minimum protects, records the rest with the reason, and writes
 * the outcome to the ledger once per change. The leaf keeps only the digest, so the chain and
 * every proof stay valid. Each erasing transaction holds the hold locks of `*` and of the tenant,
 * the locks a hold placement takes: a hold committed meanwhile blocks the erasure or comes after it.
 */
@Injectable()
export class ErasureRunner {
  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly store: DeletionStore,
    private readonly holds: HoldStore,
    private readonly policies: RetentionPolicies,
    private readonly sequencer: Sequencer,
    private readonly notifier: Notifier,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async run(request: DeletionRequest): Promise<void> {
    const policies = await this.policies.all();
    const until = (category: string, recordedAt: string) => {
      const policy = policies.get(category);
      return policy ? minimumUntil(policy, recordedAt) : recordedAt;
    };
    if (request.kind === 'retention_purge') await this.purge(request, until, policies);
    else await this.erase(request, until);
    await this.record(request.id);
  }

  /** A subject's erasure, or a tenant's closure: one transaction. */
  private async erase(
    request: DeletionRequest,
    until: (category: string, recordedAt: string) => string,
  ): Promise<void> {
    const now = this.clock.now();
    await this.db.transaction(async (tx) => {
      const sql: Sql = (text, params) => tx.query(text, params);
      // `*` first, then tenants in name order: the one order every taker of several uses.
      await lockHoldsOf(sql, EVERY_TENANT);
      await lockHoldsOf(sql, request.tenant);
      const holds = await this.holds.activeFor(request.tenant, sql);
      const rows = (await sql(
        `${CANDIDATES} WHERE p.log = $1 AND p.erased_at IS NULL AND ($2::text IS NULL OR p.subject = $2) ORDER BY p.idx`,
        [request.tenant, request.subject],
      )) as unknown as CandidateRow[];
      const plan = planErasure(rows.map(candidateOf), holds, until, now);
      await this.eraseEntries(
        sql,
        request.tenant,
        plan.erase.map((c) => c.index),
        request.id,
        now,
      );
      const erasedRows = (await sql('SELECT idx FROM personal_data WHERE erased_by = $1 AND log = $2', [
        request.id,
        request.tenant,
      ])) as { idx: string }[];
      const receipt = {
        request: request.id,
        kind: request.kind,
        tenant: request.tenant,
        ...(request.subject !== null ? { subject: request.subject } : {}),
        erased: [{ log: request.tenant, ranges: indexRanges(erasedRows.map((r) => Number(r.idx))) }],
        kept: plan.kept.map((k) => ({ log: k.candidate.log, index: k.candidate.index, blockedBy: k.blockedBy })),
      };
      await this.store.finish(sql, request.id, {
        status: statusOf(erasedRows.length, plan.kept.length),
        erased: erasedRows.length,
        blocked: plan.kept.length,
        blockedBy: plan.blockedBy,
        receipt,
        receiptDigest: digest(receipt),
        retryAt: plan.retryAt,
        at: now,
      });
    });
  }

  /** The periodic purge: personal data past its category's maximum, every tenant, in short batches. */
  private async purge(
    request: DeletionRequest,
    until: (category: string, recordedAt: string) => string,
    policies: Awaited<ReturnType<RetentionPolicies['all']>>,
  ): Promise<void> {
    const now = this.clock.now();
    const erasedPerLog = new Map<string, number>();
    const blockedBy = new Map<string, BlockReason>();
    let blocked = 0;
    let retryAt: string | null = null;
    let after = { log: '', idx: -1 };
    for (;;) {
      const batch = await this.db.transaction(async (tx) => {
        const sql: Sql = (text, params) => tx.query(text, params);
        const rows = (await sql(
          `${CANDIDATES} WHERE p.erased_at IS NULL AND (p.log, p.idx) > ($1, $2) ORDER BY p.log, p.idx LIMIT ${PURGE_BATCH}`,
          [after.log, after.idx],
        )) as unknown as CandidateRow[];
        if (rows.length === 0) return 0;
        const candidates = rows.map(candidateOf);
        after = { log: candidates[candidates.length - 1].log, idx: candidates[candidates.length - 1].index };
        const due = candidates.filter((c) => {
          const policy = policies.get(c.category);
          return policy !== undefined && purgeDue(policy, c.recordedAt, now);
        });
        if (due.length > 0) await lockHoldsOf(sql, EVERY_TENANT);
        for (const log of [...new Set(due.map((c) => c.log))].sort()) {
          await lockHoldsOf(sql, log);
          const ofLog = due.filter((c) => c.log === log);
          const plan = planErasure(ofLog, await this.holds.activeFor(log, sql), until, now);
          await this.eraseEntries(
            sql,
            log,
            plan.erase.map((c) => c.index),
            request.id,
            now,
          );
          erasedPerLog.set(log, (erasedPerLog.get(log) ?? 0) + plan.erase.length);
          blocked += plan.kept.length;
          for (const reason of plan.blockedBy) blockedBy.set(JSON.stringify(reason), reason);
          if (plan.retryAt !== null && (retryAt === null || plan.retryAt < retryAt)) retryAt = plan.retryAt;
        }
        return rows.length;
      });
      if (batch < PURGE_BATCH) break;
    }
    const erasedRows = (await this.db.query(
      'SELECT log, count(*)::int AS n FROM personal_data WHERE erased_by = $1 GROUP BY log ORDER BY log',
      [request.id],
    )) as { log: string; n: number }[];
    const erased = erasedRows.reduce((sum, row) => sum + row.n, 0);
    const receipt = {
      request: request.id,
      kind: request.kind,
      erased: erasedRows.map((row) => ({ log: row.log, count: row.n })),
      kept: blocked,
    };
    await this.db.transaction(async (tx) =>
      this.store.finish((text, params) => tx.query(text, params), request.id, {
        status: statusOf(erased, blocked),
        erased,
        blocked,
        blockedBy: [...blockedBy.values()],
        receipt,
        receiptDigest: digest(receipt),
        retryAt,
        at: now,
      }),
    );
  }

  /** Empties the personal data of these entries, and forgets their idempotency digests (which hash it). */
  private async eraseEntries(
    sql: Sql,
    log: string,
    indices: readonly number[],
    requestId: string,
    at: Date,
  ): Promise<void> {
    if (indices.length === 0) return;
    await sql(
      'UPDATE personal_data SET data = NULL, salt = NULL, erased_at = $3, erased_by = $4 WHERE log = $1 AND idx = ANY($2::bigint[]) AND erased_at IS NULL',
      [log, indices, at, requestId],
    );
    await sql('DELETE FROM idempotency_keys WHERE log = $1 AND idx = ANY($2::bigint[])', [log, indices]);
  }

  /**
   * Writes the request's outcome to the ledger when it differs from what the ledger last said:
   * a second run that changed nothing records nothing.
   */
  private async record(id: string): Promise<void> {
    const request = (await this.store.find(id)) as DeletionRequest;
    const outcome: RecordedOutcome = {
      status: request.status,
      erased: request.erased,
      blocked: request.blocked,
      receiptDigest: request.receiptDigest,
    };
    const last = request.recorded;
    if (
      last &&
      last.status === outcome.status &&
      last.erased === outcome.erased &&
      last.blocked === outcome.blocked &&
      last.receiptDigest === outcome.receiptDigest
    )
      return;
    const type = `deletion.${request.status}`;
    let noted = true;
    const [entry] = await this.sequencer
      .append(
        [
          {
            log: request.tenant === EVERY_TENANT ? PLATFORM_LOG : request.tenant,
            source: SERVICE_SOURCE,
            type,
            category: 'deletion',
            actor: { type: 'service', id: 'deletion-worker' },
            target: { type: 'deletion_request', id },
            outcome: 'success',
            context: {
              kind: request.kind,
              erased: request.erased,
              blocked: request.blocked,
              blockedBy: JSON.parse(JSON.stringify(request.blockedBy)),
              receiptDigest: request.receiptDigest,
            },
          },
        ],
        async (sql) => {
          noted = await this.store.noteRecorded(sql, id, request.recorded, outcome);
          if (!noted) throw new AlreadyRecorded();
        },
      )
      .catch((e: unknown) => {
        if (e instanceof AlreadyRecorded) return [undefined];
        throw e;
      });
    if (noted && entry && request.status !== 'completed') {
      await this.notifier.notify({
        type: 'deletion.blocked',
        id: entry.id,
        tenant: request.tenant,
        at: entry.recordedAt,
        subjectRef: { type: 'deletion_request', id },
        ledger: { log: entry.log, index: entry.index },
      });
    }
  }
}

/** Raised inside the recording transaction to undo it: another run recorded this outcome first. */
class AlreadyRecorded extends Error {}

/** SHA-256 (base64) of a receipt's canonical JSON: what the ledger commits to. */
function digest(receipt: unknown): string {
  return createHash('sha256').update(canonicalJson(receipt)).digest('base64');
}
