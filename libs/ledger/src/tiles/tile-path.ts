/**
 * Coordinates, paths and contents of C2SP tlog-tiles hash tiles and entry bundles
 * (https://c2sp.org/tlog-tiles). Pure arithmetic: no I/O, clock or randomness.
 *
 * Numbers are JavaScript numbers. Tree sizes, leaf indices and node indices must be safe integers
 * (below 2^53), which bounds every tile this log can ever have far below what the path syntax
 * allows (level 6 is the highest level with any hash for a tree of fewer than 2^53 leaves).
 */
import { HASH_SIZE } from '../hashing';
import type { NodeId } from '../merkle/node-id';
import { TileDataError, TilePathError } from './tile.errors';

/** Tree levels spanned by one tile. Fixed at 8 by tlog-tiles, unlike Go's sumdb where it varies. */
export const TILE_HEIGHT = 8;

/** Hashes in a full tile, and entries in a full entry bundle: 2^TILE_HEIGHT. */
export const TILE_WIDTH = 256;

/** Highest tile level a path may name: tlog-tiles limits `<L>` to 0..63. */
export const MAX_TILE_LEVEL = 63;

/** Size in bytes of a full hash tile (tlog-tiles: "exactly 256 hashes wide, or 8,192 bytes"). */
export const FULL_TILE_BYTES = TILE_WIDTH * HASH_SIZE;

/**
 * A hash tile: the `width` consecutive hashes of tree level `TILE_HEIGHT * level` starting at
 * node index `index * TILE_WIDTH`. `width` is TILE_WIDTH for a full tile and 1..255 for a partial
 * one. A valid coordinate has `level` an integer in 0..MAX_TILE_LEVEL, `index` a non-negative safe
 * integer and `width` an integer in 1..TILE_WIDTH.
 */
export interface TileCoord {
  readonly level: number;
  readonly index: number;
  readonly width: number;
}

/**
 * An entry bundle: the `width` consecutive log entries starting at leaf `index * TILE_WIDTH`.
 * Same ranges as TileCoord's `index` and `width`.
 */
export interface EntryBundleCoord {
  readonly index: number;
  readonly width: number;
}

/** What a canonical tile path names: a hash tile, or an entry bundle. */
export type ParsedTilePath =
  { readonly kind: 'hash'; readonly tile: TileCoord } | ({ readonly kind: 'entries' } & EntryBundleCoord);

// Three decimal digits per path element keep every directory of a file-backed tile store under
// ~3000 entries (tlog-tiles "<N>"; Go's sumdb/tlog pathBase).
const PATH_GROUP = 1000;

// The longest canonical path is 'tile/entries/x009/x007/x199/x254/x740/991.p/255' (47 chars).
// Anything much longer is refused before the regular expression sees it, so a hostile URL costs
// nothing.
const MAX_PATH_LENGTH = 64;

// Shape only; value ranges and canonical spelling are checked after matching. Explicit [0-9]
// rather than \d keeps the grammar exactly ASCII as the spec requires.
const TILE_PATH_RE = /^tile\/(entries|0|[1-9][0-9]?)\/((?:x[0-9]{3}\/)*)([0-9]{3})(?:\.p\/([1-9][0-9]{0,2}))?$/;

/**
 * The canonical path of a hash tile, relative to the log prefix: `tile/<L>/<N>` for a full tile,
 * `tile/<L>/<N>.p/<W>` for a partial one (e.g. level 0, index 1234067, width 5 gives
 * `tile/0/x001/x234/067.p/5`).
 * Requires a valid TileCoord (RangeError otherwise).
 */
export function formatTilePath(tile: TileCoord): string {
  assertTileCoord(tile);
  return `tile/${tile.level}/${formatPathIndex(tile.index)}${formatWidthSuffix(tile.width)}`;
}

/**
 * The canonical path of an entry bundle, relative to the log prefix: `tile/entries/<N>` or
 * `tile/entries/<N>.p/<W>`.
 * Requires `index` a non-negative safe integer and `width` an integer in 1..TILE_WIDTH
 * (RangeError otherwise).
 */
export function formatEntryBundlePath(index: number, width: number): string {
  assertIndexAndWidth(index, width);
  return `tile/entries/${formatPathIndex(index)}${formatWidthSuffix(width)}`;
}

/**
 * Parses a path relative to the log prefix (starting with `tile/`, no leading slash, no query).
 * Accepts exactly the paths formatTilePath and formatEntryBundlePath produce: every other
 * spelling of the same tile (leading zeroes, a missing or extra `x`, `.p/256`, `.p/0`, ...) is
 * refused, so `format(parse(p)) === p` for every accepted `p`.
 * Throws TilePathError when the path is not canonical, and also when the index is beyond 2^53-1:
 * such a path is valid tlog-tiles syntax but names a tile no log of safe-integer size can have.
 * Existence is not checked here: see tileServableForSize and entryBundleServableForSize.
 */
export function parseTilePath(path: string): ParsedTilePath {
  if (path.length > MAX_PATH_LENGTH) {
    throw new TilePathError('tile path is too long');
  }
  const match = TILE_PATH_RE.exec(path);
  if (match === null) {
    throw new TilePathError('not a tile path of the form tile/<L>/<N>[.p/<W>]');
  }
  const [, levelText, xGroups, lastGroup, widthText] = match;

  let index = 0;
  for (const group of [...xGroups.split('/').filter((g) => g !== ''), lastGroup]) {
    index = index * PATH_GROUP + Number(group.replace('x', ''));
    if (!Number.isSafeInteger(index)) {
      throw new TilePathError('tile index is beyond 2^53-1');
    }
  }
  // The shape admits 'x000/001' and the like; only the spelling format produces is canonical.
  if (formatPathIndex(index) !== xGroups + lastGroup) {
    throw new TilePathError('tile index has leading zero groups');
  }

  let width = TILE_WIDTH;
  if (widthText !== undefined) {
    width = Number(widthText);
    if (width >= TILE_WIDTH) {
      throw new TilePathError(`partial tile width must be 1..${TILE_WIDTH - 1}`);
    }
  }

  if (levelText === 'entries') {
    return { kind: 'entries', index, width };
  }
  const level = Number(levelText);
  if (level > MAX_TILE_LEVEL) {
    throw new TilePathError(`tile level must be 0..${MAX_TILE_LEVEL}`);
  }
  return { kind: 'hash', tile: { level, index, width } };
}

/**
 * The number of complete hashes at tile level `level` of a tree of `treeSize` leaves:
 * floor(treeSize / 256^level). Level 0 counts leaves; level L counts subtrees of 256^L leaves,
 * i.e. the nodes at tree level 8*L.
 * Requires `treeSize` a non-negative safe integer and `level` an integer in 0..MAX_TILE_LEVEL
 * (RangeError otherwise).
 */
export function tileLevelSize(treeSize: number, level: number): number {
  assertTreeSize(treeSize);
  assertLevel(level);
  // Division by a power of two is exact in binary floating point, so floor() is exact for every
  // safe treeSize even where 256^level is far beyond 2^53.
  return Math.floor(treeSize / TILE_WIDTH ** level);
}

/**
 * Whether a log whose current tree has `treeSize` leaves serves this hash tile.
 *
 * Rule: served iff `index * 256 + width <= tileLevelSize(treeSize, level)`, that is iff every
 * hash in the tile is the root of a complete subtree of the current tree. Equivalently, iff some
 * tree size up to `treeSize` is represented by this tile (full tiles of all smaller trees stay
 * full; a partial tile of width W belongs to the tree sizes whose level size ends at W).
 *
 * Why: tlog-tiles ("Partial Tiles") says logs MUST serve the partial tiles of every tree size
 * that had a checkpoint and MAY (not must) delete a partial tile once the full tile exists, while
 * clients holding an older checkpoint ask for the narrower partial tile it requires. Every hash
 * in such a tile is immutable, so serving any width up to the current one is always correct and
 * covers every checkpoint without having to remember which sizes were checkpointed. Tiles the
 * current tree does not complete are refused, which also refuses empty tiles ("Empty tiles MUST
 * NOT be served"). Pruning (a minimum index) is not applied here.
 *
 * Requires a valid TileCoord and `treeSize` a non-negative safe integer (RangeError otherwise).
 */
export function tileServableForSize(tile: TileCoord, treeSize: number): boolean {
  assertTileCoord(tile);
  // For indices near 2^53 the sum may round, but only upwards past any safe level size, so the
  // comparison still answers false exactly when it should.
  return tile.index * TILE_WIDTH + tile.width <= tileLevelSize(treeSize, tile.level);
}

/**
 * Whether a log whose current tree has `treeSize` leaves serves this entry bundle. Same rule as
 * tileServableForSize at level 0: served iff `index * 256 + width <= treeSize`.
 * Requires `index` a non-negative safe integer, `width` an integer in 1..TILE_WIDTH and `treeSize`
 * a non-negative safe integer (RangeError otherwise).
 */
export function entryBundleServableForSize(index: number, width: number, treeSize: number): boolean {
  return tileServableForSize({ level: 0, index, width }, treeSize);
}

/**
 * Every hash tile that represents a tree of `treeSize` leaves, per tlog-tiles "Partial Tiles":
 * at each level L with S_L = tileLevelSize(treeSize, L) > 0, the full tiles 0..floor(S_L/256)-1,
 * then one partial tile of width S_L mod 256 if that is non-zero. Ordered by level, then index.
 * For example a tree of 256 leaves has one full level-0 tile and a level-1 tile of width 1.
 * Requires `treeSize` a non-negative safe integer (RangeError otherwise). Returns about
 * treeSize/255 coordinates, so it is meant for tests and small trees.
 */
export function tilesForTreeSize(treeSize: number): TileCoord[] {
  assertTreeSize(treeSize);
  const tiles: TileCoord[] = [];
  for (let level = 0; level <= MAX_TILE_LEVEL; level++) {
    const levelSize = tileLevelSize(treeSize, level);
    if (levelSize === 0) break;
    for (const { index, width } of levelCoords(levelSize)) {
      tiles.push({ level, index, width });
    }
  }
  return tiles;
}

/**
 * Every entry bundle that represents a tree of `treeSize` leaves: the level-0 rule of
 * tilesForTreeSize applied to leaves. Ordered by index.
 * Requires `treeSize` a non-negative safe integer (RangeError otherwise). Returns about
 * treeSize/256 coordinates, so it is meant for tests and small trees.
 */
export function entryBundlesForTreeSize(treeSize: number): EntryBundleCoord[] {
  assertTreeSize(treeSize);
  return levelCoords(treeSize);
}

/**
 * The nodes whose hashes make up a hash tile, in tile order: `{ level: 8 * tile.level, index }`
 * for index from `tile.index * 256` to `tile.index * 256 + tile.width - 1`.
 * Requires a valid TileCoord with `tile.index * 256 + tile.width` a safe integer, as it is for
 * any tile of a tree of safe size (RangeError otherwise). Whether those nodes exist yet is the
 * caller's question: see tileServableForSize.
 */
export function tileNodeIds(tile: TileCoord): NodeId[] {
  assertTileCoord(tile);
  const { start, end } = nodeRange(tile.index, tile.width);
  const level = TILE_HEIGHT * tile.level;
  const nodes: NodeId[] = [];
  for (let index = start; index < end; index++) {
    nodes.push({ level, index });
  }
  return nodes;
}

/**
 * The leaves an entry bundle holds: indices `start` (inclusive) to `end` (exclusive), that is
 * `index * 256` to `index * 256 + width`.
 * Requires `index` a non-negative safe integer and `width` an integer in 1..TILE_WIDTH with
 * `end` a safe integer (RangeError otherwise).
 */
export function entryBundleLeafRange(index: number, width: number): { start: number; end: number } {
  assertIndexAndWidth(index, width);
  return nodeRange(index, width);
}

/**
 * The bytes of a hash tile: the hashes concatenated in order, HASH_SIZE bytes each.
 * `width` restates how many hashes the tile needs (tileNodeIds(tile).length), so a store that
 * returned too few or too many is caught here instead of producing a tile of the wrong size.
 * Requires `width` an integer in 1..TILE_WIDTH, `hashes.length === width` and every hash exactly
 * HASH_SIZE bytes (RangeError otherwise: these are bugs, never client input).
 */
export function assembleTile(hashes: readonly Uint8Array[], width: number): Buffer {
  assertWidth(width);
  if (hashes.length !== width) {
    throw new RangeError(`tile of width ${width} needs ${width} hashes, got ${hashes.length}`);
  }
  const tile = Buffer.allocUnsafe(width * HASH_SIZE);
  hashes.forEach((hash, i) => {
    if (hash.length !== HASH_SIZE) {
      throw new RangeError(`hash ${i} is ${hash.length} bytes, not ${HASH_SIZE}`);
    }
    tile.set(hash, i * HASH_SIZE);
  });
  return tile;
}

/**
 * Splits hash tile bytes (for example fetched from another server) into its hashes.
 * The returned buffers are views of one private copy, so later changes to `data` do not affect
 * them. Throws TileDataError when `data` is empty, not a whole number of hashes, more than
 * TILE_WIDTH hashes, or (when given) not `expectedWidth` hashes.
 * Requires `expectedWidth`, if given, an integer in 1..TILE_WIDTH (RangeError otherwise).
 */
export function splitTile(data: Uint8Array, expectedWidth?: number): Buffer[] {
  if (expectedWidth !== undefined) assertWidth(expectedWidth);
  if (data.length === 0 || data.length % HASH_SIZE !== 0) {
    throw new TileDataError(`tile is ${data.length} bytes, not a positive multiple of ${HASH_SIZE}`);
  }
  const width = data.length / HASH_SIZE;
  if (width > TILE_WIDTH) {
    throw new TileDataError(`tile holds ${width} hashes, more than ${TILE_WIDTH}`);
  }
  if (expectedWidth !== undefined && width !== expectedWidth) {
    throw new TileDataError(`tile holds ${width} hashes, expected ${expectedWidth}`);
  }
  const copy = Buffer.from(data);
  const hashes: Buffer[] = [];
  for (let offset = 0; offset < copy.length; offset += HASH_SIZE) {
    hashes.push(copy.subarray(offset, offset + HASH_SIZE));
  }
  return hashes;
}

function levelCoords(levelSize: number): EntryBundleCoord[] {
  const coords: EntryBundleCoord[] = [];
  const fullTiles = Math.floor(levelSize / TILE_WIDTH);
  for (let index = 0; index < fullTiles; index++) {
    coords.push({ index, width: TILE_WIDTH });
  }
  const partialWidth = levelSize % TILE_WIDTH;
  if (partialWidth !== 0) {
    coords.push({ index: fullTiles, width: partialWidth });
  }
  return coords;
}

function nodeRange(index: number, width: number): { start: number; end: number } {
  const start = index * TILE_WIDTH;
  const end = start + width;
  if (!Number.isSafeInteger(end)) {
    // `end` is the level size a tree needs to hold the last node, so it must be a safe size.
    throw new RangeError('tile reaches beyond node index 2^53-2');
  }
  return { start, end };
}

function formatPathIndex(index: number): string {
  let text = pad3(index % PATH_GROUP);
  for (let rest = Math.floor(index / PATH_GROUP); rest > 0; rest = Math.floor(rest / PATH_GROUP)) {
    text = `x${pad3(rest % PATH_GROUP)}/${text}`;
  }
  return text;
}

function pad3(group: number): string {
  return String(group).padStart(3, '0');
}

function formatWidthSuffix(width: number): string {
  return width === TILE_WIDTH ? '' : `.p/${width}`;
}

function assertTileCoord(tile: TileCoord): void {
  assertLevel(tile.level);
  assertIndexAndWidth(tile.index, tile.width);
}

function assertLevel(level: number): void {
  if (!Number.isInteger(level) || level < 0 || level > MAX_TILE_LEVEL) {
    throw new RangeError(`tile level must be an integer in 0..${MAX_TILE_LEVEL}`);
  }
}

function assertIndexAndWidth(index: number, width: number): void {
  if (!Number.isSafeInteger(index) || index < 0) {
    throw new RangeError('tile index must be a non-negative safe integer');
  }
  assertWidth(width);
}

function assertWidth(width: number): void {
  if (!Number.isInteger(width) || width < 1 || width > TILE_WIDTH) {
    throw new RangeError(`tile width must be an integer in 1..${TILE_WIDTH}`);
  }
}

function assertTreeSize(treeSize: number): void {
  if (!Number.isSafeInteger(treeSize) || treeSize < 0) {
    throw new RangeError('tree size must be a non-negative safe integer');
  }
}
