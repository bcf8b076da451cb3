import { CodedError } from '../platform/errors/coded-error';

/** Errors of the deletion context, with stable codes; mapped to HTTP in one place (platform/http). */
export abstract class DeletionError extends CodedError {}

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
      'ledger entries are immutable: they are never updated or deleted (DESIGN.md "Immutability"); personal data is erased through POST /v1/deletion-requests, which keeps every entry, the chain and every proof',
    );
  }
}
