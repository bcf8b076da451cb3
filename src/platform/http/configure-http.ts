import { NestFastifyApplication, FastifyAdapter } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { Socket } from 'node:net';
import { toErrorBody } from './error.filter';
import { parseJsonBody, refuseNonJsonBody } from './input-rule.edge';
import { HeadersTooLargeError, RequestTimeoutError, RequestValidationError } from './request.errors';

/** Largest request body: a full batch of 1,000 events of a few KiB each. */
export const BODY_LIMIT_BYTES = 16 * 1024 * 1024;

/**
 * The HTTP adapter and what every app instance (service or test) shares: body limits, the input
 * rule's body parsers (the global guard checks queries, path parameters and refused bodies), the OpenAPI document at /docs.
 */
export function configureHttp(app: NestFastifyApplication): void {
  // Replaces JSON.parse, which keeps the last of duplicate members and turns invalid UTF-8 and
  // lone surrogates into U+FFFD: stored evidence must be what was sent.
  app.useBodyParser('application/json', { bodyLimit: BODY_LIMIT_BYTES }, parseJsonBody);
  app.useBodyParser(
    ['application/x-www-form-urlencoded', 'text/plain'],
    { bodyLimit: BODY_LIMIT_BYTES },
    refuseNonJsonBody,
  );
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Audit trail')
      .setDescription('Immutable, verifiable audit trail with legal holds. Formats: docs/ledger-format.md.')
      .setVersion('1')
      .addBearerAuth()
      .build(),
  );
  SwaggerModule.setup('docs', app, document);
}

/**
 * Requests Node's HTTP parser refuses (headers over its limit, a head not sent in time, bytes
 * that are not HTTP) never reach Fastify's routes: answered here in the service's error shape.
 */
function answerClientError(err: Error & { code?: string }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const error =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? new HeadersTooLargeError()
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? new RequestTimeoutError()
        : new RequestValidationError([{ path: '', message: 'the request is not valid HTTP' }]);
  const payload = toErrorBody(error);
  const body = JSON.stringify(payload);
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${payload.statusCode} ${payload.error}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json; charset=utf-8\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(err);
}

/**
 * Requests Fastify's router refuses before any route sees them: a path that is not
 * percent-encoded UTF-8 (`%ff`), a path parameter over its length limit. Fastify's own answer
 * quotes the path (it may hold personal data) and has the wrong shape: the input rule's 400 here,
 * naming no value. Like an unknown route, this comes before authentication: nothing was routed.
 */
function answerFrameworkError(error: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  const refusal =
    error.code === 'FST_ERR_BAD_URL'
      ? new RequestValidationError([{ path: '/params', message: 'the path is not percent-encoded UTF-8' }])
      : error.code === 'FST_ERR_MAX_PARAM_LENGTH'
        ? new RequestValidationError([
            { path: '/params', message: `a path parameter is longer than ${MAX_PARAM_LENGTH} characters` },
          ])
        : error;
  const payload = toErrorBody(refusal);
  void reply.status(payload.statusCode).header('content-type', 'application/json; charset=utf-8').send(payload);
}

/** Longest path parameter (a log name is at most 63 characters, an id 36): Fastify's default. */
const MAX_PARAM_LENGTH = 100;

configureHttp.adapter = (): FastifyAdapter =>
  new FastifyAdapter({
    bodyLimit: BODY_LIMIT_BYTES,
    // Under routerOptions: the top-level option is deprecated in Fastify 5 and makes Node print a
    // FSTDEP022 warning to stderr at every start, a line that is not one of the service's JSON logs.
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    logger: false,
    clientErrorHandler: answerClientError,
    frameworkErrors: answerFrameworkError,
  });
