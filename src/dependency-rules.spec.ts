import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

/**
 * The context map's rules (.dependency-cruiser.cjs, run by `npm run lint`) catch what they are for:
 * a small tree of contexts that breaks each rule once is refused with that rule's name, and the
 * same tree without the breaks passes. A rule that matched nothing would pass every tree.
 */
describe('the dependency rules', () => {
  const root = resolve(__dirname, '..');
  let dir: string;

  const cruise = (files: Record<string, string>): string[] => {
    rmSync(join(dir, 'src'), { recursive: true, force: true });
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), text);
    }
    // The JSON report lists every violation; its exit status is not relied on.
    let stdout: string;
    try {
      stdout = execFileSync(
        process.execPath,
        [
          join(root, 'node_modules/dependency-cruiser/bin/dependency-cruise.mjs'),
          'src',
          '--config',
          join(root, '.dependency-cruiser.cjs'),
          '--output-type',
          'json',
        ],
        { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
      ).toString();
    } catch (e) {
      stdout = (e as { stdout: Buffer }).stdout.toString();
    }
    const report = JSON.parse(stdout) as {
      summary: { violations: { rule: { name: string }; from: string; to: string }[] };
    };
    return report.summary.violations.map((v) => `${v.rule.name}: ${v.from} -> ${v.to}`).sort();
  };

  const clean = {
    'src/ledger/index.ts': "export { append } from './sequencer';\n",
    'src/ledger/sequencer.ts': 'export const append = (): number => 1;\n',
    'src/holds/index.ts': "export { place } from './place';\n",
    'src/holds/place.ts': "import { append } from '../ledger';\nexport const place = (): number => append();\n",
    'src/platform/clock.ts': 'export const now = (): number => 0;\n',
  };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'dependency-rules-'));
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { module: 'nodenext' } }));
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('passes contexts that meet only through index.ts', () => {
    expect(cruise(clean)).toEqual([]);
  });

  it('refuses an import of another context past its index.ts', () => {
    expect(
      cruise({
        ...clean,
        'src/holds/place.ts': "import { append } from '../ledger/sequencer';\nexport const place = append;\n",
      }),
    ).toEqual(['only-through-index: src/holds/place.ts -> src/ledger/sequencer.ts']);
  });

  it('refuses the platform importing a context', () => {
    expect(
      cruise({ ...clean, 'src/platform/clock.ts': "import { place } from '../holds';\nexport const now = place;\n" }),
    ).toContain('platform-knows-no-context: src/platform/clock.ts -> src/holds/index.ts');
  });

  it('refuses a cycle between contexts, even when every import goes through an index.ts', () => {
    const violations = cruise({
      ...clean,
      'src/ledger/index.ts': "export { append } from './sequencer';\nexport { audit } from './audit';\n",
      'src/ledger/audit.ts': "import { place } from '../holds';\nexport const audit = place;\n",
    });
    expect(violations.some((v) => v.startsWith('no-cycle-between-contexts:'))).toBe(true);
  });
});
