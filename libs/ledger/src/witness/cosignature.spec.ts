import { createHash } from 'node:crypto';
import fc from 'fast-check';
import {
  cosignatureKeyHash,
  cosignedMessage,
  generateCosignerKey,
  parseCosignatureVerifierKey,
  parseCosignerKey,
  verifyCosignatureLine,
} from './cosignature';
import { generateNoteKey, parsePrivateKey, parseVerifierKey } from '../note/note-keys';
import { NoteFormatError, NoteKeyError } from '../note/note.errors';
import { openNote, signNote } from '../note/signed-note';
import { thrown } from '../../testdata/thrown';

/*
 * Known-answer vectors computed once with the OpenSSL 3.0.19 command line (an implementation
 * independent of node:crypto's use here and of this code), on 2026-12-04:
 *
 *   openssl genpkey -algorithm ed25519 -out w.pem
 *   openssl pkey -in w.pem -outform DER | tail -c 32 | base64          # SEED
 *   openssl pkey -in w.pem -pubout -outform DER | tail -c 32 > pub.bin
 *   base64 pub.bin                                                     # PUBLIC_KEY
 *   { printf 'witness.example/w1\n\x04'; cat pub.bin; } > kid.bin
 *   openssl dgst -sha256 kid.bin                                       # first 8 hex digits: KEY_ID
 *   printf 'cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n' > msg.bin
 *   openssl pkeyutl -sign -rawin -inkey w.pem -in msg.bin | base64 -w0 # SIGNATURE
 *   { printf '\x3a\xf7\x29\x25'; printf '%016x' 1679315147 | xxd -r -p;
 *     openssl pkeyutl -sign -rawin -inkey w.pem -in msg.bin; } | base64 -w0  # LINE's base64
 *
 * The checkpoint body is the example of c2sp.org/tlog-cosignature; its timestamp bytes
 * (0x00000000641850cb) match those of the spec's example cosignature line.
 */
const SEED = Buffer.from('p8Jov+sBv+PCZoN5O37CMnSoSBQJWPeOjQubwM+QkN4=', 'base64');
const PUBLIC_KEY = Buffer.from('X4TKruz5M7mctiK25zsvXtn28kVGIcCYTeLLDgUtlw0=', 'base64');
const NAME = 'witness.example/w1';
const KEY_ID = 0x3af72925;
const BODY = 'example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n';
const TIMESTAMP = 1679315147;
const SIGNATURE = 'CpIvwNh6HvTR/UwpmvRdJY/yE/g6ZauIw10ECvGR3iJB6qglLNMp0ou6RV6Qf2PrhbBBLJJIpT1GZPhNTOm1Ag==';
const LINE =
  '— witness.example/w1 OvcpJQAAAABkGFDLCpIvwNh6HvTR/UwpmvRdJY/yE/g6ZauIw10ECvGR3iJB6qglLNMp0ou6RV6Qf2PrhbBBLJJIpT1GZPhNTOm1Ag==\n';
const VKEY = `${NAME}+3af72925+${Buffer.concat([Buffer.of(4), PUBLIC_KEY]).toString('base64')}`;

const pair = generateCosignerKey(NAME, SEED);
const cosigner = parseCosignerKey(pair.privateKey);
const verifier = parseCosignatureVerifierKey(pair.verifierKey);

describe('cosignature/v1 known answers (OpenSSL)', () => {
  it('computes the key ID over name, newline, 0x04 and the public key', () => {
    expect(cosignatureKeyHash(NAME, PUBLIC_KEY)).toBe(KEY_ID);
    expect(cosigner.keyHash).toBe(KEY_ID);
    // The same key as a checkpoint (0x01) key has another ID: the type byte is hashed.
    expect(parseVerifierKey(generateNoteKey(NAME, SEED).verifierKey).keyHash).not.toBe(KEY_ID);
  });

  it('derives the vkey from the seed', () => {
    expect(pair.verifierKey).toBe(VKEY);
    expect(cosigner.verifierKey).toBe(VKEY);
    expect(verifier.publicKey).toEqual(PUBLIC_KEY);
  });

  it('builds the signed message of the spec', () => {
    expect(cosignedMessage(BODY, TIMESTAMP).toString('utf8')).toBe(`cosignature/v1\ntime 1679315147\n${BODY}`);
  });

  it('cosigns to the exact line OpenSSL produced', () => {
    expect(cosigner.cosign(BODY, TIMESTAMP)).toBe(LINE);
    const bytes = Buffer.from(LINE.slice(LINE.lastIndexOf(' ') + 1, -1), 'base64');
    expect(bytes.subarray(12).toString('base64')).toBe(SIGNATURE);
  });

  it('verifies the OpenSSL line', () => {
    expect(verifyCosignatureLine(LINE, BODY, verifier)).toEqual({ name: NAME, keyHash: KEY_ID, timestamp: TIMESTAMP });
  });
});

describe('verifyCosignatureLine', () => {
  const other = parseCosignatureVerifierKey(generateCosignerKey(NAME, Buffer.alloc(32, 7)).verifierKey);

  it('ignores a line by another key, even under the same name', () => {
    expect(verifyCosignatureLine(LINE, BODY, other)).toBeUndefined();
  });

  it('rejects a line whose timestamp was changed', () => {
    const bytes = Buffer.from(LINE.slice(LINE.lastIndexOf(' ') + 1, -1), 'base64');
    bytes.writeUInt32BE(bytes.readUInt32BE(8) + 1, 8);
    const changed = `— ${NAME} ${bytes.toString('base64')}\n`;
    expect(thrown(() => verifyCosignatureLine(changed, BODY, verifier))).toBeInstanceOf(NoteFormatError);
  });

  it('rejects a line for another checkpoint body', () => {
    const body = BODY.replace('20852163', '20852164');
    expect(thrown(() => verifyCosignatureLine(LINE, body, verifier))).toBeInstanceOf(NoteFormatError);
  });

  it('rejects a timestamp above 2^53 - 1 (and so above 2^63 - 1)', () => {
    const bytes = Buffer.from(LINE.slice(LINE.lastIndexOf(' ') + 1, -1), 'base64');
    bytes.writeBigUInt64BE(2n ** 63n, 4);
    const changed = `— ${NAME} ${bytes.toString('base64')}\n`;
    expect(thrown(() => verifyCosignatureLine(changed, BODY, verifier))).toBeInstanceOf(NoteFormatError);
  });

  it.each([
    ['no em dash', LINE.slice(2)],
    ['no key name', '— OvcpJQAAAABk\n'],
    ['bad base64', `— ${NAME} !!!!\n`],
  ])('rejects a line with %s', (_what, line) => {
    expect(thrown(() => verifyCosignatureLine(line, BODY, verifier))).toBeInstanceOf(NoteFormatError);
  });
});

describe('cosigner keys', () => {
  it.each([
    ['a checkpoint (0x01) private key', generateNoteKey(NAME, SEED).privateKey],
    ['a wrong key ID', pair.privateKey.replace('+3af72925+', '+3af72926+')],
    ['no prefix', pair.privateKey.slice('PRIVATE+KEY+'.length)],
  ])('rejects %s', (_what, text) => {
    expect(thrown(() => parseCosignerKey(text))).toBeInstanceOf(NoteKeyError);
  });

  it('rejects a checkpoint (0x01) vkey and a wrong key ID as cosigner vkeys', () => {
    expect(thrown(() => parseCosignatureVerifierKey(generateNoteKey(NAME, SEED).verifierKey))).toBeInstanceOf(
      NoteKeyError,
    );
    expect(thrown(() => parseCosignatureVerifierKey(VKEY.replace('+3af72925+', '+3af72926+')))).toBeInstanceOf(
      NoteKeyError,
    );
  });

  it('never quotes the private key in its errors', () => {
    const error = thrown(() => parseCosignerKey(pair.privateKey.replace('+3af72925+', '+00000000+'))) as Error;
    expect(error.message).not.toContain(pair.privateKey.slice(-20));
  });
});

describe('cosignatures inside signed notes', () => {
  const log = parsePrivateKey(generateNoteKey('example.com/behind-the-sofa', Buffer.alloc(32, 3)).privateKey);
  const logVerifier = parseVerifierKey(log.verifierKey);

  it('opens a checkpoint with a cosignature appended, the verifier acting as a note verifier', () => {
    const note = signNote(BODY, [log]) + cosigner.cosign(BODY, TIMESTAMP);
    const opened = openNote(note, [logVerifier, verifier]);
    expect(opened.verified.map((s) => s.name)).toEqual(['example.com/behind-the-sofa', NAME]);
  });

  it('refuses the note when the cosignature was altered', () => {
    const line = cosigner.cosign(BODY, TIMESTAMP);
    const bytes = Buffer.from(line.slice(line.lastIndexOf(' ') + 1, -1), 'base64');
    bytes[bytes.length - 1] ^= 1;
    const note = `${signNote(BODY, [log])}— ${NAME} ${bytes.toString('base64')}\n`;
    expect(() => openNote(note, [logVerifier, verifier])).toThrow('invalid signature');
  });

  it('verifies what it cosigns, for any body and timestamp', () => {
    const line = fc
      .string({ minLength: 1, maxLength: 20 })
      .map((s) => s.replace(/[\u0000-\u001f\ud800-\udfff]/g, ''))
      .filter((s) => s.length > 0);
    fc.assert(
      fc.property(fc.array(line, { minLength: 1, maxLength: 5 }), fc.maxSafeNat(), (lines, timestamp) => {
        const body = lines.map((l) => `${l}\n`).join('');
        const result = verifyCosignatureLine(cosigner.cosign(body, timestamp), body, verifier);
        expect(result?.timestamp).toBe(timestamp);
      }),
      { numRuns: 100 },
    );
  });

  it('hashes the key ID input the spec names (independent check with SHA-256)', () => {
    const expected = createHash('sha256')
      .update(Buffer.concat([Buffer.from(`${NAME}\n`), Buffer.of(4), PUBLIC_KEY]))
      .digest()
      .readUInt32BE(0);
    expect(expected).toBe(KEY_ID);
  });
});
