import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A PostgreSQL cluster of a test's own (initdb into a temporary directory, on a free port), for
 * tests that read the server's files: the machine's shared cluster holds every test's data and WAL.
 * As root, the server runs as the `postgres` user (initdb refuses root).
 */
export interface PrivateCluster {
  /** The data directory (table files under base/, WAL under pg_wal/). */
  readonly dataDir: string;
  /** `postgres://postgres@127.0.0.1:<port>` */
  readonly server: string;
  stop(): void;
}

function binDir(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions.length === 0)
    throw new Error(`cannot create a private PostgreSQL cluster: no ${root}/<version>/bin/initdb on this machine`);
  return join(root, versions[0], 'bin');
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** Creates and starts the cluster; throws, saying why, when it cannot (never skips). */
export async function startPrivateCluster(): Promise<PrivateCluster> {
  const bin = binDir();
  const root = mkdtempSync(join(tmpdir(), 'audit-cluster-'));
  const dataDir = join(root, 'data');
  const asRoot = process.getuid?.() === 0;
  const run = (command: string, args: string[]) => {
    const full = join(bin, command);
    try {
      return asRoot
        ? execFileSync('runuser', ['-u', 'postgres', '--', full, ...args], { stdio: 'pipe' })
        : execFileSync(full, args, { stdio: 'pipe' });
    } catch (e) {
      const err = e as { stderr?: Buffer; message: string };
      throw new Error(
        `cannot create a private PostgreSQL cluster: ${command} failed: ${err.stderr?.toString() ?? err.message}`,
        { cause: e },
      );
    }
  };
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    chownSync(root, uid, gid);
  }
  chmodSync(root, 0o700);
  const port = await freePort();
  run('initdb', ['-D', dataDir, '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8', '--locale=C']);
  run('pg_ctl', [
    '-D',
    dataDir,
    '-w',
    '-t',
    '30',
    '-l',
    join(root, 'server.log'),
    '-o',
    `-p ${port} -c listen_addresses=127.0.0.1 -k ${root} -c fsync=off -c max_connections=40`,
    'start',
  ]);
  return {
    dataDir,
    server: `postgres://postgres@127.0.0.1:${port}`,
    stop() {
      try {
        run('pg_ctl', ['-D', dataDir, '-m', 'immediate', 'stop']);
      } finally {
        rmSync(root, { recursive: true, force: true });
      }
    },
  };
}
