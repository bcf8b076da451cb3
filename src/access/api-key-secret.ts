import { hash, timingSafeEqual } from 'node:crypto';

/** Prefix of generated keys, so a leaked one is recognisable in scanners and logs. */
const KEY_PREFIX = 'atk_';

/**
 * A new API key secret from 32 random bytes (256 bits; the caller supplies them) and its public
 * prefix (the first 12 characters: enough to tell keys apart in a list, too few to guess with).
 */
export function newKeySecret(random: Buffer): { secret: string; prefix: string } {
  if (random.length !== 32) throw new RangeError('an API key needs 32 random bytes');
  const secret = `${KEY_PREFIX}${random.toString('base64url')}`;
  return { secret, prefix: secret.slice(0, 12) };
}

/**
 * What is stored of a secret: its SHA-256. A 256-bit random secret needs no slow hash. It runs on
 * every request (the key cache is keyed by it), so the one-shot hash, without a Hash object.
 */
export function hashKeySecret(secret: string): Buffer {
  return hash('sha256', secret, 'buffer');
}

/** Constant-time comparison of two secret hashes. */
export function sameSecretHash(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The Bearer token of an Authorization header, or why there is none (never echoing the header). */
export function bearerToken(header: string | string[] | undefined): { token: string } | { problem: string } {
  if (header === undefined || header === '')
    return { problem: 'a valid API key is required (Authorization: Bearer <key>)' };
  if (typeof header !== 'string') return { problem: 'the Authorization header must be given once' };
  const match = /^Bearer ([\x21-\x7e]+)$/i.exec(header);
  if (!match) return { problem: 'the Authorization header must be "Bearer <key>"' };
  if (match[1].length < 16 || match[1].length > 512)
    return { problem: 'the API key in the Authorization header is malformed' };
  return { token: match[1] };
}
