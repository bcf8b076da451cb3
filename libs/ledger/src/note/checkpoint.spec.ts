import { createHash } from 'node:crypto';
import fc from 'fast-check';

import { formatCheckpoint, openCheckpoint, parseCheckpoint, signCheckpoint, type Checkpoint } from './checkpoint';
import { generateNoteKey, parsePrivateKey, parseVerifierKey } from './note-keys';
import { CheckpointFormatError, NoteFormatError } from './note.errors';
import { openNote, signNote } from './signed-note';
import { expectVerificationError, thrown } from '../../testdata/thrown';

// golang.org/x/mod: sumdb/tlog/note_test.go (TestFormatTree, TestParseTree). The root is
// RecordHash("hello world") = SHA-256(0x00 ‖ "hello world"), the RFC 6962 leaf hash.
const GO_TREE = 'go.sum database tree\n123456789012\nTszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBb0=\n';
const HELLO_WORLD_LEAF = createHash('sha256')
  .update(Buffer.concat([Buffer.of(0), Buffer.from('hello world')]))
  .digest();

// transparency-dev/formats: log/note_test.go (TestSumDBNoteParsing), a real sum.golang.org
// checkpoint with the Go checksum database's published verifier key.
const SUMDB_VKEY = 'sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8';
const SUMDB_NOTE =
  'go.sum database tree\n' +
  '6476701\n' +
  'mb8QLQIs0Z0yP5Cstq6guj87oXWeC9gEM8oVikmm9Wk=\n' +
  '\n' +
  '— sum.golang.org Az3grsLX85Gz+s1SiTbgkuqxgItqFq7gsMUEyVnrsa9LM7Us9S+1xbFIGu95949rj4nPRYfvimWEPWL+o3GeoWwOoAw=\n';

// C2SP/C2SP: tlog-checkpoint.md (its example; the key that signed it is not published).
const C2SP_CHECKPOINT_BODY = 'example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n';
const C2SP_CHECKPOINT =
  `${C2SP_CHECKPOINT_BODY}\n` +
  '— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n';

// transparency-dev/formats: log/checkpoint_test.go (TestUnmarshalLogState); hash 32 bytes here.
const TREE_TOPS = 'dGhlIHZpZXcgZnJvbSB0aGUgdHJlZSB0b3BzIGlzIGdyZWF0IQ=='; // 37 bytes

const logPair = generateNoteKey('example.com/log', Buffer.alloc(32, 11));
const logSigner = parsePrivateKey(logPair.privateKey);
const logVerifier = parseVerifierKey(logPair.verifierKey);
const ROOT = Buffer.alloc(32, 0xab);
const ROOT_B64 = ROOT.toString('base64');
// Same bytes for a lenient decoder: the last character differs only in the two unused bits.
const BASE64_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const ROOT_B64_NON_CANONICAL = `${ROOT_B64.slice(0, 42)}${BASE64_ALPHABET[BASE64_ALPHABET.indexOf(ROOT_B64[42]) + 1]}=`;

function expectCheckpointError(action: () => unknown): void {
  const error = thrown(action);
  expect(error).toBeInstanceOf(CheckpointFormatError);
  expect((error as CheckpointFormatError).code).toBe('malformed_checkpoint');
}

describe('Go sumdb/tlog tree note', () => {
  it('parses the golden tree', () => {
    const checkpoint = parseCheckpoint(GO_TREE);
    expect(checkpoint).toEqual({
      origin: 'go.sum database tree',
      size: 123456789012,
      rootHash: HELLO_WORLD_LEAF,
      extensions: [],
    });
  });

  it('formats the golden tree', () => {
    expect(
      formatCheckpoint({
        origin: 'go.sum database tree',
        size: 123456789012,
        rootHash: HELLO_WORLD_LEAF,
        extensions: [],
      }),
    ).toBe(GO_TREE);
  });

  it('rejects the Go bad trees: hex size, oversized hash', () => {
    expectCheckpointError(() =>
      parseCheckpoint('go.sum database tree\n0xabcdef\nTszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBb0=\n'),
    );
    expectCheckpointError(() =>
      parseCheckpoint('go.sum database tree\n123456789012\nTszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBTOOBIG=\n'),
    );
  });

  it('keeps a trailing line as an extension, but (unlike Go) rejects junk without a final newline', () => {
    expect(parseCheckpoint(`${GO_TREE}JOE\n`).extensions).toEqual(['JOE']);
    expect(parseCheckpoint(`${GO_TREE}${'JOE\n'.repeat(1000)}`).extensions).toHaveLength(1000);
    expectCheckpointError(() => parseCheckpoint(`${GO_TREE}JOE`));
  });
});

describe('sum.golang.org checkpoint (transparency-dev/formats)', () => {
  const verifier = parseVerifierKey(SUMDB_VKEY);

  it('opens and parses it', () => {
    const checkpoint = openCheckpoint(SUMDB_NOTE, verifier, 'go.sum database tree');
    expect(checkpoint.origin).toBe('go.sum database tree');
    expect(checkpoint.size).toBe(6476701);
    expect(checkpoint.rootHash.toString('hex')).toBe(
      '99bf102d022cd19d323f90acb6aea0ba3f3ba1759e0bd80433ca158a49a6f569',
    );
    expect(checkpoint.extensions).toEqual([]);
    expect(openCheckpoint(Buffer.from(SUMDB_NOTE, 'utf8'), verifier)).toEqual(checkpoint);
  });

  it('rejects it for another origin', () => {
    expectVerificationError(
      () => openCheckpoint(SUMDB_NOTE, verifier, 'Go rocks but I might have the wrong ID'),
      'origin_mismatch',
    );
  });

  it('rejects it with a changed size', () => {
    expectVerificationError(
      () => openCheckpoint(SUMDB_NOTE.replace('6476701', '6476702'), verifier),
      'invalid_signature',
    );
  });

  it('rejects it for another key', () => {
    expectVerificationError(() => openCheckpoint(SUMDB_NOTE, logVerifier), 'no_known_signature');
  });
});

describe('C2SP tlog-checkpoint example', () => {
  it('parses its body', () => {
    const checkpoint = parseCheckpoint(C2SP_CHECKPOINT_BODY);
    expect(checkpoint.origin).toBe('example.com/behind-the-sofa');
    expect(checkpoint.size).toBe(20852163);
    expect(checkpoint.rootHash.toString('hex')).toBe(
      '0ac5186a91863e8e1d90c808014aa89bf5da8e3ee1d9f07630f0378f68f1ab62',
    );
    expect(formatCheckpoint(checkpoint)).toBe(C2SP_CHECKPOINT_BODY);
  });

  it('is a well-formed signed note that no key of ours verifies, even one with the same name', () => {
    const sameName = parseVerifierKey(generateNoteKey('example.com/behind-the-sofa', Buffer.alloc(32, 12)).verifierKey);
    expectVerificationError(() => openCheckpoint(C2SP_CHECKPOINT, sameName), 'no_known_signature');
  });
});

describe('parseCheckpoint', () => {
  const body = (size: string, hash = ROOT_B64, origin = 'example.com/log'): string => `${origin}\n${size}\n${hash}\n`;

  it('has a non-canonical root fixture that Buffer alone would accept', () => {
    expect(Buffer.from(ROOT_B64_NON_CANONICAL, 'base64')).toEqual(ROOT);
  });

  it.each([
    ['0', 0],
    ['1', 1],
    ['9007199254740991', Number.MAX_SAFE_INTEGER],
  ])('accepts size %s', (text, size) => {
    expect(parseCheckpoint(body(text)).size).toBe(size);
  });

  it.each([
    ['with a leading zero', '01'],
    ['with two zeros', '00'],
    ['negative (formats)', '-34'],
    ['with a plus sign', '+1'],
    ['with a space', ' 1'],
    ['fractional', '1.0'],
    ['in exponent form', '1e3'],
    ['not a number (formats)', 'bananas'],
    ['empty', ''],
    ['MAX_SAFE_INTEGER + 1', '9007199254740992'],
    ['uint64 max', '18446744073709551615'],
    ['too large for uint64 (formats)', '3438945738945739845734895735'],
  ])('rejects a size %s', (_what, size) => {
    expectCheckpointError(() => parseCheckpoint(body(size)));
  });

  it.each([
    ['7 bytes (formats "bananas")', 'YmFuYW5hcw=='],
    ['37 bytes (formats)', TREE_TOPS],
    ['31 bytes', Buffer.alloc(31).toString('base64')],
    ['33 bytes', Buffer.alloc(33).toString('base64')],
    ['empty', ''],
    ['not base64 (formats)', "ThisIsn'tBase64"],
    ['unpadded', ROOT_B64.replace(/=$/, '')],
    ['URL-safe', Buffer.alloc(32, 0xff).toString('base64url')],
    ['non-canonical', ROOT_B64_NON_CANONICAL],
  ])('rejects a root hash of %s', (_what, hash) => {
    expect(hash).not.toBe(ROOT_B64);
    expectCheckpointError(() => parseCheckpoint(body('1', hash)));
  });

  it.each([
    ['too few lines (formats)', 'Head\n9944\n'],
    ['an empty origin (formats)', `\n9944\n${ROOT_B64}\n`],
    ['no final newline (formats)', `Log\n123\n${ROOT_B64}`],
    ['an empty extension line', `Log\n1\n${ROOT_B64}\nx\n\ny\n`],
    ['trailing blank lines (formats accepts them)', `Log\n9944\n${ROOT_B64}\n\n\n\n`],
    ['a carriage return', `Log\r\n1\n${ROOT_B64}\n`],
    ['a lone surrogate', `Log\ud800\n1\n${ROOT_B64}\n`],
  ])('rejects a checkpoint with %s', (_what, text) => {
    expectCheckpointError(() => parseCheckpoint(text));
  });

  it('keeps extension lines and accepts origins with spaces', () => {
    const text = `Moon Log\n4027504\n${ROOT_B64}\n6086d1a9\nWaxing gibbous\n`;
    expect(parseCheckpoint(text)).toEqual({
      origin: 'Moon Log',
      size: 4027504,
      rootHash: ROOT,
      extensions: ['6086d1a9', 'Waxing gibbous'],
    });
    expect(formatCheckpoint(parseCheckpoint(text))).toBe(text);
  });

  it('does not echo a huge size in its message', () => {
    const error = thrown(() => parseCheckpoint(body('9'.repeat(5000)))) as Error;
    expect(error).toBeInstanceOf(CheckpointFormatError);
    expect(error.message).not.toContain('9999');
  });
});

describe('formatCheckpoint', () => {
  const valid: Checkpoint = { origin: 'example.com/log', size: 5, rootHash: ROOT, extensions: [] };

  it('formats the three lines and the extensions', () => {
    expect(formatCheckpoint(valid)).toBe(`example.com/log\n5\n${ROOT_B64}\n`);
    expect(formatCheckpoint({ ...valid, extensions: ['a', 'b c'] })).toBe(`example.com/log\n5\n${ROOT_B64}\na\nb c\n`);
  });

  it.each<[string, Partial<Checkpoint>]>([
    ['an empty origin', { origin: '' }],
    ['a newline in the origin', { origin: 'a\nb' }],
    ['a control character in the origin', { origin: 'a\u0007' }],
    ['a negative size', { size: -1 }],
    ['a fractional size', { size: 1.5 }],
    ['an unsafe size', { size: 2 ** 53 }],
    ['NaN', { size: Number.NaN }],
    ['a 31-byte root', { rootHash: Buffer.alloc(31) }],
    ['a 33-byte root', { rootHash: Buffer.alloc(33) }],
    ['an empty extension', { extensions: [''] }],
    ['an extension with a newline', { extensions: ['a\nb'] }],
  ])('rejects %s', (_what, change) => {
    expectCheckpointError(() => formatCheckpoint({ ...valid, ...change }));
  });
});

describe('signCheckpoint / openCheckpoint', () => {
  const checkpoint: Checkpoint = { origin: 'example.com/log', size: 42, rootHash: ROOT, extensions: ['ext'] };

  it('round-trips, checking the origin when asked', () => {
    const note = signCheckpoint(checkpoint, logSigner);
    expect(note.startsWith(`${formatCheckpoint(checkpoint)}\n— example.com/log `)).toBe(true);
    expect(openCheckpoint(note, logVerifier)).toEqual(checkpoint);
    expect(openCheckpoint(note, logVerifier, 'example.com/log')).toEqual(checkpoint);
    expectVerificationError(() => openCheckpoint(note, logVerifier, 'example.com/other'), 'origin_mismatch');
  });

  it('ignores witness cosignatures by unknown keys', () => {
    const witness = parsePrivateKey(generateNoteKey('witness.example', Buffer.alloc(32, 13)).privateKey);
    const note = signNote(formatCheckpoint(checkpoint), [logSigner, witness]);
    expect(openCheckpoint(note, logVerifier)).toEqual(checkpoint);
    expect(openNote(note, [logVerifier]).unverified.map((s) => s.name)).toEqual(['witness.example']);
  });

  it('rejects a checkpoint signed only by another key', () => {
    const other = parsePrivateKey(generateNoteKey('example.com/log', Buffer.alloc(32, 14)).privateKey);
    expectVerificationError(() => openCheckpoint(signCheckpoint(checkpoint, other), logVerifier), 'no_known_signature');
  });

  it('rejects a well-signed note that is not a checkpoint (formats "bad body good sigs")', () => {
    const note = signNote("if this is a valid checkpoint then I'll eat my hat\n", [logSigner]);
    expectCheckpointError(() => openCheckpoint(note, logVerifier));
  });

  it('checks the signature before parsing the text', () => {
    const note = signNote('not a checkpoint\n', [
      parsePrivateKey(generateNoteKey('x', Buffer.alloc(32, 15)).privateKey),
    ]);
    expectVerificationError(() => openCheckpoint(note, logVerifier), 'no_known_signature');
  });

  it('rejects a malformed note with NoteFormatError', () => {
    expect(thrown(() => openCheckpoint(formatCheckpoint(checkpoint), logVerifier))).toBeInstanceOf(NoteFormatError);
  });
});

describe('checkpoint properties', () => {
  const line = fc
    .string({ unit: 'binary', minLength: 1, maxLength: 30 })
    .map((s) => s.replace(/[\u0000-\u001f]/g, ''))
    .filter((s) => s.length > 0);
  const checkpoint = fc.record({
    origin: line,
    size: fc.maxSafeNat(),
    rootHash: fc.uint8Array({ minLength: 32, maxLength: 32 }).map((bytes) => Buffer.from(bytes)),
    extensions: fc.array(line, { maxLength: 4 }),
  });

  it('parses what it formats, and formats what it parses', () => {
    fc.assert(
      fc.property(checkpoint, (cp) => {
        const text = formatCheckpoint(cp);
        expect(parseCheckpoint(text)).toEqual(cp);
        expect(formatCheckpoint(parseCheckpoint(text))).toBe(text);
      }),
      { numRuns: 300 },
    );
  });

  it('opens what it signs', () => {
    fc.assert(
      fc.property(checkpoint, (cp) => {
        expect(openCheckpoint(signCheckpoint(cp, logSigner), logVerifier, cp.origin)).toEqual(cp);
      }),
      { numRuns: 100 },
    );
  });

  it('parses exactly the canonical decimal sizes', () => {
    fc.assert(
      fc.property(fc.maxSafeNat(), fc.nat({ max: 3 }), (size, zeros) => {
        const text = `${'0'.repeat(zeros)}${size}`;
        const parse = (): number => parseCheckpoint(`o\n${text}\n${ROOT_B64}\n`).size;
        if (zeros === 0) expect(parse()).toBe(size);
        else expectCheckpointError(parse);
      }),
    );
  });
});
