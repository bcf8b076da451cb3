import { erringWith } from '../platform';

/** The HTTP status of each code the context raises: an error whose code is missing here does not type-check. */
const STATUS = {
  hold_not_found: 404,
  hold_released: 409,
  hold_narrowing: 422,
  tenant_out_of_scope: 403,
  unknown_tenant: 422,
  hold_changed: 409,
  approval_not_independent: 409,
  release_needs_person: 403,
} as const;

/** Every code the context raises. */
export type HoldsErrorCode = keyof typeof STATUS;

/** Errors of the holds context, with stable codes and their HTTP status (platform/http/error.filter.ts answers with both). */
export abstract class HoldsError extends erringWith(STATUS) {}

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

  override get details(): readonly { path: string; message: string }[] {
    return this.dimensions.map((d) => ({ path: `/scope/${d}`, message: 'would cover less than the hold does' }));
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

/**
 * A release request that is not a second person's: someone who already asked to release this
 * hold has seen this key's secret (made it for its holder, or rotated it), so it would count twice.
 */
export class ApprovalNotIndependentError extends HoldsError {
  readonly code = 'approval_not_independent';

  constructor() {
    super(
      "someone who already asked to release this hold has seen this key's secret (created or rotated it); " +
        'its holder must rotate the key before it counts as a second person',
    );
  }
}

/** Releases are asked for by people, never by a service or the operator. */
export class ReleaseNeedsPersonError extends HoldsError {
  readonly code = 'release_needs_person';

  constructor() {
    super('only a person holding legal may ask to release a hold');
  }
}
