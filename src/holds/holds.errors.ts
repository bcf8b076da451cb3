import { CodedError } from '../platform/errors/coded-error';

/** Errors of the holds context, with stable codes; mapped to HTTP in one place (platform/http). */
export abstract class HoldsError extends CodedError {}

/** No hold with this id that the caller may see: missing and another tenant's look the same. */
export class HoldNotFoundError extends HoldsError {
  readonly code = 'hold_not_found';

  constructor() {
    super('no such hold');
  }
}

/** The hold is released: it can be neither amended nor released again. */
export class HoldReleasedError extends HoldsError {
  readonly code = 'hold_released';

  constructor() {
    super('the hold is released; place a new one instead');
  }
}

/** An amendment that would cover less: narrowing or ending a hold is a release. */
export class HoldNarrowingError extends HoldsError {
  readonly code = 'hold_narrowing';

  constructor(readonly dimensions: readonly string[]) {
    super(
      `an amendment may only widen a hold; it would narrow ${dimensions.join(', ')} (release the hold and place a new one instead)`,
    );
  }
}

/** The key's tenant scope does not reach the hold's tenant. */
export class HoldTenantOutOfScopeError extends HoldsError {
  readonly code = 'tenant_out_of_scope';

  constructor(tenant: string) {
    super(`this key may not place holds on tenant ${tenant}`);
  }
}

/** A hold on a tenant the service has never heard of (no log). */
export class UnknownTenantError extends HoldsError {
  readonly code = 'unknown_tenant';

  constructor(tenant: string) {
    super(`no tenant ${tenant} is known to the audit trail (it has no log)`);
  }
}

/** Another change to the hold committed first; the caller may retry. */
export class HoldChangedError extends HoldsError {
  readonly code = 'hold_changed';

  constructor() {
    super('the hold changed meanwhile; try again');
  }
}
