import fc from 'fast-check';
import { sampleEntry } from '../testdata/sample-log';
import { CanonicalJsonError, JsonValue, canonicalJson } from './canonical-json';
import {
  EntryFormatError,
  GENESIS_PREV,
  LeafTooLargeError,
  LeafMembers,
  LeafPosition,
  LeafTemplate,
  LedgerEntry,
  decodeLeaf,
  encodeLeaf,
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

/** `entry` split into what an event brings and the position the sequencer gives it. */
function split(e: LedgerEntry, ownTime = true): { members: LeafMembers; position: LeafPosition } {
  const { v: _v, index, prev, id, recordedAt, occurredAt, ...rest } = e;
  return { members: { ...rest, ...(ownTime ? { occurredAt } : {}) }, position: { index, prev, id, recordedAt } };
}

describe('leaf templates', () => {
  const uuid = fc.uuid({ version: 7 });
  const time = fc
    .date({ min: new Date('0001-01-01T00:00:00.000Z'), max: new Date('9999-12-31T23:59:59.999Z'), noInvalidDate: true })
    .map((d) => d.toISOString());
  const text = fc.string({ unit: 'binary', minLength: 1, maxLength: 12 }).filter((x) => x.isWellFormed());
  // A ref may carry members beyond type and id (the format keeps them).
  const ref = fc
    .tuple(fc.record({ type: text, id: text }), fc.dictionary(text, fc.oneof(text, fc.integer()), { maxKeys: 2 }))
    .map(([r, extra]) => ({ ...extra, ...r }));
  const json = fc.jsonValue({ maxDepth: 3 }).filter((v) => {
    try {
      return canonicalJson(v) !== '';
    } catch {
      return false; // integers beyond 2^53 have no canonical form
    }
  }) as fc.Arbitrary<JsonValue>;
  const members = fc.record(
    {
      log: fc.stringMatching(/^[a-z0-9][a-z0-9_-]{0,62}$/),
      source: text,
      type: text,
      category: text,
      actor: ref,
      target: ref,
      outcome: fc.constantFrom('success', 'failure', 'unknown'),
      occurredAt: time,
      context: fc.dictionary(
        fc.string({ unit: 'binary', maxLength: 6 }).filter((x) => x.isWellFormed()),
        json,
      ),
      personal: fc.record({
        subject: text,
        digest: fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('base64')),
      }),
    },
    { requiredKeys: ['log', 'source', 'type', 'category', 'actor', 'outcome'] },
  ) as fc.Arbitrary<LeafMembers>;
  const position: fc.Arbitrary<LeafPosition> = fc
    .record({ index: fc.nat(), prev: fc.uint8Array({ minLength: 32, maxLength: 32 }), id: uuid, recordedAt: time })
    .map((p) => ({ ...p, prev: p.index === 0 ? GENESIS_PREV : Buffer.from(p.prev).toString('base64') }));

  it('fills in exactly the leaf encodeLeaf writes for the whole entry, whatever the members hold', () => {
    fc.assert(
      fc.property(members, position, (m, p) => {
        const whole = { v: 1, ...m, ...p, occurredAt: m.occurredAt ?? p.recordedAt } as LedgerEntry;
        const expected = encodeLeaf(whole);
        const template = LeafTemplate.of(m);
        const leaf = template.leafAt(p);
        expect(leaf.equals(expected)).toBe(true);
        expect(template.byteLengthAt(p)).toBe(expected.length);
        // A leaf a verifier accepts: decodeLeaf canonicalises what it parsed and compares the bytes.
        expect(decodeLeaf(leaf).index).toBe(p.index);
      }),
      { numRuns: 500 },
    );
  });

  it('checks the members and the position as encodeLeaf checks the entry', () => {
    const { members: m, position: p } = split(entry());
    expect(() => LeafTemplate.of({ ...m, outcome: 'maybe' as never })).toThrow(EntryFormatError);
    expect(() => LeafTemplate.of({ ...m, occurredAt: '2026-13-45T12:00:00.000Z' })).toThrow(/occurredAt/);
    expect(() => LeafTemplate.of({ ...m, log: 'Tenant A' })).toThrow(/log/);
    const refusal = (over: Partial<LeafMembers>) => {
      try {
        LeafTemplate.of({ ...m, ...over });
      } catch (e) {
        return e instanceof CanonicalJsonError ? e.path : e;
      }
      return null;
    };
    // The place a value without a canonical form sits, named as in the whole entry.
    expect(refusal({ context: { n: NaN } })).toBe('$.context.n');
    expect(refusal({ context: { a: [1, { big: 2 ** 60 }] } })).toBe('$.context.a[1].big');
    expect(refusal({ source: 'a\ud800' })).toBe('$.source');
    expect(refusal({ actor: { type: 'user', id: 'x\udc00' } })).toBe('$.actor.id');
    const template = LeafTemplate.of(m);
    expect(() => template.leafAt({ ...p, index: 0, prev: prevLink(Buffer.alloc(32, 7)) })).toThrow(/prev/);
    expect(() => template.leafAt({ ...p, index: -1 })).toThrow(/index/);
    expect(() => template.leafAt({ ...p, id: '' })).toThrow(/id/);
    expect(() => template.leafAt({ ...p, id: 'a\ud800' })).toThrow(/id/);
    expect(() => template.leafAt({ ...p, recordedAt: '2026-11-27T12:00:00Z' })).toThrow(/recordedAt/);
  });

  it('takes the recorded time as occurredAt when the event has none, and measures without the size limit', () => {
    const { members: m, position: p } = split(entry(), false);
    expect(JSON.parse(LeafTemplate.of(m).leafAt(p).toString()).occurredAt).toBe(p.recordedAt);
    const big = LeafTemplate.of({ ...m, context: { big: 'x'.repeat(65_536) } });
    expect(big.byteLengthAt(p)).toBeGreaterThan(65_535);
    expect(() => big.leafAt(p)).toThrow(LeafTooLargeError);
  });
});
