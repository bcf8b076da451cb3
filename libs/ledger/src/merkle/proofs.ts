import { NodeId } from './node-id';
import { foldFrontier } from './tree-builder';
import { assertTreeSize, largestPowerOfTwoBelow, subtreeNodeIds } from './tree-math';

/**
 * The leaves [begin, end) of one RFC 6962 subtree. A proof is a list of such subtree hashes;
 * each is computed from the stored nodes `subtreeNodeIds(begin, end)` names.
 */
export interface LeafRange {
  readonly begin: number;
  readonly end: number;
}

/** Returns the stored hash of a node. The caller has read at least the nodes a plan names. */
export type NodeHashLookup = (node: NodeId) => Buffer;

/**
 * The subtrees whose hashes form the RFC 6962 inclusion proof (PATH) of leaf `index` in a tree
 * of `size` leaves, in proof order (from the leaf upward). Requires 0 <= index < size.
 */
export function inclusionProofRanges(index: number, size: number): LeafRange[] {
  assertTreeSize(index, 'index');
  assertTreeSize(size, 'size');
  if (index >= size) throw new RangeError(`index ${index} is outside a tree of size ${size}`);
  const topDown: LeafRange[] = [];
  let begin = 0;
  let end = size;
  while (end - begin > 1) {
    const k = largestPowerOfTwoBelow(end - begin);
    if (index < begin + k) {
      topDown.push({ begin: begin + k, end });
      end = begin + k;
    } else {
      topDown.push({ begin, end: begin + k });
      begin += k;
    }
  }
  return topDown.reverse();
}

/**
 * The subtrees whose hashes form the RFC 6962 consistency proof (PROOF) between trees of `from`
 * and `size` leaves, in proof order. Empty when from is 0 or equals size.
 * Requires 0 <= from <= size.
 */
export function consistencyProofRanges(from: number, size: number): LeafRange[] {
  assertTreeSize(from, 'from');
  assertTreeSize(size, 'size');
  if (from > size) throw new RangeError(`from ${from} is larger than size ${size}`);
  if (from === 0 || from === size) return [];
  const topDown: LeafRange[] = [];
  let begin = 0;
  let end = size;
  let m = from;
  // `whole` is SUBPROOF's flag: true while the old tree is still a prefix of this subtree's
  // left edge, so its root is already known to the verifier and need not be sent.
  let whole = true;
  while (m !== end - begin) {
    const k = largestPowerOfTwoBelow(end - begin);
    if (m <= k) {
      topDown.push({ begin: begin + k, end });
      end = begin + k;
    } else {
      topDown.push({ begin, end: begin + k });
      begin += k;
      m -= k;
      whole = false;
    }
  }
  if (!whole) topDown.push({ begin, end });
  return topDown.reverse();
}

/**
 * Every stored node needed to compute the hashes of `ranges`, without duplicates. Requires each
 * range to be one that `inclusionProofRanges`, `consistencyProofRanges` or a whole tree
 * `{begin: 0, end: size}` gives.
 */
export function nodeIdsForRanges(ranges: readonly LeafRange[]): NodeId[] {
  const seen = new Set<string>();
  const ids: NodeId[] = [];
  for (const range of ranges) {
    for (const id of subtreeNodeIds(range.begin, range.end)) {
      const key = `${id.level}/${id.index}`;
      if (!seen.has(key)) {
        seen.add(key);
        ids.push(id);
      }
    }
  }
  return ids;
}

/**
 * The RFC 6962 hash of each range, from stored nodes. Requires `lookup` to answer every node
 * `nodeIdsForRanges(ranges)` names.
 */
export function hashRanges(ranges: readonly LeafRange[], lookup: NodeHashLookup): Buffer[] {
  return ranges.map((r) =>
    r.begin === r.end ? foldFrontier([]) : foldFrontier(subtreeNodeIds(r.begin, r.end).map(lookup)),
  );
}
