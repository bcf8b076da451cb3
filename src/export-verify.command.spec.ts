import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSampleExportLog, exportText, sampleExport } from '../libs/ledger/testdata/sample-export';
import { sampleKey } from '../libs/ledger/testdata/sample-log';
import { runCommandLine } from './command-line';

// `verify-export` runs offline: no environment is passed, and none may be needed.
describe('command line: verify-export', () => {
  const sample = buildSampleExportLog(20);
  const lines = sampleExport(sample, { indices: [0, 2, 3, 7, 11, 19], erased: [3] });
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'audit-export-'));
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  function write(name: string, content: string): string {
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

  it('verifies a good export against the trusted key: exit 0, one JSON report', async () => {
    const file = write('good.ndjson', exportText(lines));
    const { code, out, err } = await run('verify-export', file, '--key', sample.key);
    expect(code).toBe(0);
    expect(out.trim().split('\n')).toHaveLength(1);
    expect(JSON.parse(out)).toMatchObject({
      ok: true,
      log: sample.log,
      size: 20,
      count: 6,
      entries: 6,
      verified: 6,
      erased: 1,
      keyTrusted: true,
      problems: [],
    });
    expect(err).toBe('');
  });

  it('names the tampered line: exit 1', async () => {
    const tampered = [...lines];
    const entry = JSON.parse(tampered[4]) as { leaf: string };
    const leaf = Buffer.from(entry.leaf, 'base64');
    leaf[leaf.indexOf('"outcome":"success"') + 11] ^= 0x01; // "success" becomes "ruccess": no longer a valid entry
    tampered[4] = JSON.stringify({ ...entry, leaf: leaf.toString('base64') });
    const file = write('tampered.ndjson', exportText(tampered));
    const { code, out, err } = await run('verify-export', file, '--key', sample.key);
    expect(code).toBe(1);
    const report = JSON.parse(out);
    expect(report).toMatchObject({ ok: false, firstBadLine: 5 });
    expect(err).toMatch(/^line 5: malformed_leaf: /m);
    expect(err).toMatch(/^line 5: bad_proof: /m);
  });

  it('without --key: verifies, but warns that trust needs the published key', async () => {
    const file = write('own-key.ndjson', exportText(lines));
    const { code, out, err } = await run('verify-export', file);
    expect(code).toBe(0);
    expect(JSON.parse(out)).toMatchObject({ ok: true, keyTrusted: false });
    expect(err).toContain(`/v1/logs/${sample.log}/key`);
  });

  it('a wrong key fails (exit 1); a malformed key, no file or an unreadable file is bad usage (exit 2)', async () => {
    const file = write('other-key.ndjson', exportText(lines));
    const wrong = await run('verify-export', file, '--key', sampleKey('audit.example/other').signer.verifierKey);
    expect(wrong.code).toBe(1);
    expect(wrong.err).toMatch(/^line 1: key_mismatch: /m);

    const malformedKey = await run('verify-export', file, '--key', 'not-a-key');
    expect(malformedKey).toMatchObject({ code: 2, out: '' });
    expect(malformedKey.err).toContain('--key');

    const noFile = await run('verify-export');
    expect(noFile).toMatchObject({ code: 2, out: '' });
    expect(noFile.err).toContain('usage:');

    const missing = await run('verify-export', join(dir, 'missing.ndjson'), '--key', sample.key);
    expect(missing).toMatchObject({ code: 2, out: '' });
    expect(missing.err).toContain('ENOENT');
    expect((await run('verify-export', dir)).code).toBe(2);
  });
});
