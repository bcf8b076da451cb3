import { Inject } from '@nestjs/common';
import { Command, CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { LedgerEntry } from '@audit/ledger';
import { ServiceEntries } from '../ledger';
import { CLOCK, Clock } from '../platform';
import { DeletionRequestState, DeletionStatus, FinishedStatus, evolve } from './deletion-request.decider';
import { fromDeletionEntry } from './deletion.entries';
import { DeletionFacts, DeletionStore } from './deletion.store';

export interface RebuiltDeletionRequests {
  /** Requests the ledger knows of. */
  readonly requests: number;
  /** Their entries, folded. */
  readonly events: number;
  /** Rows whose facts differed from the ledger's, now corrected. */
  readonly corrected: number;
  /** Rows that were missing, now created again. */
  readonly recreated: number;
  /** Rows of requests the ledger never heard of: left alone, for an operator to look at. */
  readonly unknown: readonly string[];
}

/** Rebuild the facts of `deletion_requests` from the ledger alone (src/deletion/README.md says which). */
export class RebuildDeletionRequests extends Command<RebuiltDeletionRequests> {}

/** What the ledger says of one request: its folded state, and whether a later request proves it failed. */
export interface LedgerView {
  readonly state: DeletionRequestState;
  readonly failed: boolean;
}

/**
 * The status the rebuild writes. The ledger records the outcomes; queued, running and failed are
 * the row's own (no entry says them), so a row in one of those keeps it, unless the ledger proves
 * otherwise: completed is final, and a request followed by another of the same target had
 * finished, so without a completion it failed. A row claiming an outcome the ledger lacks is
 * queued again: the ledger says only that it was requested.
 */
export function rebuiltStatus(ledger: LedgerView, row: DeletionStatus | undefined): DeletionStatus {
  const recorded: FinishedStatus | undefined = ledger.state.recorded?.status;
  if (recorded === 'completed') return 'completed';
  if (ledger.failed) return 'failed';
  if (row === 'queued' || row === 'running' || row === 'failed') return row;
  return recorded ?? 'queued';
}

/** The fact columns of a request as the ledger says them. */
export function factsOf(ledger: LedgerView, row: DeletionStatus | undefined): DeletionFacts {
  const { state } = ledger;
  const recorded = state.recorded;
  return {
    id: state.id,
    tenant: state.tenant,
    kind: state.kind,
    subject: state.subject,
    reason: state.reason,
    requestedBy: state.requestedBy,
    requestedAt: state.requestedAt,
    status: rebuiltStatus(ledger, row),
    // The last run's, which a running or failed row keeps too (evolve of deletion.started keeps them).
    erased: recorded?.erased ?? 0,
    blocked: recorded?.blocked ?? 0,
    blockedBy: recorded?.blockedBy ?? [],
    receiptDigest: recorded?.receiptDigest ?? null,
    recorded,
  };
}

/** The requests of the ledger's `deletion` entries, in log order: each folded, with failures the order proves. */
export function foldDeletionEntries(entries: readonly LedgerEntry[]): {
  views: Map<string, LedgerView & { lastAt: string }>;
  events: number;
} {
  const states = new Map<string, DeletionRequestState>();
  const lastAt = new Map<string, string>();
  const failed = new Set<string>();
  // The latest request per target, as the one-unfinished-request index keys it.
  const latest = new Map<string, string>();
  for (const entry of entries) {
    const event = fromDeletionEntry(entry);
    const state = evolve(states.get(event.id) ?? null, event);
    states.set(event.id, state);
    lastAt.set(event.id, entry.recordedAt);
    if (event.type !== 'deletion.requested') continue;
    // Requests of one target share a log, and a new one is created only once the last finished.
    const target = JSON.stringify([state.tenant, state.kind, state.subject ?? '']);
    const before = latest.get(target);
    if (before !== undefined && states.get(before)?.recorded?.status !== 'completed') failed.add(before);
    latest.set(target, event.id);
  }
  const views = new Map(
    [...states].map(([id, state]) => [id, { state, failed: failed.has(id), lastAt: lastAt.get(id)! }]),
  );
  return { views, events: entries.length };
}

@CommandHandler(RebuildDeletionRequests)
export class RebuildDeletionRequestsHandler implements ICommandHandler<RebuildDeletionRequests> {
  constructor(
    private readonly store: DeletionStore,
    private readonly entries: ServiceEntries,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async execute(): Promise<RebuiltDeletionRequests> {
    return this.entries.rebuild(
      ({ sql }) => this.store.lockForRebuild(sql),
      'deletion',
      async (entries, { sql }) => {
        const { views, events } = foldDeletionEntries(entries);
        const rows = await this.store.statuses(sql);
        const rebuilt = [...views.values()].map((view) => ({ view, facts: factsOf(view, rows.get(view.state.id)) }));
        // Finished ones first: a row leaves the one-unfinished-request index before another may enter it.
        const finished = (status: DeletionStatus) => status === 'completed' || status === 'failed';
        rebuilt.sort((a, b) => Number(finished(b.facts.status)) - Number(finished(a.facts.status)));
        const now = this.clock.now();
        let corrected = 0;
        let recreated = 0;
        for (const { view, facts } of rebuilt) {
          if (rows.has(facts.id)) {
            if (await this.store.correctFacts(sql, facts, now)) corrected++;
            continue;
          }
          const blocked = facts.status === 'blocked' || facts.status === 'partially_blocked';
          await this.store.recreate(sql, facts, view.lastAt, blocked ? view.lastAt : null);
          recreated++;
        }
        const unknown = [...rows.keys()].filter((id) => !views.has(id));
        return { requests: views.size, events, corrected, recreated, unknown };
      },
    );
  }
}
