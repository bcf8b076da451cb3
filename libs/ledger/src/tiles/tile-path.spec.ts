import fc from 'fast-check';
import {
  FULL_TILE_BYTES,
  MAX_TILE_LEVEL,
  TILE_WIDTH,
  TileCoord,
  assembleTile,
  entryBundleLeafRange,
  entryBundleServableForSize,
  entryBundlesForTreeSize,
  formatEntryBundlePath,
  formatTilePath,
  parseTilePath,
  splitTile,
  tileLevelSize,
  tileNodeIds,
  tileServableForSize,
  tilesForTreeSize,
} from './tile-path';
import { TileDataError, TilePathError } from './tile.errors';

const MAX_SAFE = Number.MAX_SAFE_INTEGER; // 9007199254740991

const key = (t: TileCoord): string => `${t.level}/${t.index}/${t.width}`;

const tileArb = fc.record({
  level: fc.integer({ min: 0, max: MAX_TILE_LEVEL }),
  index: fc.oneof(fc.nat({ max: 2_000_000 }), fc.maxSafeNat()),
  width: fc.integer({ min: 1, max: TILE_WIDTH }),
});

describe('tile paths: known answers', () => {
  // c2sp.org/tlog-tiles, "Merkle Tree": "index 1234067 will be encoded as x001/x234/067".
  it('encodes the spec example index 1234067', () => {
    expect(formatTilePath({ level: 0, index: 1234067, width: 256 })).toBe('tile/0/x001/x234/067');
    expect(formatEntryBundlePath(1234067, 256)).toBe('tile/entries/x001/x234/067');
    expect(parseTilePath('tile/0/x001/x234/067')).toEqual({
      kind: 'hash',
      tile: { level: 0, index: 1234067, width: 256 },
    });
  });

  // golang.org/x/mod/sumdb/tlog tile_test.go `tilePaths`, with Go's tile-height path element
  // dropped (Go writes tile/<H>/<L>/<N>; tlog-tiles fixes H = 8 and leaves it out), and Go's
  // Path doc comment: "123456789 encodes as x123/x456/789".
  it.each<[string, TileCoord]>([
    ['tile/0/001', { level: 0, index: 1, width: 256 }],
    ['tile/0/001.p/5', { level: 0, index: 1, width: 5 }],
    ['tile/5/x123/x456/078', { level: 5, index: 123456078, width: 256 }],
    ['tile/5/x123/x456/078.p/2', { level: 5, index: 123456078, width: 2 }],
    ['tile/0/x003/x057/500', { level: 0, index: 3057500, width: 256 }],
    ['tile/3/x123/x456/789', { level: 3, index: 123456789, width: 256 }],
  ])('%s (from Go sumdb/tlog)', (path, tile) => {
    expect(formatTilePath(tile)).toBe(path);
    expect(parseTilePath(path)).toEqual({ kind: 'hash', tile });
  });

  it.each<[string, TileCoord]>([
    ['tile/0/000', { level: 0, index: 0, width: 256 }],
    ['tile/0/005.p/1', { level: 0, index: 5, width: 1 }],
    ['tile/63/999.p/255', { level: 63, index: 999, width: 255 }],
    ['tile/1/x001/000', { level: 1, index: 1000, width: 256 }],
    ['tile/2/x001/x000/000', { level: 2, index: 1_000_000, width: 256 }],
    ['tile/0/x009/x007/x199/x254/x740/991', { level: 0, index: MAX_SAFE, width: 256 }],
  ])('%s', (path, tile) => {
    expect(formatTilePath(tile)).toBe(path);
    expect(parseTilePath(path)).toEqual({ kind: 'hash', tile });
  });

  it.each<[string, number, number]>([
    ['tile/entries/000.p/1', 0, 1],
    ['tile/entries/x001/x234/067.p/255', 1234067, 255],
    ['tile/entries/x009/x007/x199/x254/x740/991.p/255', MAX_SAFE, 255],
  ])('%s', (path, index, width) => {
    expect(formatEntryBundlePath(index, width)).toBe(path);
    expect(parseTilePath(path)).toEqual({ kind: 'entries', index, width });
  });
});

describe('tile paths: rejection', () => {
  it.each([
    // Go sumdb/tlog tile_test.go invalid examples, height element dropped.
    'tile/5/123/456/078', // groups before the last lack their x
    'tile/-1/123/456/078',
    'tile/data/x003/x057/500', // Go's data tiles are not part of tlog-tiles
    // framing
    '',
    'tile',
    'tile/',
    'tile/0',
    'tile/0/',
    '/tile/0/000',
    'tile/0/000/',
    'tile//000',
    'tiles/0/000',
    'Tile/0/000',
    'tile/0/000?x=1',
    ' tile/0/000',
    'tile/0/000\n',
    // level
    'tile/00/000',
    'tile/01/000',
    'tile/64/000',
    'tile/100/000',
    'tile/+1/000',
    'tile/1.0/000',
    'tile/Entries/000',
    'tile/entry/000',
    // index
    'tile/0/0',
    'tile/0/00',
    'tile/0/0000',
    'tile/0/1',
    'tile/0/x000/001', // leading zero group
    'tile/0/x000/x001/000',
    'tile/0/001/002', // missing x
    'tile/0/x001/x002/03',
    'tile/0/x001', // x on the last group
    'tile/0/x001/x002',
    'tile/0/X001/000',
    'tile/0/xx01/000',
    'tile/0/x01/000',
    'tile/0/-01',
    'tile/0/ 01',
    'tile/0/\u0661\u0662\u0663', // Arabic-Indic digits
    'tile/0/x009/x007/x199/x254/x740/992', // 2^53, not a safe integer
    'tile/0/x999/x999/x999/x999/x999/x999/999',
    // width
    'tile/0/001.p/0',
    'tile/0/001.p/256',
    'tile/0/001.p/05',
    'tile/0/001.p/005',
    'tile/0/001.p/',
    'tile/0/001.p',
    'tile/0/001.p/5/',
    'tile/0/001.p/+5',
    'tile/0/001.p/5.0',
    'tile/0/001.P/5',
    'tile/0/001p/5',
    'tile/0/001.q/5',
    'tile/0/001.p/1e2',
    'tile/entries/000.p/256',
    'tile/entries/000.p/0',
    // length guard
    `tile/0/${'x000/'.repeat(20)}001`,
  ])('refuses %j', (path) => {
    expect(() => parseTilePath(path)).toThrow(TilePathError);
  });

  it('reports the stable error code', () => {
    expect.assertions(1);
    try {
      parseTilePath('tile/0/1');
    } catch (error) {
      expect((error as TilePathError).code).toBe('malformed_tile_path');
    }
  });
});

describe('tile paths: properties', () => {
  it('format then parse returns the tile', () => {
    fc.assert(
      fc.property(tileArb, (tile) => {
        expect(parseTilePath(formatTilePath(tile))).toEqual({ kind: 'hash', tile });
      }),
    );
  });

  it('format then parse returns the entry bundle', () => {
    fc.assert(
      fc.property(tileArb, ({ index, width }) => {
        expect(parseTilePath(formatEntryBundlePath(index, width))).toEqual({
          kind: 'entries',
          index,
          width,
        });
      }),
    );
  });

  it('formats distinct tiles to distinct paths', () => {
    fc.assert(
      fc.property(tileArb, tileArb, (a, b) => {
        fc.pre(key(a) !== key(b));
        expect(formatTilePath(a)).not.toBe(formatTilePath(b));
      }),
    );
  });

  // Canonicality: near-miss edits of valid paths are either refused or are themselves the
  // canonical path of what they parse to. A parser that normalised would fail this.
  it('accepts only canonical spellings', () => {
    const alphabet = fc.constantFrom(...'0123456789x/.pX-+ '.split(''));
    const validPath = fc.oneof(
      tileArb.map(formatTilePath),
      tileArb.map(({ index, width }) => formatEntryBundlePath(index, width)),
    );
    const edited = fc
      .tuple(validPath, fc.nat(), fc.constantFrom('insert', 'delete', 'replace'), alphabet)
      .map(([path, at, op, ch]) => {
        const i = at % (path.length + 1);
        if (op === 'insert') return path.slice(0, i) + ch + path.slice(i);
        if (op === 'delete') return path.slice(0, i) + path.slice(i + 1);
        return path.slice(0, i) + ch + path.slice(i + 1);
      });
    fc.assert(
      fc.property(fc.oneof(edited, fc.string()), (path) => {
        let parsed;
        try {
          parsed = parseTilePath(path);
        } catch (error) {
          expect(error).toBeInstanceOf(TilePathError);
          return;
        }
        const again =
          parsed.kind === 'hash' ? formatTilePath(parsed.tile) : formatEntryBundlePath(parsed.index, parsed.width);
        expect(again).toBe(path);
      }),
      { numRuns: 2000 },
    );
  });

  it('refuses invalid coordinates when formatting', () => {
    for (const tile of [
      { level: -1, index: 0, width: 1 },
      { level: 64, index: 0, width: 1 },
      { level: 0.5, index: 0, width: 1 },
      { level: 0, index: -1, width: 1 },
      { level: 0, index: 1.5, width: 1 },
      { level: 0, index: MAX_SAFE + 1, width: 1 },
      { level: 0, index: Number.NaN, width: 1 },
      { level: 0, index: 0, width: 0 },
      { level: 0, index: 0, width: 257 },
      { level: 0, index: 0, width: 2.5 },
    ]) {
      expect(() => formatTilePath(tile)).toThrow(RangeError);
    }
    expect(() => formatEntryBundlePath(0, 0)).toThrow(RangeError);
    expect(() => formatEntryBundlePath(-1, 1)).toThrow(RangeError);
  });
});

describe('tilesForTreeSize', () => {
  const full = (level: number, count: number): TileCoord[] =>
    Array.from({ length: count }, (_, index) => ({ level, index, width: 256 }));

  it.each<[number, TileCoord[]]>([
    [0, []],
    [1, [{ level: 0, index: 0, width: 1 }]],
    [255, [{ level: 0, index: 0, width: 255 }]],
    // tlog-tiles: "a tree of size 256 will be represented by a full level 0 tile and a partial
    // level 1 tile of width 1".
    [256, [...full(0, 1), { level: 1, index: 0, width: 1 }]],
    [257, [...full(0, 1), { level: 0, index: 1, width: 1 }, { level: 1, index: 0, width: 1 }]],
    [511, [...full(0, 1), { level: 0, index: 1, width: 255 }, { level: 1, index: 0, width: 1 }]],
    [512, [...full(0, 2), { level: 1, index: 0, width: 2 }]],
    [65535, [...full(0, 255), { level: 0, index: 255, width: 255 }, { level: 1, index: 0, width: 255 }]],
    [65536, [...full(0, 256), ...full(1, 1), { level: 2, index: 0, width: 1 }]],
    [65537, [...full(0, 256), { level: 0, index: 256, width: 1 }, ...full(1, 1), { level: 2, index: 0, width: 1 }]],
  ])('size %d', (size, expected) => {
    expect(tilesForTreeSize(size)).toEqual(expected);
  });

  // tlog-tiles "Partial Tiles": "a tree of size 70,000 will be represented by 273 full level 0
  // tiles, one partial level 0 tile of width 112, one full level 1 tile, one partial level 1 tile
  // of width 17, and one partial level 2 tile of width 1".
  it('matches the spec example for 70,000', () => {
    expect(tilesForTreeSize(70_000)).toEqual([
      ...full(0, 273),
      { level: 0, index: 273, width: 112 },
      ...full(1, 1),
      { level: 1, index: 1, width: 17 },
      { level: 2, index: 0, width: 1 },
    ]);
  });

  it('entry bundles follow level 0', () => {
    expect(entryBundlesForTreeSize(0)).toEqual([]);
    expect(entryBundlesForTreeSize(1)).toEqual([{ index: 0, width: 1 }]);
    expect(entryBundlesForTreeSize(256)).toEqual([{ index: 0, width: 256 }]);
    expect(entryBundlesForTreeSize(70_000)).toHaveLength(274);
    fc.assert(
      fc.property(fc.nat({ max: 200_000 }), (size) => {
        const level0 = tilesForTreeSize(size)
          .filter((t) => t.level === 0)
          .map(({ index, width }) => ({ index, width }));
        expect(entryBundlesForTreeSize(size)).toEqual(level0);
      }),
      { numRuns: 50 },
    );
  });

  it('covers exactly floor(size / 256^L) hashes at every level', () => {
    fc.assert(
      fc.property(fc.nat({ max: 3_000_000 }), (size) => {
        const tiles = tilesForTreeSize(size);
        for (let level = 0; level <= 3; level++) {
          const atLevel = tiles.filter((t) => t.level === level);
          const covered = atLevel.reduce((sum, t) => sum + t.width, 0);
          expect(covered).toBe(Math.floor(size / 256 ** level));
          expect(atLevel.filter((t) => t.width !== 256).length).toBeLessThanOrEqual(1);
          expect(atLevel.every((t, i) => t.index === i)).toBe(true);
        }
      }),
      { numRuns: 30 },
    );
  });

  it('refuses sizes that are not safe non-negative integers', () => {
    for (const size of [-1, 0.5, MAX_SAFE + 1, Number.NaN, Infinity]) {
      expect(() => tilesForTreeSize(size)).toThrow(RangeError);
      expect(() => entryBundlesForTreeSize(size)).toThrow(RangeError);
    }
  });
});

describe('tileLevelSize', () => {
  it('is exact at the top of the safe range', () => {
    // (2^53 - 1) / 2^48 = 31.99...; level 7 is 2^56, past every safe tree.
    expect(tileLevelSize(MAX_SAFE, 0)).toBe(MAX_SAFE);
    expect(tileLevelSize(MAX_SAFE, 1)).toBe(35184372088831);
    expect(tileLevelSize(MAX_SAFE, 6)).toBe(31);
    expect(tileLevelSize(MAX_SAFE, 7)).toBe(0);
    expect(tileLevelSize(MAX_SAFE, 63)).toBe(0);
    expect(tileLevelSize(2 ** 48, 6)).toBe(1);
    expect(tileLevelSize(2 ** 48 - 1, 6)).toBe(0);
  });

  it('agrees with BigInt arithmetic', () => {
    fc.assert(
      fc.property(fc.maxSafeNat(), fc.integer({ min: 0, max: MAX_TILE_LEVEL }), (size, level) => {
        const expected = BigInt(size) / 256n ** BigInt(level);
        expect(tileLevelSize(size, level)).toBe(Number(expected));
      }),
    );
  });

  it('refuses bad arguments', () => {
    expect(() => tileLevelSize(-1, 0)).toThrow(RangeError);
    expect(() => tileLevelSize(1, 64)).toThrow(RangeError);
    expect(() => tileLevelSize(1, -1)).toThrow(RangeError);
  });
});

describe('tileServableForSize', () => {
  it('serves full tiles once complete and partial tiles up to the current width', () => {
    const t = (level: number, index: number, width: number) => ({ level, index, width });
    expect(tileServableForSize(t(0, 0, 1), 0)).toBe(false); // empty tree: nothing
    expect(tileServableForSize(t(0, 0, 1), 1)).toBe(true);
    expect(tileServableForSize(t(0, 0, 2), 1)).toBe(false);
    expect(tileServableForSize(t(0, 0, 256), 255)).toBe(false);
    expect(tileServableForSize(t(0, 0, 256), 256)).toBe(true);
    expect(tileServableForSize(t(0, 0, 10), 256)).toBe(true); // an older checkpoint's width
    expect(tileServableForSize(t(0, 1, 1), 256)).toBe(false);
    expect(tileServableForSize(t(1, 0, 1), 255)).toBe(false);
    expect(tileServableForSize(t(1, 0, 1), 256)).toBe(true);
    expect(tileServableForSize(t(1, 0, 2), 511)).toBe(false);
    expect(tileServableForSize(t(1, 0, 2), 512)).toBe(true);
    expect(tileServableForSize(t(2, 0, 1), 65535)).toBe(false);
    expect(tileServableForSize(t(2, 0, 1), 65536)).toBe(true);
    expect(tileServableForSize(t(7, 0, 1), MAX_SAFE)).toBe(false);
    expect(tileServableForSize(t(6, 0, 31), MAX_SAFE)).toBe(true);
    expect(tileServableForSize(t(6, 0, 32), MAX_SAFE)).toBe(false);
    expect(tileServableForSize(t(0, MAX_SAFE, 256), MAX_SAFE)).toBe(false);
    expect(tileServableForSize(t(0, Math.floor(MAX_SAFE / 256) - 1, 256), MAX_SAFE)).toBe(true);
  });

  // The rule in one sentence: a tile is served iff some tree size up to the current one is
  // represented by it. Checked exhaustively against tilesForTreeSize for small trees.
  it('serves exactly the tiles of every tree size up to the current one', () => {
    const seen = new Set<string>();
    const candidates: { tile: TileCoord; key: string }[] = [];
    // Up to size 640, level-0 tiles 0 and 1 become full and tile 2 grows to width 128, level-1
    // tile 0 reaches width 2, and level 2 never starts: every kind of transition is covered.
    for (const [level, maxIndex] of [
      [0, 2],
      [1, 0],
      [2, 0],
    ]) {
      for (let index = 0; index <= maxIndex; index++) {
        for (let width = 1; width <= 256; width++) {
          const tile = { level, index, width };
          candidates.push({ tile, key: key(tile) });
        }
      }
    }
    for (let size = 0; size <= 640; size++) {
      for (const tile of tilesForTreeSize(size)) seen.add(key(tile));
      for (const { tile, key: k } of candidates) {
        if (tileServableForSize(tile, size) !== seen.has(k)) {
          throw new Error(`size ${size}, tile ${k}: servable disagrees with history`);
        }
      }
    }
    expect(seen.size).toBe(640 + 2); // one level-0 width per size, plus level-1 widths 1 and 2
  });

  it('agrees with the tiles of the smallest tree that needs the tile, at any scale', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 6 }),
        fc.nat({ max: 1000 }),
        fc.integer({ min: 1, max: 256 }),
        fc.maxSafeNat(),
        (level, index, width, size) => {
          const tile = { level, index, width };
          const needs = (index * 256 + width) * 256 ** level; // smallest size containing it
          expect(tileServableForSize(tile, size)).toBe(needs <= size);
        },
      ),
    );
  });

  it('applies the same rule to entry bundles', () => {
    expect(entryBundleServableForSize(0, 1, 0)).toBe(false);
    expect(entryBundleServableForSize(0, 1, 1)).toBe(true);
    expect(entryBundleServableForSize(0, 256, 255)).toBe(false);
    expect(entryBundleServableForSize(0, 256, 256)).toBe(true);
    expect(entryBundleServableForSize(1, 5, 260)).toBe(false);
    expect(entryBundleServableForSize(1, 5, 261)).toBe(true);
    expect(entryBundleServableForSize(1, 4, 1000)).toBe(true);
  });

  it('refuses invalid tiles and sizes', () => {
    expect(() => tileServableForSize({ level: 0, index: 0, width: 0 }, 10)).toThrow(RangeError);
    expect(() => tileServableForSize({ level: 0, index: 0, width: 1 }, -1)).toThrow(RangeError);
    expect(() => entryBundleServableForSize(0, 257, 1000)).toThrow(RangeError);
  });
});

describe('tile contents', () => {
  it('lists the nodes at tree level 8L in order', () => {
    expect(tileNodeIds({ level: 0, index: 0, width: 2 })).toEqual([
      { level: 0, index: 0 },
      { level: 0, index: 1 },
    ]);
    expect(tileNodeIds({ level: 1, index: 2, width: 3 })).toEqual([
      { level: 8, index: 512 },
      { level: 8, index: 513 },
      { level: 8, index: 514 },
    ]);
    const full = tileNodeIds({ level: 2, index: 1, width: 256 });
    expect(full).toHaveLength(256);
    expect(full[0]).toEqual({ level: 16, index: 256 });
    expect(full[255]).toEqual({ level: 16, index: 511 });
  });

  it('covers the same leaves as the spec formula MTH(D[(n*256+i)*256^l : (n*256+i+1)*256^l])', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 4 }),
        fc.nat({ max: 10_000 }),
        fc.integer({ min: 1, max: 256 }),
        (level, index, width) => {
          const nodes = tileNodeIds({ level, index, width });
          expect(nodes).toHaveLength(width);
          const mismatch = nodes.findIndex(
            (node, i) =>
              2 ** node.level !== 256 ** level || node.index * 2 ** node.level !== (index * 256 + i) * 256 ** level,
          );
          expect(mismatch).toBe(-1);
        },
      ),
    );
  });

  it('refuses tiles whose nodes would pass 2^53', () => {
    expect(() => tileNodeIds({ level: 0, index: MAX_SAFE, width: 1 })).toThrow(RangeError);
    // Leaf 2^53-1 would need a tree of 2^53 leaves, which is not a safe size: the last usable
    // node index is 2^53-2, in tile floor((2^53-1)/256) = 2^45-1 at width 255.
    const last = Math.floor(MAX_SAFE / 256);
    expect(tileNodeIds({ level: 0, index: last, width: 255 }).at(-1)).toEqual({
      level: 0,
      index: MAX_SAFE - 1,
    });
    expect(() => tileNodeIds({ level: 0, index: last, width: 256 })).toThrow(RangeError);
  });

  it('gives the leaf range of an entry bundle', () => {
    expect(entryBundleLeafRange(0, 1)).toEqual({ start: 0, end: 1 });
    expect(entryBundleLeafRange(3, 256)).toEqual({ start: 768, end: 1024 });
    expect(() => entryBundleLeafRange(0, 0)).toThrow(RangeError);
    expect(() => entryBundleLeafRange(MAX_SAFE, 1)).toThrow(RangeError);
  });
});

describe('assembleTile and splitTile', () => {
  const hashOf = (n: number): Buffer => Buffer.alloc(32, n);

  it('concatenates the hashes', () => {
    const tile = assembleTile([hashOf(1), hashOf(2), hashOf(3)], 3);
    expect(tile).toEqual(Buffer.concat([hashOf(1), hashOf(2), hashOf(3)]));
    expect(
      assembleTile(
        Array.from({ length: 256 }, (_, i) => hashOf(i)),
        256,
      ),
    ).toHaveLength(FULL_TILE_BYTES);
  });

  it('refuses a wrong count, width or hash size', () => {
    expect(() => assembleTile([], 0)).toThrow(RangeError);
    expect(() => assembleTile([hashOf(1)], 2)).toThrow(RangeError);
    expect(() => assembleTile([hashOf(1), hashOf(2)], 1)).toThrow(RangeError);
    expect(() => assembleTile([Buffer.alloc(31)], 1)).toThrow(RangeError);
    expect(() => assembleTile([hashOf(1), Buffer.alloc(33)], 2)).toThrow(RangeError);
    const tooMany = Array.from({ length: 257 }, (_, i) => hashOf(i));
    expect(() => assembleTile(tooMany, 257)).toThrow(RangeError);
  });

  it('round-trips through splitTile', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 32, maxLength: 32 }), { minLength: 1, maxLength: 256 }),
        (hashes) => {
          const split = splitTile(assembleTile(hashes, hashes.length), hashes.length);
          expect(split.map((h) => Buffer.from(h))).toEqual(hashes.map((h) => Buffer.from(h)));
        },
      ),
      { numRuns: 50 },
    );
  });

  it('splitTile refuses malformed tile data', () => {
    for (const data of [Buffer.alloc(0), Buffer.alloc(31), Buffer.alloc(33), Buffer.alloc(FULL_TILE_BYTES + 32)]) {
      expect(() => splitTile(data)).toThrow(TileDataError);
    }
    expect(() => splitTile(Buffer.alloc(64), 3)).toThrow(TileDataError);
    expect(() => splitTile(Buffer.alloc(64), 0)).toThrow(RangeError);
    expect(splitTile(Buffer.alloc(FULL_TILE_BYTES))).toHaveLength(256);
  });

  it('splitTile output does not alias its input', () => {
    const data = Buffer.alloc(64, 7);
    const [first] = splitTile(data);
    data.fill(0);
    expect(first).toEqual(Buffer.alloc(32, 7));
  });
});
