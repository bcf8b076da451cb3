import { HASH_SIZE, nodeHash } from '../hashing';
import { InvalidProofError, RootMismatchError } from './merkle.errors';

function assertHash(hash: Uint8Array, what: string): void {
  if (hash.length !== HASH_SIZE) throw new InvalidProofError(`${what} is ${hash.length} bytes, not ${HASH_SIZE}`);
}

function assertSize(n: number, what: string): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidProofError(`${what} must be a non-negative safe integer`);
}

function isOdd(n: number): boolean {
  return n % 2 === 1;
}

function half(n: number): number {
  return Math.floor(n / 2);
}

/**
 * The root that an inclusion proof implies, by the algorithm of RFC 9162 section 2.1.3.2.
 * Requires 0 <= index < size; throws InvalidProofError when the proof's length cannot fit.
 */
export function rootFromInclusionProof(
  index: number,
  size: number,
  leafHash: Buffer,
  proof: readonly Buffer[],
): Buffer {
  assertSize(index, 'index');
  assertSize(size, 'size');
  if (index >= size) throw new InvalidProofError(`index ${index} is outside a tree of size ${size}`);
  assertHash(leafHash, 'leaf hash');
  let fn = index;
  let sn = size - 1;
  let r: Buffer = leafHash;
  for (const p of proof) {
    assertHash(p, 'proof hash');
    if (sn === 0) throw new InvalidProofError('inclusion proof is too long');
    if (isOdd(fn) || fn === sn) {
      r = nodeHash(p, r);
      if (!isOdd(fn)) {
        while (!isOdd(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  if (sn !== 0) throw new InvalidProofError('inclusion proof is too short');
  return r;
}

/**
 * Checks that `proof` proves leaf `leafHash` at `index` in the tree of `size` leaves whose root is
 * `root`. Throws InvalidProofError for a malformed proof and RootMismatchError for a wrong one;
 * returns normally only when the proof holds.
 */
export function verifyInclusion(
  index: number,
  size: number,
  leafHash: Buffer,
  proof: readonly Buffer[],
  root: Buffer,
): void {
  assertHash(root, 'root');
  const calculated = rootFromInclusionProof(index, size, leafHash, proof);
  if (!calculated.equals(root)) throw new RootMismatchError(root, calculated);
}

/**
 * Checks that the tree of `size1` leaves with root `root1` is a prefix of the tree of `size2`
 * leaves with root `root2`, by the algorithm of RFC 9162 section 2.1.4.2. Requires
 * 0 <= size1 <= size2. An empty tree is consistent with every tree (the proof must be empty);
 * equal sizes need an empty proof and equal roots. Throws InvalidProofError or
 * RootMismatchError; returns normally only when the proof holds.
 */
export function verifyConsistency(
  size1: number,
  size2: number,
  proof: readonly Buffer[],
  root1: Buffer,
  root2: Buffer,
): void {
  assertSize(size1, 'size1');
  assertSize(size2, 'size2');
  assertHash(root1, 'root1');
  assertHash(root2, 'root2');
  if (size2 < size1) throw new InvalidProofError(`size2 ${size2} is smaller than size1 ${size1}`);
  proof.forEach((p) => assertHash(p, 'proof hash'));
  if (size1 === size2) {
    if (proof.length > 0) throw new InvalidProofError('consistency proof between equal sizes must be empty');
    if (!root1.equals(root2)) throw new RootMismatchError(root2, root1);
    return;
  }
  if (size1 === 0) {
    if (proof.length > 0) throw new InvalidProofError('consistency proof from an empty tree must be empty');
    return;
  }
  if (proof.length === 0) throw new InvalidProofError('consistency proof is empty');

  const path = isPowerOfTwo(size1) ? [root1, ...proof] : proof;
  let fn = size1 - 1;
  let sn = size2 - 1;
  while (isOdd(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  let fr = path[0];
  let sr = path[0];
  for (let i = 1; i < path.length; i++) {
    const c = path[i];
    if (sn === 0) throw new InvalidProofError('consistency proof is too long');
    if (isOdd(fn) || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      if (!isOdd(fn)) {
        while (!isOdd(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = half(fn);
    sn = half(sn);
  }
  if (sn !== 0) throw new InvalidProofError('consistency proof is too short');
  if (!fr.equals(root1)) throw new RootMismatchError(root1, fr);
  if (!sr.equals(root2)) throw new RootMismatchError(root2, sr);
}

function isPowerOfTwo(n: number): boolean {
  while (n > 1 && n % 2 === 0) n /= 2;
  return n === 1;
}
