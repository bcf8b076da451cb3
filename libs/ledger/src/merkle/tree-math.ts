import { NodeId } from './node-id';

// Indices and sizes are JavaScript numbers, exact up to 2^53. Bitwise operators would truncate
// them to 32 bits, so the arithmetic below uses division and powers of two instead.

/** Requires `n` to be a safe integer >= 0 (a RangeError otherwise). */
export function assertTreeSize(n: number, what: string): void {
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new RangeError(`${what} must be a non-negative safe integer`);
  }
}

/** The largest power of two strictly less than `n`. Requires n >= 2. */
export function largestPowerOfTwoBelow(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/**
 * The perfect subtrees whose roots, folded from the right, give the RFC 6962 hash of leaves
 * [begin, end), left to right and largest first. Requires 0 <= begin < end and `begin` a
 * multiple of the smallest power of two >= end - begin, which holds for every range the RFC 6962
 * recursion visits (a tree, its left and right children, and so on down).
 */
export function subtreeNodeIds(begin: number, end: number): NodeId[] {
  const ids: NodeId[] = [];
  let at = begin;
  let remaining = end - begin;
  let size = 1;
  let level = 0;
  while (size * 2 <= remaining) {
    size *= 2;
    level++;
  }
  while (remaining > 0) {
    if (size <= remaining) {
      ids.push({ level, index: at / size });
      at += size;
      remaining -= size;
    }
    size /= 2;
    level--;
  }
  return ids;
}

/**
 * The stored nodes that together describe a tree of `size` leaves: the roots of its maximal
 * perfect subtrees, left to right. There is one per set bit of `size`, so reading them costs
 * O(log size). Requires size >= 0.
 */
export function frontierNodeIds(size: number): NodeId[] {
  assertTreeSize(size, 'size');
  return size === 0 ? [] : subtreeNodeIds(0, size);
}
