import { createCipheriv, createDecipheriv } from 'node:crypto';

/**
 * Authenticated encryption for what the service keeps but must not hold in clear (personal data
 * at rest, wrapped keys, sinks' secrets, the console's sign-in state): AES-256-GCM, pure (the
 * caller passes keys and IVs; no randomness, clock or I/O here). A sealed value is
 * IV (12 bytes) ‖ ciphertext ‖ tag (16 bytes); the additional authenticated data names where the
 * value belongs, so a copy moved elsewhere does not open.
 */

export const DATA_KEY_BYTES = 32;
export const IV_BYTES = 12;
const TAG_BYTES = 16;
const ALGORITHM = 'aes-256-gcm';

/** A sealed value that does not open: wrong key, tampered bytes, or moved to another place. */
export class SealedValueError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SealedValueError';
  }
}

/**
 * Seals `plaintext` under `key` (32 bytes) with `iv` (12 bytes, never used twice with one key:
 * pass fresh random bytes) bound to `aad`.
 */
export function seal(key: Buffer, iv: Buffer, aad: Buffer, plaintext: Buffer): Buffer {
  if (key.length !== DATA_KEY_BYTES) throw new RangeError(`key must be ${DATA_KEY_BYTES} bytes`);
  if (iv.length !== IV_BYTES) throw new RangeError(`iv must be ${IV_BYTES} bytes`);
  const cipher = createCipheriv(ALGORITHM, key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad);
  const body = cipher.update(plaintext);
  const rest = cipher.final();
  return Buffer.concat([iv, body, rest, cipher.getAuthTag()]);
}

/** The plaintext of `sealed`; throws SealedValueError unless `key` and `aad` are the ones it was sealed with, untouched. */
export function open(key: Buffer, aad: Buffer, sealed: Buffer): Buffer {
  if (key.length !== DATA_KEY_BYTES) throw new RangeError(`key must be ${DATA_KEY_BYTES} bytes`);
  if (sealed.length < IV_BYTES + TAG_BYTES) throw new SealedValueError('sealed value too short');
  const decipher = createDecipheriv(ALGORITHM, key, sealed.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES });
  decipher.setAAD(aad);
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
  try {
    return Buffer.concat([decipher.update(sealed.subarray(IV_BYTES, sealed.length - TAG_BYTES)), decipher.final()]);
  } catch {
    // node:crypto says only "Unsupported state or unable to authenticate data".
    throw new SealedValueError('sealed value does not open with this key and place (wrong key, or altered)');
  }
}
