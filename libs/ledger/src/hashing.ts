import { hash } from 'node:crypto';

/** Size in bytes of every hash in the ledger (SHA-256). */
export const HASH_SIZE = 32;

/** The largest leaf the log accepts: an entry bundle prefixes each leaf with a uint16 length. */
export const MAX_LEAF_BYTES = 0xffff;

/** Root of the empty tree: SHA-256 of the empty string (RFC 6962 section 2.1). */
export const EMPTY_ROOT: Buffer = sha256(new Uint8Array(0));

// Scratch buffers reused across calls: one allocation per process instead of one per hash.
// Node runs JavaScript on one thread, and nothing below yields, so they are never shared.
const leafScratch = Buffer.alloc(1 + MAX_LEAF_BYTES);
// Views of leafScratch by length, made once each: a view per hash was an allocation per leaf.
// Leaves of a log have few distinct lengths, and there are at most 1 + MAX_LEAF_BYTES of them.
const leafViews: (Buffer | undefined)[] = new Array<Buffer | undefined>(2 + MAX_LEAF_BYTES).fill(undefined);
const nodeScratch = Buffer.alloc(1 + 2 * HASH_SIZE);
nodeScratch[0] = 0x01;

/** SHA-256 of `data`. */
export function sha256(data: Uint8Array): Buffer {
  return hash('sha256', data, 'buffer');
}

/**
 * RFC 6962 leaf hash: SHA-256(0x00 ‖ leaf).
 * Requires `leaf.length <= MAX_LEAF_BYTES` (a RangeError otherwise).
 */
export function leafHash(leaf: Uint8Array): Buffer {
  if (leaf.length > MAX_LEAF_BYTES) {
    throw new RangeError(`leaf is ${leaf.length} bytes, more than ${MAX_LEAF_BYTES}`);
  }
  leafScratch[0] = 0x00;
  leafScratch.set(leaf, 1);
  const n = 1 + leaf.length;
  return sha256(leafViews[n] ?? (leafViews[n] = leafScratch.subarray(0, n)));
}

/**
 * RFC 6962 interior node hash: SHA-256(0x01 ‖ left ‖ right).
 * Requires both inputs to be HASH_SIZE bytes long.
 */
export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  if (left.length !== HASH_SIZE || right.length !== HASH_SIZE) {
    throw new RangeError(`node hash inputs must be ${HASH_SIZE} bytes each`);
  }
  nodeScratch.set(left, 1);
  nodeScratch.set(right, 1 + HASH_SIZE);
  return sha256(nodeScratch);
}
