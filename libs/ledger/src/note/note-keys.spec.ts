import { createHash } from 'node:crypto';
import fc from 'fast-check';

import {
  decodeBase64,
  formatVerifierKey,
  generateNoteKey,
  isValidKeyName,
  parsePrivateKey,
  parseVerifierKey,
} from './note-keys';
import { NoteKeyError } from './note.errors';

// golang.org/x/mod: sumdb/note/note.go (package doc) and sumdb/note/note_test.go.
const PETER_SKEY = 'PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz';
const PETER_VKEY = 'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW';
const ENOCH_VKEY = 'EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop';

// transparency-dev/formats: log/note_test.go (key pairs made with Go's note.GenerateKey).
const FORMATS_PAIRS = [
  {
    privateKey: 'PRIVATE+KEY+Log+2271c621+AdEIq9FLRQni54Wg68T96VJO+iayOaulswav2DUMKgvQ',
    verifierKey: 'Log+2271c621+AemuH5ooBpEPcr+W8onrjA1NfuzBVHdezakU81Ekarvs',
  },
  {
    privateKey: 'PRIVATE+KEY+Known+451c786d+AQPRoE2+Z+Ed1HaHBA9F/FfracvcZ2rDU39kCecMEoci',
    verifierKey: 'Known+451c786d+AXAQ0T7lbwuY4ABJ9/MYY9bWV3hmSyOGVt2x42NkmdUH',
  },
  {
    privateKey: 'PRIVATE+KEY+KnownAgain+4893b26c+ARhZda/l25zjGZswYLDZsLNRzNpmv5wYTN9IoTr1OJ2+',
    verifierKey: 'KnownAgain+4893b26c+AQ+LR7BFF/F/dkpIBjBpSvT0crkteizuUkavAoGeaYMj',
  },
  {
    privateKey: 'PRIVATE+KEY+Unknown+fdbb2e08+Aav2knTC6orbhXX8pMWuNiWgO+Wwk2DB+h1eU2Q1W1nU',
    verifierKey: 'Unknown+fdbb2e08+AWgRIYZ+8x1Vl+1Q+sR8zciNHiYI1SdlBjNw+RV0rots',
  },
] as const;

// RFC 8032 section 7.1, TEST 1, TEST 2, TEST 3 and TEST SHA(abc) (secret key = seed).
// Cross-checked against pyca/cryptography's tests and OpenTitan's ed25519 test data.
const RFC8032_VECTORS = [
  {
    test: 'TEST 1',
    secretKey: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
    publicKey: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
    message: '',
    signature:
      'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
  },
  {
    test: 'TEST 2',
    secretKey: '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb',
    publicKey: '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c',
    message: '72',
    signature:
      '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00',
  },
  {
    test: 'TEST 3',
    secretKey: 'c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7',
    publicKey: 'fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025',
    message: 'af82',
    signature:
      '6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a',
  },
  {
    test: 'TEST SHA(abc)',
    secretKey: '833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42',
    publicKey: 'ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf',
    message:
      'ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f',
    signature:
      'dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b58909351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704',
  },
] as const;

const hex = (text: string): Buffer => Buffer.from(text, 'hex');

// The bytes after the second '+' of a verifier key (the base64 itself may contain '+').
function keyData(verifierKey: string): Buffer {
  const second = verifierKey.indexOf('+', verifierKey.indexOf('+') + 1);
  return Buffer.from(verifierKey.slice(second + 1), 'base64');
}

// Independent restatement of c2sp.org/signed-note's Ed25519 key ID, to check the library's.
function expectedKeyHash(name: string, publicKey: Uint8Array): number {
  return createHash('sha256')
    .update(Buffer.concat([Buffer.from(name, 'utf8'), Buffer.of(0x0a, 0x01), publicKey]))
    .digest()
    .readUInt32BE(0);
}

function expectKeyError(action: () => unknown): NoteKeyError {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(NoteKeyError);
    expect((error as NoteKeyError).code).toBe('malformed_key');
    return error as NoteKeyError;
  }
  throw new Error('expected a NoteKeyError');
}

describe('Go sumdb/note keys', () => {
  it('derives the PeterNeumann verifier key and key hash from its private key', () => {
    const signer = parsePrivateKey(PETER_SKEY);
    expect(signer.name).toBe('PeterNeumann');
    expect(signer.keyHash).toBe(0xc74f20a3);
    expect(signer.verifierKey).toBe(PETER_VKEY);
  });

  it('parses the PeterNeumann and EnochRoot verifier keys', () => {
    const peter = parseVerifierKey(PETER_VKEY);
    expect(peter.name).toBe('PeterNeumann');
    expect(peter.keyHash).toBe(0xc74f20a3);
    const enoch = parseVerifierKey(ENOCH_VKEY);
    expect(enoch.name).toBe('EnochRoot');
    expect(enoch.keyHash).toBe(0xaf0cfe78);
  });

  it('computes the key hash as SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)[:4]', () => {
    const publicKey = keyData(PETER_VKEY).subarray(1);
    expect(expectedKeyHash('PeterNeumann', publicKey)).toBe(0xc74f20a3);
    expect(formatVerifierKey('PeterNeumann', publicKey)).toBe(PETER_VKEY);
  });

  it('signs and verifies with the PeterNeumann pair', () => {
    const message = Buffer.from('hi');
    const signature = parsePrivateKey(PETER_SKEY).sign(message);
    expect(signature).toHaveLength(64);
    const verifier = parseVerifierKey(PETER_VKEY);
    expect(verifier.verify(message, signature)).toBe(true);
    signature[0] ^= 1;
    expect(verifier.verify(message, signature)).toBe(false);
  });

  // Go's TestNewVerifier / TestNewSigner: every strict substring and every single-character
  // increment of a valid key must be rejected.
  it.each([
    ['verifier', PETER_VKEY, parseVerifierKey],
    ['private', PETER_SKEY, parsePrivateKey],
  ] as const)('rejects every substring and every character increment of the %s key', (_kind, key, parse) => {
    let rejected = 0;
    for (let i = 0; i <= key.length; i++) {
      for (let j = i + 1; j <= key.length; j++) {
        if (i === 0 && j === key.length) continue;
        expectKeyError(() => parse(key.slice(i, j)));
        rejected++;
      }
    }
    for (let i = 0; i < key.length; i++) {
      const mangled = key.slice(0, i) + String.fromCharCode(key.charCodeAt(i) + 1) + key.slice(i + 1);
      expectKeyError(() => parse(mangled));
      rejected++;
    }
    expect(rejected).toBe((key.length * (key.length + 1)) / 2 - 1 + key.length);
  });

  it('rejects a wrong-length key and an unknown algorithm even with adjusted key hashes (Go note_test.go)', () => {
    expectKeyError(() =>
      parseVerifierKey('PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY=='),
    );
    expect(
      expectKeyError(() => parseVerifierKey('PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW'))
        .message,
    ).toMatch(/unknown signature algorithm/);
  });
});

describe('transparency-dev/formats key pairs', () => {
  it.each(FORMATS_PAIRS)('derives $verifierKey from its private key', ({ privateKey, verifierKey }) => {
    const signer = parsePrivateKey(privateKey);
    expect(signer.verifierKey).toBe(verifierKey);
    const verifier = parseVerifierKey(verifierKey);
    expect(verifier.keyHash).toBe(signer.keyHash);
    const message = Buffer.from('checkpoint\n');
    expect(verifier.verify(message, signer.sign(message))).toBe(true);
  });

  it('parses the sum.golang.org verifier key', () => {
    const verifier = parseVerifierKey('sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8');
    expect(verifier.name).toBe('sum.golang.org');
    expect(verifier.keyHash).toBe(0x033de0ae);
  });
});

describe('RFC 8032 section 7.1 Ed25519 vectors through the key objects', () => {
  it.each(RFC8032_VECTORS)('$test', ({ secretKey, publicKey, message, signature }) => {
    const name = 'rfc8032.example/vector';
    const pair = generateNoteKey(name, hex(secretKey));
    const encodedPublic = keyData(pair.verifierKey);
    expect(encodedPublic.toString('hex')).toBe(`01${publicKey}`);
    expect(pair.verifierKey).toBe(formatVerifierKey(name, hex(publicKey)));

    const signer = parsePrivateKey(pair.privateKey);
    expect(signer.keyHash).toBe(expectedKeyHash(name, hex(publicKey)));
    expect(signer.sign(hex(message)).toString('hex')).toBe(signature);

    const verifier = parseVerifierKey(pair.verifierKey);
    expect(verifier.verify(hex(message), hex(signature))).toBe(true);
    expect(verifier.verify(Buffer.concat([hex(message), Buffer.of(0)]), hex(signature))).toBe(false);
  });

  it('uses SHA-512("abc") as the TEST SHA(abc) message', () => {
    expect(createHash('sha512').update('abc').digest('hex')).toBe(RFC8032_VECTORS[3].message);
  });
});

describe('generateNoteKey', () => {
  const seed = Buffer.alloc(32, 7);

  it('is deterministic in the seed and produces the documented texts', () => {
    const a = generateNoteKey('example.com/log', seed);
    const b = generateNoteKey('example.com/log', Uint8Array.from(seed));
    expect(a).toEqual(b);
    expect(a.verifierKey).toMatch(/^example\.com\/log\+[0-9a-f]{8}\+[A-Za-z0-9+/]{44}$/);
    const hash = a.verifierKey.slice('example.com/log+'.length, 'example.com/log+'.length + 8);
    const encodedSeed = Buffer.concat([Buffer.of(1), seed]).toString('base64');
    expect(a.privateKey).toBe(`PRIVATE+KEY+example.com/log+${hash}+${encodedSeed}`);
  });

  it('rejects seeds that are not 32 bytes', () => {
    expectKeyError(() => generateNoteKey('n', Buffer.alloc(31)));
    expectKeyError(() => generateNoteKey('n', Buffer.alloc(33)));
    expectKeyError(() => generateNoteKey('n', 'x'.repeat(32) as unknown as Uint8Array));
  });

  it.each([
    ['empty', ''],
    ['plus', 'a+b'],
    ['space', 'a b'],
    ['tab', 'a\tb'],
    ['no-break space', 'a\u00a0b'],
    ['next line', 'a\u0085b'],
    ['ideographic space', 'a\u3000b'],
    ['line separator', 'a\u2028b'],
    ['control character', 'a\u0001b'],
    ['lone surrogate', 'a\ud800b'],
  ])('rejects a key name with %s', (_what, name) => {
    expect(isValidKeyName(name)).toBe(false);
    expectKeyError(() => generateNoteKey(name, seed));
    expectKeyError(() => formatVerifierKey(name, Buffer.alloc(32)));
  });

  it('accepts non-ASCII names without spaces', () => {
    expect(isValidKeyName('Señor-1')).toBe(true);
    expect(isValidKeyName('quasimodo.example/salvatore')).toBe(true);
    expect(isValidKeyName('zero\u200bwidth')).toBe(true); // U+200B is not White_Space in Unicode or Go.
    const pair = generateNoteKey('Señor-1', seed);
    expect(parsePrivateKey(pair.privateKey).verifierKey).toBe(pair.verifierKey);
    expect(parseVerifierKey(pair.verifierKey).keyHash).toBe(parsePrivateKey(pair.privateKey).keyHash);
  });

  it('signs and verifies any message (property)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ maxLength: 256 }),
        (keySeed, message) => {
          const pair = generateNoteKey('prop.example', keySeed);
          const signer = parsePrivateKey(pair.privateKey);
          const verifier = parseVerifierKey(pair.verifierKey);
          expect(signer.keyHash).toBe(verifier.keyHash);
          expect(verifier.verify(message, signer.sign(message))).toBe(true);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('rejects any single-bit change of the message or the signature (property)', () => {
    const pair = generateNoteKey('prop.example', seed);
    const signer = parsePrivateKey(pair.privateKey);
    const verifier = parseVerifierKey(pair.verifierKey);
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 128 }),
        fc.nat(),
        fc.boolean(),
        (message, bit, inSignature) => {
          const signature = signer.sign(message);
          const target = inSignature ? signature : Buffer.from(message);
          const index = bit % (target.length * 8);
          target[index >> 3] ^= 1 << (index & 7);
          expect(verifier.verify(inSignature ? message : target, signature)).toBe(false);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('key text rejections', () => {
  const name = 'example.com/log';
  const pair = generateNoteKey(name, Buffer.alloc(32, 9));
  const hash = pair.verifierKey.slice(name.length + 1, name.length + 9);
  const key = pair.verifierKey.slice(name.length + 10);
  const seedText = pair.privateKey.slice(`PRIVATE+KEY+${name}+${hash}+`.length);

  it('splits the fixture as expected', () => {
    expect(`${name}+${hash}+${key}`).toBe(pair.verifierKey);
    expect(`PRIVATE+KEY+${name}+${hash}+${seedText}`).toBe(pair.privateKey);
    expect(parseVerifierKey(pair.verifierKey).keyHash).toBe(parseInt(hash, 16));
  });

  it('rejects a verifier key whose hash does not match', () => {
    const wrong = ((parseInt(hash, 16) + 1) >>> 0).toString(16).padStart(8, '0');
    expect(expectKeyError(() => parseVerifierKey(`${name}+${wrong}+${key}`)).message).toMatch(/does not match/);
  });

  it('rejects a private key whose hash does not match, without echoing the key', () => {
    const wrong = ((parseInt(hash, 16) ^ 0x80000000) >>> 0).toString(16).padStart(8, '0');
    const error = expectKeyError(() => parsePrivateKey(`PRIVATE+KEY+${name}+${wrong}+${seedText}`));
    expect(error.message).toMatch(/does not match/);
    expect(error.message).not.toContain(seedText);
  });

  it('rejects a private key given as a verifier key and the other way round', () => {
    expectKeyError(() => parseVerifierKey(pair.privateKey));
    expectKeyError(() => parsePrivateKey(pair.verifierKey));
  });

  it('rejects upper-case hex, URL-safe base64, stray characters and a 0x prefix', () => {
    expect(parseVerifierKey(PETER_VKEY).keyHash).toBe(0xc74f20a3);
    expectKeyError(() => parseVerifierKey(PETER_VKEY.replace('c74f20a3', 'C74F20A3')));
    expect(PETER_VKEY).toContain('/');
    expectKeyError(() => parseVerifierKey(PETER_VKEY.replace('/', '_')));
    expectKeyError(() => parseVerifierKey(`${PETER_VKEY}=`));
    expectKeyError(() => parseVerifierKey(`${PETER_VKEY} `));
    expectKeyError(() => parseVerifierKey(` ${PETER_VKEY}`));
    expectKeyError(() => parseVerifierKey(PETER_VKEY.replace('c74f20a3', '0xc74f20a3')));
  });

  it('rejects a verifier key carrying the private seed in place of the public key', () => {
    expectKeyError(() => parseVerifierKey(`${name}+${hash}+${seedText}`));
  });

  it('verify() is false, not an exception, for signatures of the wrong length', () => {
    const verifier = parseVerifierKey(pair.verifierKey);
    expect(verifier.verify(Buffer.from('x'), Buffer.alloc(0))).toBe(false);
    expect(verifier.verify(Buffer.from('x'), Buffer.alloc(63))).toBe(false);
    expect(verifier.verify(Buffer.from('x'), Buffer.alloc(65))).toBe(false);
  });

  it('returns frozen signer and verifier objects', () => {
    expect(Object.isFrozen(parsePrivateKey(pair.privateKey))).toBe(true);
    expect(Object.isFrozen(parseVerifierKey(pair.verifierKey))).toBe(true);
  });
});

describe('decodeBase64', () => {
  it('accepts canonical standard base64 only', () => {
    expect(decodeBase64('')).toEqual(Buffer.alloc(0));
    expect(decodeBase64('YQ==')).toEqual(Buffer.from('a'));
    expect(decodeBase64('YWI=')).toEqual(Buffer.from('ab'));
    expect(decodeBase64('+/+/')).toEqual(Buffer.from([0xfb, 0xff, 0xbf]));
    for (const bad of ['YQ', 'YQ=', 'YR==', 'YWJ=', '-_-_', 'YQ==YQ==', ' YQ==', 'YQ==\n', 'Y===', '=']) {
      expect(decodeBase64(bad)).toBeUndefined();
    }
  });

  it('round-trips any bytes (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
        expect(decodeBase64(Buffer.from(bytes).toString('base64'))).toEqual(Buffer.from(bytes));
      }),
    );
  });
});
