import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { PERSONAL_SALT_BYTES, personalDigest, verifyPersonalDigest } from './personal-data';

describe('personal data commitment', () => {
  const salt = Buffer.alloc(PERSONAL_SALT_BYTES, 0x5a);
  const data = { email: 'ada@example.com', ip: '192.0.2.1' };

  it('is base64 of SHA-256(salt ‖ canonical JSON)', () => {
    const expected = createHash('sha256')
      .update(salt)
      .update('{"email":"ada@example.com","ip":"192.0.2.1"}')
      .digest('base64');
    expect(personalDigest(salt, data)).toBe(expected);
    // Member order does not matter: the JSON is canonical.
    expect(personalDigest(salt, { ip: '192.0.2.1', email: 'ada@example.com' })).toBe(expected);
  });

  it('checks data against a digest, and any other salt, data or digest fails', () => {
    const digest = personalDigest(salt, data);
    expect(verifyPersonalDigest(salt, data, digest)).toBe(true);
    expect(verifyPersonalDigest(Buffer.alloc(32, 1), data, digest)).toBe(false);
    expect(verifyPersonalDigest(salt, { ...data, ip: '192.0.2.2' }, digest)).toBe(false);
    expect(verifyPersonalDigest(salt, data, digest.slice(0, -2))).toBe(false);
    expect(verifyPersonalDigest(salt, data, 'not base64!')).toBe(false);
  });

  it('needs a 32-byte salt', () => {
    expect(() => personalDigest(Buffer.alloc(16), data)).toThrow(RangeError);
  });

  it('differs for different salts over the same data (nothing guessable without the salt)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        (a, b) => {
          fc.pre(!Buffer.from(a).equals(Buffer.from(b)));
          expect(personalDigest(a, data)).not.toBe(personalDigest(b, data));
        },
      ),
    );
  });
});
