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
  readonly port: number;
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

/** Runs a PostgreSQL program of `bin`, as the `postgres` user when this process is root. */
function runner(bin: string): (command: string, args: string[]) => Buffer {
  const asRoot = process.getuid?.() === 0;
  return (command, args) => {
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
}

/** A temporary directory the server's user owns, mode 0700 (PostgreSQL refuses a data directory others can read). */
function clusterRoot(): string {
  const root = mkdtempSync(join(tmpdir(), 'audit-cluster-'));
  if (process.getuid?.() === 0) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    chownSync(root, uid, gid);
  }
  chmodSync(root, 0o700);
  return root;
}

/** Starts the server of `dataDir` on `port` (loopback only) and returns the cluster. */
function started(run: ReturnType<typeof runner>, root: string, dataDir: string, port: number): PrivateCluster {
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
    port,
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

/** Creates and starts the cluster; throws, saying why, when it cannot (never skips). */
export async function startPrivateCluster(): Promise<PrivateCluster> {
  const run = runner(binDir());
  const root = clusterRoot();
  const dataDir = join(root, 'data');
  const port = await freePort();
  // initdb's trust authentication covers replication connections from the loopback too, and
  // PostgreSQL's defaults (wal_level=replica, max_wal_senders=10) let a standby stream from it.
  run('initdb', ['-D', dataDir, '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8', '--locale=C']);
  return started(run, root, dataDir, port);
}

/**
 * A streaming-replication standby of `primary` (pg_basebackup -R: a copy that keeps replaying the
 * primary's WAL, read-only), on a port of its own. Stop it before its primary.
 */
export async function startPrivateStandby(primary: PrivateCluster): Promise<PrivateCluster> {
  const run = runner(binDir());
  const root = clusterRoot();
  const dataDir = join(root, 'data');
  const port = await freePort();
  run('pg_basebackup', [
    '-h',
    '127.0.0.1',
    '-p',
    String(primary.port),
    '-U',
    'postgres',
    '-D',
    dataDir,
    '-R',
    '-X',
    'stream',
    '-c',
    'fast',
    '--no-sync',
  ]);
  return started(run, root, dataDir, port);
}
