import { ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { dirname, resolve } from 'node:path';
import { testEnv } from '../../support/test-app';

/**
 * The built service (`npm run test:drills` runs `nest build` first); `AUDIT_DRILL_MAIN` names another
 * build (one of the drill's own, kept apart from a `dist` that other builds replace meanwhile).
 */
const MAIN = process.env.AUDIT_DRILL_MAIN ?? resolve(__dirname, '../../../dist/src/main.js');

/** A free TCP port on 127.0.0.1, as the OS hands it out. */
export function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => ok(port));
    });
  });
}

/** One service process of a drill: a real OS process the drill can signal. */
export interface ServiceProcess {
  readonly url: string;
  readonly child: ChildProcess;
  /** The environment it runs with (its admin key is `AUDIT_BOOTSTRAP_ADMIN_KEY`). */
  readonly env: Readonly<Record<string, string>>;
  /** Everything the process wrote to stdout and stderr so far (pino JSON lines). */
  output(): string;
  /** Resolves with the exit code (or signal) once the process has ended. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILL, and waits for the end. */
  kill(): Promise<void>;
}

/**
 * Starts `node dist/src/main.js` against `databaseUrl` with the test environment (test-app.ts
 * `testEnv`: a queue prefix, checkpoint directory and admin key of its own) overridden by `env`
 * (pass the same AUDIT_QUEUE_PREFIX, AUDIT_CHECKPOINT_DIR and AUDIT_BOOTSTRAP_ADMIN_KEY to
 * processes that stand for one deployment), and waits until `/health`
 * answers (any status: a drill may start it degraded) unless `waitForHealth` is false; on `port` when
 * given, else on a free one.
 */
export async function startServiceProcess(
  databaseUrl: string,
  env: Record<string, string> = {},
  options: { waitForHealth?: boolean; port?: number } = {},
): Promise<ServiceProcess> {
  // A given port: processes that must know each other's URLs before they start (witnesses).
  const port = options.port ?? (await freePort());
  const environment = { ...testEnv(databaseUrl, env), PORT: String(port), LOG_LEVEL: env.LOG_LEVEL ?? 'info' };
  const child = spawn(process.execPath, [MAIN], {
    env: { ...process.env, ...environment },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (b: Buffer) => (output += b.toString()));
  child.stderr?.on('data', (b: Buffer) => (output += b.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((ok) =>
    child.once('exit', (code, signal) => ok({ code, signal })),
  );
  const url = `http://127.0.0.1:${port}`;
  const service: ServiceProcess = {
    url,
    child,
    env: environment,
    output: () => output,
    exited,
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
  if (options.waitForHealth === false) return service;
  const until = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`the service exited with ${child.exitCode} while starting:\n${output}`);
    try {
      await fetch(`${url}/health`);
      return service;
    } catch {
      if (Date.now() > until) {
        await service.kill();
        throw new Error(`the service did not answer /health within 60 s:\n${output}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** Runs the built command line (`cli.js` beside the built main) with `service`'s environment. */
export function runCommandLine(
  service: ServiceProcess,
  args: readonly string[],
): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(process.execPath, [resolve(dirname(MAIN), 'cli.js'), ...args], {
    env: { ...process.env, ...service.env, LOG_LEVEL: 'silent' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout?.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr?.on('data', (b: Buffer) => (err += b.toString()));
  return new Promise((ok) => child.once('exit', (code) => ok({ code, out, err })));
}

/** A service's answer to one call. */
export interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  /** The body parsed when it is JSON (a checkpoint is text/plain), else `{}`. */
  readonly json: Record<string, any>;
}

/**
 * One HTTP call to `service` with the bearer `key`; `body`, when given, sent as JSON. Any status
 * is an answer: the drill checks it.
 */
export async function call(
  service: Pick<ServiceProcess, 'url'>,
  key: string,
  method: string,
  path: string,
  body?: unknown,
  options: { headers?: Record<string, string>; signal?: AbortSignal } = {},
): Promise<Answer> {
  const res = await fetch(`${service.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${key}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...options.headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: options.signal,
  });
  const text = await res.text();
  const json = text && (res.headers.get('content-type') ?? '').includes('json') ? JSON.parse(text) : {};
  return { status: res.status, headers: res.headers, text, json };
}

/** `call`, failing unless the service answers `status`. */
export async function expectCall(
  service: Pick<ServiceProcess, 'url'>,
  key: string,
  method: string,
  path: string,
  status: number,
  body?: unknown,
): Promise<Answer> {
  const res = await call(service, key, method, path, body);
  if (res.status !== status) throw new Error(`${method} ${path}: expected ${status}, got ${res.status} ${res.text}`);
  return res;
}

/** `call` for setting things up: fails unless the service answers 2xx; its JSON body. */
export async function callOk(
  service: Pick<ServiceProcess, 'url'>,
  key: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<Record<string, any>> {
  const res = await call(service, key, method, path, body);
  if (res.status < 200 || res.status > 299) throw new Error(`${method} ${path} answered ${res.status}: ${res.text}`);
  return res.json;
}

/** A key rotated by itself: only its holder has seen the new secret. */
async function rotatedByItself(service: ServiceProcess, id: string, key: string): Promise<string> {
  return (await callOk(service, key, 'POST', `/v1/keys/${id}/rotate`)).key as string;
}

// One first legal person per deployment (its admin key names it).
const firstLegal = new Map<string, Promise<string>>();

/**
 * The key of a legal person named `name` over `tenants`, made as an installation makes one
 * (docs/api.md "Principals"): the deployment's first legal person comes from the command line,
 * approves the legal grant the admin asks for, and every key is rotated by its holder.
 */
export async function legalPersonKey(service: ServiceProcess, name: string, tenants: string[]): Promise<string> {
  const admin = service.env.AUDIT_BOOTSTRAP_ADMIN_KEY;
  let approver = firstLegal.get(admin);
  if (approver === undefined) {
    approver = (async () => {
      const made = await runCommandLine(service, [
        'principals',
        'first-legal',
        '--name',
        'first-legal',
        '--email',
        'first-legal@example.test',
      ]);
      if (made.code !== 0) throw new Error(`principals first-legal failed (${made.code}): ${made.err}`);
      const { key } = JSON.parse(made.out) as { key: { id: string; key: string } };
      return rotatedByItself(service, key.id, key.key);
    })();
    firstLegal.set(admin, approver);
  }
  const approverKey = await approver;
  const person = await callOk(service, admin, 'POST', '/v1/principals', {
    name,
    kind: 'person',
    email: `${name}@example.test`,
  });
  const grant = await callOk(service, admin, 'POST', `/v1/principals/${person.id}/grants`, { role: 'legal', tenants });
  await callOk(service, approverKey, 'POST', `/v1/grants/${grant.id}/approve`);
  const key = await callOk(service, admin, 'POST', '/v1/keys', {
    principal: person.id,
    name,
    roles: ['legal'],
    tenants,
  });
  return rotatedByItself(service, key.id, key.key);
}
