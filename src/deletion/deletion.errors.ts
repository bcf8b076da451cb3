import { erringWith } from '../platform';
import type { DeletionStatus } from './deletion-request.decider';

/** The HTTP status of each code the context raises: an error whose code is missing here does not type-check. */
const STATUS = {
  deletion_request_not_found: 404,
  tenant_out_of_scope: 403,
  tenant_closed: 409,
  ledger_immutable: 409,
  // 409: each refusal of a transition is about the request's current state, not how it was asked.
  deletion_request_exists: 409,
  deletion_request_finished: 409,
  deletion_request_not_running: 409,
  deletion_request_not_blocked: 409,
} as const;

/** Every code the context raises. */
export type DeletionErrorCode = keyof typeof STATUS;

/** Errors of the deletion context, with stable codes and their HTTP status (platform/http/error.filter.ts answers with both). */
export abstract class DeletionError extends erringWith(STATUS) {}

/** No deletion request with this id that the caller may see. */
export class DeletionRequestNotFoundError extends DeletionError {
  readonly code = 'deletion_request_not_found';

  constructor() {
    super('no such deletion request');
  }
}

/** The key's tenant scope does not reach what the deletion would cover. */
export class DeletionTenantOutOfScopeError extends DeletionError {
  readonly code = 'tenant_out_of_scope';

  constructor(tenant: string) {
    super(
      tenant === '*'
        ? 'only a key for every tenant ("*") may start a retention purge ahead of its schedule'
        : `this key may not request deletions on tenant ${tenant}`,
    );
  }
}

/** The tenant is closed: it takes no more events. */
export class TenantClosedError extends DeletionError {
  readonly code = 'tenant_closed';

  constructor(tenant: string) {
    super(`tenant ${tenant} is closed and takes no more events`);
  }
}

/** Something asked to delete ledger entries, which nobody can. */
export class LedgerImmutableError extends DeletionError {
  readonly code = 'ledger_immutable';

  constructor() {
    super(
      'ledger entries are immutable: they are never updated or deleted (docs/domain.md "Immutability"); personal data is erased through POST /v1/deletion-requests, which keeps every entry, the chain and every proof',
    );
  }
}

/** A transition the request's life does not allow (deletion-request.decider.ts); `from` is its status then. */
export abstract class DeletionTransitionError extends DeletionError {
  abstract override readonly code:
    | 'deletion_request_exists'
    | 'deletion_request_finished'
    | 'deletion_request_not_running'
    | 'deletion_request_not_blocked';

  constructor(
    readonly from: DeletionStatus,
    message: string,
  ) {
    super(message);
  }
}

/** A request with this id exists already: ids are never reused. */
export class DeletionRequestExistsError extends DeletionTransitionError {
  readonly code = 'deletion_request_exists';

  constructor(id: string, from: DeletionStatus) {
    super(from, `deletion request ${id} exists already`);
  }
}

/** The request completed or failed: it never runs again (ask for a new one). */
export class DeletionRequestFinishedError extends DeletionTransitionError {
  readonly code = 'deletion_request_finished';

  constructor(from: 'completed' | 'failed') {
    super(from, `the deletion request is ${from} and never runs again; request a new one instead`);
  }
}

/** An outcome for a request that is not running: only a started run may report one. */
export class DeletionRequestNotRunningError extends DeletionTransitionError {
  readonly code = 'deletion_request_not_running';

  constructor(from: DeletionStatus) {
    super(from, `the deletion request is ${from}, not running: no run may finish it`);
  }
}

/** Only a blocked request waits for a hold or a minimum; anything else is queued or running already. */
export class DeletionRequestNotBlockedError extends DeletionTransitionError {
  readonly code = 'deletion_request_not_blocked';

  constructor(from: DeletionStatus) {
    super(from, `the deletion request is ${from}, not blocked: there is nothing to queue again`);
  }
}
