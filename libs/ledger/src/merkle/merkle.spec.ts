import fc from 'fast-check';
import { EMPTY_ROOT, leafHash, nodeHash } from '../hashing';
import {
  CONSISTENCY_PROOFS_HEX,
  INCLUSION_PROOFS_HEX,
  LEAF_INPUTS_HEX,
  NODE_HASHES_HEX,
  ROOT_HASHES_HEX,
} from '../../testdata/rfc6962';
import {
  InvalidProofError,
  RootMismatchError,
  StoredNode,
  TreeBuilder,
  consistencyProofRanges,
  frontierNodeIds,
  hashRanges,
  inclusionProofRanges,
  nodeIdsForRanges,
  verifyConsistency,
  verifyInclusion,
} from './index';

const hex = (s: string) => Buffer.from(s, 'hex');

// The RFC 6962 definitions, written as recursively as the RFC states them, to check the
// iterative, stored-node implementation against.
function mth(leaves: Buffer[]): Buffer {
  if (leaves.length === 0) return EMPTY_ROOT;
  if (leaves.length === 1) return leaves[0];
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return nodeHash(mth(leaves.slice(0, k)), mth(leaves.slice(k)));
}

function path(m: number, leaves: Buffer[]): Buffer[] {
  if (leaves.length <= 1) return [];
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return m < k
    ? [...path(m, leaves.slice(0, k)), mth(leaves.slice(k))]
    : [...path(m - k, leaves.slice(k)), mth(leaves.slice(0, k))];
}

function subproof(m: number, leaves: Buffer[], whole: boolean): Buffer[] {
  const n = leaves.length;
  if (m === n) return whole ? [] : [mth(leaves)];
  let k = 1;
  while (k * 2 < n) k *= 2;
  return m <= k
    ? [...subproof(m, leaves.slice(0, k), whole), mth(leaves.slice(k))]
    : [...subproof(m - k, leaves.slice(k), false), mth(leaves.slice(0, k))];
}

function consistency(m: number, leaves: Buffer[]): Buffer[] {
  return m === 0 || m === leaves.length ? [] : subproof(m, leaves, true);
}

/** A tree built through TreeBuilder, keeping every stored node in memory. */
function buildTree(leafHashes: Buffer[]): { builder: TreeBuilder; nodes: Map<string, Buffer> } {
  const builder = TreeBuilder.empty();
  const nodes = new Map<string, Buffer>();
  const completed: StoredNode[] = [];
  for (const h of leafHashes) builder.append(h, completed);
  for (const n of completed) nodes.set(`${n.level}/${n.index}`, n.hash);
  return { builder, nodes };
}

function lookupIn(nodes: Map<string, Buffer>) {
  return ({ level, index }: { level: number; index: number }) => {
    const h = nodes.get(`${level}/${index}`);
    if (!h) throw new Error(`node ${level}/${index} was never stored`);
    return h;
  };
}

function proofFromStore(nodes: Map<string, Buffer>, ranges: ReturnType<typeof inclusionProofRanges>): Buffer[] {
  // Only the nodes the plan names are handed over, as storage would answer them.
  const wanted = new Map<string, Buffer>();
  for (const id of nodeIdsForRanges(ranges)) wanted.set(`${id.level}/${id.index}`, lookupIn(nodes)(id));
  return hashRanges(ranges, lookupIn(wanted));
}

const syntheticLeaves = (n: number) => Array.from({ length: n }, (_, i) => leafHash(Buffer.from(`leaf ${i}`)));

const flipBit = (b: Buffer, bit: number) => {
  const copy = Buffer.from(b);
  copy[bit >> 3] ^= 1 << (bit & 7);
  return copy;
};

describe('RFC 6962 known answers (transparency-dev/merkle testonly and proof/verify_test.go)', () => {
  const leaves = LEAF_INPUTS_HEX.map((h) => leafHash(hex(h)));

  it('hashes the leaves and every complete subtree as the reference does', () => {
    const { nodes } = buildTree(leaves);
    NODE_HASHES_HEX.forEach((level, l) =>
      level.forEach((h, i) => expect(nodes.get(`${l}/${i}`)?.toString('hex')).toBe(h)),
    );
  });

  it('gives the reference root for every size from 0 to 8', () => {
    const builder = TreeBuilder.empty();
    expect(builder.root().toString('hex')).toBe(ROOT_HASHES_HEX[0]);
    leaves.forEach((h, i) => {
      builder.append(h);
      expect(builder.root().toString('hex')).toBe(ROOT_HASHES_HEX[i + 1]);
    });
  });

  it('produces and verifies the reference inclusion proofs', () => {
    const { nodes } = buildTree(leaves);
    for (const v of INCLUSION_PROOFS_HEX) {
      const proof = proofFromStore(nodes, inclusionProofRanges(v.index, v.size));
      expect(proof.map((p) => p.toString('hex'))).toEqual(v.proof);
      expect(() =>
        verifyInclusion(v.index, v.size, leaves[v.index], proof, hex(ROOT_HASHES_HEX[v.size])),
      ).not.toThrow();
    }
  });

  it('produces and verifies the reference consistency proofs', () => {
    const { nodes } = buildTree(leaves);
    for (const v of CONSISTENCY_PROOFS_HEX) {
      const proof = proofFromStore(nodes, consistencyProofRanges(v.size1, v.size2));
      expect(proof.map((p) => p.toString('hex'))).toEqual(v.proof);
      const root1 = hex(ROOT_HASHES_HEX[v.size1]);
      const root2 = hex(ROOT_HASHES_HEX[v.size2]);
      expect(() => verifyConsistency(v.size1, v.size2, proof, root1, root2)).not.toThrow();
    }
  });

  it('rejects the reference corruptions of the inclusion proofs', () => {
    for (const v of INCLUSION_PROOFS_HEX) {
      const proof = v.proof.map(hex);
      const root = hex(ROOT_HASHES_HEX[v.size]);
      const leaf = leaves[v.index];
      const bad: [number, number, Buffer, Buffer[], Buffer][] = [
        [v.index + 1, v.size, leaf, proof, root],
        [v.index ^ 2, v.size, leaf, proof, root],
        [v.index, v.size * 2, leaf, proof, root],
        [v.index, Math.floor(v.size / 2), leaf, proof, root],
        [v.index, v.size, Buffer.from('WrongLeaf'), proof, root],
        [v.index, v.size, leaf, proof, EMPTY_ROOT],
        [v.index, v.size, leaf, [...proof, root], root],
        [v.index, v.size, leaf, [root, ...proof], root],
        [v.index, v.size, leaf, proof.slice(0, -1), root],
      ];
      if (v.index > 0) bad.push([v.index - 1, v.size, leaf, proof, root]);
      for (const [index, size, l, p, r] of bad) {
        expect(() => verifyInclusion(index, size, l, p, r)).toThrow(/./);
      }
    }
  });

  it('answers the reference edge cases of consistency', () => {
    const a = Buffer.alloc(32, 1);
    const b = Buffer.alloc(32, 2);
    expect(() => verifyConsistency(0, 0, [], a, a)).not.toThrow();
    expect(() => verifyConsistency(0, 1, [], a, b)).not.toThrow();
    expect(() => verifyConsistency(1, 1, [], b, b)).not.toThrow();
    expect(() => verifyConsistency(0, 0, [], a, b)).toThrow(RootMismatchError);
    expect(() => verifyConsistency(1, 0, [], a, b)).toThrow(InvalidProofError);
    expect(() => verifyConsistency(1, 2, [], a, b)).toThrow(InvalidProofError);
    expect(() => verifyConsistency(0, 1, [EMPTY_ROOT], EMPTY_ROOT, EMPTY_ROOT)).toThrow(InvalidProofError);
    expect(() => verifyConsistency(1, 1, [EMPTY_ROOT], EMPTY_ROOT, EMPTY_ROOT)).toThrow(InvalidProofError);
  });
});

describe('properties over random trees', () => {
  // One tree of 3,000 leaves serves every prefix size, as a log does.
  const all = syntheticLeaves(3000);
  const { nodes } = buildTree(all);
  const prefixRoots = new Map<number, Buffer>();
  const rootOf = (size: number) => {
    let r = prefixRoots.get(size);
    if (!r) {
      r = mth(all.slice(0, size));
      prefixRoots.set(size, r);
    }
    return r;
  };

  it('computes the root of every size, from the builder and from the stored frontier, as MTH does', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 3000 }), (size) => {
        const expected = rootOf(size);
        const built = TreeBuilder.empty();
        for (let i = 0; i < size; i++) built.append(all[i]);
        expect(built.root().equals(expected)).toBe(true);
        const frontier = frontierNodeIds(size).map(lookupIn(nodes));
        expect(TreeBuilder.resume(size, frontier).root().equals(expected)).toBe(true);
        expect(hashRanges([{ begin: 0, end: size }], lookupIn(nodes))[0].equals(expected)).toBe(true);
      }),
      { numRuns: 60 },
    );
  });

  it('resumes from a stored frontier and then stores the same nodes as an uninterrupted build', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2000 }), fc.integer({ min: 1, max: 1000 }), (size, more) => {
        const resumed = TreeBuilder.resume(size, frontierNodeIds(size).map(lookupIn(nodes)));
        const completed: StoredNode[] = [];
        for (let i = size; i < size + more; i++) resumed.append(all[i], completed);
        for (const n of completed) expect(n.hash.equals(lookupIn(nodes)(n))).toBe(true);
        expect(resumed.root().equals(rootOf(size + more))).toBe(true);
        // Its frontier is the stored nodes' frontier at the new size, and resumes the same tree.
        const frontier = resumed.frontierHashes();
        expect(frontier).toEqual(frontierNodeIds(size + more).map(lookupIn(nodes)));
        expect(
          TreeBuilder.resume(size + more, frontier)
            .root()
            .equals(rootOf(size + more)),
        ).toBe(true);
      }),
      { numRuns: 40 },
    );
  });

  it('stores at most two hashes per leaf and computes one node hash per completed node', () => {
    // Amortised cost of an append: the leaf hash plus one node hash per node it completes.
    const completed: StoredNode[] = [];
    const builder = TreeBuilder.empty();
    for (const h of all) builder.append(h, completed);
    expect(completed.length).toBeLessThan(2 * all.length);
    expect(completed.filter((n) => n.level === 0)).toHaveLength(all.length);
  });

  it('builds inclusion proofs equal to PATH that verify, and fail under any single-bit change', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3000 }).chain((size) => fc.tuple(fc.constant(size), fc.nat(size - 1), fc.nat())),
        ([size, index, seed]) => {
          const proof = proofFromStore(nodes, inclusionProofRanges(index, size));
          const leaves = all.slice(0, size);
          expect(proof).toEqual(path(index, leaves));
          const root = rootOf(size);
          verifyInclusion(index, size, all[index], proof, root);
          // A flipped bit in the proof, the leaf or the root must fail.
          const targets = [...proof, all[index], root];
          const t = seed % targets.length;
          const flipped = flipBit(targets[t], seed % 256);
          const p = proof.map((h, i) => (i === t ? flipped : h));
          const leaf = t === proof.length ? flipped : all[index];
          const r = t === proof.length + 1 ? flipped : root;
          expect(() => verifyInclusion(index, size, leaf, p, r)).toThrow(RootMismatchError);
          // A size with a single bit flipped must fail whenever its proof would have another
          // shape. (Sizes whose paths have the same shape compute the same root: the size is
          // bound to the root by the signed checkpoint, not by the proof.)
          const otherSize = size ^ (1 << (seed % 12));
          if (otherSize > index && inclusionProofRanges(index, otherSize).length !== proof.length) {
            expect(() => verifyInclusion(index, otherSize, all[index], proof, root)).toThrow();
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('builds consistency proofs equal to PROOF that verify, and fail under any single-bit change', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3000 }).chain((size) => fc.tuple(fc.nat(size), fc.constant(size), fc.nat())),
        ([from, size, seed]) => {
          const proof = proofFromStore(nodes, consistencyProofRanges(from, size));
          expect(proof).toEqual(consistency(from, all.slice(0, size)));
          const root1 = rootOf(from);
          const root2 = rootOf(size);
          verifyConsistency(from, size, proof, root1, root2);
          if (from === 0) return; // every tree is consistent with the empty one
          const targets = [...proof, root1, root2];
          const t = seed % targets.length;
          const flipped = flipBit(targets[t], seed % 256);
          const p = proof.map((h, i) => (i === t ? flipped : h));
          const r1 = t === proof.length ? flipped : root1;
          const r2 = t === proof.length + 1 ? flipped : root2;
          expect(() => verifyConsistency(from, size, p, r1, r2)).toThrow();
          if (from < size) {
            const otherSize = size ^ (1 << (seed % 12));
            if (otherSize > from && consistencyProofRanges(from, otherSize).length !== proof.length) {
              expect(() => verifyConsistency(from, otherSize, proof, root1, root2)).toThrow();
            }
            expect(() => verifyConsistency(from, size, proof.slice(1), root1, root2)).toThrow();
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('refuses arguments outside the tree', () => {
    expect(() => inclusionProofRanges(5, 5)).toThrow(RangeError);
    expect(() => consistencyProofRanges(6, 5)).toThrow(RangeError);
    expect(() => verifyInclusion(5, 5, all[0], [], all[0])).toThrow(InvalidProofError);
    expect(() => TreeBuilder.resume(3, [all[0]])).toThrow(RangeError);
  });
});
