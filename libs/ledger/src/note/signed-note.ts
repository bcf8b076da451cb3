import { decodeBase64, isValidKeyName, isWellFormedUnicode, type NoteSigner, type NoteVerifier } from './note-keys';
import { NoteFormatError, NoteKeyError, NoteVerificationError } from './note.errors';

/**
 * One signature line of a note: the key name, the uint32 key ID, and the signature bytes
 * (without the 4-byte key ID that precedes them in the line).
 */
export interface NoteSignature {
  readonly name: string;
  readonly keyHash: number;
  readonly signature: Buffer;
}

/**
 * A note whose signatures were checked: `text` (ending in a newline) may be trusted because
 * `verified` holds at least one signature by a known key. `unverified` holds the signatures by
 * keys that were not given, which were not checked. Repeated signatures are listed once.
 */
export interface OpenedNote {
  readonly text: string;
  readonly verified: NoteSignature[];
  readonly unverified: NoteSignature[];
}

/**
 * Most signature lines a note may carry. c2sp.org/signed-note requires accepting at least 16
 * and asks for a limit; 100 is Go's (golang.org/x/mod/sumdb/note), so notes Go accepts open here.
 */
export const MAX_NOTE_SIGNATURES = 100;

const SIGNATURE_PREFIX = '\u2014 '; // em dash, space
const CONTROL_EXCEPT_NEWLINE = /[\u0000-\u0009\u000b-\u001f]/;

/**
 * Whether `text` is a valid note text: ends in a newline, well-formed Unicode (so valid UTF-8
 * once encoded), and no ASCII control character other than newline. @internal
 */
export function isNoteText(text: string): boolean {
  return (
    typeof text === 'string' && text.endsWith('\n') && !CONTROL_EXCEPT_NEWLINE.test(text) && isWellFormedUnicode(text)
  );
}

function isUint32(value: number): boolean {
  return Number.isInteger(value) && value >= 0 && value <= 0xffffffff;
}

// Key names hold no space and key hashes are decimal digits, so this never collides.
function keyId(name: string, keyHash: number): string {
  return `${keyHash} ${name}`;
}

/**
 * Signs `text` with every signer and returns the signed note: the text, a blank line, then one
 * line `— <name> <base64(key hash ‖ signature)>` per signer, in the given order.
 * Requires `text` to be a valid note text (ends in "\n", no lone surrogates, no control
 * characters but newline; NoteFormatError otherwise) and 1 to MAX_NOTE_SIGNATURES signers with
 * valid names, uint32 key hashes, distinct (name, key hash) pairs, and non-empty signatures
 * (NoteKeyError otherwise).
 */
export function signNote(text: string, signers: readonly NoteSigner[]): string {
  if (!isNoteText(text)) {
    throw new NoteFormatError('note text must be valid UTF-8, end in a newline, and hold no other control characters');
  }
  if (signers.length === 0) throw new NoteKeyError('a note needs at least one signer');
  if (signers.length > MAX_NOTE_SIGNATURES) throw new NoteKeyError(`more than ${MAX_NOTE_SIGNATURES} signers`);
  const message = Buffer.from(text, 'utf8');
  const seen = new Set<string>();
  let lines = '';
  for (const signer of signers) {
    const { name, keyHash } = signer;
    if (!isValidKeyName(name)) throw new NoteKeyError('signer has an invalid key name');
    if (!isUint32(keyHash)) throw new NoteKeyError('signer key hash is not a uint32');
    // The opener reports one signature per key, so a second one would be silently lost.
    const id = keyId(name, keyHash);
    if (seen.has(id)) throw new NoteKeyError('two signers share a key name and key hash');
    seen.add(id);
    const signature = signer.sign(message);
    if (!(signature instanceof Uint8Array) || signature.length === 0) {
      throw new NoteKeyError('signer returned an empty signature');
    }
    const prefix = Buffer.alloc(4);
    prefix.writeUInt32BE(keyHash, 0);
    lines += `${SIGNATURE_PREFIX}${name} ${Buffer.concat([prefix, signature]).toString('base64')}\n`;
  }
  return `${text}\n${lines}`;
}

interface SignatureLine extends NoteSignature {
  readonly line: string;
}

function decodeNote(note: string | Uint8Array): string {
  if (typeof note === 'string') {
    if (!isWellFormedUnicode(note)) throw new NoteFormatError('note is not valid Unicode');
    return note;
  }
  if (!(note instanceof Uint8Array)) throw new NoteFormatError('note is neither a string nor bytes');
  const bytes = Buffer.from(note.buffer, note.byteOffset, note.byteLength);
  const text = bytes.toString('utf8');
  // Buffer replaces invalid sequences with U+FFFD instead of failing, so re-encode to compare.
  if (!Buffer.from(text, 'utf8').equals(bytes)) throw new NoteFormatError('note is not valid UTF-8');
  return text;
}

function parseSignatureLine(line: string): SignatureLine {
  if (!line.startsWith(SIGNATURE_PREFIX)) throw new NoteFormatError('signature line does not start with an em dash');
  const rest = line.slice(SIGNATURE_PREFIX.length);
  const space = rest.indexOf(' ');
  if (space < 0) throw new NoteFormatError('signature line has no space after the key name');
  const name = rest.slice(0, space);
  if (!isValidKeyName(name)) throw new NoteFormatError('signature line has an invalid key name');
  const bytes = decodeBase64(rest.slice(space + 1));
  // Four bytes of key hash and at least one of signature, as Go's note.Open requires.
  if (bytes === undefined || bytes.length < 5) throw new NoteFormatError('signature is not base64 of at least 5 bytes');
  return { line, name, keyHash: bytes.readUInt32BE(0), signature: bytes.subarray(4) };
}

/** The text of a signed note and its parsed signature lines, none of them verified. */
function splitNote(note: string | Uint8Array): { text: string; lines: SignatureLine[] } {
  const message = decodeNote(note);
  if (CONTROL_EXCEPT_NEWLINE.test(message)) throw new NoteFormatError('note holds a control character');

  // Signature lines are never empty, so the last blank line is the one before them.
  const split = message.lastIndexOf('\n\n');
  if (split < 0) throw new NoteFormatError('note has no blank line before its signatures');
  const text = message.slice(0, split + 1);
  const block = message.slice(split + 2);
  if (block.length === 0 || !block.endsWith('\n')) throw new NoteFormatError('signature block must end in a newline');
  const rawLines = block.slice(0, -1).split('\n');
  // Counted before any parsing or verifying, to bound the work an attacker can cause.
  if (rawLines.length > MAX_NOTE_SIGNATURES) {
    throw new NoteFormatError(`note has more than ${MAX_NOTE_SIGNATURES} signatures`);
  }
  return { text, lines: rawLines.map(parseSignatureLine) };
}

/**
 * The signature lines of a signed note, in order, NOT verified: which keys (name, key hash) claim
 * to have signed it. For telling which key a note needs (a signer checking that it holds the key
 * of a log's earlier checkpoints), never for trusting the note: openNote does that.
 * Requires a well-formed signed note, as openNote does (NoteFormatError otherwise).
 */
export function noteSignatures(note: string | Uint8Array): NoteSignature[] {
  return splitNote(note).lines.map(({ name, keyHash, signature }) => ({ name, keyHash, signature }));
}

/**
 * Parses a signed note and checks its signatures against `verifiers`, following
 * c2sp.org/signed-note: a signature line whose (name, key hash) matches no verifier is
 * ignored (listed as unverified); every signature line that matches one is verified.
 * Requires `note` to be a well-formed signed note: valid UTF-8 (bytes) or a string without lone
 * surrogates, no control characters but newline, text ending in "\n", a blank line, then 1 to
 * MAX_NOTE_SIGNATURES lines `— <name> <base64>` each ending in "\n" (NoteFormatError
 * otherwise). Requires verifiers with distinct (name, key hash) pairs (NoteKeyError otherwise).
 * Throws NoteVerificationError if a known key's signature does not verify
 * (`invalid_signature`) or if no known key signed (`no_known_signature`).
 */
export function openNote(note: string | Uint8Array, verifiers: readonly NoteVerifier[]): OpenedNote {
  const { text, lines } = splitNote(note);

  const known = new Map<string, NoteVerifier>();
  for (const verifier of verifiers) {
    const id = keyId(verifier.name, verifier.keyHash);
    // Two keys behind one (name, hash) would make the result depend on which one is picked.
    if (known.has(id)) throw new NoteKeyError('two verifiers share a key name and key hash');
    known.set(id, verifier);
  }

  const textBytes = Buffer.from(text, 'utf8');
  const verified: NoteSignature[] = [];
  const unverified: NoteSignature[] = [];
  const seenVerified = new Set<string>();
  const seenUnverified = new Set<string>();
  for (const { line, name, keyHash, signature } of lines) {
    const id = keyId(name, keyHash);
    const verifier = known.get(id);
    if (verifier === undefined) {
      if (!seenUnverified.has(line)) {
        seenUnverified.add(line);
        unverified.push({ name, keyHash, signature });
      }
      continue;
    }
    // Every signature from a known key is checked, repeated ones too (Go skips repeats): the
    // spec says verifiers MUST verify them, and a bad one taints the whole note.
    if (!verifier.verify(textBytes, signature)) {
      // The name is a configured key's, but may still be long: keep messages short.
      const shown = name.length <= 64 ? name : `${name.slice(0, 64)}…`;
      const hash = keyHash.toString(16).padStart(8, '0');
      throw new NoteVerificationError(`invalid signature by known key ${shown}+${hash}`, 'invalid_signature');
    }
    if (!seenVerified.has(id)) {
      seenVerified.add(id);
      verified.push({ name, keyHash, signature });
    }
  }
  if (verified.length === 0) {
    throw new NoteVerificationError('note has no signature by a known key', 'no_known_signature');
  }
  return { text, verified, unverified };
}
