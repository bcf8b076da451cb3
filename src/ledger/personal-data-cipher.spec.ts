import { randomBytes } from 'node:crypto';
import { SealedValueError, open, personalAad, seal, subjectKeyAad } from './personal-data-cipher';

const key = randomBytes(32);
const place = { log: 'acme', idx: 7, subject: 'user-1', field: 'data' as const };
const plaintext = Buffer.from('{"email":"ada@example.com"}');

describe('personal data cipher', () => {
  it('opens what it sealed, and the sealed bytes do not hold the plaintext', () => {
    const sealed = seal(key, randomBytes(12), personalAad(place), plaintext);
    expect(sealed.includes(Buffer.from('ada@example.com'))).toBe(false);
    expect(sealed.length).toBe(12 + plaintext.length + 16);
    expect(open(key, personalAad(place), sealed)).toEqual(plaintext);
  });

  it('gives different bytes for the same value under fresh IVs', () => {
    const a = seal(key, randomBytes(12), personalAad(place), plaintext);
    const b = seal(key, randomBytes(12), personalAad(place), plaintext);
    expect(a.equals(b)).toBe(false);
  });

  it('refuses a tampered ciphertext, IV or tag', () => {
    const sealed = seal(key, randomBytes(12), personalAad(place), plaintext);
    for (const at of [0, 12, sealed.length - 1]) {
      const tampered = Buffer.from(sealed);
      tampered[at] ^= 1;
      expect(() => open(key, personalAad(place), tampered)).toThrow(SealedValueError);
    }
    expect(() => open(key, personalAad(place), sealed.subarray(0, 20))).toThrow(SealedValueError);
  });

  it('refuses a value moved to another entry, subject, field or log', () => {
    const sealed = seal(key, randomBytes(12), personalAad(place), plaintext);
    for (const moved of [
      { ...place, idx: 8 },
      { ...place, subject: 'user-2' },
      { ...place, field: 'salt' as const },
      { ...place, log: 'globex' },
    ]) {
      expect(() => open(key, personalAad(moved), sealed)).toThrow(SealedValueError);
    }
  });

  it('refuses the wrong key', () => {
    const sealed = seal(key, randomBytes(12), personalAad(place), plaintext);
    expect(() => open(randomBytes(32), personalAad(place), sealed)).toThrow(SealedValueError);
  });

  it('binds a wrapped subject key to its log and subject', () => {
    const kek = randomBytes(32);
    const wrapped = seal(kek, randomBytes(12), subjectKeyAad('acme', 'user-1'), key);
    expect(open(kek, subjectKeyAad('acme', 'user-1'), wrapped)).toEqual(key);
    expect(() => open(kek, subjectKeyAad('acme', 'user-2'), wrapped)).toThrow(SealedValueError);
  });

  it('refuses keys and IVs of the wrong size', () => {
    expect(() => seal(randomBytes(16), randomBytes(12), Buffer.alloc(0), plaintext)).toThrow(RangeError);
    expect(() => seal(key, randomBytes(16), Buffer.alloc(0), plaintext)).toThrow(RangeError);
  });
});
