import { Inject, Injectable } from '@nestjs/common';
import { Query, QueryBus } from '@nestjs/cqrs';
import { Principal } from '../access';
import type { ErasableEntry, Sql } from '../ledger';
import { LedgerErasure, LogStore } from '../ledger';
import { CLOCK, Clock } from '../platform';
import { decidePlace } from './hold.decider';
import { EVERY_TENANT, HoldScope, holdCovers } from './hold-scope';
import { UnknownTenantError } from './holds.errors';

/** Entries of one log (and one subject) that a hold would cover: the summary a preview works from. */
export interface CoveredEntries {
  readonly log: string;
  readonly subject: string;
  readonly entries: number;
}

/** A deletion request that is not finished and would be held back, at least in part, by the hold. */
export interface CoveredDeletionRequest {
  readonly id: string;
  readonly kind: string;
  readonly tenant: string;
  readonly subject: string | null;
  readonly status: string;
  readonly blockedBy: readonly unknown[];
  /** Covered entries within the request's reach (for a retention purge: every covered entry, an upper bound). */
  readonly entries: number;
}

/**
 * The question a preview asks the deletion context, which answers it (deletion depends on holds,
 * so holds declares the question and never imports deletion): which unfinished requests, of those
 * a key with `tenants` may see, reach any of the `covered` entries.
 */
export class DeletionRequestsCovered extends Query<CoveredDeletionRequest[]> {
  constructor(
    readonly tenants: readonly string[],
    readonly covered: readonly CoveredEntries[],
  ) {
    super();
  }
}

/** What `POST /v1/holds/preview` answers. */
export interface HoldPreviewView {
  readonly entries: number;
  readonly logs: { readonly log: string; readonly entries: number }[];
  readonly pendingDeletionRequests: CoveredDeletionRequest[];
}

/** Candidates read per statement when walking a log (or every log, for a hold on `*`). */
const BATCH = 2000;

/**
 * A hold placement's dry run: the same checks as `PlaceHold` (the scope rule of the decider, the
 * tenant's log must exist), then which entries the hold would cover, judged one by one by
 * `holdCovers`, the rule deletion applies, over the entries a hold can protect: those holding
 * personal data not erased yet (the ledger itself never loses an entry). Writes nothing.
 */
@Injectable()
export class HoldPreview {
  constructor(
    private readonly logs: LogStore,
    private readonly erasure: LedgerErasure,
    private readonly queries: QueryBus,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async preview(
    by: Principal,
    hold: { tenant: string; matter: string; description: string; scope: HoldScope },
  ): Promise<HoldPreviewView> {
    // The placement's own decision, thrown away: a key learns nothing about tenants it cannot reach.
    decidePlace(by, { id: '00000000-0000-0000-0000-000000000000', ...hold }, this.clock.now());
    if (hold.tenant !== EVERY_TENANT && !(await this.logs.exists(hold.tenant)))
      throw new UnknownTenantError(hold.tenant);
    const covered = new Map<string, CoveredEntries>();
    const count = (entry: ErasableEntry) => {
      const question = {
        tenant: entry.log,
        subject: entry.subject,
        actor: entry.actor,
        category: entry.category,
        type: entry.type,
        at: entry.recordedAt,
      };
      if (!holdCovers(hold, question)) return;
      const key = JSON.stringify([entry.log, entry.subject]);
      const before = covered.get(key);
      covered.set(key, { log: entry.log, subject: entry.subject, entries: (before?.entries ?? 0) + 1 });
    };
    await this.logs.tenantScoped(by.tenants, (sql) => this.walk(sql, hold, count));
    const perLog = new Map<string, number>();
    for (const c of covered.values()) perLog.set(c.log, (perLog.get(c.log) ?? 0) + c.entries);
    const summary = [...covered.values()];
    return {
      entries: summary.reduce((sum, c) => sum + c.entries, 0),
      logs: [...perLog].sort(([a], [b]) => (a < b ? -1 : 1)).map(([log, entries]) => ({ log, entries })),
      pendingDeletionRequests:
        summary.length === 0 ? [] : await this.queries.execute(new DeletionRequestsCovered(by.tenants, summary)),
    };
  }

  /**
   * Hands `visit` every entry with unerased personal data the hold could cover: with subjects
   * named, only theirs (the rule covers no other subject); else the tenant's log, or every log.
   */
  private async walk(
    sql: Sql,
    hold: { tenant: string; scope: HoldScope },
    visit: (entry: ErasableEntry) => void,
  ): Promise<void> {
    const subjects = hold.scope.subjects ?? [];
    if (hold.tenant !== EVERY_TENANT && subjects.length > 0) {
      for (const subject of subjects)
        for (const entry of await this.erasure.candidates(sql, { log: hold.tenant, subject })) visit(entry);
      return;
    }
    let after = { log: hold.tenant === EVERY_TENANT ? '' : hold.tenant, index: -1 };
    for (;;) {
      const batch = await this.erasure.candidates(sql, { after, limit: BATCH });
      for (const entry of batch) {
        if (hold.tenant !== EVERY_TENANT && entry.log !== hold.tenant) return;
        visit(entry);
      }
      if (batch.length < BATCH) return;
      const last = batch[batch.length - 1];
      after = { log: last.log, index: last.index };
    }
  }
}
