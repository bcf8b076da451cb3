import fc from 'fast-check';
import {
  MAX_JSON_NESTING,
  decodeJsonBody,
  normaliseRfc3339,
  paramsProblem,
  parseRfc3339,
  parseStrictJson,
  rawQueryProblem,
  stringProblem,
  valueProblem,
} from './input-rule';

// Any UTF-16 code unit, so U+0000 and lone surrogates come up often enough to matter.
const codeUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));
const anyUnit = fc.oneof(
  codeUnit,
  fc.constantFrom('\u0000', '\ud800', '\udfff', '\ud83d\ude00', '"', '\\', '/', '~'),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }),
);
const anyString = fc.string({ unit: anyUnit, maxLength: 12 });
const anyJson = fc.jsonValue({ maxDepth: 4, stringUnit: anyUnit });
const cleanJson = fc.jsonValue({ maxDepth: 4, stringUnit: 'grapheme' });

const storable = (s: string) => !s.includes('\u0000') && s.isWellFormed();
function everyString(value: unknown, test: (s: string) => boolean): boolean {
  if (typeof value === 'string') return test(value);
  if (typeof value !== 'object' || value === null) return true;
  return Object.entries(value).every(([k, v]) => test(k) && everyString(v, test));
}
const reserved = (text: string) => text.includes('"__proto__"') || text.includes('"constructor"');

describe('stringProblem', () => {
  it.each([
    ['', null],
    ['plain', null],
    ['caf\u00e9 \ud83d\ude00 \u0007 \uffff', null],
    ['a\u0000b', 'contains U+0000, which cannot be stored'],
    ['\ud800', 'contains a lone surrogate, which is not valid Unicode'],
    ['x\udc00', 'contains a lone surrogate, which is not valid Unicode'],
    ['\ude00\ud83d', 'contains a lone surrogate, which is not valid Unicode'],
  ])('%j: %s', (value, problem) => {
    expect(stringProblem(value)).toBe(problem);
  });

  it('refuses exactly the strings PostgreSQL cannot store as UTF-8 text', () => {
    fc.assert(
      fc.property(anyString, (s) => {
        const roundTrips = Buffer.from(s, 'utf8').toString('utf8') === s;
        expect(stringProblem(s) === null).toBe(roundTrips && !s.includes('\u0000'));
      }),
    );
  });
});

describe('parseStrictJson', () => {
  it('reads what JSON.stringify writes exactly as JSON.parse does', () => {
    fc.assert(
      fc.property(cleanJson, (value) => {
        const text = JSON.stringify(value);
        fc.pre(!reserved(text));
        expect(parseStrictJson(text)).toEqual({ ok: true, value: JSON.parse(text) });
      }),
    );
  });

  it('accepts a value if and only if every member name and string is storable', () => {
    fc.assert(
      fc.property(anyJson, (value) => {
        const text = JSON.stringify(value);
        fc.pre(!reserved(text));
        const result = parseStrictJson(text);
        expect(result.ok).toBe(everyString(value, storable));
        if (result.ok) expect(result.value).toEqual(JSON.parse(text));
        else expect(result).toMatchObject({ kind: 'invalid', problem: valueProblem(value, '') });
      }),
    );
  });

  it('never throws, whatever the text, and refuses whatever JSON.parse refuses', () => {
    const jsonish = fc.string({
      unit: fc.oneof(
        anyUnit,
        fc.constantFrom('{', '}', '[', ']', ':', ',', '"', '1', 'e', '-', '.', ' ', 'true', 'null', '\\u'),
      ),
      maxLength: 40,
    });
    fc.assert(
      fc.property(jsonish, (text) => {
        const result = parseStrictJson(text);
        let parsed = true;
        try {
          JSON.parse(text);
        } catch {
          parsed = false;
        }
        if (!parsed) expect(result.ok).toBe(false);
      }),
      { numRuns: 2000 },
    );
  });

  it('refuses a duplicate member anywhere, naming its path', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 8 }), cleanJson, cleanJson, (name, a, b) => {
        fc.pre(name !== '__proto__' && name !== 'constructor');
        const text = `{"outer":[{${JSON.stringify(name)}:${JSON.stringify(a)},${JSON.stringify(name)}:${JSON.stringify(b)}}]}`;
        // A reserved name inside the first value is refused before the duplicate is reached.
        fc.pre(!reserved(JSON.stringify(a)));
        const pointer = name.replace(/~/g, '~0').replace(/\//g, '~1');
        expect(parseStrictJson(text)).toEqual({
          ok: false,
          kind: 'invalid',
          problem: { path: `/outer/0/${pointer}`, message: 'appears twice in the same object' },
        });
      }),
    );
  });

  it.each([
    ['{"tenant":"globex","tenant":"acme"}', '/tenant', 'appears twice in the same object'],
    ['{"a":{"__proto__":{"x":1}}}', '/a/__proto__', 'is a reserved member name (__proto__)'],
    ['{"__proto__":null}', '/__proto__', 'is a reserved member name (__proto__)'],
    [
      '{"a":{"constructor":{"prototype":{}}}}',
      '/a/constructor/prototype',
      'is a reserved member name (constructor.prototype)',
    ],
    ['{"k":"\\u0000"}', '/k', 'contains U+0000, which cannot be stored'],
    ['{"k":["ok","\\ud800"]}', '/k/1', 'contains a lone surrogate, which is not valid Unicode'],
    ['{"k":"\\udc00\\ud800"}', '/k', 'contains a lone surrogate, which is not valid Unicode'],
    ['{"a/b~c":{"\\u0000":1}}', '/a~1b~0c', 'has a member name that contains U+0000, which cannot be stored'],
    ['', '', 'the body is empty: send a JSON object'],
    ['  ', '', 'the body is empty: send a JSON object'],
  ])('%s: %s %s', (text, path, message) => {
    expect(parseStrictJson(text)).toEqual({ ok: false, kind: 'invalid', problem: { path, message } });
  });

  it.each([
    '{"a":1,}',
    '[1,]',
    '{"a" 1}',
    '"\\x"',
    '"a\nb"',
    '01',
    '1.',
    '-',
    '.5',
    '+1',
    'tru',
    'nul',
    '{"a":1}x',
    '"\\u12"',
    "{'a':1}",
    'NaN',
    'Infinity',
  ])('refuses the malformed %j', (text) => {
    const result = parseStrictJson(text);
    expect(result).toMatchObject({
      ok: false,
      kind: 'invalid',
      problem: { path: '', message: expect.stringMatching(/^the body is not valid JSON: .+ at offset \d+$/) },
    });
  });

  it('keeps a constructor member that is no prototype path, and numbers as JSON.parse reads them', () => {
    expect(parseStrictJson('{"constructor":"x","prototype":1}')).toEqual({
      ok: true,
      value: { constructor: 'x', prototype: 1 },
    });
    expect(parseStrictJson('[12345678901234567890,1e400,-0,1E-400,0.1]')).toEqual({
      ok: true,
      value: JSON.parse('[12345678901234567890,1e400,-0,1E-400,0.1]'),
    });
    expect(parseStrictJson('"\\ud83d\\ude00\\u00e9\\/"')).toEqual({ ok: true, value: '\ud83d\ude00\u00e9/' });
  });

  it(`refuses nesting deeper than ${MAX_JSON_NESTING} levels without exhausting the stack`, () => {
    expect(parseStrictJson('['.repeat(MAX_JSON_NESTING) + ']'.repeat(MAX_JSON_NESTING)).ok).toBe(true);
    const deep = parseStrictJson('['.repeat(MAX_JSON_NESTING + 1) + ']'.repeat(MAX_JSON_NESTING + 1));
    expect(deep).toMatchObject({ ok: false, problem: { message: `is nested deeper than ${MAX_JSON_NESTING} levels` } });
    expect(parseStrictJson('{"a":'.repeat(200_000)).ok).toBe(false);
  });
});

describe('decodeJsonBody', () => {
  it.each([
    undefined,
    'application/json',
    'application/json; charset=utf-8',
    'application/json;charset="UTF-8"',
    'application/json; charset=utf8',
  ])('reads %s', (contentType) => {
    expect(decodeJsonBody(Buffer.from('{"a":"\u00e9"}'), contentType)).toEqual({ ok: true, value: { a: '\u00e9' } });
  });

  it.each([
    'application/json; charset=iso-8859-1',
    'application/json; charset=utf-16',
    'application/json; charset=latin1',
    'application/json; charset=',
  ])('refuses %s as unsupported', (contentType) => {
    expect(decodeJsonBody(Buffer.from('{}'), contentType)).toMatchObject({ ok: false, kind: 'unsupported_media_type' });
  });

  it.each([
    ['a byte that starts nothing', [0xff]],
    ['a truncated sequence', [0xc3]],
    ['an overlong encoding', [0xc0, 0xaf]],
    ['an encoded surrogate', [0xed, 0xa0, 0x80]],
    ['beyond U+10FFFF', [0xf4, 0x90, 0x80, 0x80]],
  ])('refuses invalid UTF-8: %s', (_name, bytes) => {
    const body = Buffer.concat([Buffer.from('{"a":"'), Buffer.from(bytes), Buffer.from('"}')]);
    expect(decodeJsonBody(body, 'application/json')).toEqual({
      ok: false,
      kind: 'invalid',
      problem: { path: '', message: 'the body is not valid UTF-8' },
    });
  });

  it('never changes bytes: it accepts a string exactly when it is valid UTF-8, and keeps its bytes', () => {
    // Bytes JSON gives a meaning of its own (quote, backslash, controls) are left out.
    const byte = fc.integer({ min: 0x20, max: 0xff }).filter((b) => b !== 0x22 && b !== 0x5c);
    fc.assert(
      fc.property(fc.array(byte, { maxLength: 24 }), (bytes) => {
        const raw = Buffer.from(bytes);
        const result = decodeJsonBody(Buffer.concat([Buffer.from('"'), raw, Buffer.from('"')]), undefined);
        let utf8 = true;
        try {
          new TextDecoder('utf-8', { fatal: true }).decode(raw);
        } catch {
          utf8 = false;
        }
        expect(result.ok).toBe(utf8);
        if (result.ok) expect(Buffer.from(result.value as string, 'utf8').equals(raw)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('rawQueryProblem and paramsProblem', () => {
  it.each([
    ['tenant=acme&actor=%00', '/query/actor', 'contains U+0000, which cannot be stored'],
    ['actor=%ff', '/query/actor', 'is not valid percent-encoded UTF-8'],
    ['type=%ed%a0%80', '/query/type', 'is not valid percent-encoded UTF-8'],
    ['a=%', '/query/a', 'is not valid percent-encoded UTF-8'],
    ['%00=1', '/query', 'has a parameter name that contains U+0000, which cannot be stored'],
    ['a%2Fb=%00', '/query/a~1b', 'contains U+0000, which cannot be stored'],
  ])('%s', (query, path, message) => {
    expect(rawQueryProblem(query)).toEqual({ path, message });
  });

  it('accepts every storable value as a browser encodes it', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'grapheme', maxLength: 10 }),
        fc.string({ unit: 'grapheme', maxLength: 20 }),
        (name, value) => {
          expect(rawQueryProblem(`${encodeURIComponent(name)}=${encodeURIComponent(value)}&&x=a+b`)).toBeNull();
        },
      ),
    );
  });

  it('names the path parameter', () => {
    expect(paramsProblem({ log: 'acme', id: 'a\u0000' })).toEqual({
      path: '/params/id',
      message: 'contains U+0000, which cannot be stored',
    });
    expect(paramsProblem({ '*': 'entries/\ud800' })).toEqual({
      path: '/params/*',
      message: 'contains a lone surrogate, which is not valid Unicode',
    });
    expect(paramsProblem({ log: 'acme' })).toBeNull();
  });
});

describe('parseRfc3339', () => {
  it.each([
    ['2024-02-29T12:00:00Z', '2024-02-29T12:00:00.000Z'],
    ['2024-02-29T23:30:00.1239-01:00', '2024-03-01T00:30:00.123Z'],
    ['2000-02-29T00:00:00+14:00', '2000-02-28T10:00:00.000Z'],
    ['0001-01-01T00:00:00Z', '0001-01-01T00:00:00.000Z'],
    ['0050-06-01T00:00:00Z', '0050-06-01T00:00:00.000Z'],
    ['9999-12-31T23:59:59.999999999Z', '9999-12-31T23:59:59.999Z'],
    ['2026-12-31T23:59:59.5Z', '2026-12-31T23:59:59.500Z'],
  ])('%s is %s', (value, utc) => {
    expect(normaliseRfc3339(value)).toBe(utc);
  });

  it.each([
    '2024-02-30T00:00:00Z',
    '2023-02-29T00:00:00Z',
    '1900-02-29T00:00:00Z',
    '2024-04-31T00:00:00Z',
    '2024-13-01T00:00:00Z',
    '2024-00-10T00:00:00Z',
    '2024-01-00T00:00:00Z',
    '0000-01-01T00:00:00Z',
    '0001-01-01T00:00:00+00:01',
    '9999-12-31T23:59:59-00:01',
    '2024-01-01T24:00:00Z',
    '2024-01-01T23:60:00Z',
    '2024-01-01T23:59:60Z',
    '2024-01-01T00:00:00+24:00',
    '2024-01-01T00:00:00+01:60',
    '2024-01-01T00:00:00',
    '2024-01-01 00:00:00Z',
    '2024-01-01T00:00:00.Z',
    '2024-01-01T00:00:00.1234567890Z',
    '+002024-01-01T00:00:00Z',
    'yesterday',
  ])('refuses %s', (value) => {
    expect(parseRfc3339(value)).toBeNull();
  });

  it('reads back every instant of years 0001 to 9999, with any offset', () => {
    const min = Date.parse('0001-01-02T00:00:00Z');
    const max = Date.parse('9999-12-30T23:59:59.999Z');
    fc.assert(
      fc.property(
        fc.integer({ min, max }),
        fc.integer({ min: -(23 * 60 + 59), max: 23 * 60 + 59 }),
        (instant, offset) => {
          expect(parseRfc3339(new Date(instant).toISOString())).toBe(instant);
          const local = new Date(instant + offset * 60_000).toISOString().slice(0, 23);
          const sign = offset < 0 ? '-' : '+';
          const zone = `${sign}${String(Math.floor(Math.abs(offset) / 60)).padStart(2, '0')}:${String(Math.abs(offset) % 60).padStart(2, '0')}`;
          expect(parseRfc3339(local + zone)).toBe(instant);
        },
      ),
    );
  });

  it('accepts a date exactly when the calendar has it', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 9999 }),
        fc.integer({ min: 0, max: 13 }),
        fc.integer({ min: 0, max: 32 }),
        (year, month, day) => {
          const value = `${String(year).padStart(4, '0')}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}T12:00:00Z`;
          const d = new Date(0);
          d.setUTCFullYear(year, month - 1, day);
          const real =
            year >= 1 &&
            month >= 1 &&
            month <= 12 &&
            day >= 1 &&
            d.getUTCFullYear() === year &&
            d.getUTCMonth() === month - 1 &&
            d.getUTCDate() === day;
          expect(parseRfc3339(value) !== null).toBe(real);
        },
      ),
      { numRuns: 3000 },
    );
  });
});
