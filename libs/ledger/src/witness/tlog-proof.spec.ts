import { generateCosignerKey, parseCosignerKey } from './cosignature';
import { parseWitnessPolicy } from './policy';
import { formatTlogProof, openCheckpointWithPolicy, parseTlogProof, verifyTlogProof } from './tlog-proof';
import { QuorumNotMetError, TlogProofFormatError } from './witness.errors';
import { leafHash } from '../hashing';
import { RootMismatchError } from '../merkle/merkle.errors';
import { formatCheckpoint, signCheckpoint } from '../note/checkpoint';
import { generateNoteKey, parsePrivateKey } from '../note/note-keys';
import { NoteVerificationError } from '../note/note.errors';
import { referenceInclusionProof, referenceRoot } from '../../testdata/reference-tree';
import { thrown } from '../../testdata/thrown';

const mth = referenceRoot;
const path = referenceInclusionProof;

const leaves = Array.from({ length: 7 }, (_, i) => Buffer.from(`leaf ${i}`));
const hashes = leaves.map((leaf) => leafHash(leaf));
const logKey = parsePrivateKey(generateNoteKey('audit.example', Buffer.alloc(32, 1)).privateKey);
const witnessKeys = [1, 2, 3].map((n) => generateCosignerKey(`w${n}.example`, Buffer.alloc(32, 20 + n)));
const witnesses = witnessKeys.map((pair) => parseCosignerKey(pair.privateKey));
const outsider = parseCosignerKey(generateCosignerKey('w1.example', Buffer.alloc(32, 99)).privateKey);
const POLICY = parseWitnessPolicy(
  `log ${logKey.verifierKey}\n` +
    witnessKeys.map((pair, i) => `witness W${i + 1} ${pair.verifierKey}\n`).join('') +
    'group two 2 W1 W2 W3\nquorum two\n',
);
const checkpoint = { origin: 'audit.example/acme', size: 7, rootHash: mth(hashes), extensions: [] };
const BODY = formatCheckpoint(checkpoint);
const SIGNED = signCheckpoint(checkpoint, logKey);
const T = 1_780_000_000;

function cosigned(...signers: { cosign(body: string, t: number): string }[]): string {
  return SIGNED + signers.map((s) => s.cosign(BODY, T)).join('');
}
function receipt(index: number, note: string): string {
  return formatTlogProof({ index, proof: path(index, hashes), checkpoint: note });
}

describe('tlog-proof format', () => {
  it('formats as the spec lays out and parses back', () => {
    const note = cosigned(witnesses[0], witnesses[1]);
    const text = formatTlogProof({ index: 3, proof: path(3, hashes), checkpoint: note, extra: Buffer.from('hi') });
    const lines = text.split('\n');
    expect(lines.slice(0, 3)).toEqual(['c2sp.org/tlog-proof@v1', 'extra aGk=', 'index 3']);
    expect(lines.slice(3, 6)).toEqual(path(3, hashes).map((h) => h.toString('base64')));
    expect(lines[6]).toBe('');
    expect(text.endsWith(`\n\n${note}`)).toBe(true);
    expect(parseTlogProof(text)).toEqual({
      index: 3,
      proof: path(3, hashes),
      checkpoint: note,
      extra: Buffer.from('hi'),
    });
  });

  it.each([
    ['another header', (t: string) => t.replace('tlog-proof@v1', 'tlog-proof@v2')],
    ['no index line', (t: string) => t.replace('index 3\n', '')],
    ['an index with a leading zero', (t: string) => t.replace('index 3', 'index 03')],
    ['a negative index', (t: string) => t.replace('index 3', 'index -3')],
    ['a short hash', (t: string) => t.replace(path(3, hashes)[0].toString('base64'), 'AAAA')],
    ['no blank line', (t: string) => t.replace('\n\n', '\n')],
    ['no checkpoint', (t: string) => t.slice(0, t.indexOf('\n\n') + 2)],
  ])('rejects a proof with %s', (_what, change) => {
    const text = change(receipt(3, cosigned(witnesses[0], witnesses[1])));
    expect(thrown(() => parseTlogProof(text))).toBeInstanceOf(TlogProofFormatError);
  });
});

describe('verifyTlogProof', () => {
  it('verifies every index of a receipt cosigned by a quorum', () => {
    const note = cosigned(witnesses[0], witnesses[2]);
    for (let index = 0; index < leaves.length; index++) {
      const result = verifyTlogProof(receipt(index, note), POLICY, leaves[index]);
      expect(result.cosigners).toEqual(['W1', 'W3']);
      expect(result.checkpoint.origin).toBe('audit.example/acme');
    }
  });

  it('fails for another leaf', () => {
    const note = cosigned(witnesses[0], witnesses[1]);
    expect(thrown(() => verifyTlogProof(receipt(2, note), POLICY, leaves[3]))).toBeInstanceOf(RootMismatchError);
  });

  it('fails with any single byte of the receipt flipped', () => {
    const text = receipt(4, cosigned(witnesses[0], witnesses[1]));
    // Flip one bit in each of several places: a proof hash, the root, the size, signatures.
    const positions = [
      text.indexOf('index 4\n') + 9,
      text.indexOf('\n\n') + 2 + checkpoint.origin.length + 4,
      text.indexOf('\n\n') + 2 + checkpoint.origin.length + 1,
      text.lastIndexOf('— w1.example ') + 20,
      text.lastIndexOf('— w2.example ') + 20,
      text.indexOf('— audit.example ') + 20,
    ];
    for (const at of positions) {
      const bytes = Buffer.from(text, 'utf8');
      const offset = Buffer.byteLength(text.slice(0, at), 'utf8');
      bytes[offset] ^= 0x01;
      expect(() => verifyTlogProof(bytes.toString('utf8'), POLICY, leaves[4])).toThrow();
    }
  });

  it('fails with a missing cosignature (one of two)', () => {
    const error = thrown(() => verifyTlogProof(receipt(1, cosigned(witnesses[1])), POLICY, leaves[1]));
    expect(error).toBeInstanceOf(QuorumNotMetError);
    expect((error as QuorumNotMetError).cosigners).toEqual(['W2']);
  });

  it('does not count a cosignature by a key outside the policy, even under a policy name', () => {
    const note = cosigned(witnesses[1], outsider);
    expect(thrown(() => verifyTlogProof(receipt(1, note), POLICY, leaves[1]))).toBeInstanceOf(QuorumNotMetError);
  });

  it('counts a witness once however often it cosigned', () => {
    const note = SIGNED + witnesses[0].cosign(BODY, T) + witnesses[0].cosign(BODY, T + 1);
    expect(thrown(() => verifyTlogProof(receipt(0, note), POLICY, leaves[0]))).toBeInstanceOf(QuorumNotMetError);
  });

  it('fails when the log signature is missing, whatever the cosignatures', () => {
    const note = `${BODY}\n${witnesses.map((w) => w.cosign(BODY, T)).join('')}`;
    const error = thrown(() => verifyTlogProof(receipt(0, note), POLICY, leaves[0]));
    expect(error).toBeInstanceOf(NoteVerificationError);
    expect((error as NoteVerificationError).reason).toBe('no_known_signature');
  });

  it('fails for an origin that the log key does not cover', () => {
    const foreign = { ...checkpoint, origin: 'elsewhere.example/acme' };
    const body = formatCheckpoint(foreign);
    const note = signCheckpoint(foreign, logKey) + witnesses.map((w) => w.cosign(body, T)).join('');
    const error = thrown(() => openCheckpointWithPolicy(note, POLICY));
    expect((error as NoteVerificationError).reason).toBe('no_known_signature');
  });

  it('reports short quorums without throwing when asked for the checkpoint only', () => {
    expect(openCheckpointWithPolicy(cosigned(witnesses[2]), POLICY)).toMatchObject({
      cosigners: ['W3'],
      quorumMet: false,
    });
    expect(openCheckpointWithPolicy(cosigned(...witnesses), POLICY).quorumMet).toBe(true);
  });
});
