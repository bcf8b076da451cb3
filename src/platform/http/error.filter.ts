import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger, Optional } from '@nestjs/common';
import { LedgerError } from '@audit/ledger';
import type { FastifyReply } from 'fastify';
import { HoldNarrowingError } from '../../holds/holds.errors';
import { RetentionFieldError } from '../../retention/retention.errors';
import { CodedError } from '../errors/coded-error';
import { isConnectionFailure } from '../database/dependency-failure';
import { Dependencies } from '../dependencies/dependencies';
import { PayloadTooLargeError, RateLimitedError, RequestValidationError } from './request.errors';

type Coded = { code: string };

/** Every stable error code the service can raise, with its HTTP status. */
const STATUS_BY_CODE = {
  // HTTP edge
  invalid_request: 400,
  payload_too_large: 413,
  unsupported_media_type: 415,
  headers_too_large: 431,
  request_timeout: 408,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  rate_limited: 429,
  // access
  key_not_found: 404,
  key_not_active: 409,
  grant_exceeds_holder: 403,
  // holds
  hold_not_found: 404,
  hold_released: 409,
  hold_narrowing: 422,
  tenant_out_of_scope: 403,
  unknown_tenant: 422,
  hold_changed: 409,
  // retention
  unknown_category: 404,
  compliance_minimum: 409,
  compliance_mode: 409,
  reason_required: 400,
  invalid_retention_period: 400,
  retention_policy_changed: 409,
  // deletion
  deletion_request_not_found: 404,
  tenant_closed: 409,
  ledger_immutable: 409,
  // investigation
  event_not_found: 404,
  // ledger service
  idempotency_conflict: 409,
  unprocessable_entry: 422,
  unknown_log: 404,
  beyond_log: 400,
  no_checkpoint: 404,
  no_such_tile: 404,
  unavailable: 503,
  // ledger libraries (a request that reaches them with bad data)
  not_canonicalizable: 400,
  malformed_entry: 400,
  leaf_too_large: 413,
  invalid_proof: 400,
  root_mismatch: 400,
  malformed_tile_path: 404,
  malformed_entry_bundle: 400,
  malformed_tile_data: 400,
  malformed_note: 400,
  malformed_key: 400,
  unverified_note: 400,
  malformed_checkpoint: 400,
} as const satisfies Record<string, number>;

export type ErrorCode = keyof typeof STATUS_BY_CODE;

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  408: 'Request Timeout',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Entity',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

const HTTP_CODES: Record<number, string> = {
  400: 'invalid_request',
  404: 'not_found',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
};

export interface ErrorBody {
  statusCode: number;
  error: string;
  code: string;
  message: string;
  details?: unknown;
}

function body(statusCode: number, code: string, message: string, details?: unknown): ErrorBody {
  return {
    statusCode,
    error: REASONS[statusCode] ?? 'Error',
    code,
    message,
    ...(details !== undefined ? { details } : {}),
  };
}

/** Fastify's own errors (body parsing, limits) carry a code and a status. */
function fastifyError(e: unknown): ErrorBody | null {
  const err = e as { code?: string; statusCode?: number; message?: string };
  if (typeof err?.code !== 'string' || !err.code.startsWith('FST_') || typeof err.statusCode !== 'number') return null;
  const status = err.statusCode;
  const code = status === 413 ? 'payload_too_large' : status === 415 ? 'unsupported_media_type' : 'invalid_request';
  const message =
    err.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || err.code === 'FST_ERR_CTP_EMPTY_JSON_BODY'
      ? 'the body is not valid JSON'
      : (err.message ?? 'bad request');
  return body(status, code, message);
}

/** Maps every error to the documented JSON shape, in one place. Unknown errors become 500 without details. */
export function toErrorBody(e: unknown): ErrorBody {
  if (e instanceof RequestValidationError) return body(400, e.code, e.message, e.problems);
  if (e instanceof HoldNarrowingError)
    return body(
      422,
      e.code,
      e.message,
      e.dimensions.map((d) => ({ path: `/scope/${d}`, message: 'would cover less than the hold does' })),
    );
  if (e instanceof RetentionFieldError) return body(400, e.code, e.message, [{ path: e.path, message: e.problem }]);
  if (e instanceof PayloadTooLargeError)
    return body(413, e.code, e.message, e.path ? [{ path: e.path, message: e.message }] : undefined);
  if (e instanceof CodedError || e instanceof LedgerError) {
    const code = (e as Coded).code as ErrorCode;
    const status = STATUS_BY_CODE[code];
    if (status !== undefined) return body(status, code, e.message);
  }
  // PostgreSQL unreachable: nothing of the request was acknowledged, so the caller comes back.
  if (isConnectionFailure(e)) return body(503, 'unavailable', 'the database is unreachable; retry later');
  const fst = fastifyError(e);
  if (fst) return fst;
  if (e instanceof HttpException) {
    // Nest's own (and Fastify's, wrapped by Nest) errors: body parsing, limits, unknown routes.
    const status = e.getStatus();
    const code = HTTP_CODES[status] ?? 'http_error';
    return body(status, code, status === 404 ? 'no such route' : e.message);
  }
  return body(500, 'internal', 'internal error');
}

@Catch()
export class ErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger('HTTP');

  constructor(@Optional() private readonly dependencies?: Dependencies) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    const payload = toErrorBody(exception);
    if (payload.code === 'unavailable' && isConnectionFailure(exception)) {
      // Counted, not logged: the tracker says once that PostgreSQL is down and once that it is back.
      this.dependencies?.postgres.refused();
    } else if (payload.statusCode >= 500) {
      // The message of an unexpected error may hold anything; only its class and code are logged.
      const name = exception instanceof Error ? exception.name : typeof exception;
      this.logger.error(`unhandled ${name}${(exception as Coded)?.code ? ` (${(exception as Coded).code})` : ''}`);
    }
    if (payload.statusCode === 503) void reply.header('Retry-After', '1');
    if (exception instanceof RateLimitedError) void reply.header('Retry-After', String(exception.retryAfterSeconds));
    void reply.status(payload.statusCode).header('content-type', 'application/json; charset=utf-8').send(payload);
  }
}
