import fc from 'fast-check';
import { decodeEntryBundle, encodeEntryBundle } from './entry-bundle';
import { EntryBundleError } from './tile.errors';

const bytes = (...values: number[]): Buffer => Buffer.from(values);

// Buffer.equals instead of toEqual: Jest compares byte arrays element by element, slowly.
function expectSameEntries(actual: Buffer[], expected: readonly Uint8Array[]): void {
  expect(actual).toHaveLength(expected.length);
  expect(actual.findIndex((entry, i) => !entry.equals(expected[i]))).toBe(-1);
}

// Mostly small random leaves, with the occasional large one near the uint16 limit (filled with one
// byte: generating 65 KB byte by byte would dominate the run time).
const leafArb = fc.oneof(
  { weight: 20, arbitrary: fc.uint8Array({ maxLength: 40 }) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.integer({ min: 65_000, max: 65_535 }), fc.integer({ min: 0, max: 255 }))
      .map(([length, fill]) => new Uint8Array(length).fill(fill)),
  },
);
const leavesArb = fc.array(leafArb, { minLength: 1, maxLength: 256 });

// Byte offsets at which each entry ends, i.e. the prefixes that are themselves valid bundles.
function entryBoundaries(leaves: readonly Uint8Array[]): Set<number> {
  const ends = new Set<number>();
  let offset = 0;
  for (const leaf of leaves) {
    offset += 2 + leaf.length;
    ends.add(offset);
  }
  return ends;
}

describe('encodeEntryBundle', () => {
  // c2sp.org/tlog-tiles "Log entries": "sequences of big-endian uint16 length-prefixed log
  // entries".
  it('writes big-endian uint16 lengths before each entry', () => {
    expect(encodeEntryBundle([bytes(0x61), bytes(), bytes(0x62, 0x63)])).toEqual(
      bytes(0x00, 0x01, 0x61, 0x00, 0x00, 0x00, 0x02, 0x62, 0x63),
    );
    const big = Buffer.alloc(0x0102, 0xee);
    const encoded = encodeEntryBundle([big]);
    expect(encoded.subarray(0, 2)).toEqual(bytes(0x01, 0x02));
    expect(encoded.subarray(2)).toEqual(big);
  });

  it('accepts a 65535-byte leaf and 256 leaves', () => {
    expect(encodeEntryBundle([Buffer.alloc(65_535)])).toHaveLength(65_537);
    expect(encodeEntryBundle(Array.from({ length: 256 }, () => bytes()))).toHaveLength(512);
  });

  it('refuses a leaf over 65535 bytes, more than 256 leaves, or none', () => {
    expect(() => encodeEntryBundle([Buffer.alloc(65_536)])).toThrow(RangeError);
    expect(() => encodeEntryBundle([bytes(1), Buffer.alloc(70_000)])).toThrow(RangeError);
    expect(() => encodeEntryBundle(Array.from({ length: 257 }, () => bytes()))).toThrow(RangeError);
    expect(() => encodeEntryBundle([])).toThrow(RangeError);
  });
});

describe('decodeEntryBundle', () => {
  it('decodes the known answer', () => {
    const bundle = bytes(0x00, 0x01, 0x61, 0x00, 0x00, 0x00, 0x02, 0x62, 0x63);
    expect(decodeEntryBundle(bundle)).toEqual([bytes(0x61), bytes(), bytes(0x62, 0x63)]);
    expect(decodeEntryBundle(bundle, 3)).toEqual([bytes(0x61), bytes(), bytes(0x62, 0x63)]);
  });

  it('round-trips encode', () => {
    fc.assert(
      fc.property(leavesArb, (leaves) => {
        const bundle = encodeEntryBundle(leaves);
        expectSameEntries(decodeEntryBundle(bundle), leaves);
        expectSameEntries(decodeEntryBundle(bundle, leaves.length), leaves);
      }),
      { numRuns: 100 },
    );
  });

  it('detects every truncation inside an entry, and every truncation given the count', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 5 }), { minLength: 1, maxLength: 6 }), (leaves) => {
        const bundle = encodeEntryBundle(leaves);
        const boundaries = entryBoundaries(leaves);
        for (let cut = 0; cut < bundle.length; cut++) {
          const prefix = bundle.subarray(0, cut);
          expect(() => decodeEntryBundle(prefix, leaves.length)).toThrow(EntryBundleError);
          if (!boundaries.has(cut)) {
            expect(() => decodeEntryBundle(prefix)).toThrow(EntryBundleError);
          }
        }
      }),
    );
  });

  it('detects trailing bytes', () => {
    fc.assert(
      fc.property(
        leavesArb.filter((l) => l.length < 256),
        fc.uint8Array({ minLength: 1, maxLength: 4 }),
        (leaves, extra) => {
          const bundle = Buffer.concat([encodeEntryBundle(leaves), extra]);
          expect(() => decodeEntryBundle(bundle, leaves.length)).toThrow(EntryBundleError);
        },
      ),
      { numRuns: 50 },
    );
    // Without a count, one stray byte is an unfinished length prefix.
    expect(() => decodeEntryBundle(bytes(0x00, 0x01, 0x61, 0x00))).toThrow(EntryBundleError);
  });

  it('refuses more than 256 entries', () => {
    const entries257 = Buffer.alloc(2 * 257); // 257 empty entries
    expect(() => decodeEntryBundle(entries257)).toThrow(EntryBundleError);
    expect(decodeEntryBundle(entries257.subarray(0, 512))).toHaveLength(256);
    expect(decodeEntryBundle(entries257.subarray(0, 512), 256)).toHaveLength(256);
  });

  it('refuses an empty bundle and a count mismatch', () => {
    expect(() => decodeEntryBundle(bytes())).toThrow(EntryBundleError);
    expect(() => decodeEntryBundle(bytes(), 1)).toThrow(EntryBundleError);
    expect(() => decodeEntryBundle(bytes(0x00, 0x00), 2)).toThrow(EntryBundleError);
    expect(() => decodeEntryBundle(bytes(0x00, 0x00, 0x00, 0x00), 1)).toThrow(EntryBundleError);
  });

  it('refuses a lying length prefix', () => {
    expect(() => decodeEntryBundle(bytes(0xff, 0xff, 0x01))).toThrow(EntryBundleError);
    expect(() => decodeEntryBundle(bytes(0x00, 0x03, 0x01, 0x02))).toThrow(EntryBundleError);
  });

  it('refuses an invalid expected count', () => {
    for (const count of [0, 257, 1.5, -1, Number.NaN]) {
      expect(() => decodeEntryBundle(bytes(0x00, 0x00), count)).toThrow(RangeError);
    }
  });

  it('reports the stable error code', () => {
    expect.assertions(1);
    try {
      decodeEntryBundle(bytes(0x00));
    } catch (error) {
      expect((error as EntryBundleError).code).toBe('malformed_entry_bundle');
    }
  });

  it('returns entries that do not alias the input', () => {
    const bundle = encodeEntryBundle([bytes(1, 2, 3)]);
    const [entry] = decodeEntryBundle(bundle);
    bundle.fill(0);
    expect(entry).toEqual(bytes(1, 2, 3));
  });
});
