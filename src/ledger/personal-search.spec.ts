import fc from 'fast-check';
import { createHmac } from 'node:crypto';
import {
  MAX_TERMS_PER_ENTRY,
  normaliseEmail,
  normaliseIp,
  searchDigest,
  searchKeyCheck,
  searchTermsOf,
} from './personal-search';

const KEY = Buffer.alloc(32, 0x0b);

describe('personal search: normalisation', () => {
  it('trims and lower-cases an email, and refuses what is not one', () => {
    expect(normaliseEmail('  Ada.Lovelace@Example.COM ')).toBe('ada.lovelace@example.com');
    for (const bad of ['', 'ada', 'ada@host', '@example.com', 'ada@example.c0m', 'a b@example.com', 'ada@@example.com'])
      expect(normaliseEmail(bad)).toBeNull();
    expect(normaliseEmail(`${'a'.repeat(65)}@example.com`)).toBeNull();
  });

  it('gives every spelling of one IP address one form', () => {
    expect(normaliseIp('10.0.0.1')).toBe('10.0.0.1');
    expect(normaliseIp(' 10.0.0.1 ')).toBe('10.0.0.1');
    expect(normaliseIp('::ffff:10.0.0.1')).toBe('10.0.0.1');
    expect(normaliseIp('::FFFF:0a00:0001')).toBe('10.0.0.1');
    expect(normaliseIp('2001:DB8:0:0:0:0:0:1')).toBe('2001:db8::1');
    expect(normaliseIp('2001:db8::0:1')).toBe('2001:db8::1');
    expect(normaliseIp('2001:db8:0:0:1:0:0:1')).toBe('2001:db8::1:0:0:1');
    expect(normaliseIp('0:0:0:0:0:0:0:1')).toBe('::1');
    expect(normaliseIp('fe80::1%eth0')).toBe('fe80::1');
    for (const bad of ['', '1.2.3', '256.1.1.1', '01.02.03.04', '1.2.3.4.5', '12:30:45', 'example.com', '::g'])
      expect(normaliseIp(bad)).toBeNull();
  });

  it('is idempotent, and an IPv4 address and its mapped IPv6 form always meet', () => {
    fc.assert(
      fc.property(fc.ipV4(), (ip) => {
        expect(normaliseIp(ip)).toBe(ip);
        expect(normaliseIp(`::ffff:${ip}`)).toBe(ip);
      }),
    );
    fc.assert(
      fc.property(fc.ipV6(), (ip) => {
        const once = normaliseIp(ip) as string;
        expect(once).not.toBeNull();
        expect(normaliseIp(once)).toBe(once);
        expect(normaliseIp(ip.toUpperCase())).toBe(once);
      }),
    );
    fc.assert(
      fc.property(fc.emailAddress(), (email) => {
        const once = normaliseEmail(email);
        if (once !== null) expect(normaliseEmail(once.toUpperCase())).toBe(once);
      }),
    );
  });
});

describe('personal search: indexed terms', () => {
  it('indexes whole email and IP values of top-level members and arrays, whatever their names', () => {
    expect(
      searchTermsOf({
        ip: '::ffff:192.0.2.10',
        email: 'Ada@Example.com',
        contact: 'ada@example.com',
        other: ['198.51.100.7', 'not an address', 42],
        userAgent: 'Mozilla/5.0 (X11; Linux x86_64)',
        note: 'mail ada@example.com please',
        nested: { ip: '203.0.113.1' },
      }),
    ).toEqual([
      { field: 'ip', value: '192.0.2.10' },
      { field: 'email', value: 'ada@example.com' },
      { field: 'ip', value: '198.51.100.7' },
    ]);
    expect(searchTermsOf('ada@example.com')).toEqual([]);
    expect(searchTermsOf(null)).toEqual([]);
    expect(searchTermsOf(['ada@example.com'])).toEqual([]);
  });

  it('indexes at most MAX_TERMS_PER_ENTRY values', () => {
    const data = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`ip${i}`, `10.0.0.${i}`]));
    expect(searchTermsOf(data)).toHaveLength(MAX_TERMS_PER_ENTRY);
  });
});

describe('personal search: digests', () => {
  it('uses HMAC-SHA256 (RFC 4231 test case 2)', () => {
    expect(createHmac('sha256', 'Jefe').update('what do ya want for nothing?').digest('hex')).toBe(
      '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
    );
  });

  it('digests the field and the normalised value under the key (vectors from openssl dgst -hmac)', () => {
    // printf 'audit-personal-search/v1\0email\0ada@example.com' | openssl dgst -sha256 -mac HMAC -macopt hexkey:0b…0b (32 bytes)
    expect(searchDigest(KEY, { field: 'email', value: 'ada@example.com' }).toString('hex')).toBe(
      'e6f33fd9de489c56c67ab2b6b1201ff62f82ba492517538948cc77d3ea5422c5',
    );
    expect(searchDigest(KEY, { field: 'ip', value: '10.0.0.1' }).toString('hex')).toBe(
      'b3d544668ef9f5d2e8fa2d7f7e2ad0b5da3bf4cbb63fd97fcf58b02f735dd28c',
    );
  });

  it('differs by key and by field, and the key check is not a term digest', () => {
    const term = { field: 'email' as const, value: 'ada@example.com' };
    expect(searchDigest(Buffer.alloc(32, 1), term).equals(searchDigest(KEY, term))).toBe(false);
    expect(searchDigest(KEY, { field: 'ip', value: term.value }).equals(searchDigest(KEY, term))).toBe(false);
    expect(searchKeyCheck(KEY)).toHaveLength(32);
    expect(searchKeyCheck(KEY).equals(searchKeyCheck(Buffer.alloc(32, 1)))).toBe(false);
  });
});
