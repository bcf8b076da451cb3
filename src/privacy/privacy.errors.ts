import { erringWith } from '../platform';

/** The HTTP status of each code the context raises: an error whose code is missing here does not type-check. */
const STATUS = {
  subject_request_not_found: 404,
  tenant_out_of_scope: 403,
  unknown_tenant: 422,
  subject_request_invalid: 422,
  subject_request_finished: 409,
  corrected_entry_not_found: 404,
  corrected_entry_other_subject: 422,
} as const;

/** Every code the context raises. */
export type PrivacyErrorCode = keyof typeof STATUS;

/** Errors of the privacy context, with stable codes and their HTTP status. */
export abstract class PrivacyError extends erringWith(STATUS) {}

/** No subject request with this id that the caller may see: missing and out of scope look the same. */
export class SubjectRequestNotFoundError extends PrivacyError {
  readonly code = 'subject_request_not_found';

  constructor() {
    super('no such subject request');
  }
}

/** The key's tenant scope does not reach every tenant of the request. */
export class SubjectRequestTenantOutOfScopeError extends PrivacyError {
  readonly code = 'tenant_out_of_scope';

  constructor(tenants: readonly string[]) {
    super(
      tenants.includes('*')
        ? 'only a key for every tenant ("*") may make a request over every tenant'
        : 'this key may not make subject requests on every tenant named',
    );
  }
}

/** A tenant named has no log: there is nothing of it to act on. */
export class SubjectRequestUnknownTenantError extends PrivacyError {
  readonly code = 'unknown_tenant';

  constructor(tenant: string) {
    super(`tenant ${tenant} has no log`);
  }
}

/** The request's parts do not fit its kind. */
export class SubjectRequestKindError extends PrivacyError {
  readonly code = 'subject_request_invalid';
}

/** Only an erasure has parts. */
export class NotAnErasureError extends PrivacyError {
  readonly code = 'subject_request_invalid';

  constructor() {
    super('only an erasure fans out to deletion requests');
  }
}

/** The request is completed: ask for a new one. */
export class SubjectRequestFinishedError extends PrivacyError {
  readonly code = 'subject_request_finished';

  constructor() {
    super('the subject request is completed; make a new one instead');
  }
}

/** The entry to correct does not exist (or is out of the key's scope). */
export class CorrectedEntryNotFoundError extends PrivacyError {
  readonly code = 'corrected_entry_not_found';

  constructor() {
    super('no such entry to correct');
  }
}

/** The entry to correct carries no personal data of this subject. */
export class CorrectedEntryOtherSubjectError extends PrivacyError {
  readonly code = 'corrected_entry_other_subject';

  constructor() {
    super("the entry to correct carries no personal data of the request's subject");
  }
}
