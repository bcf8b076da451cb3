import { LoggerService } from '@nestjs/common';
import pino, { Logger } from 'pino';

/**
 * Characters pino writes raw inside its JSON strings (it escapes only U+0000 to U+001F, `"` and
 * `\`) that still end or rewrite a line for some reader: U+2028 and U+2029 (line terminators to
 * JavaScript and to many log viewers) and the C1 controls U+0080 to U+009F (U+0085 is a line
 * break, U+009B an ANSI control sequence introducer).
 */
const LINE_BREAKERS = /[\u0080-\u009f\u2028\u2029]/g;

/**
 * One pino line with those characters written as JSON escapes (`\u2028`): the same JSON value,
 * and every line of the service's log stays one line of plain JSON whatever a message carries.
 * They can only occur inside JSON strings (member names included; the rest of a line is ASCII), where the escape is valid.
 */
export function escapeLineBreakers(line: string): string {
  return line.replace(LINE_BREAKERS, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * Nest's logger as structured JSON lines through pino. Callers log messages they wrote
 * themselves (ids, counts, codes): never request bodies, headers, keys or personal data. Should
 * one carry anything else, it still cannot break its line: pino escapes control characters, and
 * `escapeLineBreakers` the rest.
 */
export class PinoLogger implements LoggerService {
  private readonly pino: Logger;

  constructor(level: string, destination?: pino.DestinationStream) {
    this.pino = pino(
      {
        level,
        base: { service: 'audit-trail' },
        timestamp: pino.stdTimeFunctions.isoTime,
        hooks: { streamWrite: escapeLineBreakers },
      },
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
