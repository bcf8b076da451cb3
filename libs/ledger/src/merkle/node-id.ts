/**
 * Names one node of the RFC 6962 tree that the log stores: the root of the perfect subtree of
 * 2^level leaves whose first leaf is `index * 2^level`. Level 0 nodes are leaf hashes.
 * Every node of a perfect subtree is immutable once its last leaf exists, which is what lets a
 * tree of any size be served from stored hashes without loading the tree.
 */
export interface NodeId {
  readonly level: number;
  readonly index: number;
}

/** A stored node together with its hash. */
export interface StoredNode extends NodeId {
  readonly hash: Buffer;
}
