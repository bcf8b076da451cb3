import {
  DeletionRequestExistsError,
  DeletionRequestFinishedError,
  DeletionRequestNotBlockedError,
  DeletionRequestNotFoundError,
  DeletionRequestNotRunningError,
} from './deletion.errors';
import { BlockReason, FinishedStatus, statusOf } from './erasure-plan';

/**
 * The life of a deletion request as plain functions: state, commands, events, decide, evolve
 * (docs/api.md "Deletion requests"). deletion.store.ts drives every transition through it: queued →
 * running → completed | partially_blocked | blocked | failed, and a blocked request runs again. No
 * clock, ids, storage or framework inside: the caller passes the time, the id and the state.
 *
 * Event type strings are permanent record. `deletion.requested`, `.completed`,
 * `.partially_blocked` and `.blocked` are the ledger entry types written today; the others are
 * changes of the row only: the ledger never says that a request started, was queued again or failed.
 */

// The store's types, restated here so this file needs no database (the spec checks they still agree).
export type DeletionKind = 'subject_erasure' | 'tenant_closure' | 'retention_purge';
export type DeletionStatus = 'queued' | 'running' | FinishedStatus | 'failed';
export type { FinishedStatus };
// The refusals live with the context's other errors (their codes map to HTTP there); re-exported
// so a reader of decide() finds what it throws next to it.
export {
  DeletionRequestExistsError,
  DeletionRequestFinishedError,
  DeletionRequestNotBlockedError,
  DeletionRequestNotRunningError,
  DeletionTransitionError,
} from './deletion.errors';

/** Who asked: the key id (null for the operator) and its name, as recorded. */
export interface DeletionActor {
  readonly keyId: string | null;
  readonly name: string;
}

/**
 * What the ledger last said of a request: a run that changes none of this records nothing. The
 * reasons are part of it: a blocked deletion is recorded with what blocks it, so a hold swapped
 * for another (same counts) is recorded too. `recorded` written before the reasons were part of
 * it lacks `blockedBy`: the next run records its outcome once more, reasons included.
 */
export interface RecordedOutcome {
  readonly status: FinishedStatus;
  readonly erased: number;
  readonly blocked: number;
  readonly blockedBy: readonly BlockReason[];
  readonly receiptDigest: string | null;
}

/**
 * Why a blocked request runs again. `hold_released`: RequeueOnHoldRelease; `minimum_shortened`:
 * RequeueOnShorterMinimum; `reconcile`: the reconciler found a blocking hold gone or `retryAt`
 * passed (its query cannot tell which); `minimum_ran_out`: `retryAt` passed, for a caller that knows.
 */
export type RequeueReason = 'hold_released' | 'minimum_ran_out' | 'minimum_shortened' | 'reconcile';

/** What a request asks, as deletion.requested records it. */
export interface DeletionAsked {
  readonly id: string;
  readonly tenant: string;
  readonly kind: DeletionKind;
  readonly subject: string | null;
  readonly reason: string;
  readonly requestedBy: DeletionActor;
}

export interface DeletionRequestState extends DeletionAsked, RunOutcome {
  readonly requestedAt: string;
  readonly status: DeletionStatus;
  readonly recorded: RecordedOutcome | null;
  /**
   * A run owed to a blocked request, and why; null once it starts. Not a column today: the row
   * stays blocked until the run starts, and the BullMQ job (id = request id) is the only trace.
   */
  readonly requeued: { readonly reason: RequeueReason; readonly at: string } | null;
  readonly updatedAt: string;
}

/** What a request covers; the shapes POST /v1/deletion-requests allows, as types. */
export type DeletionTarget =
  | { readonly kind: 'subject_erasure'; readonly tenant: string; readonly subject: string }
  | { readonly kind: 'tenant_closure'; readonly tenant: string; readonly subject: null }
  | { readonly kind: 'retention_purge'; readonly tenant: '*'; readonly subject: null };

/** What one run found; the state keeps the last run's. */
export interface RunOutcome {
  /** Entries this request erased, over all its runs (a run re-counts, it does not add), not this run's. */
  readonly erased: number;
  /** Entries the run had to keep. */
  readonly blocked: number;
  readonly blockedBy: readonly BlockReason[];
  readonly receipt: unknown;
  readonly receiptDigest: string | null;
  readonly retryAt: string | null;
}

export type DeletionCommand =
  | ({
      readonly type: 'request';
      readonly id: string;
      readonly reason: string;
      readonly requestedBy: DeletionActor;
    } & DeletionTarget)
  | { readonly type: 'start' }
  | { readonly type: 'finish'; readonly outcome: RunOutcome }
  | { readonly type: 'fail' }
  | { readonly type: 'requeue'; readonly reason: RequeueReason };

export type OutcomeEventType = `deletion.${FinishedStatus}`;

export type DeletionEvent =
  | ({ readonly type: 'deletion.requested'; readonly at: string } & DeletionAsked)
  | { readonly type: 'deletion.started'; readonly id: string; readonly at: string }
  /** The row after a run (store.finish): written after every run, changed or not. */
  | ({
      readonly type: 'deletion.finished';
      readonly id: string;
      readonly status: FinishedStatus;
      readonly at: string;
    } & RunOutcome)
  /** The ledger told of a new outcome (the runner's `deletion.*` entry and noteRecorded). */
  | ({ readonly type: OutcomeEventType; readonly id: string; readonly at: string } & Omit<RecordedOutcome, 'status'>)
  | { readonly type: 'deletion.failed'; readonly id: string; readonly at: string }
  | { readonly type: 'deletion.requeued'; readonly id: string; readonly reason: RequeueReason; readonly at: string };

/** completed and failed free the "one unfinished request per subject" slot, so they must stay put. */
export function isFinished(status: DeletionStatus): status is 'completed' | 'failed' {
  return status === 'completed' || status === 'failed';
}

// Field by field, not as JSON: `recorded` comes back from a jsonb column, which reorders keys.
function sameReason(a: BlockReason, b: BlockReason): boolean {
  if (a.kind === 'hold' || b.kind === 'hold')
    return a.kind === b.kind && (a as { id: string }).id === (b as { id: string }).id;
  return a.category === b.category && a.until === b.until;
}

function sameOutcome(a: RecordedOutcome | null, b: RecordedOutcome): boolean {
  return (
    a !== null &&
    a.status === b.status &&
    a.erased === b.erased &&
    a.blocked === b.blocked &&
    a.receiptDigest === b.receiptDigest &&
    // Absent in `recorded` written before the reasons were compared: not the same, so recorded once more.
    a.blockedBy !== undefined &&
    a.blockedBy.length === b.blockedBy.length &&
    a.blockedBy.every((reason, i) => sameReason(reason, b.blockedBy[i]))
  );
}

/**
 * The events of `command` on `state` (null: no such request yet) at `now`. Throws:
 * - DeletionRequestExistsError: `request` for a request that exists;
 * - DeletionRequestNotFoundError: any other command before `request`;
 * - DeletionRequestFinishedError: any command once completed or failed;
 * - DeletionRequestNotRunningError: `finish` unless running;
 * - DeletionRequestNotBlockedError: `requeue` unless blocked or partially blocked.
 * Returns no event for a `requeue` of a request already owed a run.
 */
export function decide(state: DeletionRequestState | null, command: DeletionCommand, now: Date): DeletionEvent[] {
  const at = now.toISOString();
  if (command.type === 'request') {
    if (state !== null) throw new DeletionRequestExistsError(state.id, state.status);
    const { id, tenant, kind, subject, reason, requestedBy } = command;
    return [{ type: 'deletion.requested', id, tenant, kind, subject, reason, requestedBy, at }];
  }
  if (state === null) throw new DeletionRequestNotFoundError();
  if (isFinished(state.status)) throw new DeletionRequestFinishedError(state.status);
  const id = state.id;
  switch (command.type) {
    // From running too: a worker that died mid-run left the row running, and the retry starts it again.
    case 'start':
      return [{ type: 'deletion.started', id, at }];
    case 'finish':
      return decideFinish(state, command.outcome, at);
    // From any unfinished state, as store.fail: the last attempt may fail before or after the run started.
    case 'fail':
      return [{ type: 'deletion.failed', id, at }];
    case 'requeue':
      if (state.status !== 'blocked' && state.status !== 'partially_blocked')
        throw new DeletionRequestNotBlockedError(state.status);
      // Queuing a queued job is a no-op (its id is the request id): asking again changes nothing.
      if (state.requeued !== null) return [];
      return [{ type: 'deletion.requeued', id, reason: command.reason, at }];
    default: {
      const never: never = command;
      throw new Error(`unknown deletion command ${(never as { type: string }).type}`);
    }
  }
}

/**
 * The row is rewritten after every run (the retry time may move), but the ledger hears only of an
 * outcome (status, counts, reasons, receipt digest) that differs from what it last said, so
 * running twice records nothing twice, and the reasons in the ledger are always the row's. "Last said" is `recorded`, not the previous row: a run whose ledger write was lost gets
 * it written by the next run.
 */
function decideFinish(state: DeletionRequestState, outcome: RunOutcome, at: string): DeletionEvent[] {
  if (state.status !== 'running') throw new DeletionRequestNotRunningError(state.status);
  const { erased, blocked, blockedBy, receipt, receiptDigest, retryAt } = outcome;
  const status = statusOf(erased, blocked);
  const finished: DeletionEvent = {
    type: 'deletion.finished',
    id: state.id,
    status,
    erased,
    blocked,
    blockedBy,
    receipt,
    receiptDigest,
    retryAt,
    at,
  };
  if (sameOutcome(state.recorded, { status, erased, blocked, blockedBy, receiptDigest })) return [finished];
  return [finished, { type: `deletion.${status}`, id: state.id, erased, blocked, blockedBy, receiptDigest, at }];
}

/** The outcome of a request no run has finished yet. */
const NO_RUN: RunOutcome = { erased: 0, blocked: 0, blockedBy: [], receipt: null, receiptDigest: null, retryAt: null };

function existing(state: DeletionRequestState | null, event: DeletionEvent): DeletionRequestState {
  if (state === null) throw new Error(`${event.type} of deletion request ${event.id} before deletion.requested`);
  return state;
}

export function evolve(state: DeletionRequestState | null, event: DeletionEvent): DeletionRequestState {
  switch (event.type) {
    case 'deletion.requested':
      return {
        id: event.id,
        tenant: event.tenant,
        kind: event.kind,
        subject: event.subject,
        reason: event.reason,
        requestedBy: event.requestedBy,
        requestedAt: event.at,
        status: 'queued',
        ...NO_RUN,
        recorded: null,
        requeued: null,
        updatedAt: event.at,
      };
    // Only the status moves: the last run's counts and reasons stay readable while it runs again.
    case 'deletion.started':
      return { ...existing(state, event), status: 'running', requeued: null, updatedAt: event.at };
    case 'deletion.finished': {
      // The run's status and outcome, as decideFinish wrote them.
      const { type: _type, id: _id, at, ...run } = event;
      return { ...existing(state, event), ...run, updatedAt: at };
    }
    // What the ledger now says; the row (status, updatedAt) was written by deletion.finished.
    case 'deletion.completed':
    case 'deletion.partially_blocked':
    case 'deletion.blocked': {
      const status = event.type.slice('deletion.'.length) as FinishedStatus;
      const { erased, blocked, blockedBy, receiptDigest } = event;
      return { ...existing(state, event), recorded: { status, erased, blocked, blockedBy, receiptDigest } };
    }
    case 'deletion.failed':
      return { ...existing(state, event), status: 'failed', updatedAt: event.at };
    // The row does not change (see `requeued`), not even updatedAt.
    case 'deletion.requeued':
      return { ...existing(state, event), requeued: { reason: event.reason, at: event.at } };
    default: {
      const never: never = event;
      throw new Error(`unknown deletion event ${(never as { type: string }).type}`);
    }
  }
}

/** The state after `events`, starting from `state` (null before the request). */
export function applyDeletionEvents(
  state: DeletionRequestState | null,
  events: readonly DeletionEvent[],
): DeletionRequestState | null {
  return events.reduce<DeletionRequestState | null>(evolve, state);
}
