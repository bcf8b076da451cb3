import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';

// The service as the benchmarks run it: a child process exactly as `npm run start:prod` starts it,
// on a fresh database with its own queue prefix, and everything it writes removed afterwards.
export const DATABASE_SERVER = process.env.BENCH_DATABASE_SERVER ?? 'postgres://postgres@127.0.0.1:5432';
export const REDIS = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

export interface BenchServiceOptions {
  /** The fresh database the service makes its tables in; it names the queue prefix and the temporary directory too. */
  readonly database: string;
  /** The port is `from` plus a random number below `spread`. */
  readonly ports: { readonly from: number; readonly spread: number };
  /** Where the service starts is said through it; the caller puts its own name (`long work:`) first. */
  readonly log: (line: string) => void;
}

export interface BenchService {
  readonly url: string;
  /** The bootstrap admin key. */
  readonly admin: string;
  readonly database: string;
  /** The BullMQ queue prefix. */
  readonly prefix: string;
  /** The service's environment: a command line (`principals first-legal`) run with it meets the same database and keys. */
  readonly env: NodeJS.ProcessEnv;
  /** The service's process, for its memory figures. */
  readonly pid: number;
  /** Ends the service and waits for it, removes its directory and drops its database. */
  stop(): Promise<void>;
}

export async function json<T>(res: Response): Promise<T> {
  if (!res.ok) throw new Error(`${res.url}: HTTP ${res.status} ${(await res.text()).slice(0, 300)}`);
  return (await res.json()) as T;
}

// Two minutes: on the shared two cores, loaded by other work, loading the service's modules alone
// has taken most of a minute.
export async function waitForHealth(url: string, ms = 120_000): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    try {
      if ((await fetch(`${url}/health`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the service did not become healthy');
}

/** Ends the database's connections (a run that failed may have left some) and drops it. */
export async function dropDatabase(name: string): Promise<void> {
  const db = new Client({ connectionString: `${DATABASE_SERVER}/postgres` });
  await db.connect();
  await db.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [name]);
  await db.query(`DROP DATABASE IF EXISTS "${name}"`);
  await db.end();
}

/** Starts the built service (dist/src/main.js beside this file) and waits until it is healthy. */
export async function startBenchService(options: BenchServiceOptions): Promise<BenchService> {
  const { database } = options;
  const prefix = database.replace(/_/g, '-');
  const admin = `bench-admin-${randomBytes(16).toString('hex')}`;
  // The checkpoint mirror and every key file the service makes beside it (signing, key encryption,
  // personal search), all in one directory of its own rather than the shared temporary directory.
  const dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
  const port = options.ports.from + Math.floor(Math.random() * options.ports.spread);
  const url = `http://127.0.0.1:${port}`;
  options.log(`starting the service on ${url} against a fresh database ${database}`);
  // The service runs exactly as `npm run start:prod` runs it, with its memory flags.
  const pkg = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as {
    scripts: Record<string, string>;
  };
  const nodeFlags = pkg.scripts['start:prod'].split(/\s+/).filter((arg) => arg.startsWith('--'));
  // For a diagnosis by hand only (`--trace-gc`, `--require ./probe.js`): extra flags after start:prod's.
  nodeFlags.push(...(process.env.BENCH_SERVICE_NODE_FLAGS ?? '').split(/\s+/).filter(Boolean));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PORT: String(port),
    DATABASE_URL: `${DATABASE_SERVER}/${database}`,
    REDIS_URL: REDIS,
    AUDIT_BOOTSTRAP_ADMIN_KEY: admin,
    AUDIT_CHECKPOINT_DIR: join(dir, 'checkpoints'),
    // Generated on start and removed with the directory.
    AUDIT_SIGNING_KEY: '',
    AUDIT_SIGNING_KEY_FILE: join(dir, 'signing-key'),
    LOG_LEVEL: 'warn',
    AUDIT_QUEUE_PREFIX: prefix,
    // The benchmark measures what the service can take, not the per-key budgets that protect it:
    // the admin key's budget (50/s) otherwise cuts off searches and the polling of deletion work.
    AUDIT_RATE_LIMIT_EMITTER: '0',
    AUDIT_RATE_LIMIT_OTHER: '0',
  };
  const child = spawn(process.execPath, [...nodeFlags, join(__dirname, '..', 'src', 'main.js')], {
    env,
    // The service's warnings and errors show in the bench's own log; its output otherwise is not read.
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
    await dropDatabase(database);
  };
  try {
    await waitForHealth(url);
  } catch (e) {
    await stop();
    throw e;
  }
  return { url, admin, database, prefix, env, pid: child.pid as number, stop };
}
