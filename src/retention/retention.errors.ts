import { erringWith } from '../platform';

/** The HTTP status of each code the context raises: an error whose code is missing here does not type-check. */
const STATUS = {
  unknown_category: 404,
  compliance_minimum: 409,
  compliance_mode: 409,
  reason_required: 400,
  invalid_retention_period: 400,
  retention_policy_changed: 409,
  retention_rebuild_refused: 409,
} as const;

/** Every code the context raises. */
export type RetentionErrorCode = keyof typeof STATUS;

/** Errors of the retention context, with stable codes and their HTTP status (platform/http/error.filter.ts answers with both). */
export abstract class RetentionError extends erringWith(STATUS) {}

/** A category the event catalogue does not declare: it has no policy to read or change. */
export class UnknownCategoryError extends RetentionError {
  readonly code = 'unknown_category';

  constructor(category: string) {
    super(`no category ${category} is declared (src/events/event-catalogue.ts)`);
  }
}

/** A compliance minimum may only grow: nobody, admins included, can shorten it. */
export class ComplianceMinimumError extends RetentionError {
  readonly code = 'compliance_minimum';

  constructor(category: string, minDays: number) {
    super(`the ${category} policy is in compliance mode: its minimum of ${minDays} days cannot be shortened`);
  }
}

/** A compliance policy stays compliance: governance would let its minimum be shortened. */
export class ComplianceModeError extends RetentionError {
  readonly code = 'compliance_mode';

  constructor(category: string) {
    super(`the ${category} policy is in compliance mode and cannot be switched to governance`);
  }
}

/** A change refused because of one field of the request; answered as a 400 naming that field. */
export abstract class RetentionFieldError extends RetentionError {
  constructor(
    readonly path: string,
    readonly problem: string,
  ) {
    super(`${path}: ${problem}`);
  }

  override get details(): readonly { path: string; message: string }[] {
    return [{ path: this.path, message: this.problem }];
  }
}

/** Shortening a governance minimum needs a reason, which the ledger records. */
export class ReasonRequiredError extends RetentionFieldError {
  readonly code = 'reason_required';

  constructor(minDays: number) {
    super('/reason', `is required to shorten the minimum (now ${minDays} days)`);
  }
}

/** Periods that cannot be a policy: a negative or fractional number of days, or a maximum below the minimum. */
export class RetentionPeriodError extends RetentionFieldError {
  readonly code = 'invalid_retention_period';
}

/** Another change to the policy kept committing first; the caller may retry. */
export class RetentionPolicyChangedError extends RetentionError {
  readonly code = 'retention_policy_changed';

  constructor() {
    super('the retention policy changed meanwhile; try again');
  }
}

/**
 * The rebuild would have to delete a row or loosen a compliance policy, which the runtime role
 * cannot (and must not) do: the table was written outside the service, and a database owner
 * decides what to repair.
 */
export class RetentionRebuildRefusedError extends RetentionError {
  readonly code = 'retention_rebuild_refused';

  constructor(readonly problems: readonly string[]) {
    super(
      `retention_policies cannot be rebuilt from the ledger by the service: ${problems.join('; ')}; a database owner must repair these rows`,
    );
  }
}
