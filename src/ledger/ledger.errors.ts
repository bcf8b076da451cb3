import { erringWith } from '../platform';
import { MirrorDisagreement, behindMirrorMessage } from './mirror-agreement';

/** The HTTP status of each code the context raises: an error whose code is missing here does not type-check. */
const STATUS = {
  idempotency_conflict: 409,
  unprocessable_entry: 422,
  unknown_log: 404,
  beyond_log: 400,
  no_checkpoint: 404,
  unavailable: 503,
  no_such_tile: 404,
  ledger_behind_mirror: 503,
  verification_busy: 429,
} as const;

/** Every code the context raises. */
export type LedgerErrorCode = keyof typeof STATUS;

/** Errors of the ledger context, with stable codes and their HTTP status (platform/http/error.filter.ts answers with both). */
export abstract class LedgerServiceError extends erringWith(STATUS) {}

/** The same idempotency key was used before with a different request. */
export class IdempotencyConflictError extends LedgerServiceError {
  readonly code = 'idempotency_conflict';

  constructor(readonly position: number) {
    super('this Idempotency-Key was used before with a different request');
  }
}

/**
 * PostgreSQL refused a value this request carries (a data exception, a constraint, a trigger).
 * The request alone failed: the others grouped into the same commit were committed. The message
 * names what was refused (statement-failure.ts `describeRefusal`), never the refused values.
 */
export class UnprocessableEntryError extends LedgerServiceError {
  readonly code = 'unprocessable_entry';

  constructor(message: string) {
    super(message);
  }
}

/** A log that does not exist (no entry was ever appended). */
export class UnknownLogError extends LedgerServiceError {
  readonly code = 'unknown_log';

  constructor() {
    super('no such log');
  }
}

/** A proof or tile asked for a tree size the log has not reached. */
export class BeyondLogError extends LedgerServiceError {
  readonly code = 'beyond_log';

  constructor(message: string) {
    super(message);
  }
}

/** The log has no signed checkpoint yet. */
export class NoCheckpointError extends LedgerServiceError {
  readonly code = 'no_checkpoint';

  constructor() {
    super('the log has no signed checkpoint yet');
  }
}

/** The service is shutting down or overloaded: retry later. */
export class SequencerUnavailableError extends LedgerServiceError {
  readonly code = 'unavailable';

  constructor(message: string) {
    super(message);
  }
}

/** A tile or entry bundle that does not exist at the log's current size. */
export class NoSuchTileError extends LedgerServiceError {
  readonly code = 'no_such_tile';

  constructor() {
    super('no such tile at this tree size');
  }
}

/**
 * The database is behind or forked from the checkpoint mirror: nothing is appended (nor signed)
 * until an operator acknowledges it (mirror-agreement.ts). 503, since nothing of the request was
 * acknowledged, with a Retry-After longer than a dependency outage's: it ends by an operator's act.
 */
export class LedgerBehindMirrorError extends LedgerServiceError {
  readonly code = 'ledger_behind_mirror';

  override readonly retryAfterSeconds = 30;

  constructor(readonly disagreements: readonly MirrorDisagreement[]) {
    super(behindMirrorMessage(disagreements));
  }
}

/** As many full verifications as the service runs at once are running, and as many wait (verification-gate.ts). */
export class VerificationBusyError extends LedgerServiceError {
  readonly code = 'verification_busy';

  override readonly retryAfterSeconds = 5;

  constructor() {
    super('as many verifications as this service runs at once are running or waiting: retry later');
  }
}
