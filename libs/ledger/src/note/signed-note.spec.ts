import fc from 'fast-check';

import { LedgerError } from '../ledger.errors';
import { generateNoteKey, parsePrivateKey, parseVerifierKey, type NoteSigner, type NoteVerifier } from './note-keys';
import { NoteFormatError, NoteKeyError } from './note.errors';
import { MAX_NOTE_SIGNATURES, noteSignatures, openNote, signNote } from './signed-note';
import { expectVerificationError, thrown } from '../../testdata/thrown';

// golang.org/x/mod: sumdb/note/note.go (package doc) and sumdb/note/note_test.go (TestSign, TestOpen).
const PETER_SKEY = 'PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz';
const PETER_VKEY = 'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW';
const ENOCH_VKEY = 'EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop';
const TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const PETER_SIG_B64 = 'x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=';
const ENOCH_SIG_B64 = 'rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=';
const PETER_SIG = `— PeterNeumann ${PETER_SIG_B64}\n`;
const ENOCH_SIG = `— EnochRoot ${ENOCH_SIG_B64}\n`;
// Go's peterSig[:60]+"ABCD"+peterSig[60:] and the same for enochSig, with Go's byte offsets
// (the em dash is 3 bytes in UTF-8 but one UTF-16 unit here).
const PETER_ABCD_B64 = `${PETER_SIG_B64.slice(0, 43)}ABCD${PETER_SIG_B64.slice(43)}`;
const ENOCH_ABCD_B64 = `${ENOCH_SIG_B64.slice(0, 46)}ABCD${ENOCH_SIG_B64.slice(46)}`;

// C2SP/C2SP: signed-note.md (its example; the key that signed it is not published).
const C2SP_NOTE =
  'Ognuno sta solo sul cuor della terra\n' +
  'trafitto da un raggio di sole:\n' +
  '\n' +
  'ed è subito sera.\n' +
  '\n' +
  '— quasimodo.example/salvatore NnugSzTjtVAewIS+Z/iJhUPeFDkO/5QQ2i5ddnGITLlC+EhfLW9oJKONrMouFSQU0xMcXxj99ihAQwaqP3ZekRwNtIc=\n';

const peter = parseVerifierKey(PETER_VKEY);
const enoch = parseVerifierKey(ENOCH_VKEY);
const sigBytes = (b64: string): Buffer => Buffer.from(b64, 'base64').subarray(4);

function expectFormatError(action: () => unknown): void {
  const error = thrown(action);
  expect(error).toBeInstanceOf(NoteFormatError);
  expect((error as NoteFormatError).code).toBe('malformed_note');
}

describe('signNote', () => {
  it('reproduces the Go sumdb/note PeterNeumann signed note byte for byte', () => {
    expect(signNote(TEXT, [parsePrivateKey(PETER_SKEY)])).toBe(`${TEXT}\n${PETER_SIG}`);
  });

  it('writes one signature line per signer, in order', () => {
    const a = parsePrivateKey(generateNoteKey('a.example', Buffer.alloc(32, 1)).privateKey);
    const b = parsePrivateKey(generateNoteKey('b.example', Buffer.alloc(32, 2)).privateKey);
    const note = signNote('hello\n', [b, a]);
    const lines = note.split('\n');
    expect(lines.slice(0, 2)).toEqual(['hello', '']);
    expect(lines[2]).toMatch(/^— b\.example [A-Za-z0-9+/]{91}=$/);
    expect(lines[3]).toMatch(/^— a\.example [A-Za-z0-9+/]{91}=$/);
    expect(lines[4]).toBe('');
    expect(lines).toHaveLength(5);
    expect(Buffer.from(lines[2].split(' ')[2], 'base64').readUInt32BE(0)).toBe(b.keyHash);
  });

  it.each([
    ['no final newline', 'abc'],
    ['empty text', ''],
    ['carriage return', 'a\r\n'],
    ['tab', 'a\tb\n'],
    ['NUL', 'a\u0000\n'],
    ['lone surrogate', 'a\ud800\n'],
  ])('rejects a text with %s', (_what, text) => {
    expectFormatError(() => signNote(text, [parsePrivateKey(PETER_SKEY)]));
  });

  it('rejects no signers, duplicate signers and signers that break the format', () => {
    const signer = parsePrivateKey(PETER_SKEY);
    const fake = (overrides: Partial<NoteSigner>): NoteSigner => ({ ...signer, sign: signer.sign, ...overrides });
    for (const signers of [
      [],
      [signer, signer],
      [fake({ name: 'bad name' })],
      [fake({ name: 'a+b' })],
      [fake({ keyHash: -1 })],
      [fake({ keyHash: 2 ** 32 })],
      [fake({ keyHash: 1.5 })],
      [fake({ sign: () => Buffer.alloc(0) })],
      Array.from({ length: MAX_NOTE_SIGNATURES + 1 }, (_, i) => fake({ name: `k${i}` })),
    ]) {
      const error = thrown(() => signNote(TEXT, signers));
      expect(error).toBeInstanceOf(NoteKeyError);
      expect((error as NoteKeyError).code).toBe('malformed_key');
    }
  });
});

describe('openNote on the Go sumdb/note vectors', () => {
  it('verifies one signature and reports the other as unverified', () => {
    const opened = openNote(`${TEXT}\n${PETER_SIG}${ENOCH_SIG}`, [peter]);
    expect(opened.text).toBe(TEXT);
    expect(opened.verified).toEqual([
      { name: 'PeterNeumann', keyHash: 0xc74f20a3, signature: sigBytes(PETER_SIG_B64) },
    ]);
    expect(opened.unverified).toEqual([{ name: 'EnochRoot', keyHash: 0xaf0cfe78, signature: sigBytes(ENOCH_SIG_B64) }]);
  });

  it('verifies both signatures when both keys are known', () => {
    const opened = openNote(`${TEXT}\n${PETER_SIG}${ENOCH_SIG}`, [peter, enoch]);
    expect(opened.verified.map((s) => s.name)).toEqual(['PeterNeumann', 'EnochRoot']);
    expect(opened.unverified).toEqual([]);
  });

  it('rejects a note signed only by unknown keys', () => {
    expectVerificationError(() => openNote(`${TEXT}\n${PETER_SIG}${ENOCH_SIG}`, []), 'no_known_signature');
    expectVerificationError(() => openNote(`${TEXT}\n${ENOCH_SIG}`, [peter]), 'no_known_signature');
  });

  it('rejects a verifier list with two keys under one name and hash', () => {
    const error = thrown(() => openNote(`${TEXT}\n${PETER_SIG}`, [enoch, peter, enoch]));
    expect(error).toBeInstanceOf(NoteKeyError);
  });

  it('accepts MAX_NOTE_SIGNATURES (100) signatures and rejects one more', () => {
    expect(MAX_NOTE_SIGNATURES).toBeGreaterThanOrEqual(16);
    expect(openNote(`${TEXT}\n${PETER_SIG.repeat(100)}`, [peter]).verified).toHaveLength(1);
    expectFormatError(() => openNote(`${TEXT}\n${PETER_SIG.repeat(101)}`, [peter]));
    expectFormatError(() => openNote(`${TEXT}\n${PETER_SIG.repeat(101)}`, []));
  });

  it('rejects an invalid signature from a known key', () => {
    expect(Buffer.byteLength(`— PeterNeumann ${PETER_SIG_B64.slice(0, 43)}`)).toBe(60);
    expectVerificationError(
      () => openNote(`${TEXT}\n— PeterNeumann ${PETER_ABCD_B64}\n`, [peter]),
      'invalid_signature',
    );
  });

  it('rejects an invalid repeated signature from a known key even after a valid one', () => {
    const corrupted = `— PeterNeumann ${PETER_ABCD_B64}\n`;
    expectVerificationError(() => openNote(`${TEXT}\n${PETER_SIG}${corrupted}`, [peter]), 'invalid_signature');
  });

  it('lists repeated signatures once', () => {
    expect(ENOCH_ABCD_B64).toBe(
      'rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5nABCD2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=',
    );
    const enochABCD = `— EnochRoot ${ENOCH_ABCD_B64}\n`;
    const opened = openNote(`${TEXT}\n${PETER_SIG}${PETER_SIG}${ENOCH_SIG}${ENOCH_SIG}${enochABCD}`, [peter]);
    expect(opened.verified).toHaveLength(1);
    expect(opened.unverified.map((s) => s.signature.toString('base64'))).toEqual([
      sigBytes(ENOCH_SIG_B64).toString('base64'),
      sigBytes(ENOCH_ABCD_B64).toString('base64'),
    ]);
  });

  it.each([
    ['text only (no blank line)', TEXT],
    ['blank line but no signatures', `${TEXT}\n`],
    ['signature without final newline', `${TEXT}\n${PETER_SIG.slice(0, -1)}`],
    ['a control character', `\u0001${TEXT}\n${PETER_SIG}`],
    ['a name with a space', `${TEXT}\n— Bad Name ${PETER_SIG_B64}\n`],
    ['a line after the signatures', `${TEXT}\n${PETER_SIG}Unexpected line.\n`],
  ])('rejects Go bad message: %s', (_what, note) => {
    expectFormatError(() => openNote(note, [peter]));
  });

  it('rejects invalid UTF-8 bytes (Go bad message "\\xff" + text)', () => {
    const valid = Buffer.from(`${TEXT}\n${PETER_SIG}`, 'utf8');
    expect(openNote(valid, [peter]).text).toBe(TEXT);
    expectFormatError(() => openNote(Buffer.concat([Buffer.of(0xff), valid]), [peter]));
  });
});

describe('openNote on the C2SP signed-note example', () => {
  it('is well-formed but signed by no known key', () => {
    expectVerificationError(() => openNote(C2SP_NOTE, []), 'no_known_signature');
  });

  it('ignores a known key that shares only the name', () => {
    const sameName = parseVerifierKey(generateNoteKey('quasimodo.example/salvatore', Buffer.alloc(32, 3)).verifierKey);
    expect(sameName.keyHash).not.toBe(0x367ba04b);
    expectVerificationError(() => openNote(C2SP_NOTE, [sameName]), 'no_known_signature');
  });

  it('ignores a known key that shares only the key ID', () => {
    // Would accept any signature, so being consulted at all would let the note through.
    const sameId: NoteVerifier = { name: 'quasimodo.example/other', keyHash: 0x367ba04b, verify: () => true };
    expectVerificationError(() => openNote(C2SP_NOTE, [sameId]), 'no_known_signature');
    const sameBoth: NoteVerifier = { ...sameId, name: 'quasimodo.example/salvatore' };
    expect(openNote(C2SP_NOTE, [sameBoth]).text).toBe(C2SP_NOTE.slice(0, C2SP_NOTE.lastIndexOf('\n\n') + 1));
  });

  it('keeps blank lines and non-ASCII text inside a note it signs itself', () => {
    const text = C2SP_NOTE.slice(0, C2SP_NOTE.lastIndexOf('\n\n') + 1);
    const pair = generateNoteKey('quasimodo.example/salvatore', Buffer.alloc(32, 4));
    const note = signNote(text, [parsePrivateKey(pair.privateKey)]);
    const opened = openNote(note, [parseVerifierKey(pair.verifierKey)]);
    expect(opened.text).toBe(text);
    expect(opened.text).toContain('\n\ned è subito sera.\n');
  });
});

describe('openNote rejections', () => {
  const pair = generateNoteKey('example.com/log', Buffer.alloc(32, 5));
  const signer = parsePrivateKey(pair.privateKey);
  const verifier = parseVerifierKey(pair.verifierKey);
  const note = signNote('entry\n', [signer]);
  const [, b64] = /^— example\.com\/log (\S+)\n$/.exec(note.slice('entry\n\n'.length)) ?? [];

  it('opens the untouched fixture', () => {
    expect(b64).toHaveLength(92);
    expect(openNote(note, [verifier]).text).toBe('entry\n');
  });

  it('rejects a wrong key hash in the signature line (then the key is unknown)', () => {
    const raw = Buffer.from(b64, 'base64');
    raw.writeUInt32BE((signer.keyHash ^ 1) >>> 0, 0);
    expectVerificationError(
      () => openNote(`entry\n\n— example.com/log ${raw.toString('base64')}\n`, [verifier]),
      'no_known_signature',
    );
  });

  it('rejects a bad signature from the known key', () => {
    const raw = Buffer.from(b64, 'base64');
    raw[10] ^= 0x40;
    expectVerificationError(
      () => openNote(`entry\n\n— example.com/log ${raw.toString('base64')}\n`, [verifier]),
      'invalid_signature',
    );
  });

  it('rejects a changed text', () => {
    expectVerificationError(() => openNote(note.replace('entry', 'entrY'), [verifier]), 'invalid_signature');
  });

  it.each([
    ['missing final newline', note.slice(0, -1)],
    ['no blank line', note.replace('\n\n', '\n')],
    ['CRLF line endings', note.replace(/\n/g, '\r\n')],
    ['a hyphen instead of the em dash', note.replace('— ', '- ')],
    ['no space after the em dash', note.replace('— ', '—')],
    ['two spaces after the name', note.replace('log ', 'log  ')],
    ['an empty name', note.replace('example.com/log ', ' ')],
    ['a name with +', note.replace('example.com/log', 'example.com+log')],
    ['a name with a no-break space', note.replace('example.com/log', 'example.com\u00a0log')],
    ['no signature', note.replace(b64, '')],
    ['base64 without padding', note.replace(b64, b64.replace(/=+$/, ''))],
    ['URL-safe base64', note.replace(b64, `${b64.slice(0, -2)}-=`)],
    ['base64 with a stray character', note.replace(b64, `${b64.slice(0, 40)}!${b64.slice(40)}`)],
    [
      'non-canonical base64 (padding bits set)',
      note.replace(b64, `${b64.slice(0, -2)}${b64.slice(-2, -1) === 'B' ? 'C' : 'B'}=`),
    ],
    ['a signature under 5 bytes', note.replace(b64, 'AAAAAA==')],
    ['a lone surrogate', note.replace('entry', 'entr\ud800')],
  ])('rejects a note with %s', (_what, bad) => {
    expect(bad).not.toBe(note);
    expectFormatError(() => openNote(bad, [verifier]));
  });

  it('does not echo the note in error messages', () => {
    const big = `${'x'.repeat(10_000)}\n\n— example.com/log !!!!\n`;
    const error = thrown(() => openNote(big, [verifier])) as Error;
    expect(error).toBeInstanceOf(NoteFormatError);
    expect(error.message.length).toBeLessThan(200);
  });
});

describe('noteSignatures', () => {
  const first = parsePrivateKey(generateNoteKey('example.com/log', Buffer.alloc(32, 21)).privateKey);
  const second = parsePrivateKey(generateNoteKey('witness.example', Buffer.alloc(32, 22)).privateKey);

  it('names every key that claims to have signed, in order, with no verifier needed', () => {
    const note = signNote('entry\n', [first, second]);
    expect(noteSignatures(note).map(({ name, keyHash }) => ({ name, keyHash }))).toEqual([
      { name: 'example.com/log', keyHash: first.keyHash },
      { name: 'witness.example', keyHash: second.keyHash },
    ]);
    expect(noteSignatures(Buffer.from(note, 'utf8'))[0].signature).toEqual(first.sign(Buffer.from('entry\n')));
  });

  it('verifies nothing: a forged signature line is listed as it claims', () => {
    const note = signNote('entry\n', [first]).replace('entry', 'entrY');
    expect(noteSignatures(note).map((s) => s.keyHash)).toEqual([first.keyHash]);
  });

  it('refuses a malformed note as openNote does', () => {
    expectFormatError(() => noteSignatures('entry\n'));
    expectFormatError(() => noteSignatures(signNote('entry\n', [first]).replace('— ', '- ')));
  });
});

describe('signed note properties', () => {
  const keys = [1, 2, 3].map((n) => generateNoteKey(`key${n}.example`, Buffer.alloc(32, n)));
  const signers = keys.map((k) => parsePrivateKey(k.privateKey));
  const verifiers = keys.map((k) => parseVerifierKey(k.verifierKey));

  // Note lines: any Unicode but control characters, possibly empty, so texts hold blank lines.
  const line = fc.string({ unit: 'binary', maxLength: 40 }).map((s) => s.replace(/[\u0000-\u001f]/g, ''));
  const text = fc.array(line, { minLength: 1, maxLength: 6 }).map((lines) => `${lines.join('\n')}\n`);

  it('opens what it signs, with every signature verified', () => {
    fc.assert(
      fc.property(text, fc.subarray([0, 1, 2], { minLength: 1 }), (noteText, which) => {
        const note = signNote(
          noteText,
          which.map((i) => signers[i]),
        );
        const opened = openNote(note, verifiers);
        expect(opened.text).toBe(noteText);
        expect(opened.verified.map((s) => s.name)).toEqual(which.map((i) => signers[i].name));
        expect(opened.verified[0].signature).toEqual(signers[which[0]].sign(Buffer.from(noteText, 'utf8')));
        expect(opened.unverified).toEqual([]);
        expect(openNote(Buffer.from(note, 'utf8'), verifiers)).toEqual(opened);
      }),
      { numRuns: 200 },
    );
  });

  it('reports signatures by keys not given as unverified', () => {
    fc.assert(
      fc.property(text, (noteText) => {
        const opened = openNote(signNote(noteText, signers), [verifiers[1]]);
        expect(opened.verified.map((s) => s.keyHash)).toEqual([signers[1].keyHash]);
        expect(opened.unverified.map((s) => s.keyHash)).toEqual([signers[0].keyHash, signers[2].keyHash]);
      }),
      { numRuns: 50 },
    );
  });

  it('rejects any single-bit flip anywhere in the signed note', () => {
    fc.assert(
      fc.property(text, fc.nat(), (noteText, bit) => {
        const bytes = Buffer.from(signNote(noteText, [signers[0]]), 'utf8');
        const index = bit % (bytes.length * 8);
        bytes[index >> 3] ^= 1 << (index & 7);
        const error = thrown(() => openNote(bytes, [verifiers[0]]));
        expect(error).toBeInstanceOf(LedgerError);
        expect(['malformed_note', 'unverified_note']).toContain((error as LedgerError).code);
      }),
      { numRuns: 1000 },
    );
  });
});
