/**
 * tlog-tiles entry bundles (https://c2sp.org/tlog-tiles, "Log entries"): the entries of one
 * level-0 tile, each as a big-endian uint16 length followed by that many bytes, concatenated.
 */
import { MAX_LEAF_BYTES } from '../hashing';
import { TILE_WIDTH } from './tile-path';
import { EntryBundleError } from './tile.errors';

// Each entry's length prefix is a big-endian uint16.
const LENGTH_PREFIX_BYTES = 2;

/**
 * The bytes of an entry bundle holding `leaves` in order.
 * Requires 1..TILE_WIDTH leaves (a bundle is never empty: tlog-tiles forbids serving empty
 * tiles) and every leaf at most MAX_LEAF_BYTES (65535) bytes, the most a uint16 prefix can state
 * (RangeError otherwise: the log refuses such leaves on the way in, so meeting one here is a bug).
 */
export function encodeEntryBundle(leaves: readonly Uint8Array[]): Buffer {
  if (leaves.length < 1 || leaves.length > TILE_WIDTH) {
    throw new RangeError(`an entry bundle holds 1..${TILE_WIDTH} entries, got ${leaves.length}`);
  }
  let size = 0;
  leaves.forEach((leaf, i) => {
    if (leaf.length > MAX_LEAF_BYTES) {
      throw new RangeError(`entry ${i} is ${leaf.length} bytes, more than ${MAX_LEAF_BYTES}`);
    }
    size += LENGTH_PREFIX_BYTES + leaf.length;
  });
  const bundle = Buffer.allocUnsafe(size);
  let offset = 0;
  for (const leaf of leaves) {
    offset = bundle.writeUInt16BE(leaf.length, offset);
    bundle.set(leaf, offset);
    offset += leaf.length;
  }
  return bundle;
}

/**
 * The entries of an entry bundle, in order. The returned buffers are views of one private copy,
 * so later changes to `bundle` do not affect them.
 *
 * Throws EntryBundleError when the bundle is empty, ends inside a length prefix or an entry, holds
 * more than TILE_WIDTH entries, or (when `expectedCount` is given) holds a different number of
 * entries, including bytes left over after `expectedCount` entries.
 *
 * Without `expectedCount`, a bundle cut exactly at an entry boundary is indistinguishable from a
 * valid narrower bundle, and trailing bytes that happen to parse as entries (say 0x0000, an empty
 * entry) look like more entries. Pass the width from the bundle's path whenever it is known.
 *
 * Requires `expectedCount`, if given, an integer in 1..TILE_WIDTH (RangeError otherwise).
 */
export function decodeEntryBundle(bundle: Uint8Array, expectedCount?: number): Buffer[] {
  if (
    expectedCount !== undefined &&
    (!Number.isInteger(expectedCount) || expectedCount < 1 || expectedCount > TILE_WIDTH)
  ) {
    throw new RangeError(`expected entry count must be an integer in 1..${TILE_WIDTH}`);
  }
  if (bundle.length === 0) {
    throw new EntryBundleError('entry bundle is empty');
  }
  const maxCount = expectedCount ?? TILE_WIDTH;
  const data = Buffer.from(bundle);
  const entries: Buffer[] = [];
  let offset = 0;
  while (offset < data.length) {
    if (entries.length === maxCount) {
      throw new EntryBundleError(
        expectedCount === undefined
          ? `entry bundle holds more than ${TILE_WIDTH} entries`
          : `entry bundle has bytes after its ${expectedCount} expected entries`,
      );
    }
    if (data.length - offset < LENGTH_PREFIX_BYTES) {
      throw new EntryBundleError(`entry bundle ends inside the length of entry ${entries.length}`);
    }
    const length = data.readUInt16BE(offset);
    offset += LENGTH_PREFIX_BYTES;
    if (data.length - offset < length) {
      throw new EntryBundleError(`entry bundle ends inside entry ${entries.length}`);
    }
    entries.push(data.subarray(offset, offset + length));
    offset += length;
  }
  if (expectedCount !== undefined && entries.length !== expectedCount) {
    throw new EntryBundleError(`entry bundle holds ${entries.length} entries, expected ${expectedCount}`);
  }
  return entries;
}
