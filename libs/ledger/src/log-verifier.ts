import { GENESIS_PREV, LEAF_FORMAT_VERSION } from './entry';
import { EMPTY_ROOT, HASH_SIZE, MAX_LEAF_BYTES, leafHash } from './hashing';
import { ScannedLeaf, scanLeaf } from './leaf-scanner';
import { StoredNode } from './merkle/node-id';
import { TreeBuilder } from './merkle/tree-builder';
import { Checkpoint, NoteVerifier, openCheckpoint } from './note';
import { LedgerError } from './ledger.errors';

/** What a full verification found wrong. `index` is the leaf concerned, or null for the log as a whole. */
export interface LogProblem {
  readonly index: number | null;
  readonly code:
    | 'malformed_leaf'
    | 'leaf_too_large'
    | 'wrong_version'
    | 'wrong_log'
    | 'wrong_index'
    | 'broken_chain'
    | 'leaf_hash_mismatch'
    | 'tree_node_mismatch'
    | 'root_mismatch'
    | 'bad_checkpoint'
    | 'log_behind_checkpoint';
  readonly message: string;
}

/** The outcome of a full verification. `ok` is true exactly when `problems` is empty. */
export interface LogVerificationReport {
  readonly ok: boolean;
  readonly log: string;
  /** Leaves read. */
  readonly size: number;
  /** Leaves whose index, log, chain link and hash were checked (all read leaves). */
  readonly checked: number;
  /** RFC 6962 root of the leaves read. */
  readonly root: Buffer;
  /** Sizes of the checkpoints whose root was recomputed and matched. */
  readonly checkpointsVerified: number[];
  readonly firstBadIndex?: number;
  readonly problems: LogProblem[];
}

/** What a verification checks the leaves against. */
export interface LogVerifierOptions {
  /** The log name every leaf must carry. */
  readonly log: string;
  /** The checkpoint origin of this log (`<prefix>/<log>`). */
  readonly origin: string;
  /** The key that signs this log's checkpoints. */
  readonly verifier: NoteVerifier;
  /**
   * Signed checkpoint notes to check, in any order: each must carry a good signature and the
   * origin, and its root must equal the root recomputed from the leaves at its size. Roots that
   * all match the same leaves are consistent with each other, so this also proves every pair of
   * checkpoints consistent, with no proofs needed.
   */
  readonly checkpoints?: readonly string[];
  /** Stop collecting after this many problems (default 100); verification still reads on. */
  readonly maxProblems?: number;
}

/**
 * Verifies a log leaf by leaf, in index order: each leaf's format version, log name, index and
 * `prev` link, its leaf hash (against a stored one when given), the RFC 6962 root at each
 * checkpoint size, and the checkpoints' signatures. Holds O(log n) hashes, whatever the size, so
 * it can stream a log of any length. Push leaves with `push`, then call `finish` once.
 */
export class LogVerifier {
  private readonly tree = TreeBuilder.empty();
  private readonly logName: Buffer;
  private readonly problems: LogProblem[] = [];
  private readonly maxProblems: number;
  // Checkpoints sorted by size; `nextCheckpoint` is the first whose size is not yet reached.
  private readonly checkpoints: Checkpoint[] = [];
  private nextCheckpoint = 0;
  private readonly verified: number[] = [];
  // The `prev` the next leaf must carry, as base64 bytes, rewritten in place for every leaf.
  private readonly expectedPrev: Buffer = Buffer.from(GENESIS_PREV, 'latin1');
  private finished = false;
  private readonly completed: StoredNode[] = [];
  // Filled in place by scanLeaf for every leaf.
  private readonly scanned: ScannedLeaf = {
    version: -1,
    index: -1,
    logStart: -1,
    logEnd: -1,
    prevStart: -1,
    prevEnd: -1,
  };

  constructor(private readonly options: LogVerifierOptions) {
    this.logName = Buffer.from(options.log, 'utf8');
    this.maxProblems = options.maxProblems ?? 100;
    for (const note of options.checkpoints ?? []) {
      try {
        this.checkpoints.push(openCheckpoint(note, options.verifier, options.origin));
      } catch (e) {
        const reason = e instanceof LedgerError ? e.message : 'unreadable';
        this.report({ index: null, code: 'bad_checkpoint', message: `checkpoint rejected: ${reason}` });
      }
    }
    this.checkpoints.sort((a, b) => a.size - b.size);
    this.checkCheckpointsAt(0);
  }

  /**
   * Checks the next leaf. `storedLeafHash`, when the caller has one (the service's stored level-0
   * hash, or a tile), pins a change to this very leaf rather than to the link that follows it.
   * `storedTreeNodes`, when given, must be the hashes of the interior nodes this leaf completes,
   * lowest level first, concatenated (what a store that keeps them beside the leaf holds).
   */
  push(leaf: Uint8Array, storedLeafHash?: Uint8Array, storedTreeNodes?: Uint8Array): void {
    if (this.finished) throw new Error('LogVerifier.push after finish');
    const index = this.tree.size;
    const bytes = Buffer.isBuffer(leaf) ? leaf : Buffer.from(leaf.buffer, leaf.byteOffset, leaf.length);
    if (bytes.length > MAX_LEAF_BYTES) {
      this.report({ index, code: 'leaf_too_large', message: `leaf is ${bytes.length} bytes` });
      // Its hash cannot be part of a valid log; go on with a placeholder to keep counting.
      this.tree.append(EMPTY_ROOT);
      return;
    }
    const scan = scanLeaf(bytes, this.scanned);
    if (scan === null) {
      this.report({ index, code: 'malformed_leaf', message: 'leaf is not a canonical JSON object' });
    } else {
      if (scan.version !== LEAF_FORMAT_VERSION) {
        this.report({ index, code: 'wrong_version', message: `leaf format version is not ${LEAF_FORMAT_VERSION}` });
      }
      if (scan.index !== index) {
        this.report({ index, code: 'wrong_index', message: `leaf at position ${index} says index ${scan.index}` });
      }
      if (scan.logStart < 0 || bytes.compare(this.logName, 0, this.logName.length, scan.logStart, scan.logEnd) !== 0) {
        this.report({ index, code: 'wrong_log', message: `leaf does not belong to log ${this.options.log}` });
      }
      if (
        scan.prevStart < 0 ||
        bytes.compare(this.expectedPrev, 0, this.expectedPrev.length, scan.prevStart, scan.prevEnd) !== 0
      ) {
        this.report({
          index,
          code: 'broken_chain',
          message:
            index === 0
              ? 'prev of the first leaf is not 32 zero bytes'
              : `prev does not match the hash of leaf ${index - 1}`,
        });
      }
    }
    const hash = leafHash(bytes);
    if (storedLeafHash !== undefined && (storedLeafHash.length !== HASH_SIZE || !hash.equals(storedLeafHash))) {
      this.report({ index, code: 'leaf_hash_mismatch', message: 'leaf hash differs from the stored one' });
    }
    encodeHashBase64(hash, this.expectedPrev);
    if (storedTreeNodes === undefined) {
      this.tree.append(hash);
    } else {
      this.completed.length = 0;
      this.tree.append(hash, this.completed);
      if (!sameNodes(this.completed, storedTreeNodes)) {
        this.report({
          index,
          code: 'tree_node_mismatch',
          message: 'stored tree nodes completed by this leaf differ from the recomputed ones',
        });
      }
    }
    this.checkCheckpointsAt(this.tree.size);
  }

  /** Ends the verification and reports. Checkpoints larger than the leaves read are problems. */
  finish(): LogVerificationReport {
    this.finished = true;
    for (; this.nextCheckpoint < this.checkpoints.length; this.nextCheckpoint++) {
      const cp = this.checkpoints[this.nextCheckpoint];
      this.report({
        index: null,
        code: 'log_behind_checkpoint',
        message: `a signed checkpoint has size ${cp.size} but the log has only ${this.tree.size} leaves`,
      });
    }
    // A leaf-level problem pins the index; a root mismatch only bounds it, so it counts only
    // when nothing more precise was found.
    const pinned = this.problems.filter((p) => p.code !== 'root_mismatch');
    const indices = (pinned.some((p) => p.index !== null) ? pinned : this.problems)
      .map((p) => p.index)
      .filter((i): i is number => i !== null);
    return {
      ok: this.problems.length === 0,
      log: this.options.log,
      size: this.tree.size,
      checked: this.tree.size,
      root: this.tree.root(),
      checkpointsVerified: this.verified,
      ...(indices.length > 0 ? { firstBadIndex: Math.min(...indices) } : {}),
      problems: this.problems,
    };
  }

  private checkCheckpointsAt(size: number): void {
    while (this.nextCheckpoint < this.checkpoints.length && this.checkpoints[this.nextCheckpoint].size === size) {
      const cp = this.checkpoints[this.nextCheckpoint++];
      if (cp.rootHash.equals(this.tree.root())) {
        this.verified.push(size);
      } else {
        // Some leaf after the last checkpoint that matched differs from what was signed (the
        // chain alone cannot tell which when the links were rewritten too): name the first leaf
        // the signatures no longer vouch for.
        const from = this.verified.length > 0 ? this.verified[this.verified.length - 1] : 0;
        this.report({
          index: size === 0 ? null : from,
          code: 'root_mismatch',
          message: `root of the first ${size} leaves differs from the signed checkpoint: a leaf in [${from}, ${size}) was changed`,
        });
      }
    }
  }

  private report(problem: LogProblem): void {
    if (this.problems.length < this.maxProblems) this.problems.push(problem);
  }
}

/** Whether `stored` is the concatenation of the interior nodes in `completed` (its first is the leaf). */
function sameNodes(completed: readonly StoredNode[], stored: Uint8Array): boolean {
  if (stored.length !== (completed.length - 1) * HASH_SIZE) return false;
  for (let i = 1; i < completed.length; i++) {
    const hash = completed[i].hash;
    const at = (i - 1) * HASH_SIZE;
    for (let b = 0; b < HASH_SIZE; b++) if (hash[b] !== stored[at + b]) return false;
  }
  return true;
}

const BASE64_ALPHABET = Buffer.from('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/', 'latin1');

/**
 * Writes the standard base64 of a 32-byte hash into a 44-byte buffer. Buffer's own encoder goes
 * through a string and an allocation per call, which a verification of millions of leaves feels.
 */
function encodeHashBase64(hash: Buffer, out: Buffer): void {
  let o = 0;
  let i = 0;
  for (; i + 3 <= HASH_SIZE; i += 3) {
    const n = (hash[i] << 16) | (hash[i + 1] << 8) | hash[i + 2];
    out[o++] = BASE64_ALPHABET[n >>> 18];
    out[o++] = BASE64_ALPHABET[(n >>> 12) & 63];
    out[o++] = BASE64_ALPHABET[(n >>> 6) & 63];
    out[o++] = BASE64_ALPHABET[n & 63];
  }
  // 32 = 3 * 10 + 2: two bytes remain, giving three characters and one '='.
  const n = (hash[i] << 16) | (hash[i + 1] << 8);
  out[o++] = BASE64_ALPHABET[n >>> 18];
  out[o++] = BASE64_ALPHABET[(n >>> 12) & 63];
  out[o++] = BASE64_ALPHABET[(n >>> 6) & 63];
  out[o] = 0x3d;
}

/**
 * Verifies a whole log from an async stream of its leaves in index order, given one by one or in
 * arrays (pages, as a keyset read yields them). See LogVerifier for what is checked.
 */
export async function verifyLog(
  leaves: AsyncIterable<Uint8Array | readonly Uint8Array[]>,
  options: LogVerifierOptions,
): Promise<LogVerificationReport> {
  const verifier = new LogVerifier(options);
  for await (const chunk of leaves) {
    if (chunk instanceof Uint8Array) verifier.push(chunk);
    else for (const leaf of chunk) verifier.push(leaf);
  }
  return verifier.finish();
}
