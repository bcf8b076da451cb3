import fc from 'fast-check';
import { PersonalDataKind, findPersonalData, luhnValid, personalDataIn } from './personal-data.detector';

const DEFAULT = new Set<PersonalDataKind>(['email', 'ip']);
const ALL = new Set<PersonalDataKind>(['email', 'ip', 'phone', 'card']);

describe('personal-data detector', () => {
  it.each([
    ['ada@example.com', 'email'],
    ['contact: Ada <ada.lovelace+audit@mail.example.co.uk>', 'email'],
    ['192.0.2.10', 'ip'],
    ['from 10.0.0.1, then', 'ip'],
    ['2001:db8::1', 'ip'],
    ['[2001:db8:85a3::8a2e:370:7334]:443', 'ip'],
    ['::ffff:192.0.2.1', 'ip'],
    ['fe80::1%eth0', 'ip'],
  ])('flags %j as %s', (value, kind) => {
    expect(personalDataIn(value, DEFAULT)).toBe(kind);
  });

  it.each([
    'user@host', // no dotted domain: a local account, a Kerberos-like principal
    '@scope/package',
    'idp|ada',
    '1.2.3', // a version
    'v1.2.3-rc.1',
    '1.2.3.4.5',
    '256.1.1.1', // not an address
    '01.02.03.04',
    '2024-02-29T12:30:45.123Z',
    '12:30:45',
    'std::vector',
    'Stage::1', // `e::1` would be an address, but it is part of a word
    '::',
    'aa:bb:cc:dd:ee:ff', // a MAC address has no IP form
    '0190f7a0-1234-7abc-8def-0123456789ab',
    'deadbeefcafebabe0123456789abcdef',
    'sha256:0123456789abcdef',
    'https://status.example.com/incidents/42',
    'auth.login.failed',
  ])('lets %j pass', (value) => {
    expect(personalDataIn(value, ALL)).toBeNull();
  });

  it('finds phone numbers and payment cards only when switched on', () => {
    for (const [value, kind] of [
      ['+44 20 7946 0958', 'phone'],
      ['call +1 (555) 010-0199', 'phone'],
      ['4111 1111 1111 1111', 'card'],
      ['5555-5555-5555-4444', 'card'],
      ['378282246310005', 'card'],
      ['card 6011111111111117 on file', 'card'],
    ] as const) {
      expect(personalDataIn(value, DEFAULT)).toBeNull();
      expect(personalDataIn(value, ALL)).toBe(kind);
    }
    // Not Luhn-valid, a (Luhn-valid) millisecond timestamp, a national-format number, too few digits.
    for (const value of ['4111 1111 1111 1112', '1733200000003', '020 7946 0958', '+44 123']) {
      expect(personalDataIn(value, ALL)).toBeNull();
    }
  });

  it('checks Luhn against public test card numbers', () => {
    // Test numbers published by payment processors (Stripe, Adyen, PayPal sandbox documentation).
    for (const card of [
      '4111111111111111',
      '4242424242424242',
      '5555555555554444',
      '378282246310005',
      '6011111111111117',
      '3056930009020004',
    ]) {
      expect(luhnValid(card)).toBe(true);
      const last = Number(card[card.length - 1]);
      expect(luhnValid(card.slice(0, -1) + String((last + 1) % 10))).toBe(false);
    }
  });

  it('finds every flagged string with its JSON pointer, skipping what it is told to', () => {
    const context = { a: { 'b/c': ['x', 'ada@example.com'] }, n: 1, ok: 'fine', ip: '192.0.2.1', ipRange: '192.0.2.0' };
    expect(findPersonalData(context, '/context', DEFAULT, (p) => p === '/context/ipRange')).toEqual([
      { path: '/context/a/b~1c/1', kind: 'email' },
      { path: '/context/ip', kind: 'ip' },
    ]);
    // Member names are not looked at.
    expect(findPersonalData({ 'ada@example.com': 1 }, '', DEFAULT)).toEqual([]);
  });

  describe('properties', () => {
    const label = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?$/);
    const email = fc
      .tuple(
        fc.stringMatching(/^[A-Za-z0-9._%+-]{1,20}$/),
        fc.array(label, { minLength: 1, maxLength: 3 }),
        fc.stringMatching(/^[a-z]{2,8}$/),
      )
      .map(([local, labels, tld]) => `${local}@${labels.join('.')}.${tld}`);
    const around = fc.constantFrom('', ' ', 'user ', 'x: ', '(', '"');

    it('flags every email and every IPv4 and IPv6 address (but `::`, which names no one), alone or in text', () => {
      fc.assert(
        fc.property(
          fc.oneof(
            email,
            fc.ipV4(),
            fc.ipV6().filter((ip) => ip !== '::'),
          ),
          around,
          around,
          (value, before, after) => {
            expect(personalDataIn(`${before}${value}${after.split('').reverse().join('')}`, DEFAULT)).not.toBeNull();
          },
        ),
      );
    });

    it('never flags a UUID, an ISO timestamp, a semantic version or a hex id', () => {
      const iso = fc
        .date({ min: new Date('0001-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59Z'), noInvalidDate: true })
        .map((d) => d.toISOString());
      const semver = fc
        .tuple(fc.nat(999), fc.nat(999), fc.nat(999), fc.constantFrom('', '-rc.1', '-beta.2+build.7'))
        .map(([a, b, c, pre]) => `${a}.${b}.${c}${pre}`);
      const hex = fc.stringMatching(/^[0-9a-f]{8,64}$/);
      fc.assert(
        fc.property(fc.oneof(fc.uuid(), iso, semver, hex), (value) => {
          expect(personalDataIn(value, DEFAULT)).toBeNull();
        }),
      );
    });

    it('never flags strings without @, : or . unless phone or card detection is on', () => {
      fc.assert(
        fc.property(
          fc.string().filter((s) => !/[@:.]/.test(s)),
          (value) => {
            expect(personalDataIn(value, DEFAULT)).toBeNull();
          },
        ),
      );
    });
  });
});
