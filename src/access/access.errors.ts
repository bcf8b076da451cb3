import { erringWith } from '../platform';

/** The HTTP status of each code the context raises: an error whose code is missing here does not type-check. */
const STATUS = {
  key_not_found: 404,
  key_not_active: 409,
  grant_exceeds_holder: 403,
  unavailable: 503,
} as const;

/** Every code the context raises. */
export type AccessErrorCode = keyof typeof STATUS;

/** Errors of the access context, with stable codes and their HTTP status (platform/http/error.filter.ts answers with both). */
export abstract class AccessError extends erringWith(STATUS) {}

/**
 * No key with this id that the caller may manage. A key outside the caller's tenant scope gets
 * this same answer, so an answer never reveals that another tenant's key exists.
 */
export class KeyNotFoundError extends AccessError {
  readonly code = 'key_not_found';

  constructor() {
    super('no such API key');
  }
}

/** The key is revoked or expired: it cannot be rotated. */
export class KeyNotActiveError extends AccessError {
  readonly code = 'key_not_active';

  constructor(state: 'revoked' | 'expired') {
    super(`the API key is ${state}; create a new one instead`);
  }
}

/** A key asked to grant more than it holds itself: a tenant outside its scope, or a longer life. */
export class GrantExceedsHolderError extends AccessError {
  readonly code = 'grant_exceeds_holder';

  constructor(message: string) {
    super(message);
  }
}

/**
 * A read whose record the ledger could not take (records of reads, docs/api.md "Access control"):
 * the read is not answered. 503 with Retry-After, like a dependency that is down: nothing was
 * served, and the same read may be answered once the ledger takes records again. Not the
 * sequencer's 422: the refused entry is the service's record, not the caller's request. The
 * message never repeats what the database said; `cause` keeps the append's error for the log.
 */
export class ReadNotRecordedError extends AccessError {
  readonly code = 'unavailable';

  constructor(override readonly cause: unknown) {
    super('this read could not be recorded in the ledger, so it is not answered; retry later');
  }
}
