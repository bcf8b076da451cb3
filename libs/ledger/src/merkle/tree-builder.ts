import { EMPTY_ROOT, HASH_SIZE, nodeHash } from '../hashing';
import { StoredNode } from './node-id';
import { assertTreeSize, frontierNodeIds } from './tree-math';

/**
 * Appends leaf hashes to an RFC 6962 tree kept as its frontier (the roots of its maximal
 * perfect subtrees), so an append never reads or rehashes the tree. Appending leaf n costs one
 * node hash per trailing one bit of n (one on average) and yields exactly the nodes that become
 * complete, which are the ones worth storing: with them any tree size can later be served.
 */
export class TreeBuilder {
  private constructor(
    private treeSize: number,
    // Frontier hashes, left (largest subtree) to right.
    private readonly frontier: Buffer[],
  ) {}

  /** A builder for the empty tree. */
  static empty(): TreeBuilder {
    return new TreeBuilder(0, []);
  }

  /**
   * A builder that continues a tree of `size` leaves. Requires `hashes` to be the stored hashes
   * of `frontierNodeIds(size)`, in that order (the caller reads them from storage).
   */
  static resume(size: number, hashes: readonly Buffer[]): TreeBuilder {
    assertTreeSize(size, 'size');
    const expected = frontierNodeIds(size).length;
    if (hashes.length !== expected || hashes.some((h) => h.length !== HASH_SIZE)) {
      throw new RangeError(`a tree of size ${size} needs ${expected} frontier hashes of ${HASH_SIZE} bytes`);
    }
    return new TreeBuilder(size, [...hashes]);
  }

  /** Number of leaves appended so far. */
  get size(): number {
    return this.treeSize;
  }

  /**
   * Appends one leaf hash. When `completed` is given, every node that this append completes is
   * pushed onto it, the leaf itself (level 0) first. Requires a HASH_SIZE-byte leaf hash.
   */
  append(leafHash: Buffer, completed?: StoredNode[]): void {
    if (leafHash.length !== HASH_SIZE) throw new RangeError(`leaf hash must be ${HASH_SIZE} bytes`);
    let index = this.treeSize;
    let hash = leafHash;
    let level = 0;
    completed?.push({ level, index, hash });
    while (index % 2 === 1) {
      hash = nodeHash(this.frontier.pop() as Buffer, hash);
      index = (index - 1) / 2;
      level++;
      completed?.push({ level, index, hash });
    }
    this.frontier.push(hash);
    this.treeSize++;
  }

  /** The RFC 6962 root hash of the tree so far (EMPTY_ROOT when empty). */
  root(): Buffer {
    return foldFrontier(this.frontier);
  }

  /**
   * The frontier hashes, left to right, as `frontierNodeIds(size)` names them: what `resume`
   * takes to continue this tree. A copy of the list; the hashes themselves are shared.
   */
  frontierHashes(): Buffer[] {
    return [...this.frontier];
  }
}

/**
 * Folds perfect-subtree hashes, given left to right, into the RFC 6962 hash of their union.
 * Requires the subtrees to be the decomposition `subtreeNodeIds` gives; an empty list is the
 * empty tree.
 */
export function foldFrontier(hashes: readonly Buffer[]): Buffer {
  if (hashes.length === 0) return EMPTY_ROOT;
  let hash = hashes[hashes.length - 1];
  for (let i = hashes.length - 2; i >= 0; i--) hash = nodeHash(hashes[i], hash);
  return hash;
}
