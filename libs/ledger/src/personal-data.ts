import { timingSafeEqual } from 'node:crypto';
import { JsonValue, canonicalJsonBytes } from './canonical-json';
import { sha256 } from './hashing';

/** Bytes of fresh randomness each piece of personal data is salted with. */
export const PERSONAL_SALT_BYTES = 32;

function assertSalt(salt: Uint8Array): void {
  if (salt.length !== PERSONAL_SALT_BYTES) throw new RangeError(`salt must be ${PERSONAL_SALT_BYTES} bytes`);
}

/**
 * `personal.digest` of a leaf: standard base64 of SHA-256(salt ‖ canonical JSON of `data`).
 * Requires a PERSONAL_SALT_BYTES-byte salt from a cryptographic random source, fresh for each
 * piece of data (the caller supplies it): without the salt, which erasure destroys, the digest
 * reveals nothing guessable about the data.
 */
export function personalDigest(salt: Uint8Array, data: JsonValue): string {
  assertSalt(salt);
  return sha256(Buffer.concat([salt, canonicalJsonBytes(data)])).toString('base64');
}

/**
 * Whether `data` with `salt` is what `digest` commits to. Compares in constant time. Requires a
 * PERSONAL_SALT_BYTES-byte salt; a digest of the wrong form simply does not match.
 */
export function verifyPersonalDigest(salt: Uint8Array, data: JsonValue, digest: string): boolean {
  const expected = Buffer.from(personalDigest(salt, data), 'base64');
  const given = Buffer.from(digest, 'base64');
  return given.length === expected.length && given.toString('base64') === digest && timingSafeEqual(given, expected);
}
