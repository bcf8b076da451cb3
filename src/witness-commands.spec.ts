import {
  formatCheckpoint,
  formatTlogProof,
  generateCosignerKey,
  generateNoteKey,
  leafHash,
  parseCosignatureVerifierKey,
  parseCosignerKey,
  parsePrivateKey,
  signCheckpoint,
} from '@audit/ledger';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { referenceInclusionProof, referenceRoot } from '../libs/ledger/testdata/reference-tree';
import { runCommandLine } from './command-line';

// `verify-proof` runs offline: no environment is passed, and none may be needed.
describe('command line: verify-proof and witness-key', () => {
  const leaves = Array.from({ length: 9 }, (_, i) => Buffer.from(`{"leaf":${i}}`));
  const hashes = leaves.map((leaf) => leafHash(leaf));
  const log = parsePrivateKey(generateNoteKey('audit.example', Buffer.alloc(32, 1)).privateKey);
  const pairs = [1, 2, 3].map((n) => generateCosignerKey(`w${n}.example`, Buffer.alloc(32, 40 + n)));
  const witnesses = pairs.map((pair) => parseCosignerKey(pair.privateKey));
  const outsider = parseCosignerKey(generateCosignerKey('w3.example', Buffer.alloc(32, 99)).privateKey);
  const checkpoint = { origin: 'audit.example/acme', size: 9, rootHash: referenceRoot(hashes), extensions: [] };
  const body = formatCheckpoint(checkpoint);
  const policy =
    `log ${log.verifierKey}\n` +
    pairs.map((pair, i) => `witness W${i + 1} ${pair.verifierKey}\n`).join('') +
    'group majority 2 W1 W2 W3\nquorum majority\n';
  const receipt = (cosigners: { cosign(b: string, t: number): string }[], index = 5): string =>
    formatTlogProof({
      index,
      proof: referenceInclusionProof(index, hashes),
      checkpoint: signCheckpoint(checkpoint, log) + cosigners.map((c) => c.cosign(body, 1_790_000_000)).join(''),
    });
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'audit-proof-'));
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  function write(name: string, content: string | Buffer): string {
    const file = join(dir, name);
    writeFileSync(file, content);
    return file;
  }

  async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
    let out = '';
    let err = '';
    const code = await runCommandLine(argv, {}, { out: (text) => (out += text), err: (text) => (err += text) });
    return { code, out, err };
  }

  async function verify(proof: string, leaf = leaves[5]): Promise<{ code: number; report: Record<string, unknown> }> {
    const files = [write('r.tlog-proof', proof), '--policy', write('p.policy', policy), '--leaf', write('leaf', leaf)];
    const { code, out } = await run('verify-proof', ...files);
    return { code, report: JSON.parse(out) };
  }

  it('verifies a receipt cosigned by 2 of 3 witnesses: exit 0', async () => {
    const { code, report } = await verify(receipt([witnesses[0], witnesses[2]]));
    expect(report).toEqual({ ok: true, origin: 'audit.example/acme', size: 9, index: 5, cosigners: ['W1', 'W3'] });
    expect(code).toBe(0);
  });

  it('fails with one byte flipped in the proof, the checkpoint or a cosignature', async () => {
    const good = receipt([witnesses[0], witnesses[1]]);
    for (const at of [good.indexOf('index 5') + 10, good.indexOf('audit.example/acme\n9\n') + 22, good.length - 10]) {
      const bytes = Buffer.from(good);
      bytes[at] ^= 0x02;
      const { code, report } = await verify(bytes.toString('latin1'));
      expect(report.ok).toBe(false);
      expect(code).toBe(1);
    }
  });

  it('fails for another leaf', async () => {
    const { code, report } = await verify(receipt([witnesses[0], witnesses[1]]), leaves[4]);
    expect([code, report.code]).toEqual([1, 'root_mismatch']);
  });

  it('fails with a cosignature missing', async () => {
    const { code, report } = await verify(receipt([witnesses[1]]));
    expect([code, report.code]).toEqual([1, 'quorum_not_met']);
  });

  it('fails when the second cosignature is by a key outside the policy', async () => {
    const { code, report } = await verify(receipt([witnesses[1], outsider]));
    expect([code, report.code]).toEqual([1, 'quorum_not_met']);
  });

  it('is a usage error (exit 2) without --policy or with a bad policy', async () => {
    const proof = write('r2.tlog-proof', receipt(witnesses));
    expect((await run('verify-proof', proof, '--leaf', write('l2', leaves[5]))).code).toBe(2);
    const bad = await run(
      'verify-proof',
      proof,
      '--leaf',
      write('l3', leaves[5]),
      '--policy',
      write('b.policy', 'log x\n'),
    );
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('--policy: policy line 1');
  });

  it('makes a witness key whose verifier key parses and matches', async () => {
    const { code, out } = await run('witness-key', 'witness.example.org/w1');
    expect(code).toBe(0);
    const { verifierKey, privateKey } = JSON.parse(out);
    expect(parseCosignerKey(privateKey).verifierKey).toBe(verifierKey);
    expect(parseCosignatureVerifierKey(verifierKey).name).toBe('witness.example.org/w1');
    expect((await run('witness-key', 'bad name')).code).toBe(2);
  });
});
