import { PinoLogger, escapeLineBreakers } from './pino-logger';

/** A logger writing to an array: each write is one line of the service's log. */
function capture(): { logger: PinoLogger; lines: string[] } {
  const lines: string[] = [];
  return { logger: new PinoLogger('trace', { write: (line: string) => void lines.push(line) }), lines };
}

// CR, LF, a forged JSON line, U+2028/U+2029, ANSI sequences (7-bit ESC and the 8-bit CSI U+009B), NEL.
const HOSTILE = 'a\r\n{"level":60,"msg":"forged"}\n\u2028b\u2029\u001b[31mred\u001b[0m\u009b2J\u0085\u001b]0;t\u0007z';

describe('PinoLogger: a message cannot break its line', () => {
  it.each([
    ['log', (l: PinoLogger) => l.log(HOSTILE, HOSTILE)],
    ['error', (l: PinoLogger) => l.error(HOSTILE, HOSTILE, HOSTILE)],
    ['warn', (l: PinoLogger) => l.warn(HOSTILE, HOSTILE)],
    ['debug', (l: PinoLogger) => l.debug(HOSTILE, HOSTILE)],
    ['verbose', (l: PinoLogger) => l.verbose(HOSTILE, HOSTILE)],
    ['fatal', (l: PinoLogger) => l.fatal(HOSTILE, HOSTILE)],
  ])('%s writes one JSON line, escaped, that reads back exactly', (_level, write) => {
    const { logger, lines } = capture();
    write(logger);
    expect(lines).toHaveLength(1);
    const [line] = lines;
    // One line: its only line break is the one that ends it.
    expect(line.endsWith('\n')).toBe(true);
    expect(line.slice(0, -1)).not.toMatch(/[\n\r\u0085\u2028\u2029]/);
    // Nothing a terminal would act on: no raw ESC, BEL or C1 control.
    expect(line).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
    const parsed = JSON.parse(line) as Record<string, unknown>;
    expect(parsed.msg).toBe(HOSTILE);
    expect(parsed.context).toBe(HOSTILE);
  });

  it('escapes only what breaks lines, and keeps every other character as it is', () => {
    expect(escapeLineBreakers('{"msg":"a\u2028b\u2029c\u0085d\u009be"}\n')).toBe(
      '{"msg":"a\\u2028b\\u2029c\\u0085d\\u009be"}\n',
    );
    expect(escapeLineBreakers('{"msg":"é ü € 😀 \\u001b"}\n')).toBe('{"msg":"é ü € 😀 \\u001b"}\n');
  });
});
