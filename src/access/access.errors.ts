import { erringWith } from '../platform';

/** The HTTP status of each code the context raises: an error whose code is missing here does not type-check. */
const STATUS = {
  key_not_found: 404,
  key_not_active: 409,
  grant_exceeds_holder: 403,
  unavailable: 503,
  principal_not_found: 404,
  principal_not_active: 409,
  grant_not_found: 404,
  grant_not_pending: 409,
  grant_needs_person: 422,
  reserved_name: 409,
  name_taken: 409,
  second_person_required: 403,
  beyond_principal_grants: 403,
  self_only: 403,
  principal_changed: 409,
  legal_person_exists: 409,
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

/** No principal with this id that the caller may manage (one outside its scope looks the same). */
export class PrincipalNotFoundError extends AccessError {
  readonly code = 'principal_not_found';

  constructor() {
    super('no such principal');
  }
}

/** The principal is revoked: it gets no grants and no keys. */
export class PrincipalNotActiveError extends AccessError {
  readonly code = 'principal_not_active';

  constructor() {
    super('the principal is revoked');
  }
}

export class GrantNotFoundError extends AccessError {
  readonly code = 'grant_not_found';

  constructor() {
    super('no such grant');
  }
}

/** Only a pending grant can be approved. */
export class GrantNotPendingError extends AccessError {
  readonly code = 'grant_not_pending';

  constructor(status: 'active' | 'revoked') {
    super(`the grant is ${status}, not pending`);
  }
}

/** `legal` is a person's role: a service never holds it. */
export class GrantNeedsPersonError extends AccessError {
  readonly code = 'grant_needs_person';

  constructor() {
    super('the legal role is granted to persons only');
  }
}

/** `audit-trail` and `operator/…` belong to the service and its operator. */
export class ReservedNameError extends AccessError {
  readonly code = 'reserved_name';

  constructor(name: string) {
    super(`the name ${JSON.stringify(name)} is reserved for the audit service and its operator`);
  }
}

/** Names of principals and keys are unique (without regard to case) and never reused. */
export class NameTakenError extends AccessError {
  readonly code = 'name_taken';

  constructor(what: 'principal' | 'key' | 'email' | 'identity provider subject', name: string) {
    super(`a ${what} named ${JSON.stringify(name)} exists or existed; names are never reused`);
  }
}

/** A two-person rule: this step needs another person than the one who acted before. */
export class SecondPersonRequiredError extends AccessError {
  readonly code = 'second_person_required';

  constructor(message: string) {
    super(message);
  }
}

/** A key carries only roles and tenants its principal's active grants cover. */
export class BeyondPrincipalGrantsError extends AccessError {
  readonly code = 'beyond_principal_grants';

  constructor(message: string) {
    super(message);
  }
}

/** Something a key may do only to itself. */
export class SelfOnlyError extends AccessError {
  readonly code = 'self_only';

  constructor(message: string) {
    super(message);
  }
}

/** The principal kept changing under this request (people clicking at once): retry. */
export class PrincipalChangedError extends AccessError {
  readonly code = 'principal_changed';

  constructor() {
    super('the principal changed while this request was decided; retry');
  }
}

/** `principals first-legal` once a person holds `legal`: further ones need a second legal person. */
export class LegalPersonExistsError extends AccessError {
  readonly code = 'legal_person_exists';

  constructor() {
    super('a legal person exists already: grant legal through the API, approved by a legal person');
  }
}
