import { erringWith } from '../errors/coded-error';

/**
 * Errors of the HTTP edge itself (malformed requests, authentication, permission), with stable
 * codes. Domain errors keep their own classes; error.filter.ts maps both to responses.
 */
/** The HTTP status of each code the context raises: an error whose code is missing here does not type-check. */
const STATUS = {
  invalid_request: 400,
  payload_too_large: 413,
  unsupported_media_type: 415,
  headers_too_large: 431,
  request_timeout: 408,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  rate_limited: 429,
} as const;

/** Every code the context raises. */
export type RequestErrorCode = keyof typeof STATUS;

export abstract class RequestError extends erringWith(STATUS) {}

/** One field problem: `path` is a JSON pointer into the request (`/events/3/actor/id`). */
export interface FieldProblem {
  readonly path: string;
  readonly message: string;
}

export class RequestValidationError extends RequestError {
  readonly code = 'invalid_request';

  constructor(readonly problems: readonly FieldProblem[]) {
    super(
      problems.length === 1
        ? `${problems[0].path || '/'}: ${problems[0].message}`
        : `${problems.length} fields are invalid`,
    );
  }

  override get details(): readonly FieldProblem[] {
    return this.problems;
  }
}

export class PayloadTooLargeError extends RequestError {
  readonly code = 'payload_too_large';

  constructor(
    message: string,
    readonly path?: string,
  ) {
    super(message);
  }

  override get details(): readonly FieldProblem[] | undefined {
    return this.path ? [{ path: this.path, message: this.message }] : undefined;
  }
}

/** A body in a media type or charset the service does not read (JSON bodies are UTF-8). */
export class UnsupportedMediaTypeError extends RequestError {
  readonly code = 'unsupported_media_type';
}

/** Node's HTTP parser refused the request head as larger than its limit. */
export class HeadersTooLargeError extends RequestError {
  readonly code = 'headers_too_large';

  constructor() {
    super('the request line and headers are larger than the server accepts');
  }
}

/** The client did not send a whole request in time. */
export class RequestTimeoutError extends RequestError {
  readonly code = 'request_timeout';

  constructor() {
    super('the request was not received in time');
  }
}

export class AuthenticationError extends RequestError {
  readonly code = 'unauthenticated';

  constructor(message = 'a valid API key is required (Authorization: Bearer <key>)') {
    super(message);
  }
}

export class PermissionError extends RequestError {
  readonly code = 'forbidden';

  constructor(message = 'this key may not do that') {
    super(message);
  }
}

export class NotFoundError extends RequestError {
  readonly code = 'not_found';

  constructor(message = 'not found') {
    super(message);
  }
}

/** The key used up its request budget; it may try again after `retryAfterSeconds` (whole, at least 1). */
export class RateLimitedError extends RequestError {
  readonly code = 'rate_limited';

  constructor(override readonly retryAfterSeconds: number) {
    super(`too many requests with this API key; retry after ${retryAfterSeconds} s`);
  }
}
