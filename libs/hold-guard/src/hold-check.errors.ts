/**
 * Codes the client gives when the service did not answer with its own error code: the call
 * timed out or was aborted, the service was unreachable, it answered with a status and no code,
 * it answered 2xx with a body that is not a hold-check answer, or the question was unusable.
 */
export type HoldCheckClientCode =
  | 'check_timeout'
  | 'check_aborted'
  | 'check_unreachable'
  | 'unexpected_status'
  | 'malformed_answer'
  | 'invalid_question';

export interface HoldCheckErrorInit {
  /** The HTTP status, when the service answered. */
  status?: number;
  /** From Retry-After (429 and 503), in milliseconds. */
  retryAfterMs?: number;
  /** The service's own `message`, with the API key and the question's subject and actor removed. */
  serviceMessage?: string;
  cause?: unknown;
}

/**
 * Every failure of a hold check: a non-2xx answer, a timeout, an unreachable service or an
 * answer that is not a hold-check answer. Whoever gets it must treat the data as held (fail
 * closed). `code` is the service's error code (`unauthenticated`, `forbidden`, `rate_limited`,
 * `invalid_request`...) when it gave one, otherwise a {@link HoldCheckClientCode}. `message`
 * never contains the API key or the question's subject.
 */
export class HoldCheckError extends Error {
  readonly code: string;
  readonly status?: number;
  readonly retryAfterMs?: number;
  readonly serviceMessage?: string;

  constructor(code: string, message: string, init: HoldCheckErrorInit = {}) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = new.target.name;
    this.code = code;
    if (init.status !== undefined) this.status = init.status;
    if (init.retryAfterMs !== undefined) this.retryAfterMs = init.retryAfterMs;
    if (init.serviceMessage !== undefined) this.serviceMessage = init.serviceMessage;
  }
}
