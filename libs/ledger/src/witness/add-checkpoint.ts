import { HASH_SIZE } from '../hashing';
import { decodeBase64 } from '../note/note-keys';
import { WitnessRequestFormatError } from './witness.errors';

/** Most consistency proof lines a client may send (c2sp.org/tlog-witness). */
export const MAX_CONSISTENCY_PROOF_LINES = 63;
const OLD_SIZE = /^old (0|[1-9][0-9]{0,15})$/;

/** The body of a c2sp.org/tlog-witness add-checkpoint request. */
export interface AddCheckpointRequest {
  readonly oldSize: number;
  readonly proof: readonly Buffer[];
  /** The signed checkpoint note, verbatim (not checked here). */
  readonly checkpoint: string;
}

/**
 * The request body: `old <size>`, one base64 hash per line, a blank line, the signed checkpoint.
 * Throws WitnessRequestFormatError for an unsafe size, more than 63 hashes or hashes that are not
 * 32 bytes.
 */
export function formatAddCheckpointRequest(request: AddCheckpointRequest): string {
  const { oldSize, proof, checkpoint } = request;
  if (!Number.isSafeInteger(oldSize) || oldSize < 0) throw new WitnessRequestFormatError('old size is not a safe size');
  if (proof.length > MAX_CONSISTENCY_PROOF_LINES || proof.some((hash) => hash.length !== HASH_SIZE)) {
    throw new WitnessRequestFormatError(
      `proof must be at most ${MAX_CONSISTENCY_PROOF_LINES} hashes of ${HASH_SIZE} bytes`,
    );
  }
  return `old ${oldSize}\n${proof.map((hash) => `${Buffer.from(hash).toString('base64')}\n`).join('')}\n${checkpoint}`;
}

/**
 * Parses a request body (bytes, which must be UTF-8). Requires the `old <n>` line in decimal
 * without leading zeros (at most Number.MAX_SAFE_INTEGER), at most 63 lines of canonical base64 of
 * 32 bytes, a blank line, and a non-empty checkpoint. Throws WitnessRequestFormatError otherwise.
 */
export function parseAddCheckpointRequest(body: Uint8Array | string): AddCheckpointRequest {
  let text: string;
  if (typeof body === 'string') text = body;
  else {
    const bytes = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    text = bytes.toString('utf8');
    if (!Buffer.from(text, 'utf8').equals(bytes)) throw new WitnessRequestFormatError('body is not valid UTF-8');
  }
  const split = text.indexOf('\n\n');
  if (split < 0) throw new WitnessRequestFormatError('body has no blank line before the checkpoint');
  const checkpoint = text.slice(split + 2);
  if (checkpoint.length === 0) throw new WitnessRequestFormatError('body has no checkpoint');
  const [oldLine, ...proofLines] = text.slice(0, split).split('\n');
  const old = OLD_SIZE.exec(oldLine);
  if (old === null || !Number.isSafeInteger(Number(old[1]))) {
    throw new WitnessRequestFormatError('first line is not "old <size>" in decimal without leading zeros');
  }
  if (proofLines.length > MAX_CONSISTENCY_PROOF_LINES) {
    throw new WitnessRequestFormatError(`more than ${MAX_CONSISTENCY_PROOF_LINES} consistency proof lines`);
  }
  const proof = proofLines.map((line) => {
    const hash = decodeBase64(line);
    if (hash === undefined || hash.length !== HASH_SIZE) {
      throw new WitnessRequestFormatError(`a proof line is not the base64 of ${HASH_SIZE} bytes`);
    }
    return hash;
  });
  return { oldSize: Number(old[1]), proof, checkpoint };
}
