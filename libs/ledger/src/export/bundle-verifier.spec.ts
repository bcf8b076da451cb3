import { buildSampleExportLog, sampleExport } from '../../testdata/sample-export';
import { BundleVerifier } from './bundle-verifier';

function check(lines: readonly string[], trustedKey?: string) {
  const verifier = new BundleVerifier(trustedKey === undefined ? {} : { trustedKey });
  for (const line of [...lines, '']) verifier.push(line);
  return verifier.finish();
}

describe('BundleVerifier', () => {
  const a = buildSampleExportLog(12, 'tenant-a');
  const b = buildSampleExportLog(9, 'tenant-b');
  const first = sampleExport(a, { indices: [1, 4, 11], erased: [4] });
  const second = sampleExport(b, { indices: [0, 8] });

  it('checks each log section of a bundle against its own header', () => {
    const report = check([...first, ...second], a.key);
    expect(report).toMatchObject({ ok: true, entries: 5, verified: 5, erased: 1, problems: [] });
    expect(report.sections.map((s) => [s.log, s.entries, s.ok])).toEqual([
      ['tenant-a', 3, true],
      ['tenant-b', 2, true],
    ]);
  });

  it('a single export is a bundle of one section', () => {
    const report = check(first, a.key);
    expect(report.ok).toBe(true);
    expect(report.sections).toHaveLength(1);
  });

  it('names a bad line by its line in the whole file, in the section it belongs to', () => {
    // The second section's first entry, moved under the first section's header: a wrong log there.
    const moved = [...first, second[1], ...second];
    const report = check(moved, a.key);
    expect(report.ok).toBe(false);
    expect(report.problems.map((p) => [p.line, p.code])).toContainEqual([first.length + 1, 'wrong_log']);
    // An entry line of a log whose header is missing is refused too: it cannot stand without one.
    const headless = check([...first, ...second.slice(1)], a.key);
    expect(headless.ok).toBe(false);
  });

  it('refuses a blank line between sections and an empty bundle', () => {
    expect(check([...first, '', ...second], a.key).problems.map((p) => p.code)).toContain('blank_line');
    expect(check([], a.key).ok).toBe(false);
  });
});
