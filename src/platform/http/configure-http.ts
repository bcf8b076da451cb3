import { NestFastifyApplication, FastifyAdapter } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
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
  app.useBodyParser(['application/x-www-form-urlencoded', 'text/plain'], { bodyLimit: BODY_LIMIT_BYTES }, refuseNonJsonBody);
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Audit trail')
      .setDescription('Immutable, verifiable audit trail with legal holds. Formats: DESIGN.md.')
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

configureHttp.adapter = (): FastifyAdapter => new FastifyAdapter({ bodyLimit: BODY_LIMIT_BYTES, logger: false, clientErrorHandler: answerClientError });
