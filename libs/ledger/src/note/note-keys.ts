import {
  createHash,
  createPrivateKey,
  createPublicKey,
  sign as cryptoSign,
  verify as cryptoVerify,
  type KeyObject,
} from 'node:crypto';

import { NoteKeyError } from './note.errors';

/**
 * Signs note texts with one Ed25519 key, as c2sp.org/signed-note describes.
 * `name` is a valid key name, `keyHash` the uint32 key ID of the key under that name, and
 * `verifierKey` the public verifier key text to hand to verifiers.
 */
export interface NoteSigner {
  readonly name: string;
  readonly keyHash: number;
  readonly verifierKey: string;
  /** The signature of `message` (for Ed25519, 64 bytes). Deterministic: no randomness. */
  sign(message: Uint8Array): Buffer;
}

/**
 * Verifies signatures made by one key. `name` is a valid key name and `keyHash` the uint32
 * key ID that signature lines by this key carry.
 */
export interface NoteVerifier {
  readonly name: string;
  readonly keyHash: number;
  /** Whether `signature` is a valid signature of `message` by this key. Never throws for bad input. */
  verify(message: Uint8Array, signature: Uint8Array): boolean;
}

/** A freshly made key pair, as key texts (see generateNoteKey). */
export interface NoteKeyPair {
  /** `PRIVATE+KEY+<name>+<hash>+<base64(0x01 ‖ seed)>`; a secret. */
  readonly privateKey: string;
  /** `<name>+<hash>+<base64(0x01 ‖ public key)>`; public. */
  readonly verifierKey: string;
}

/** Signature type byte of Ed25519 in c2sp.org/signed-note. */
const ALG_ED25519 = 0x01;
const ED25519_KEY_BYTES = 32;
const ED25519_SIGNATURE_BYTES = 64;
// DER wrappers that let node:crypto import raw Ed25519 keys (RFC 8410): OneAsymmetricKey with
// the 32-byte seed, and SubjectPublicKeyInfo with the 32-byte public key.
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const PRIVATE_KEY_PREFIX = 'PRIVATE+KEY+';

const STD_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const KEY_HASH_HEX = /^[0-9a-f]{8}$/;
const LONE_SURROGATE = /\p{Surrogate}/u;
const WHITE_SPACE = /\p{White_Space}/u;
const CONTROL = /[\u0000-\u001f]/;

/**
 * Decodes standard base64 (RFC 4648 section 4) strictly: padding required, no other
 * characters, and the encoding must be the canonical one for its bytes. Returns undefined
 * otherwise. @internal
 */
export function decodeBase64(text: string): Buffer | undefined {
  // Buffer.from(…, 'base64') skips invalid characters and accepts URL-safe input. Insisting on
  // the canonical encoding also means no two signature lines encode the same bytes, so any
  // change to a signed note is detected.
  if (!STD_BASE64.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text ? bytes : undefined;
}

/**
 * Whether `text` encodes to UTF-8 without loss: a JavaScript string can hold lone surrogates,
 * which UTF-8 cannot, and which Buffer would silently replace. @internal
 */
export function isWellFormedUnicode(text: string): boolean {
  return !LONE_SURROGATE.test(text);
}

/**
 * Whether `name` is a valid key name: non-empty, well-formed Unicode, no Unicode space (the
 * White_Space property, as Go's unicode.IsSpace), no `+`. Also rejects ASCII control
 * characters, which a signed note cannot contain, so such a key could never sign one.
 */
export function isValidKeyName(name: string): boolean {
  return (
    typeof name === 'string' &&
    name.length > 0 &&
    !name.includes('+') &&
    !WHITE_SPACE.test(name) &&
    !CONTROL.test(name) &&
    isWellFormedUnicode(name)
  );
}

/**
 * The key ID of a key: the first four bytes, big-endian, of
 * SHA-256(name ‖ 0x0A ‖ encodedKey), where encodedKey is the signature type byte followed by
 * the public key (for Ed25519: 0x01 ‖ 32 bytes). Requires a valid key name. @internal
 */
export function computeKeyHash(name: string, encodedKey: Uint8Array): number {
  return createHash('sha256')
    .update(Buffer.from(name, 'utf8'))
    .update(Buffer.of(0x0a))
    .update(encodedKey)
    .digest()
    .readUInt32BE(0);
}

function hex8(keyHash: number): string {
  return keyHash.toString(16).padStart(8, '0');
}

/** The Ed25519 private key whose 32-byte seed is `seed`. @internal */
export function privateKeyFromSeed(seed: Uint8Array): KeyObject {
  return createPrivateKey({
    key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]),
    format: 'der',
    type: 'pkcs8',
  });
}

/** The 32 raw bytes of the public key of an Ed25519 private key. @internal */
export function rawPublicKey(privateKey: KeyObject): Buffer {
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  // Guards the slicing below against a Node that would export another SPKI layout.
  if (
    spki.length !== SPKI_ED25519_PREFIX.length + ED25519_KEY_BYTES ||
    !spki.subarray(0, SPKI_ED25519_PREFIX.length).equals(SPKI_ED25519_PREFIX)
  ) {
    throw new NoteKeyError('unexpected SPKI encoding of an Ed25519 public key');
  }
  return spki.subarray(SPKI_ED25519_PREFIX.length);
}

/** The Ed25519 public key of 32 raw bytes; throws NoteKeyError if they are not one. @internal */
export function publicKeyFromRaw(key: Uint8Array): KeyObject {
  try {
    return createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, key]), format: 'der', type: 'spki' });
  } catch {
    throw new NoteKeyError('verifier key is not an Ed25519 public key');
  }
}

function encodeKey(keyBytes: Uint8Array): Buffer {
  return Buffer.concat([Buffer.of(ALG_ED25519), keyBytes]);
}

function verifierKeyText(name: string, keyHash: number, encodedPublicKey: Buffer): string {
  return `${name}+${hex8(keyHash)}+${encodedPublicKey.toString('base64')}`;
}

/**
 * Splits `<name>+<8 lowercase hex>+<base64 of 0x01 ‖ 32 bytes>` (the name holds no `+`, the
 * base64 may) and returns the name, the claimed key hash and the 32 key bytes.
 */
function parseKeyText(text: string, what: string): { name: string; keyHash: number; key: Buffer } {
  const first = text.indexOf('+');
  const second = first < 0 ? -1 : text.indexOf('+', first + 1);
  if (second < 0) throw new NoteKeyError(`${what} is not <name>+<hash>+<key>`);
  const name = text.slice(0, first);
  const hashHex = text.slice(first + 1, second);
  if (!isValidKeyName(name)) throw new NoteKeyError(`${what} has an invalid key name`);
  if (!KEY_HASH_HEX.test(hashHex)) throw new NoteKeyError(`${what} key hash is not 8 lowercase hex digits`);
  const encoded = decodeBase64(text.slice(second + 1));
  if (encoded === undefined || encoded.length === 0) throw new NoteKeyError(`${what} key data is not base64`);
  if (encoded[0] !== ALG_ED25519) throw new NoteKeyError(`${what} uses an unknown signature algorithm`);
  if (encoded.length !== 1 + ED25519_KEY_BYTES) throw new NoteKeyError(`${what} Ed25519 key is not 32 bytes`);
  return { name, keyHash: parseInt(hashHex, 16), key: encoded.subarray(1) };
}

/**
 * Makes an Ed25519 key pair for `name` from a caller-supplied seed, as Go's note.GenerateKey
 * does from its random reader.
 * Requires a valid key name and a 32-byte seed drawn from a cryptographically secure source
 * (the seed is the private key). Throws NoteKeyError otherwise.
 */
export function generateNoteKey(name: string, seed: Uint8Array): NoteKeyPair {
  if (!isValidKeyName(name)) throw new NoteKeyError('invalid key name');
  if (!(seed instanceof Uint8Array) || seed.length !== ED25519_KEY_BYTES) {
    throw new NoteKeyError(`Ed25519 seed must be ${ED25519_KEY_BYTES} bytes`);
  }
  const encodedPublicKey = encodeKey(rawPublicKey(privateKeyFromSeed(seed)));
  const keyHash = computeKeyHash(name, encodedPublicKey);
  const encodedSeed = encodeKey(seed);
  return {
    privateKey: `${PRIVATE_KEY_PREFIX}${name}+${hex8(keyHash)}+${encodedSeed.toString('base64')}`,
    verifierKey: verifierKeyText(name, keyHash, encodedPublicKey),
  };
}

/**
 * The verifier key text for an existing raw Ed25519 public key, as Go's
 * note.NewEd25519VerifierKey. Requires a valid key name and a 32-byte public key (RFC 8032
 * encoding; whether it is a valid curve point is not checked). Throws NoteKeyError otherwise.
 */
export function formatVerifierKey(name: string, publicKey: Uint8Array): string {
  if (!isValidKeyName(name)) throw new NoteKeyError('invalid key name');
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== ED25519_KEY_BYTES) {
    throw new NoteKeyError(`Ed25519 public key must be ${ED25519_KEY_BYTES} bytes`);
  }
  const encodedPublicKey = encodeKey(publicKey);
  return verifierKeyText(name, computeKeyHash(name, encodedPublicKey), encodedPublicKey);
}

/**
 * Parses a private key text `PRIVATE+KEY+<name>+<hash>+<base64(0x01 ‖ seed)>` into a signer.
 * Requires exactly that form (8 lowercase hex digits, canonical standard base64, algorithm
 * 0x01, a 32-byte seed) and a key hash equal to the one computed from the derived public key.
 * Throws NoteKeyError otherwise; the message never quotes the text.
 */
export function parsePrivateKey(text: string): NoteSigner {
  if (typeof text !== 'string' || !text.startsWith(PRIVATE_KEY_PREFIX)) {
    throw new NoteKeyError('private key does not start with PRIVATE+KEY+');
  }
  const { name, keyHash, key: seed } = parseKeyText(text.slice(PRIVATE_KEY_PREFIX.length), 'private key');
  const privateKey = privateKeyFromSeed(seed);
  const encodedPublicKey = encodeKey(rawPublicKey(privateKey));
  // The hash is over the public key, so it can only be checked once that is derived.
  if (computeKeyHash(name, encodedPublicKey) !== keyHash) {
    throw new NoteKeyError('private key hash does not match the key');
  }
  const verifierKey = verifierKeyText(name, keyHash, encodedPublicKey);
  return Object.freeze({
    name,
    keyHash,
    verifierKey,
    sign: (message: Uint8Array): Buffer => cryptoSign(null, message, privateKey),
  });
}

/**
 * Parses a verifier key text `<name>+<hash>+<base64(0x01 ‖ public key)>` into a verifier.
 * Requires exactly that form (8 lowercase hex digits, canonical standard base64, algorithm
 * 0x01, a 32-byte key) and a key hash equal to the one computed from name and key.
 * Throws NoteKeyError otherwise.
 */
export function parseVerifierKey(text: string): NoteVerifier {
  if (typeof text !== 'string') throw new NoteKeyError('verifier key is not a string');
  const { name, keyHash, key } = parseKeyText(text, 'verifier key');
  if (computeKeyHash(name, encodeKey(key)) !== keyHash) {
    throw new NoteKeyError('verifier key hash does not match the key');
  }
  const publicKey = publicKeyFromRaw(key);
  return Object.freeze({
    name,
    keyHash,
    verify: (message: Uint8Array, signature: Uint8Array): boolean => {
      if (!(signature instanceof Uint8Array) || signature.length !== ED25519_SIGNATURE_BYTES) return false;
      try {
        return cryptoVerify(null, message, publicKey, signature);
      } catch {
        // node:crypto throws on some malformed inputs; for a verifier that only means "no".
        return false;
      }
    },
  });
}
