import { erringWith } from '../platform';

/** The HTTP status of each code the context raises: an error whose code is missing here does not type-check. */
const STATUS = {
  event_not_found: 404,
} as const;

/** Every code the context raises. */
export type InvestigationErrorCode = keyof typeof STATUS;

/** Errors of the investigation context, with stable codes and their HTTP status (platform/http/error.filter.ts answers with both). */
export abstract class InvestigationError extends erringWith(STATUS) {}

/** No entry with this id in the caller's tenants (another tenant's entry looks the same). */
export class EventNotFoundError extends InvestigationError {
  readonly code = 'event_not_found';

  constructor() {
    super('no such event');
  }
}
