import { randomBytes } from 'node:crypto';
import type { AppConfig } from '../platform';
import { SecretSealer, SecretUnreadableError } from './secret-sealer';
import { SubjectKeys, keyEncryptionKeyId } from './subject-keys';

/** A sealer over `current`, with `previous` keys configured as AUDIT_KEY_ENCRYPTION_KEYS_PREVIOUS. */
function sealer(current: Buffer, previous: Buffer[] = []): SecretSealer {
  const keys = { keyEncryptionKey: current, keyEncryptionKeyId: keyEncryptionKeyId(current) } as SubjectKeys;
  return new SecretSealer(keys, { previousKeyEncryptionKeys: previous } as unknown as AppConfig);
}

describe('SecretSealer', () => {
  const key = randomBytes(32);

  it('seals without the plaintext, names the key, and opens in the same place only', () => {
    const s = sealer(key);
    const sealed = s.seal('sink:a', 'the-secret-value');
    expect(sealed.sealed.includes(Buffer.from('the-secret-value'))).toBe(false);
    expect(sealed.keyId).toBe(keyEncryptionKeyId(key));
    expect(s.open('sink:a', sealed)).toBe('the-secret-value');
    expect(() => s.open('sink:b', sealed)).toThrow(SecretUnreadableError);
    const altered = Buffer.from(sealed.sealed);
    altered[20] ^= 1;
    expect(() => s.open('sink:a', { ...sealed, sealed: altered })).toThrow(SecretUnreadableError);
  });

  it('opens under a previous key after a rotation, and refuses a key that is not configured', () => {
    const sealed = sealer(key).seal('sink:a', 'the-secret-value');
    const rotated = sealer(randomBytes(32), [key]);
    expect(sealed.keyId).not.toBe(rotated.keyId());
    expect(rotated.open('sink:a', sealed)).toBe('the-secret-value');
    expect(() => sealer(randomBytes(32)).open('sink:a', sealed)).toThrow(/not configured/);
  });
});
