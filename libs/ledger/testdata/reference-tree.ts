import { nodeHash } from '../src/hashing';

// RFC 6962 section 2.1, written from the RFC's recursive definitions (MTH, PATH, SUBPROOF):
// slow and independent of src/merkle, to check it and to make proofs in tests.

function largestPowerOfTwoBelow(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** MTH(D[n]) of leaf hashes (n >= 1). */
export function referenceRoot(hashes: readonly Buffer[]): Buffer {
  if (hashes.length === 1) return hashes[0];
  const k = largestPowerOfTwoBelow(hashes.length);
  return nodeHash(referenceRoot(hashes.slice(0, k)), referenceRoot(hashes.slice(k)));
}

/** PATH(m, D[n]): the inclusion proof of leaf m. */
export function referenceInclusionProof(m: number, hashes: readonly Buffer[]): Buffer[] {
  if (hashes.length === 1) return [];
  const k = largestPowerOfTwoBelow(hashes.length);
  return m < k
    ? [...referenceInclusionProof(m, hashes.slice(0, k)), referenceRoot(hashes.slice(k))]
    : [...referenceInclusionProof(m - k, hashes.slice(k)), referenceRoot(hashes.slice(0, k))];
}

function subproof(m: number, hashes: readonly Buffer[], complete: boolean): Buffer[] {
  const n = hashes.length;
  if (m === n) return complete ? [] : [referenceRoot(hashes)];
  const k = largestPowerOfTwoBelow(n);
  return m <= k
    ? [...subproof(m, hashes.slice(0, k), complete), referenceRoot(hashes.slice(k))]
    : [...subproof(m - k, hashes.slice(k), false), referenceRoot(hashes.slice(0, k))];
}

/** PROOF(m, D[n]): the consistency proof from size m (0 < m <= n) to n. */
export function referenceConsistencyProof(m: number, hashes: readonly Buffer[]): Buffer[] {
  return subproof(m, hashes, true);
}
