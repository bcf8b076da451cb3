import { CodedError } from '../platform/errors/coded-error';

/** Errors of the investigation context (search, event reads, exports); mapped in platform/http. */
export abstract class InvestigationError extends CodedError {}

/** No entry with this id in the caller's tenants (another tenant's entry looks the same). */
export class EventNotFoundError extends InvestigationError {
  readonly code = 'event_not_found';

  constructor() {
    super('no such event');
  }
}
