/**
 * Whether an error means "PostgreSQL cannot be reached right now" rather than "this request is
 * wrong" or "this is a bug": the one place that decides it. Such a failure is answered 503
 * `unavailable` with Retry-After (the caller comes back; nothing of its request was acknowledged),
 * and the sequencer rejects a whole group commit with it instead of blaming one request.
 *
 * Pure: it reads only the error (and what pg, TypeORM or Node wrapped inside it), never the
 * network or the clock.
 */

/** Socket-level failures Node reports while connecting to, or talking with, a server. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'ECONNABORTED',
  'EAI_AGAIN',
]);

/**
 * SQLSTATEs of a server that is there but will not serve now: class 08 (connection exception),
 * 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now (starting, recovering),
 * 53300 too_many_connections.
 */
const UNAVAILABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300']);

/**
 * What pg (and pg-pool) say when a connection dies or cannot be had, without a code: the server
 * closed the socket, a connect timed out (connectionTimeoutMillis), a client already broken.
 */
const CONNECTION_MESSAGES = [
  /^Connection terminated/, // "... unexpectedly", "... due to connection timeout"
  /^timeout exceeded when trying to connect$/,
  /^Client has encountered a connection error and is not queryable$/,
  /^Client was closed and is not queryable$/,
  /^Connection ended unexpectedly$/,
];

// Wrappers seen around the driver's error: TypeORM's QueryFailedError (driverError), Error.cause,
// Node's AggregateError from a connect to several addresses (errors). Bounded: a cyclic cause
// chain must not loop.
const MAX_DEPTH = 5;

/** True when `error` (or an error it wraps) is a connection-level failure of PostgreSQL. */
export function isConnectionFailure(error: unknown, depth = 0): boolean {
  if (typeof error !== 'object' || error === null || depth > MAX_DEPTH) return false;
  const e = error as { code?: unknown; message?: unknown; driverError?: unknown; cause?: unknown; errors?: unknown };
  if (typeof e.code === 'string') {
    if (NETWORK_CODES.has(e.code) || UNAVAILABLE_SQLSTATES.has(e.code)) return true;
    if (/^08[0-9A-Z]{3}$/.test(e.code)) return true;
  }
  if (typeof e.message === 'string' && CONNECTION_MESSAGES.some((m) => m.test(e.message as string))) return true;
  if (isConnectionFailure(e.driverError, depth + 1) || isConnectionFailure(e.cause, depth + 1)) return true;
  return Array.isArray(e.errors) && e.errors.some((inner) => isConnectionFailure(inner, depth + 1));
}
