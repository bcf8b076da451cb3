import canonicalize from 'canonicalize';
import fc from 'fast-check';
import { JCS_VECTORS } from '../testdata/rfc8785';
import { CanonicalJsonError, canonicalJson, canonicalJsonBytes, canonicalJsonLength } from './canonical-json';

/** JSON values canonicalJson accepts (fast-check's include integers beyond 2^53, which it refuses). */
function canonicalizable(constraints: fc.JsonSharedConstraints = {}): fc.Arbitrary<unknown> {
  return fc.jsonValue(constraints).filter((v) => {
    try {
      canonicalJson(v);
      return true;
    } catch {
      return false;
    }
  });
}

describe('canonicalJson', () => {
  it.each(JCS_VECTORS)('matches the RFC 8785 reference output for $name', ({ name, input, output }) => {
    const parsed = JSON.parse(input);
    // The wrapper refuses integers beyond 2^53 (1E30 in `values`); the library itself must
    // still produce the reference bytes, and the wrapper everything else.
    expect(canonicalize(parsed)).toBe(output);
    if (name === 'values') {
      expect(() => canonicalJson(parsed)).toThrow(CanonicalJsonError);
      parsed.numbers.shift();
      expect(canonicalJson(parsed)).toBe(output.replace('1e+30,', ''));
    } else {
      expect(canonicalJson(parsed)).toBe(output);
    }
  });

  it('encodes to UTF-8 bytes', () => {
    expect(canonicalJsonBytes({ b: '€', a: 1 }).toString('hex')).toBe(Buffer.from('{"a":1,"b":"€"}').toString('hex'));
  });

  it.each([
    ['undefined member', { a: undefined }, '$.a'],
    ['undefined in an array', [1, undefined], '$[1]'],
    ['function', { f: () => 1 }, '$.f'],
    ['symbol', { s: Symbol('x') }, '$.s'],
    ['bigint', { n: BigInt(1) }, '$.n'],
    ['NaN', { n: NaN }, '$.n'],
    ['Infinity', [Infinity], '$[0]'],
    ['integer beyond 2^53', { n: 2 ** 53 }, '$.n'],
    ['negative integer beyond 2^53', { n: -(2 ** 53) - 2 }, '$.n'],
    ['lone high surrogate', { s: 'a\ud800b' }, '$.s'],
    ['lone low surrogate in a member name', { 'x\udc00': 1 }, '$'],
    ['Date', { d: new Date(0) }, '$.d'],
    ['Map', { m: new Map() }, '$.m'],
    // eslint-disable-next-line no-sparse-arrays
    ['sparse array', [1, , 3], '$[1]'],
  ])('refuses a %s with a typed error naming the path', (_what, value, path) => {
    expect.assertions(3);
    try {
      canonicalJson(value);
    } catch (e) {
      expect(e).toBeInstanceOf(CanonicalJsonError);
      expect((e as CanonicalJsonError).code).toBe('not_canonicalizable');
      expect((e as CanonicalJsonError).path).toBe(path);
    }
  });

  it('refuses cycles but accepts a shared (acyclic) object', () => {
    const shared = { x: 1 };
    expect(canonicalJson({ a: shared, b: shared })).toBe('{"a":{"x":1},"b":{"x":1}}');
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => canonicalJson(cyclic)).toThrow(CanonicalJsonError);
  });

  it('accepts the largest safe integers and objects without a prototype', () => {
    const bare = Object.assign(Object.create(null), { z: Number.MAX_SAFE_INTEGER, a: -Number.MAX_SAFE_INTEGER });
    expect(canonicalJson(bare)).toBe('{"a":-9007199254740991,"z":9007199254740991}');
  });

  it('measures the canonical form exactly without building it, and refuses what canonicalJson refuses', () => {
    fc.assert(
      fc.property(canonicalizable({ stringUnit: 'binary' }), (value) => {
        expect(canonicalJsonLength(value)).toBe(canonicalJsonBytes(value).length);
      }),
      { numRuns: 500 },
    );
    for (const { input, name } of JCS_VECTORS) {
      if (name !== 'values')
        expect(canonicalJsonLength(JSON.parse(input))).toBe(canonicalJsonBytes(JSON.parse(input)).length);
    }
    expect(() => canonicalJsonLength({ a: [1, NaN] })).toThrow(CanonicalJsonError);
    expect(() => canonicalJsonLength({ s: 'a\ud800' })).toThrow(CanonicalJsonError);
    expect(() => canonicalJsonLength({ d: new Date(0) })).toThrow(CanonicalJsonError);
  });

  it('round-trips: parsing the canonical form and canonicalizing again gives the same bytes', () => {
    fc.assert(
      fc.property(canonicalizable(), (value) => {
        const once = canonicalJson(value);
        expect(canonicalJson(JSON.parse(once))).toBe(once);
      }),
      { numRuns: 300 },
    );
  });
});
