import type { FieldProblem } from './request.errors';

/**
 * The one input rule of the HTTP edge (docs/api.md "Input rule"), framework-free: every string a
 * request carries (JSON member names and values, query values, path parameters) is valid Unicode
 * that PostgreSQL text and jsonb can store unchanged; a JSON body is strict UTF-8 JSON with no
 * duplicate or reserved member names; every time is a real RFC 3339 calendar time in years
 * 0001–9999. Anything else is refused with the JSON pointer of the field, never silently changed.
 *
 * Checks return results instead of throwing: the HTTP glue (input-rule.edge.ts,
 * configure-http.ts) decides when to raise them, so that authentication still comes first.
 */

/** Refused: 400 for a field, 415 for a body that is not UTF-8. */
export type InputRefusal =
  | { readonly kind: 'invalid'; readonly problem: FieldProblem }
  | { readonly kind: 'unsupported_media_type'; readonly message: string };

export type InputResult<T> = { readonly ok: true; readonly value: T } | ({ readonly ok: false } & InputRefusal);

/**
 * Deepest JSON nesting accepted at the edge. Routes have tighter limits of their own (16 for an
 * event's `context`); this one only keeps the parser's recursion far from the stack's end.
 */
export const MAX_JSON_NESTING = 64;

const invalid = (path: string, message: string): { ok: false; kind: 'invalid'; problem: FieldProblem } => ({
  ok: false,
  kind: 'invalid',
  problem: { path, message },
});

/** One segment of a JSON pointer (RFC 6901: `~` and `/` escaped). */
export function pointerSegment(name: string): string {
  return name.replace(/~/g, '~0').replace(/\//g, '~1');
}

/**
 * Why PostgreSQL could not store `value` unchanged, or null when it can: U+0000 (text and jsonb
 * refuse it) and lone surrogates (not Unicode scalar values: they have no UTF-8 form, and JSON's
 * `\ud800` escape would otherwise turn into U+FFFD on the way in).
 */
export function stringProblem(value: string): string | null {
  if (value.includes('\u0000')) return 'contains U+0000, which cannot be stored';
  if (!value.isWellFormed()) return 'contains a lone surrogate, which is not valid Unicode';
  return null;
}

/** The first string of `value` (member names included, in order) that breaks the rule, or null. */
export function valueProblem(value: unknown, path: string): FieldProblem | null {
  if (typeof value === 'string') {
    const problem = stringProblem(value);
    return problem === null ? null : { path, message: problem };
  }
  if (typeof value !== 'object' || value === null) return null;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = valueProblem(value[i], `${path}/${i}`);
      if (found) return found;
    }
    return null;
  }
  for (const [name, member] of Object.entries(value)) {
    const nameProblem = stringProblem(name);
    if (nameProblem !== null) return { path, message: `has a member name that ${nameProblem}` };
    const found = valueProblem(member, `${path}/${pointerSegment(name)}`);
    if (found) return found;
  }
  return null;
}

// One decoder for every body: a non-streaming decode starts afresh each call, and building a
// decoder per request costs more than decoding a small event.
const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true });

const CHARSET = /;\s*charset\s*=\s*"?([^";\s]*)"?/i;

/**
 * A JSON request body: `contentType` may name no charset or UTF-8 (anything else is
 * `unsupported_media_type`); the bytes must be valid UTF-8 (decoded with `fatal`, never replaced
 * by U+FFFD) and strict JSON (parseStrictJson).
 */
export function decodeJsonBody(bytes: Uint8Array, contentType: string | undefined): InputResult<unknown> {
  const charset = CHARSET.exec(contentType ?? '')?.[1]?.toLowerCase();
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
    return {
      ok: false,
      kind: 'unsupported_media_type',
      message: 'a JSON body must be UTF-8 (charset=utf-8, or no charset)',
    };
  }
  let text: string;
  try {
    text = STRICT_UTF8.decode(bytes);
  } catch {
    return invalid('', 'the body is not valid UTF-8');
  }
  return parseStrictJson(text);
}

/** Thrown inside the parser only, to unwind its recursion; parseStrictJson returns it as a result. */
class Refusal {
  constructor(readonly problem: FieldProblem) {}
}

/**
 * Parses JSON text (RFC 8259) as JSON.parse does, but refuses instead of guessing: a duplicate
 * member name (JSON.parse keeps the last one), a `__proto__` member or a `constructor` member with
 * a `prototype` (prototype poisoning), strings breaking stringProblem (U+0000 and lone surrogates,
 * also when written as `\u` escapes), and nesting deeper than MAX_JSON_NESTING. Every refusal
 * names the JSON pointer of the field; a syntax error names the character offset.
 */
export function parseStrictJson(text: string): InputResult<unknown> {
  let i = 0;

  const syntax = (what: string): never => {
    throw new Refusal({ path: '', message: `the body is not valid JSON: ${what} at offset ${i}` });
  };
  const skipSpace = (): void => {
    for (;;) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
      else return;
    }
  };

  const parseString = (): string => {
    // text[i] is the opening quote. Runs without escapes are copied as slices.
    i++;
    let out = '';
    let start = i;
    for (;;) {
      if (i >= text.length) syntax('unterminated string');
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        out += text.slice(start, i);
        i++;
        return out;
      }
      if (c < 0x20) syntax('control character in a string');
      if (c !== 0x5c) {
        i++;
        continue;
      }
      out += text.slice(start, i);
      const e = text[i + 1];
      switch (e) {
        case '"':
        case '\\':
        case '/':
          out += e;
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          const hex = text.slice(i + 2, i + 6);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) syntax('malformed \\u escape');
          out += String.fromCharCode(parseInt(hex, 16));
          i += 4;
          break;
        }
        default:
          syntax('unknown escape');
      }
      i += 2;
      start = i;
    }
  };

  const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
  const parseNumber = (): number => {
    NUMBER.lastIndex = i;
    const match = NUMBER.exec(text);
    if (match === null) return syntax('unexpected character');
    i += match[0].length;
    return Number(match[0]);
  };

  const literal = (word: string, value: unknown): unknown => {
    if (!text.startsWith(word, i)) syntax('unexpected character');
    i += word.length;
    return value;
  };

  // Where the parser is, as member names and array indices: spelled out as a JSON pointer only for
  // a refusal (building a path string for every member was a tenth of the time a batch took).
  const trail: (string | number)[] = [];
  const here = (...more: string[]): string =>
    [...trail.map((step) => (typeof step === 'number' ? `/${step}` : `/${pointerSegment(step)}`)), ...more].join('');

  const checked = (value: string): string => {
    const problem = stringProblem(value);
    if (problem !== null) throw new Refusal({ path: here(), message: problem });
    return value;
  };

  const parseValue = (depth: number): unknown => {
    skipSpace();
    const c = text[i];
    if (c === '"') return checked(parseString());
    if (c === '{' || c === '[') {
      if (depth >= MAX_JSON_NESTING)
        throw new Refusal({ path: here(), message: `is nested deeper than ${MAX_JSON_NESTING} levels` });
      return c === '{' ? parseObject(depth + 1) : parseArray(depth + 1);
    }
    if (c === 't') return literal('true', true);
    if (c === 'f') return literal('false', false);
    if (c === 'n') return literal('null', null);
    if (c === undefined) return syntax('unexpected end');
    return parseNumber();
  };

  const parseArray = (depth: number): unknown[] => {
    i++;
    const out: unknown[] = [];
    skipSpace();
    if (text[i] === ']') {
      i++;
      return out;
    }
    for (;;) {
      trail.push(out.length);
      out.push(parseValue(depth));
      trail.pop();
      skipSpace();
      const c = text[i++];
      if (c === ']') return out;
      if (c !== ',') syntax('expected , or ]');
    }
  };

  const parseObject = (depth: number): Record<string, unknown> => {
    i++;
    const out: Record<string, unknown> = {};
    skipSpace();
    if (text[i] === '}') {
      i++;
      return out;
    }
    for (;;) {
      skipSpace();
      if (text[i] !== '"') syntax('expected a member name');
      const name = parseString();
      const nameProblem = stringProblem(name);
      if (nameProblem !== null) throw new Refusal({ path: here(), message: `has a member name that ${nameProblem}` });
      trail.push(name);
      if (name === '__proto__') throw new Refusal({ path: here(), message: 'is a reserved member name (__proto__)' });
      if (Object.prototype.hasOwnProperty.call(out, name))
        throw new Refusal({ path: here(), message: 'appears twice in the same object' });
      skipSpace();
      if (text[i++] !== ':') syntax('expected :');
      const value = parseValue(depth);
      if (
        name === 'constructor' &&
        typeof value === 'object' &&
        value !== null &&
        Object.prototype.hasOwnProperty.call(value, 'prototype')
      ) {
        throw new Refusal({ path: here('/prototype'), message: 'is a reserved member name (constructor.prototype)' });
      }
      trail.pop();
      out[name] = value;
      skipSpace();
      const c = text[i++];
      if (c === '}') return out;
      if (c !== ',') syntax('expected , or }');
    }
  };

  try {
    skipSpace();
    if (i >= text.length) return invalid('', 'the body is empty: send a JSON object');
    const value = parseValue(0);
    skipSpace();
    if (i < text.length) syntax('unexpected data after the JSON value');
    return { ok: true, value };
  } catch (e) {
    if (e instanceof Refusal) return { ok: false, kind: 'invalid', problem: e.problem };
    throw e;
  }
}

/**
 * The raw query string of a URL (after `?`, without `#`), checked before anyone reads it: every
 * name and value must percent-decode to valid UTF-8 (a query parser keeps `%ff` as the three
 * characters instead) and pass stringProblem. Problems name `/query/<name>`.
 */
export function rawQueryProblem(rawQuery: string): FieldProblem | null {
  for (const pair of rawQuery.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const name = decodeQueryPart(eq === -1 ? pair : pair.slice(0, eq));
    if (name === null)
      return { path: '/query', message: 'has a parameter name that is not valid percent-encoded UTF-8' };
    const nameProblem = stringProblem(name);
    if (nameProblem !== null) return { path: '/query', message: `has a parameter name that ${nameProblem}` };
    const path = `/query/${pointerSegment(name)}`;
    const value = decodeQueryPart(eq === -1 ? '' : pair.slice(eq + 1));
    if (value === null) return { path, message: 'is not valid percent-encoded UTF-8' };
    const problem = stringProblem(value);
    if (problem !== null) return { path, message: problem };
  }
  return null;
}

function decodeQueryPart(part: string): string | null {
  try {
    // decodeURIComponent refuses malformed escapes and bytes that are not UTF-8 (URIError).
    return decodeURIComponent(part.replace(/\+/g, ' '));
  } catch {
    return null;
  }
}

/** The first path parameter that breaks the rule, as `/params/<name>`, or null. */
export function paramsProblem(params: Readonly<Record<string, unknown>>): FieldProblem | null {
  for (const [name, value] of Object.entries(params)) {
    if (typeof value !== 'string') continue;
    const problem = stringProblem(value);
    if (problem !== null) return { path: `/params/${pointerSegment(name)}`, message: problem };
  }
  return null;
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:Z|([+-])(\d{2}):(\d{2}))$/;
const MIN_INSTANT = new Date('0001-01-01T00:00:00.000Z').getTime();
const MAX_INSTANT = new Date('9999-12-31T23:59:59.999Z').getTime();

function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/**
 * The instant of an RFC 3339 date-time with a zone (`2024-02-29T12:00:00.5+01:00`) in epoch
 * milliseconds, or null unless every field is a real calendar value: month 1–12, a day the month
 * has (Date.parse rolls 2024-02-30 over to March 1st), hour 0–23, minute and second 0–59 (no leap
 * second: JavaScript time has none), offset within ±23:59, and both the local and the UTC time in
 * years 0001–9999 (the ledger's four-digit years). Fractions beyond milliseconds are truncated.
 */
export function parseRfc3339(value: string): number | null {
  const m = RFC3339.exec(value);
  if (m === null) return null;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number);
  if (year < 1 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return null;
  if (hour > 23 || minute > 59 || second > 59) return null;
  let offsetMinutes = 0;
  if (m[8] !== undefined) {
    const offsetHours = Number(m[9]);
    const offsetMins = Number(m[10]);
    if (offsetHours > 23 || offsetMins > 59) return null;
    offsetMinutes = (m[8] === '-' ? -1 : 1) * (offsetHours * 60 + offsetMins);
  }
  const millis = m[7] === undefined ? 0 : Number(m[7].slice(0, 3).padEnd(3, '0'));
  // setUTCFullYear, not Date.UTC: Date.UTC reads years 0–99 as 1900–1999.
  const local = new Date(0);
  local.setUTCFullYear(year, month - 1, day);
  local.setUTCHours(hour, minute, second, millis);
  const instant = local.getTime() - offsetMinutes * 60_000;
  return instant < MIN_INSTANT || instant > MAX_INSTANT ? null : instant;
}

/** parseRfc3339 as the service stores times: UTC with milliseconds (`2024-02-29T11:00:00.500Z`), or null. */
export function normaliseRfc3339(value: string): string | null {
  const instant = parseRfc3339(value);
  return instant === null ? null : new Date(instant).toISOString();
}
