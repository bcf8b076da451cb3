import { sign as cryptoSign, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import {
  computeKeyHash,
  decodeBase64,
  isValidKeyName,
  privateKeyFromSeed,
  publicKeyFromRaw,
  rawPublicKey,
} from '../note/note-keys';
import type { NoteVerifier } from '../note/note-keys';
import { NoteFormatError, NoteKeyError } from '../note/note.errors';
import { isNoteText } from '../note/signed-note';

/**
 * c2sp.org/tlog-cosignature v1 with Ed25519 (`cosignature/v1`): the signature type byte 0x04 in
 * key IDs and verifier keys, the signed message `cosignature/v1\ntime <T>\n<checkpoint body>`,
 * and the signature `u64 big-endian timestamp ‖ 64-byte Ed25519 signature`.
 */
export const COSIGNATURE_V1_ALG = 0x04;

/** Largest timestamp a cosignature may carry here: 2^63 - 1 in the spec, capped to exact JS integers. */
export const MAX_COSIGNATURE_TIMESTAMP = Number.MAX_SAFE_INTEGER;

const ED25519_KEY_BYTES = 32;
const ED25519_SIGNATURE_BYTES = 64;
const TIMESTAMP_BYTES = 8;
/** Bytes after the 4-byte key ID in a cosignature line: timestamp and signature. */
export const COSIGNATURE_BYTES = TIMESTAMP_BYTES + ED25519_SIGNATURE_BYTES;
const PRIVATE_KEY_PREFIX = 'PRIVATE+KEY+';
const KEY_HASH_HEX = /^[0-9a-f]{8}$/;
const SIGNATURE_PREFIX = '\u2014 ';

/** A cosigner (witness) key able to cosign checkpoints. */
export interface Cosigner {
  readonly name: string;
  readonly keyHash: number;
  /** `<name>+<key ID hex>+<base64(0x04 ‖ public key)>`: the vkey to put in `witness` policy lines. */
  readonly verifierKey: string;
  /**
   * The cosignature line (`— <name> <base64>` and "\n") over `checkpointBody` at POSIX time
   * `timestamp` (seconds). Requires a valid note text and a timestamp from 0 to
   * MAX_COSIGNATURE_TIMESTAMP; throws NoteFormatError otherwise.
   */
  cosign(checkpointBody: string, timestamp: number): string;
}

/**
 * Verifies cosignatures by one cosigner key. Also a NoteVerifier whose `verify(text, bytes)` takes
 * the note text and the signature bytes after the key ID (timestamp ‖ signature), so openNote can
 * check cosignatures among other signatures.
 */
export interface CosignatureVerifier extends NoteVerifier {
  readonly verifierKey: string;
  /** The 32 raw public key bytes (two vkeys with the same bytes are the same key). */
  readonly publicKey: Buffer;
}

/** A parsed, verified cosignature: who made it and at what time. */
export interface VerifiedCosignature {
  readonly name: string;
  readonly keyHash: number;
  readonly timestamp: number;
}

function hex8(keyHash: number): string {
  return keyHash.toString(16).padStart(8, '0');
}

function encodeKey(key: Uint8Array): Buffer {
  return Buffer.concat([Buffer.of(COSIGNATURE_V1_ALG), key]);
}

/**
 * The key ID of a cosignature/v1 key: the first four bytes (big-endian uint32) of
 * SHA-256(name ‖ 0x0A ‖ 0x04 ‖ 32-byte public key). Requires a valid key name and 32 bytes.
 */
export function cosignatureKeyHash(name: string, publicKey: Uint8Array): number {
  if (!isValidKeyName(name)) throw new NoteKeyError('invalid key name');
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== ED25519_KEY_BYTES) {
    throw new NoteKeyError(`Ed25519 public key must be ${ED25519_KEY_BYTES} bytes`);
  }
  return computeKeyHash(name, encodeKey(publicKey));
}

/**
 * The message a cosignature/v1 signs: `cosignature/v1\n`, `time <timestamp>\n`, then the whole
 * checkpoint body (its note text, extension lines included, without signature lines).
 * Requires a valid note text and a timestamp in range; throws NoteFormatError otherwise.
 */
export function cosignedMessage(checkpointBody: string, timestamp: number): Buffer {
  if (!isNoteText(checkpointBody)) throw new NoteFormatError('checkpoint body is not a valid note text');
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) {
    throw new NoteFormatError('cosignature timestamp must be an integer from 0 to Number.MAX_SAFE_INTEGER');
  }
  return Buffer.from(`cosignature/v1\ntime ${timestamp}\n${checkpointBody}`, 'utf8');
}

function makeCosigner(name: string, privateKey: KeyObject, publicKey: Buffer): Cosigner {
  const keyHash = cosignatureKeyHash(name, publicKey);
  const verifierKey = `${name}+${hex8(keyHash)}+${encodeKey(publicKey).toString('base64')}`;
  return Object.freeze({
    name,
    keyHash,
    verifierKey,
    cosign(checkpointBody: string, timestamp: number): string {
      const message = cosignedMessage(checkpointBody, timestamp);
      const bytes = Buffer.alloc(4 + TIMESTAMP_BYTES);
      bytes.writeUInt32BE(keyHash, 0);
      bytes.writeBigUInt64BE(BigInt(timestamp), 4);
      const signature = cryptoSign(null, message, privateKey);
      return `${SIGNATURE_PREFIX}${name} ${Buffer.concat([bytes, signature]).toString('base64')}\n`;
    },
  });
}

/**
 * A new cosigner key pair for `name` from a caller-supplied 32-byte seed (the secret): the private
 * key text `PRIVATE+KEY+<name>+<key ID>+<base64(0x04 ‖ seed)>` and the vkey. Throws NoteKeyError
 * for an invalid name or seed.
 */
export function generateCosignerKey(name: string, seed: Uint8Array): { privateKey: string; verifierKey: string } {
  if (!isValidKeyName(name)) throw new NoteKeyError('invalid key name');
  if (!(seed instanceof Uint8Array) || seed.length !== ED25519_KEY_BYTES) {
    throw new NoteKeyError(`Ed25519 seed must be ${ED25519_KEY_BYTES} bytes`);
  }
  const cosigner = makeCosigner(name, privateKeyFromSeed(seed), rawPublicKey(privateKeyFromSeed(seed)));
  return {
    privateKey: `${PRIVATE_KEY_PREFIX}${name}+${hex8(cosigner.keyHash)}+${encodeKey(seed).toString('base64')}`,
    verifierKey: cosigner.verifierKey,
  };
}

function parseKeyText(text: string, what: string): { name: string; keyHash: number; key: Buffer } {
  if (typeof text !== 'string') throw new NoteKeyError(`${what} is not a string`);
  const first = text.indexOf('+');
  const second = first < 0 ? -1 : text.indexOf('+', first + 1);
  if (second < 0) throw new NoteKeyError(`${what} is not <name>+<hash>+<key>`);
  const name = text.slice(0, first);
  const hashHex = text.slice(first + 1, second);
  if (!isValidKeyName(name)) throw new NoteKeyError(`${what} has an invalid key name`);
  if (!KEY_HASH_HEX.test(hashHex)) throw new NoteKeyError(`${what} key hash is not 8 lowercase hex digits`);
  const encoded = decodeBase64(text.slice(second + 1));
  if (encoded === undefined || encoded.length === 0) throw new NoteKeyError(`${what} key data is not base64`);
  if (encoded[0] !== COSIGNATURE_V1_ALG) throw new NoteKeyError(`${what} is not a cosignature/v1 (0x04) key`);
  if (encoded.length !== 1 + ED25519_KEY_BYTES) throw new NoteKeyError(`${what} Ed25519 key is not 32 bytes`);
  return { name, keyHash: parseInt(hashHex, 16), key: encoded.subarray(1) };
}

/**
 * Parses a cosigner private key `PRIVATE+KEY+<name>+<key ID>+<base64(0x04 ‖ 32-byte seed)>`.
 * The key ID must be the one computed from the derived public key. Throws NoteKeyError otherwise;
 * the message never quotes the text.
 */
export function parseCosignerKey(text: string): Cosigner {
  if (typeof text !== 'string' || !text.startsWith(PRIVATE_KEY_PREFIX)) {
    throw new NoteKeyError('private key does not start with PRIVATE+KEY+');
  }
  const { name, keyHash, key: seed } = parseKeyText(text.slice(PRIVATE_KEY_PREFIX.length), 'private key');
  const privateKey = privateKeyFromSeed(seed);
  const publicKey = rawPublicKey(privateKey);
  if (cosignatureKeyHash(name, publicKey) !== keyHash)
    throw new NoteKeyError('private key hash does not match the key');
  return makeCosigner(name, privateKey, publicKey);
}

/**
 * The timestamp of a cosignature's bytes (after the key ID) if they are a valid cosignature/v1 of
 * `checkpointBody` by `publicKey`; undefined otherwise. Never throws for bad input.
 */
function checkCosignature(publicKey: KeyObject, checkpointBody: string, bytes: Uint8Array): number | undefined {
  if (!(bytes instanceof Uint8Array) || bytes.length !== COSIGNATURE_BYTES) return undefined;
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const timestamp = view.readBigUInt64BE(0);
  if (timestamp > BigInt(MAX_COSIGNATURE_TIMESTAMP)) return undefined;
  if (!isNoteText(checkpointBody)) return undefined;
  const message = cosignedMessage(checkpointBody, Number(timestamp));
  try {
    return cryptoVerify(null, message, publicKey, view.subarray(TIMESTAMP_BYTES)) ? Number(timestamp) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Parses a cosigner vkey `<name>+<key ID>+<base64(0x04 ‖ 32-byte public key)>` (key ID as
 * cosignatureKeyHash). Throws NoteKeyError for any other form or a key ID that does not match.
 */
export function parseCosignatureVerifierKey(text: string): CosignatureVerifier {
  const { name, keyHash, key } = parseKeyText(text, 'cosigner verifier key');
  if (cosignatureKeyHash(name, key) !== keyHash) throw new NoteKeyError('cosigner verifier key hash does not match');
  const publicKey = publicKeyFromRaw(key);
  return Object.freeze({
    name,
    keyHash,
    verifierKey: text,
    publicKey: Buffer.from(key),
    verify: (message: Uint8Array, signature: Uint8Array): boolean =>
      checkCosignature(publicKey, Buffer.from(message).toString('utf8'), signature) !== undefined,
  });
}

/**
 * Verifies one cosignature line (`— <name> <base64(key ID ‖ timestamp ‖ signature)>`, with or
 * without its final newline) over `checkpointBody` by `verifier`, and returns who signed and when.
 * Returns undefined when the line names another key (name or key ID differ): such lines are to be
 * ignored. Throws NoteFormatError for a malformed line, and for a line that names this key but
 * does not verify (a witness answering garbage).
 */
export function verifyCosignatureLine(
  line: string,
  checkpointBody: string,
  verifier: CosignatureVerifier,
): VerifiedCosignature | undefined {
  const text = line.endsWith('\n') ? line.slice(0, -1) : line;
  if (!text.startsWith(SIGNATURE_PREFIX)) throw new NoteFormatError('cosignature line does not start with an em dash');
  const rest = text.slice(SIGNATURE_PREFIX.length);
  const space = rest.indexOf(' ');
  if (space <= 0) throw new NoteFormatError('cosignature line has no key name');
  const name = rest.slice(0, space);
  const bytes = decodeBase64(rest.slice(space + 1));
  if (bytes === undefined || bytes.length < 5)
    throw new NoteFormatError('cosignature is not base64 of at least 5 bytes');
  const keyHash = bytes.readUInt32BE(0);
  if (name !== verifier.name || keyHash !== verifier.keyHash) return undefined;
  const timestamp = checkCosignature(publicKeyFromRaw(verifier.publicKey), checkpointBody, bytes.subarray(4));
  if (timestamp === undefined) throw new NoteFormatError('cosignature by a known key does not verify');
  return { name, keyHash, timestamp };
}
