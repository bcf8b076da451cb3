import { CodedError } from '../platform/errors/coded-error';

/** Errors of the retention context, with stable codes; mapped to HTTP in one place (platform/http). */
export abstract class RetentionError extends CodedError {}

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
