import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { canonicalJson } from '@audit/ledger';
import { createHash } from 'node:crypto';
import { DataSource } from 'typeorm';
import { HoldsReader } from '../holds';
import { EVERY_TENANT } from '../holds';
import type { Sql } from '../ledger';
import { LedgerErasure } from '../ledger';
import { Notifier } from '../notifications';
import { APP_CONFIG, AppConfig, CLOCK, Clock } from '../platform';
import { RetentionPolicies } from '../retention';
import { minimumUntil, purgeDue } from '../retention';
import { RunOutcome, isFinished } from './deletion-request.decider';
import { DeletionRequest, DeletionStore } from './deletion.store';
import { BlockReason, indexRanges, planErasure } from './erasure-plan';

// A purge erases AUDIT_PURGE_BATCH entries per transaction: short transactions, so nothing waits
// long on a purge, and each commit's WAL flush, which the appends committing beside it share, is
// small. After each batch it waits AUDIT_PURGE_PAUSE_PERCENT of the time the batch took: it is
// background work, and back to back its writes took the disk from the appends (append p99 during
// a purge of 200,000 entries: bench/long-work.bench.ts; docs/operations.md "Long work beside
// appends").

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
    private readonly holds: HoldsReader,
    private readonly policies: RetentionPolicies,
    private readonly ledger: LedgerErasure,
    private readonly notifier: Notifier,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /**
   * The erasure commits first; the outcome (row and ledger entry) after it, in one transaction of
   * its own. A run that dies between the two leaves the request running, and the next run finds
   * the entries erased before by `erased_by` and reports them again, so nothing is lost.
   */
  async run(request: DeletionRequest): Promise<void> {
    // A finished request never acts again: data of its subject recorded since is a new request's.
    if (isFinished(request.status)) return;
    const policies = await this.policies.all();
    const until = (category: string, recordedAt: string) => {
      const policy = policies.get(category);
      return policy ? minimumUntil(policy, recordedAt) : recordedAt;
    };
    const now = this.clock.now();
    const outcome =
      request.kind === 'retention_purge'
        ? await this.purge(request, until, policies, now)
        : await this.erase(request, until, now);
    const { request: finished, entry } = await this.store.finish(request.id, outcome, now);
    if (entry && finished.status !== 'completed') {
      await this.notifier.notify({
        type: 'deletion.blocked',
        id: entry.id,
        tenant: finished.tenant,
        at: entry.recordedAt,
        subjectRef: { type: 'deletion_request', id: finished.id },
        ledger: { log: entry.log, index: entry.index },
      });
    }
  }

  /** A subject's erasure, or a tenant's closure: one transaction. */
  private async erase(
    request: DeletionRequest,
    until: (category: string, recordedAt: string) => string,
    now: Date,
  ): Promise<RunOutcome> {
    return this.db.transaction(async (tx) => {
      const sql: Sql = (text, params) => tx.query(text, params);
      // `*` first, then tenants in name order: the one order every taker of several uses.
      await this.holds.lock(sql, EVERY_TENANT);
      await this.holds.lock(sql, request.tenant);
      const holds = await this.holds.activeFor(request.tenant, sql);
      const candidates = await this.ledger.candidates(sql, { log: request.tenant, subject: request.subject });
      const plan = planErasure(candidates, holds, until, now);
      await this.ledger.erase(
        sql,
        request.tenant,
        plan.erase.map((c) => c.index),
        now,
        request.id,
      );
      const erasedIndices = await this.ledger.erasedIndices(sql, request.id, request.tenant);
      const receipt = {
        request: request.id,
        kind: request.kind,
        tenant: request.tenant,
        ...(request.subject !== null ? { subject: request.subject } : {}),
        erased: [{ log: request.tenant, ranges: indexRanges(erasedIndices) }],
        keysDestroyed: await this.ledger.keysDestroyed(sql, request.id, request.tenant),
        kept: plan.kept.map((k) => ({ log: k.candidate.log, index: k.candidate.index, blockedBy: k.blockedBy })),
      };
      return {
        erased: erasedIndices.length,
        blocked: plan.kept.length,
        blockedBy: plan.blockedBy,
        receipt,
        receiptDigest: digest(receipt),
        retryAt: plan.retryAt,
      };
    });
  }

  /** The periodic purge: personal data past its category's maximum, every tenant, in short batches. */
  private async purge(
    request: DeletionRequest,
    until: (category: string, recordedAt: string) => string,
    policies: Awaited<ReturnType<RetentionPolicies['all']>>,
    now: Date,
  ): Promise<RunOutcome> {
    const erasedPerLog = new Map<string, number>();
    const blockedBy = new Map<string, BlockReason>();
    let blocked = 0;
    let retryAt: string | null = null;
    let after = { log: '', index: -1 };
    for (;;) {
      const started = Date.now();
      const batch = await this.db.transaction(async (tx) => {
        const sql: Sql = (text, params) => tx.query(text, params);
        const candidates = await this.ledger.candidates(sql, { after, limit: this.config.purgeBatch });
        if (candidates.length === 0) return 0;
        after = { log: candidates[candidates.length - 1].log, index: candidates[candidates.length - 1].index };
        const due = candidates.filter((c) => {
          const policy = policies.get(c.category);
          return policy !== undefined && purgeDue(policy, c.recordedAt, now);
        });
        if (due.length > 0) await this.holds.lock(sql, EVERY_TENANT);
        for (const log of [...new Set(due.map((c) => c.log))].sort()) {
          await this.holds.lock(sql, log);
          const ofLog = due.filter((c) => c.log === log);
          const plan = planErasure(ofLog, await this.holds.activeFor(log, sql), until, now);
          await this.ledger.erase(
            sql,
            log,
            plan.erase.map((c) => c.index),
            now,
            request.id,
          );
          erasedPerLog.set(log, (erasedPerLog.get(log) ?? 0) + plan.erase.length);
          blocked += plan.kept.length;
          for (const reason of plan.blockedBy) blockedBy.set(JSON.stringify(reason), reason);
          if (plan.retryAt !== null && (retryAt === null || plan.retryAt < retryAt)) retryAt = plan.retryAt;
        }
        return candidates.length;
      });
      if (batch < this.config.purgeBatch) break;
      await new Promise((resolve) =>
        setTimeout(resolve, ((Date.now() - started) * this.config.purgePausePercent) / 100),
      );
    }
    const erasedCounts = await this.ledger.erasedCounts(request.id);
    const erased = erasedCounts.reduce((sum, row) => sum + row.count, 0);
    const receipt = {
      request: request.id,
      kind: request.kind,
      erased: erasedCounts,
      keysDestroyed: await this.ledger.keysDestroyed((text, params) => this.db.query(text, params), request.id, null),
      kept: blocked,
    };
    return { erased, blocked, blockedBy: [...blockedBy.values()], receipt, receiptDigest: digest(receipt), retryAt };
  }
}

/** SHA-256 (base64) of a receipt's canonical JSON: what the ledger commits to. */
function digest(receipt: unknown): string {
  return createHash('sha256').update(canonicalJson(receipt)).digest('base64');
}
