import { LoggerService } from '@nestjs/common';
import pino, { Logger } from 'pino';

/**
 * Nest's logger as structured JSON lines through pino. Callers log messages they wrote
 * themselves (ids, counts, codes): never request bodies, headers, keys or personal data.
 */
export class PinoLogger implements LoggerService {
  private readonly pino: Logger;

  constructor(level: string, destination?: pino.DestinationStream) {
    this.pino = pino(
      { level, base: { service: 'audit-trail' }, timestamp: pino.stdTimeFunctions.isoTime },
      destination,
    );
  }

  log(message: unknown, context?: string): void {
    this.pino.info({ context }, String(message));
  }

  error(message: unknown, trace?: string, context?: string): void {
    this.pino.error({ context, ...(trace ? { trace } : {}) }, String(message));
  }

  warn(message: unknown, context?: string): void {
    this.pino.warn({ context }, String(message));
  }

  debug(message: unknown, context?: string): void {
    this.pino.debug({ context }, String(message));
  }

  verbose(message: unknown, context?: string): void {
    this.pino.trace({ context }, String(message));
  }

  fatal(message: unknown, context?: string): void {
    this.pino.fatal({ context }, String(message));
  }
}
