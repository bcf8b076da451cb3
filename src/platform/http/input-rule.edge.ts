import type { FastifyRequest } from 'fastify';
import { InputRefusal, decodeJsonBody, paramsProblem, rawQueryProblem } from './input-rule';
import { RequestError, RequestValidationError, UnsupportedMediaTypeError } from './request.errors';

// A body the JSON parser refused, kept until the request is authenticated: the parser runs before
// any guard, and a caller without a valid key must learn 401, not what is wrong with its body.
const refusedBodies = new WeakMap<object, RequestError>();

function errorOf(refusal: InputRefusal): RequestError {
  return refusal.kind === 'invalid'
    ? new RequestValidationError([refusal.problem])
    : new UnsupportedMediaTypeError(refusal.message);
}

/** The body parser of `application/json` (configure-http.ts): the input rule's strict decoder. */
export function parseJsonBody(
  request: FastifyRequest,
  body: Buffer,
  done: (err: Error | null, value?: unknown) => void,
): void {
  const result = decodeJsonBody(body, request.headers['content-type']);
  if (result.ok) return done(null, result.value);
  refusedBodies.set(request, errorOf(result));
  done(null, undefined);
}

/**
 * The body parser of the other media types Fastify and Nest would read (form fields, plain
 * text): every body of the API is a JSON object, and their decoders replace bad bytes silently.
 */
export function refuseNonJsonBody(
  request: FastifyRequest,
  _body: Buffer,
  done: (err: Error | null, value?: unknown) => void,
): void {
  refusedBodies.set(
    request,
    new UnsupportedMediaTypeError('request bodies are JSON: send Content-Type: application/json'),
  );
  done(null, undefined);
}

/**
 * Applies the input rule to a request: a refused body, then the raw query string, then the path
 * parameters. The global guard (src/access/auth.guard.ts) calls it on every route once the caller
 * is authenticated and permitted, before anything reads the request, the records of reads
 * included. A guard rather than a global interceptor: an interceptor wraps every handler in an
 * rxjs pipeline, and that halved single-event appends (bench, 9,000 against 4,600 requests/s).
 */
export function enforceInputRule(request: FastifyRequest): void {
  const refused = refusedBodies.get(request);
  if (refused) throw refused;
  const url = request.url;
  const q = url.indexOf('?');
  const queryProblem = q === -1 ? null : rawQueryProblem(url.slice(q + 1).split('#')[0]);
  if (queryProblem) throw new RequestValidationError([queryProblem]);
  const paramProblem = paramsProblem((request.params ?? {}) as Record<string, unknown>);
  if (paramProblem) throw new RequestValidationError([paramProblem]);
}
