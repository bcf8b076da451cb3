import { erringWith } from '../platform';

/** The HTTP status of each code the context raises: an error whose code is missing here does not type-check. */
const STATUS = {
  key_not_found: 404,
  key_not_active: 409,
  grant_exceeds_holder: 403,
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
