import fc from 'fast-check';
import { sampleEntry } from '../testdata/sample-log';
import { CanonicalJsonError } from './canonical-json';
import {
  EntryFormatError,
  GENESIS_PREV,
  LeafTooLargeError,
  LedgerEntry,
  decodeLeaf,
  encodeLeaf,
  leafLength,
  prevLink,
} from './entry';
import { leafHash } from './hashing';
import { scanLeaf } from './leaf-scanner';

const entry = (over: Partial<Record<keyof LedgerEntry, unknown>> = {}) =>
  ({ ...sampleEntry('tenant-a', 0, GENESIS_PREV), ...over }) as LedgerEntry;

describe('leaf encoding', () => {
  it('writes the RFC 8785 form with sorted members, and reads it back', () => {
    const leaf = encodeLeaf(entry());
    const text = leaf.toString('utf8');
    expect(text.startsWith('{"actor":{"id":"usr_0","type":"user"},"category":"billing","context":{')).toBe(true);
    expect(text.endsWith(',"type":"billing.invoice.paid","v":1}')).toBe(true);
    expect(decodeLeaf(leaf)).toEqual(entry());
  });

  it('links each entry to the previous leaf hash; the first to 32 zero bytes', () => {
    expect(GENESIS_PREV).toBe('AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=');
    expect(prevLink(null)).toBe(GENESIS_PREV);
    const first = encodeLeaf(entry());
    const second = encodeLeaf(entry({ index: 1, prev: prevLink(leafHash(first)) }));
    expect(decodeLeaf(second).prev).toBe(leafHash(first).toString('base64'));
  });

  it.each([
    ['v', { v: 2 }],
    ['log', { log: 'Tenant A' }],
    ['log', { log: 'x'.repeat(64) }],
    ['index', { index: -1 }],
    ['index', { index: 1.5 }],
    ['prev', { prev: 'abc' }],
    ['prev', { index: 0, prev: prevLink(Buffer.alloc(32, 7)) }],
    ['id', { id: '' }],
    ['recordedAt', { recordedAt: '2026-11-27T12:00:00Z' }],
    ['occurredAt', { occurredAt: '2026-13-45T12:00:00.000Z' }],
    ['actor', { actor: { type: 'user' } }],
    ['target', { target: { id: 'x' } }],
    ['outcome', { outcome: 'maybe' }],
    ['context', { context: [1] }],
    ['personal.digest', { personal: { subject: 'u', digest: 'short' } }],
  ])('refuses a malformed %s', (member, over) => {
    expect.assertions(2);
    try {
      encodeLeaf(entry(over));
    } catch (e) {
      expect(e).toBeInstanceOf(EntryFormatError);
      expect((e as EntryFormatError).member).toBe(member);
    }
  });

  it('measures a leaf as encodeLeaf would write it, with the same shape checks but no size limit', () => {
    for (const over of [{}, { context: { note: 'é€😀\n"', n: -0.5e-7, deep: [{ b: 1, a: [true, null] }] } }]) {
      expect(leafLength(entry(over))).toBe(encodeLeaf(entry(over)).length);
    }
    expect(leafLength(entry({ context: { big: 'x'.repeat(65_536) } }))).toBeGreaterThan(65_535);
    expect(() => leafLength(entry({ outcome: 'maybe' }))).toThrow(EntryFormatError);
    expect(() => leafLength(entry({ context: { n: NaN } }))).toThrow(CanonicalJsonError);
  });

  it('refuses values with no canonical form and leaves over 65,535 bytes', () => {
    expect(() => encodeLeaf(entry({ context: { n: NaN } }))).toThrow(CanonicalJsonError);
    expect(() => encodeLeaf(entry({ context: { big: 'x'.repeat(65_536) } }))).toThrow(LeafTooLargeError);
  });

  it('refuses to read bytes that are not exactly a canonical leaf', () => {
    const leaf = encodeLeaf(entry()).toString('utf8');
    expect(() => decodeLeaf(Buffer.from(leaf.replace('{', '{ ')))).toThrow(/canonical/);
    expect(() => decodeLeaf(Buffer.from('[1]'))).toThrow(EntryFormatError);
    expect(() => decodeLeaf(Buffer.from([0x7b, 0xff, 0x7d]))).toThrow(/UTF-8/);
    expect(() => decodeLeaf(Buffer.from(leaf.replace('"v":1', '"v":1.0')))).toThrow(EntryFormatError);
  });

  it('scans v, log, index and prev exactly where JSON.parse finds them, whatever the context holds', () => {
    const tricky = fc.dictionary(
      fc.constantFrom('prev', 'index', 'log', 'v', 'x', '"', 'a\\"b'),
      fc.oneof(fc.string(), fc.integer(), fc.constantFrom('"prev":"', '\\', '{"index":5}', '}]', '\\"')),
    );
    fc.assert(
      fc.property(fc.nat({ max: 1_000_000 }), tricky, (index, context) => {
        const prev = prevLink(Buffer.alloc(32, index % 251));
        const leaf = encodeLeaf(
          entry({ index, prev: index === 0 ? GENESIS_PREV : prev, context: { nested: context, ...context } }),
        );
        const scan = scanLeaf(leaf);
        const parsed = JSON.parse(leaf.toString('utf8'));
        expect(scan).not.toBeNull();
        expect(scan!.index).toBe(parsed.index);
        expect(scan!.version).toBe(1);
        expect(leaf.subarray(scan!.prevStart, scan!.prevEnd).toString()).toBe(parsed.prev);
        expect(leaf.subarray(scan!.logStart, scan!.logEnd).toString()).toBe(parsed.log);
      }),
      { numRuns: 300 },
    );
  });

  it('gives up on bytes it cannot follow rather than guessing', () => {
    for (const bad of ['', '{', '{"a":1', '{"a":1}x', '{"a":"x}', '{"a":{"b":1}', '["a"]', '{"a" :1}']) {
      expect(scanLeaf(Buffer.from(bad))).toBeNull();
    }
  });
});
