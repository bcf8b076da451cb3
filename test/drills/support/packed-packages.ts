import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';

/**
 * The four libraries as another project gets them (issue 20): built, packed with `npm pack`, and
 * installed from the tarballs with npm, offline. What the install would fetch from a registry is
 * this repository's instead:
 * - the packages' registry dependencies (canonicalize, uuid) are copied into the project's
 *   node_modules before the install, which then runs `--offline`;
 * - peer dependencies and the app's own dependencies are the consuming app's: `linkOwnDependencies`
 *   links this repository's into the project by name (the install runs with `--legacy-peer-deps`
 *   so npm does not fetch peers).
 */

const run = promisify(execFile);
export const ROOT = resolve(__dirname, '../../..');
/** In dependency order: each package is installed from the tarballs, none from the repository. */
export const PACKAGES = ['ledger', 'hold-guard', 'audit-client', 'audit-nestjs'] as const;

export interface Manifest {
  readonly name: string;
  readonly version: string;
  readonly dependencies?: Record<string, string>;
  readonly peerDependencies?: Record<string, string>;
}

export const manifest = (dir: string): Manifest =>
  JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest;

/** Builds the packages (`npm run build:packages`) and packs each into `destination`; the tarballs' paths in PACKAGES order. */
export async function packPackages(destination: string): Promise<string[]> {
  await run('npm', ['run', 'build:packages'], { cwd: ROOT });
  mkdirSync(destination, { recursive: true });
  const tarballs: string[] = [];
  for (const name of PACKAGES) {
    const { stdout } = await run('npm', ['pack', '--pack-destination', destination, '--silent'], {
      cwd: join(ROOT, 'libs', name),
    });
    tarballs.push(join(destination, stdout.trim().split('\n').pop() as string));
  }
  return tarballs;
}

/**
 * Installs `specs` (tarball paths, or nothing to install what the project's package.json lists)
 * into `project` offline, after copying the packages' registry dependencies into its node_modules.
 */
export async function installOffline(project: string, specs: readonly string[] = []): Promise<void> {
  mkdirSync(join(project, 'node_modules'), { recursive: true });
  const registryDependencies = new Set(
    PACKAGES.flatMap((name) => Object.keys(manifest(join(ROOT, 'libs', name)).dependencies ?? {})).filter(
      (dep) => !dep.startsWith('@audit/'),
    ),
  );
  for (const dep of registryDependencies)
    cpSync(join(ROOT, 'node_modules', dep), join(project, 'node_modules', dep), { recursive: true });
  await run('npm', ['install', '--offline', '--legacy-peer-deps', '--no-audit', '--no-fund', ...specs], {
    cwd: project,
  });
}

/** Links this repository's `names` (from its node_modules) into `directory`, by name. */
export function linkOwnDependencies(directory: string, names: readonly string[]): void {
  for (const name of names) {
    if (existsSync(join(directory, name))) continue;
    mkdirSync(dirname(join(directory, name)), { recursive: true });
    symlinkSync(join(ROOT, 'node_modules', name), join(directory, name));
  }
}
