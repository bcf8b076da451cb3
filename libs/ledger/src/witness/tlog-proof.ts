import { HASH_SIZE, leafHash } from '../hashing';
import { verifyInclusion } from '../merkle/verify';
import { parseCheckpoint, type Checkpoint } from '../note/checkpoint';
import { decodeBase64, type NoteVerifier } from '../note/note-keys';
import { NoteVerificationError } from '../note/note.errors';
import { openNote } from '../note/signed-note';
import { policyLogsFor, quorumMet, type WitnessPolicy } from './policy';
import { QuorumNotMetError, TlogProofFormatError } from './witness.errors';

/** First line of every c2sp.org/tlog-proof. */
export const TLOG_PROOF_HEADER = 'c2sp.org/tlog-proof@v1';

/** Most inclusion proof hashes (a tree of up to 2^63 leaves). */
const MAX_PROOF_HASHES = 63;
const CANONICAL_DECIMAL = /^(?:0|[1-9][0-9]{0,15})$/;

/** A c2sp.org/tlog-proof: the entry's index, its inclusion proof, and the signed checkpoint note verbatim. */
export interface TlogProof {
  readonly index: number;
  readonly proof: readonly Buffer[];
  /** The signed checkpoint note, log signature and cosignatures, exactly as the log served it. */
  readonly checkpoint: string;
  /** Opaque, unauthenticated extra data (the `extra` line), if any. */
  readonly extra?: Buffer;
}

/** What a checkpoint signed by a policy log proves: its content and which policy witnesses cosigned it. */
export interface PolicyCheckedCheckpoint {
  readonly checkpoint: Checkpoint;
  /** Policy-local names of the witnesses whose cosignatures verified, in policy order. */
  readonly cosigners: readonly string[];
  readonly quorumMet: boolean;
}

/**
 * The text of a tlog-proof: the header line, `extra <base64>` if given, `index <n>`, one base64
 * hash per line, a blank line, then the checkpoint note. Throws TlogProofFormatError for an index
 * that is not a safe non-negative integer, a hash that is not 32 bytes, or a checkpoint that is not
 * a signed note (ends in "\n").
 */
export function formatTlogProof(proof: TlogProof): string {
  const { index, proof: hashes, checkpoint, extra } = proof;
  if (!Number.isSafeInteger(index) || index < 0)
    throw new TlogProofFormatError('index must be a safe non-negative integer');
  if (hashes.length > MAX_PROOF_HASHES || hashes.some((hash) => hash.length !== HASH_SIZE)) {
    throw new TlogProofFormatError(`inclusion proof must be at most ${MAX_PROOF_HASHES} hashes of ${HASH_SIZE} bytes`);
  }
  if (typeof checkpoint !== 'string' || !checkpoint.endsWith('\n') || !checkpoint.includes('\n\n')) {
    throw new TlogProofFormatError('checkpoint must be a signed note');
  }
  const extraLine = extra === undefined ? '' : `extra ${Buffer.from(extra).toString('base64')}\n`;
  const hashLines = hashes.map((hash) => `${Buffer.from(hash).toString('base64')}\n`).join('');
  return `${TLOG_PROOF_HEADER}\n${extraLine}index ${index}\n${hashLines}\n${checkpoint}`;
}

/**
 * Parses a tlog-proof. Requires the header line, an optional `extra` line of canonical base64,
 * `index <n>` in decimal without leading zeros (at most Number.MAX_SAFE_INTEGER), at most 63
 * lines each the canonical base64 of 32 bytes, a blank line and a non-empty checkpoint note.
 * The checkpoint is returned verbatim and not checked here (verifyTlogProof does that).
 * Throws TlogProofFormatError otherwise.
 */
export function parseTlogProof(text: string): TlogProof {
  if (typeof text !== 'string' || !text.startsWith(`${TLOG_PROOF_HEADER}\n`)) {
    throw new TlogProofFormatError(`proof does not start with ${TLOG_PROOF_HEADER}`);
  }
  const split = text.indexOf('\n\n');
  if (split < 0) throw new TlogProofFormatError('proof has no blank line before the checkpoint');
  const checkpoint = text.slice(split + 2);
  if (checkpoint.length === 0) throw new TlogProofFormatError('proof has no checkpoint');
  const lines = text.slice(0, split).split('\n').slice(1);
  let extra: Buffer | undefined;
  if (lines[0]?.startsWith('extra ')) {
    extra = decodeBase64(lines[0].slice('extra '.length));
    if (extra === undefined) throw new TlogProofFormatError('extra is not canonical base64');
    lines.shift();
  }
  const indexLine = lines.shift();
  if (indexLine === undefined || !indexLine.startsWith('index ')) throw new TlogProofFormatError('no index line');
  const indexText = indexLine.slice('index '.length);
  if (!CANONICAL_DECIMAL.test(indexText) || Number(indexText) > Number.MAX_SAFE_INTEGER) {
    throw new TlogProofFormatError('index is not a decimal number without leading zeros');
  }
  if (lines.length > MAX_PROOF_HASHES) throw new TlogProofFormatError(`more than ${MAX_PROOF_HASHES} proof hashes`);
  const proof = lines.map((line) => {
    const hash = decodeBase64(line);
    if (hash === undefined || hash.length !== HASH_SIZE) {
      throw new TlogProofFormatError(`proof line is not the base64 of ${HASH_SIZE} bytes`);
    }
    return hash;
  });
  const index = Number(indexText);
  return extra === undefined ? { index, proof, checkpoint } : { index, proof, checkpoint, extra };
}

function keyOf(verifier: { name: string; keyHash: number }): string {
  return `${verifier.keyHash} ${verifier.name}`;
}

/**
 * Opens a checkpoint note against a policy: it must carry a valid signature by a policy log whose
 * key covers its origin (policyLogsFor), and every signature by a policy key must verify (openNote).
 * Returns the checkpoint, the witnesses that cosigned, and whether they meet the quorum; a note
 * short of the quorum is not an error here. If `expectedOrigin` is given the origin must equal it.
 * Throws NoteFormatError, CheckpointFormatError or NoteVerificationError.
 */
export function openCheckpointWithPolicy(
  note: string,
  policy: WitnessPolicy,
  expectedOrigin?: string,
): PolicyCheckedCheckpoint {
  const verifiers: NoteVerifier[] = [
    ...policy.logs.map((log) => log.verifier),
    ...policy.witnesses.map((w) => w.verifier),
  ];
  const { text, verified } = openNote(note, verifiers);
  const verifiedKeys = new Set(verified.map(keyOf));
  const checkpoint = parseCheckpoint(text);
  if (expectedOrigin !== undefined && checkpoint.origin !== expectedOrigin) {
    throw new NoteVerificationError('checkpoint origin is not the expected one', 'origin_mismatch');
  }
  const signedByLog = policyLogsFor(policy, checkpoint.origin).some((log) => verifiedKeys.has(keyOf(log.verifier)));
  if (!signedByLog) {
    throw new NoteVerificationError('checkpoint is not signed by a policy log for its origin', 'no_known_signature');
  }
  const cosigners = policy.witnesses.filter((w) => verifiedKeys.has(keyOf(w.verifier))).map((w) => w.name);
  return { checkpoint, cosigners, quorumMet: quorumMet(policy.quorum, new Set(cosigners)) };
}

/**
 * Verifies a tlog-proof offline for the entry whose leaf bytes are `leaf`: parses it, opens its
 * checkpoint against `policy` (a policy log's signature, every policy signature valid), requires
 * the policy's quorum of cosignatures, and checks the inclusion proof of leafHash(leaf) at the
 * index against the checkpoint's root. Returns the parsed proof and the checked checkpoint.
 * Throws TlogProofFormatError, the note errors, QuorumNotMetError, InvalidProofError or
 * RootMismatchError; returns only when everything holds.
 */
export function verifyTlogProof(
  text: string,
  policy: WitnessPolicy,
  leaf: Uint8Array,
): { proof: TlogProof } & PolicyCheckedCheckpoint {
  const proof = parseTlogProof(text);
  const checked = openCheckpointWithPolicy(proof.checkpoint, policy);
  if (!checked.quorumMet) throw new QuorumNotMetError(checked.cosigners);
  verifyInclusion(proof.index, checked.checkpoint.size, leafHash(leaf), proof.proof, checked.checkpoint.rootHash);
  return { proof, ...checked };
}
