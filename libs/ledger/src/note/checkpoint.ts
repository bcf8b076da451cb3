import { decodeBase64, type NoteSigner, type NoteVerifier } from './note-keys';
import { CheckpointFormatError, NoteVerificationError } from './note.errors';
import { isNoteText, openNote, signNote } from './signed-note';

/**
 * A transparency log checkpoint (c2sp.org/tlog-checkpoint): the log's `origin`, the tree
 * `size` (number of leaves), the RFC 6962 `rootHash` of the tree at that size (32 bytes,
 * SHA-256), and opaque `extensions` lines (usually none).
 */
export interface Checkpoint {
  readonly origin: string;
  readonly size: number;
  readonly rootHash: Buffer;
  readonly extensions: readonly string[];
}

const ROOT_HASH_BYTES = 32;
const CANONICAL_DECIMAL = /^(?:0|[1-9][0-9]*)$/;
// Number.MAX_SAFE_INTEGER has 16 digits; longer strings are rejected before Number() rounds them.
const MAX_SIZE_DIGITS = String(Number.MAX_SAFE_INTEGER).length;

// A line of a note text: non-empty, no newline, and whatever a note text forbids.
function isTextLine(line: unknown): line is string {
  return typeof line === 'string' && line.length > 0 && !line.includes('\n') && isNoteText(`${line}\n`);
}

/**
 * The note text of `checkpoint`: origin, size in decimal, base64 root hash, then each extension
 * line, every line ending in "\n".
 * Requires a non-empty origin and non-empty extension lines, each without newline, control
 * characters or lone surrogates; a size that is a safe non-negative integer; and a 32-byte root
 * hash. Throws CheckpointFormatError otherwise.
 */
export function formatCheckpoint(checkpoint: Checkpoint): string {
  const { origin, size, rootHash, extensions } = checkpoint;
  if (!isTextLine(origin)) throw new CheckpointFormatError('origin must be one non-empty line of text');
  if (!Number.isSafeInteger(size) || size < 0) {
    throw new CheckpointFormatError('tree size must be an integer from 0 to Number.MAX_SAFE_INTEGER');
  }
  if (!(rootHash instanceof Uint8Array) || rootHash.length !== ROOT_HASH_BYTES) {
    throw new CheckpointFormatError(`root hash must be ${ROOT_HASH_BYTES} bytes`);
  }
  if (!extensions.every(isTextLine)) throw new CheckpointFormatError('extension lines must be non-empty lines of text');
  const hash = Buffer.from(rootHash.buffer, rootHash.byteOffset, rootHash.byteLength).toString('base64');
  return `${origin}\n${size}\n${hash}\n${extensions.map((line) => `${line}\n`).join('')}`;
}

/**
 * Parses a checkpoint note text (the body of a signed note, without signatures). This does not
 * check any signature: use openCheckpoint on notes from elsewhere.
 * Requires a valid note text (ends in "\n", no control characters but newline, no lone
 * surrogates) of at least three lines: a non-empty origin; the size in decimal without leading
 * zeros, at most Number.MAX_SAFE_INTEGER; the root hash in canonical standard base64 of 32
 * bytes; then non-empty extension lines, which are kept. Throws CheckpointFormatError otherwise.
 */
export function parseCheckpoint(text: string): Checkpoint {
  if (!isNoteText(text)) {
    throw new CheckpointFormatError('checkpoint must be valid note text ending in a newline');
  }
  const lines = text.slice(0, -1).split('\n');
  if (lines.length < 3) throw new CheckpointFormatError('checkpoint has fewer than three lines');
  const [origin, sizeText, hashText, ...extensions] = lines;
  if (origin.length === 0) throw new CheckpointFormatError('checkpoint origin is empty');
  if (!CANONICAL_DECIMAL.test(sizeText)) {
    throw new CheckpointFormatError('tree size is not a decimal number without leading zeros');
  }
  const size = sizeText.length > MAX_SIZE_DIGITS ? Infinity : Number(sizeText);
  if (size > Number.MAX_SAFE_INTEGER) throw new CheckpointFormatError('tree size exceeds Number.MAX_SAFE_INTEGER');
  const rootHash = decodeBase64(hashText);
  if (rootHash === undefined) throw new CheckpointFormatError('root hash is not canonical standard base64');
  if (rootHash.length !== ROOT_HASH_BYTES) throw new CheckpointFormatError(`root hash is not ${ROOT_HASH_BYTES} bytes`);
  if (extensions.some((line) => line.length === 0)) {
    throw new CheckpointFormatError('checkpoint has an empty extension line');
  }
  return { origin, size, rootHash, extensions };
}

/**
 * The signed note of `checkpoint` signed by `signer` (formatCheckpoint, then signNote).
 * c2sp.org/tlog-checkpoint asks that the signer's key name match the origin; not enforced.
 * Requires what formatCheckpoint and signNote require, throwing their errors.
 */
export function signCheckpoint(checkpoint: Checkpoint, signer: NoteSigner): string {
  return signNote(formatCheckpoint(checkpoint), [signer]);
}

/**
 * Opens a signed checkpoint: checks the note is signed by `verifier` (openNote; other keys'
 * signatures, such as witness cosignatures, are ignored), and only then parses its text.
 * If `expectedOrigin` is given the origin must equal it; without it any origin signed by this
 * key is accepted, so pass it whenever the key may sign for more than one log.
 * Throws NoteFormatError, NoteKeyError or NoteVerificationError as openNote does,
 * CheckpointFormatError if the signed text is not a checkpoint, and NoteVerificationError
 * (`origin_mismatch`) if the origin is not the expected one.
 */
export function openCheckpoint(note: string | Uint8Array, verifier: NoteVerifier, expectedOrigin?: string): Checkpoint {
  const { text } = openNote(note, [verifier]);
  const checkpoint = parseCheckpoint(text);
  if (expectedOrigin !== undefined && checkpoint.origin !== expectedOrigin) {
    throw new NoteVerificationError('checkpoint origin is not the expected one', 'origin_mismatch');
  }
  return checkpoint;
}
