import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger, Optional } from '@nestjs/common';
import { LedgerError, LedgerErrorCode } from '@audit/ledger';
import type { FastifyReply } from 'fastify';
import { CodedError } from '../errors/coded-error';
import { isConnectionFailure } from '../database/dependency-failure';
import { Dependencies } from '../dependencies/dependencies';

type Coded = { code: string };

/**
 * The ledger libraries' codes (a request that reaches them with bad data). Each context maps its
 * own codes beside its errors (CodedError); the libraries know no HTTP, so the edge maps theirs.
 */
const LIBRARY_STATUS = {
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
  malformed_policy: 400,
  malformed_tlog_proof: 400,
  malformed_witness_request: 400,
  quorum_not_met: 400,
  // A programming error (a verifier used after it finished), never a client's: answered as 500.
  export_verifier_finished: 500,
} as const satisfies Record<LedgerErrorCode, number>;

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
  if (e instanceof CodedError) return body(e.status, e.code, e.message, e.details);
  if (e instanceof LedgerError) {
    const status = LIBRARY_STATUS[e.code];
    if (status < 500) return body(status, e.code, e.message);
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
    } else if (
      payload.statusCode >= 500 &&
      !(exception instanceof CodedError && exception.retryAfterSeconds !== undefined)
    ) {
      // The message of an unexpected error may hold anything; only its class and code are logged.
      const name = exception instanceof Error ? exception.name : typeof exception;
      this.logger.error(`unhandled ${name}${(exception as Coded)?.code ? ` (${(exception as Coded).code})` : ''}`);
    }
    if (payload.statusCode === 503) void reply.header('Retry-After', '1');
    if (exception instanceof CodedError && exception.retryAfterSeconds !== undefined)
      void reply.header('Retry-After', String(exception.retryAfterSeconds));
    void reply.status(payload.statusCode).header('content-type', 'application/json; charset=utf-8').send(payload);
  }
}
