import { transformFileSync } from '@swc/core';
import { ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { AddressInfo } from 'node:net';
import { IncomingMessage, Server, ServerResponse, createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { ensureDatabase } from '../../src/platform/database/database-bootstrap';
import { createTestDatabase, dropTestDatabase, superuserClient } from '../support/test-database';
import { ServiceProcess, call, startServiceProcess } from './support/service-process';
import { until } from './support/until';

/**
 * Drill (issue 20): the emitter is killed with SIGKILL in the middle of a relay pass (rows
 * acknowledged and deleted before, a batch claimed and on its way to the service at the kill) and
 * started again. Every business row's event is in the log exactly once, the log has no gap and
 * verifies, and nothing is left in the outbox or dead-lettered (docs/architecture.md "Packages").
 * The emitter is test/drills/support/outbox-emitter.ts on the built package `@audit/client`, its
 * database a second one on the same PostgreSQL.
 */

const ROOT = resolve(__dirname, '../..');
const TENANT = 'acme';
const ORDERS = 300;
/** Generous: a loaded 2-core machine runs the service, the emitter and PostgreSQL. */
const DEADLINE_MS = 90_000;
const WAIT = { timeoutMs: DEADLINE_MS, pauseMs: 50 };

/**
 * The network between the emitter and the service, as an HTTP hop the drill controls: it passes
 * exchanges through, or holds the request (the service never sees it) or the answer (the service
 * committed, the emitter never hears). A held exchange stays held until the emitter is gone.
 */
class Gate {
  private holding: 'nothing' | 'request' | 'answer' = 'nothing';
  /** Exchanges held since the last `holdFromNow`. */
  held = 0;

  private constructor(
    private readonly server: Server,
    private readonly target: string,
  ) {
    server.on('request', (req: IncomingMessage, res: ServerResponse) => void this.pass(req, res));
  }

  static async start(target: string): Promise<Gate> {
    const gate = new Gate(createServer(), target);
    await new Promise<void>((ok) => gate.server.listen(0, '127.0.0.1', ok));
    return gate;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  holdFromNow(what: 'nothing' | 'request' | 'answer'): void {
    this.holding = what;
    this.held = 0;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((ok) => this.server.close(ok));
  }

  private async pass(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    if (this.holding === 'request') {
      this.held++;
      return;
    }
    const answer = await fetch(`${this.target}${req.url}`, {
      method: req.method,
      headers: { authorization: String(req.headers.authorization), 'content-type': 'application/json' },
      body: chunks.length > 0 ? Buffer.concat(chunks) : undefined,
    });
    const body = await answer.text();
    if (this.holding === 'answer') {
      this.held++;
      return;
    }
    const retryAfter = answer.headers.get('retry-after');
    res.writeHead(answer.status, {
      'content-type': answer.headers.get('content-type') ?? 'application/json',
      ...(retryAfter ? { 'retry-after': retryAfter } : {}),
    });
    res.end(body);
  }
}

interface Emitter {
  readonly child: ChildProcess;
  output(): string;
  readonly exited: Promise<NodeJS.Signals | null>;
  kill(): Promise<void>;
}

describe('drill: the emitter killed in the middle of relaying its outbox, and started again', () => {
  let work: string;
  let emitterScript: string;
  let auditDb: string;
  let emitterDb: string;
  let owner: Client;
  let emitterOwner: Client;
  let service: ServiceProcess;
  let emitterKey: string;
  let investigatorKey: string;
  let gate: Gate;
  const emitters: Emitter[] = [];

  beforeAll(async () => {
    // The emitter runs on the package as built (libs/audit-client/dist), found by its name.
    await promisify(execFile)('npm', ['run', 'build:packages'], { cwd: ROOT });
    work = mkdtempSync(join(tmpdir(), 'audit-emitter-'));
    mkdirSync(join(work, 'node_modules', '@audit'), { recursive: true });
    symlinkSync(join(ROOT, 'libs/audit-client'), join(work, 'node_modules/@audit/client'));
    symlinkSync(join(ROOT, 'libs/ledger'), join(work, 'node_modules/@audit/ledger'));
    symlinkSync(join(ROOT, 'node_modules/pg'), join(work, 'node_modules/pg'));
    emitterScript = join(work, 'outbox-emitter.js');
    const { code } = transformFileSync(join(__dirname, 'support/outbox-emitter.ts'), {
      jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
      module: { type: 'commonjs' },
    });
    writeFileSync(emitterScript, code);

    auditDb = await createTestDatabase();
    owner = await superuserClient(auditDb);
    // The emitter's own database: empty, the emitter migrates its outbox itself.
    const url = new URL(auditDb);
    url.pathname = `/audit_test_emitter_${randomBytes(6).toString('hex')}`;
    emitterDb = url.toString();
    await ensureDatabase(emitterDb);
    emitterOwner = await superuserClient(emitterDb);

    service = await startServiceProcess(auditDb);
    const keys: string[] = [];
    for (const role of ['emitter', 'investigator']) {
      const res = await call(service, service.env.AUDIT_BOOTSTRAP_ADMIN_KEY, 'POST', '/v1/keys', {
        name: `drill-${role}`,
        roles: [role],
        tenants: [TENANT],
      });
      expect(res.status).toBe(201);
      keys.push(res.json.key as string);
    }
    [emitterKey, investigatorKey] = keys;
    gate = await Gate.start(service.url);
  }, 180_000);

  afterAll(async () => {
    for (const emitter of emitters) await emitter.kill();
    await gate?.close();
    await service?.kill();
    await owner?.end().catch(() => undefined);
    await emitterOwner?.end().catch(() => undefined);
    if (auditDb) await dropTestDatabase(auditDb);
    if (emitterDb) await dropTestDatabase(emitterDb);
    if (service) rmSync(service.env.AUDIT_CHECKPOINT_DIR, { recursive: true, force: true });
    if (work) rmSync(work, { recursive: true, force: true });
  }, 60_000);

  function startEmitter(run: string, orders: number): Emitter {
    const child = spawn(process.execPath, [emitterScript], {
      env: {
        ...process.env,
        NODE_PATH: join(work, 'node_modules'),
        EMITTER_DATABASE_URL: emitterDb,
        AUDIT_URL: gate.url,
        AUDIT_API_KEY: emitterKey,
        ORDERS: String(orders),
        RUN: run,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout?.on('data', (b: Buffer) => (output += b.toString()));
    child.stderr?.on('data', (b: Buffer) => (output += b.toString()));
    const exited = new Promise<NodeJS.Signals | null>((ok) => child.once('exit', (_code, signal) => ok(signal)));
    const emitter: Emitter = {
      child,
      output: () => output,
      exited,
      kill: async () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        await exited;
      },
    };
    emitters.push(emitter);
    return emitter;
  }

  async function outboxSize(): Promise<number> {
    return (await emitterOwner.query('SELECT count(*)::int AS n FROM audit_outbox')).rows[0].n;
  }

  /** True while the relay holds claimed rows in an open transaction: its request is on its way. */
  async function relayMidPass(): Promise<boolean> {
    const { rows } = await emitterOwner.query(
      `SELECT 1 FROM pg_stat_activity
       WHERE datname = current_database() AND application_name = 'drill-emitter' AND state = 'idle in transaction'`,
    );
    return rows.length > 0;
  }

  /**
   * Lets the emitter relay part of its orders, then holds `what` at the gate (the request before
   * the service, or the service's answer after it committed) and SIGKILLs the emitter while its
   * relay waits for it with the batch claimed; then starts it again and waits for an empty outbox.
   */
  async function killMidPassAndRestart(run: string, what: 'request' | 'answer'): Promise<string> {
    gate.holdFromNow('nothing');
    const first = startEmitter(run, ORDERS);
    await until(
      'the emitter relays',
      async () => {
        if (first.child.exitCode !== null) throw new Error(`the emitter exited:\n${first.output()}`);
        return first.output().includes('relaying');
      },
      WAIT,
    );
    await until('some rows are acknowledged', async () => (await outboxSize()) < ORDERS - 20, WAIT);
    gate.holdFromNow(what);
    await until(
      'the relay waits for a held exchange with its batch claimed',
      async () => {
        return gate.held > 0 && (await relayMidPass());
      },
      WAIT,
    );
    await first.kill();
    expect(await first.exited).toBe('SIGKILL');
    const leftAtKill = await outboxSize();
    expect(leftAtKill).toBeGreaterThan(0);
    expect(leftAtKill).toBeLessThan(ORDERS);

    gate.holdFromNow('nothing');
    const restarted = startEmitter(run, 0);
    await until(
      'the restarted relay empties the outbox',
      async () => {
        if (restarted.child.exitCode !== null) throw new Error(`the emitter exited:\n${restarted.output()}`);
        return (await outboxSize()) === 0;
      },
      WAIT,
    );
    await restarted.kill();
    return first.output() + restarted.output();
  }

  /** Every order of `run` has exactly one entry (found by the order id in its context); the log has no gap and verifies. */
  async function expectEachOrderOnceInAVerifiedLog(run: string): Promise<void> {
    const orders = await emitterOwner.query('SELECT id FROM orders WHERE starts_with(id, $1) ORDER BY id', [run]);
    expect(orders.rows).toHaveLength(ORDERS);
    expect((await emitterOwner.query('SELECT count(*)::int AS n FROM audit_outbox_dead')).rows[0].n).toBe(0);
    const { rows } = await owner.query(
      `SELECT convert_from(leaf, 'UTF8')::jsonb #>> '{context,order}' AS id FROM entries
       WHERE log = $1 AND position(convert_to($2, 'UTF8') IN leaf) > 0 ORDER BY 1`,
      [TENANT, run],
    );
    expect(rows.map((r: { id: string }) => r.id)).toEqual(orders.rows.map((r: { id: string }) => r.id));

    const size = Number((await owner.query('SELECT size FROM logs WHERE log = $1', [TENANT])).rows[0].size);
    const indices = await owner.query('SELECT idx FROM entries WHERE log = $1 ORDER BY idx', [TENANT]);
    expect(indices.rows.map((r: { idx: string }) => Number(r.idx))).toEqual([...Array(size).keys()]);
    const verified = await call(service, investigatorKey, 'POST', `/v1/logs/${TENANT}/verify`);
    expect(verified.status).toBe(200);
    expect(verified.json).toMatchObject({ ok: true, log: TENANT, size, problems: [] });
  }

  it('killed while its request is held before the service: the batch is sent again, each event once', async () => {
    const run = `order-${randomBytes(6).toString('hex')}`;
    const output = await killMidPassAndRestart(run, 'request');
    await expectEachOrderOnceInAVerifiedLog(run);
    // No receipt failed and nothing was refused, in either life of the emitter.
    expect(output).not.toContain('"alarm"');
  }, 240_000);

  it('killed after the service committed its batch, the answer held: the resend is answered with the original entries', async () => {
    const run = `order-${randomBytes(6).toString('hex')}`;
    const output = await killMidPassAndRestart(run, 'answer');
    await expectEachOrderOnceInAVerifiedLog(run);
    expect(output).not.toContain('"alarm"');
  }, 240_000);
});
