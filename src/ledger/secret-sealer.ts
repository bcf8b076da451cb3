import { Inject, Injectable } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { APP_CONFIG, AppConfig } from '../platform';
import { IV_BYTES, SealedValueError, open, seal } from './personal-data-cipher';
import { SubjectKeys, keyEncryptionKeyId } from './subject-keys';

/** A secret sealed at rest: the bytes (IV ‖ ciphertext ‖ tag) and the id of the key that sealed them. */
export interface SealedSecret {
  readonly sealed: Buffer;
  readonly keyId: string;
}

/** A sealed secret this process cannot open: its key is not configured, or the bytes were altered or moved. Never quotes it. */
export class SecretUnreadableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SecretUnreadableError';
  }
}

/**
 * Secrets the service must use later but must not keep in clear in the database (a sink's
 * token or HMAC key): AES-256-GCM under the key-encryption key kept outside the database
 * (AUDIT_KEY_ENCRYPTION_KEY or its file, the key of personal data at rest), bound to `place`
 * (what the secret belongs to, so a copy into another row does not open). The id stored beside
 * the ciphertext is the key's (`keyEncryptionKeyId`, as `subject_keys.kek_id`): after a rotation
 * a secret sealed under a key of AUDIT_KEY_ENCRYPTION_KEYS_PREVIOUS still opens, and its owner
 * seals it again under the current key (`keyId`).
 */
@Injectable()
export class SecretSealer {
  constructor(
    private readonly keys: SubjectKeys,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** The id of the key this process seals under. */
  keyId(): string {
    return this.keys.keyEncryptionKeyId;
  }

  seal(place: string, secret: string): SealedSecret {
    const sealed = seal(this.keys.keyEncryptionKey, randomBytes(IV_BYTES), aad(place), Buffer.from(secret, 'utf8'));
    return { sealed, keyId: this.keyId() };
  }

  open(place: string, secret: SealedSecret): string {
    const key = [this.keys.keyEncryptionKey, ...this.config.previousKeyEncryptionKeys].find(
      (k) => keyEncryptionKeyId(k) === secret.keyId,
    );
    if (key === undefined)
      throw new SecretUnreadableError(
        `the secret of ${place} is sealed under ${secret.keyId}, which is not configured`,
      );
    try {
      return open(key, aad(place), secret.sealed).toString('utf8');
    } catch (e) {
      if (e instanceof SealedValueError)
        throw new SecretUnreadableError(`the secret of ${place} does not open: ${e.message}`);
      throw e;
    }
  }
}

const aad = (place: string) => Buffer.from(JSON.stringify(['audit-secret/v1', place]), 'utf8');
