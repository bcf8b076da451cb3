import { ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { ensureDatabase } from '../../src/platform/database/database-bootstrap';
import { clearQueues } from '../support/redis-keys';
import { createTestDatabase, dropTestDatabase, superuserClient } from '../support/test-database';
import { ROOT, installOffline, linkOwnDependencies, packPackages } from './support/packed-packages';
import { ServiceProcess, freePort, legalPersonKey, startServiceProcess } from './support/service-process';
import { until } from './support/until';

/**
 * Drill (issue 20): examples/gpu-console, installed from the packed tarballs like any other project
 * (support/packed-packages.ts) and compiled with tsc in a temporary copy, runs as a process of its
 * own against the built service. Its actions, each an @Audited route whose business rows and outbox
 * row commit in one transaction, are in the log exactly once with receipts it proved; its deletion
 * worker refuses a held subject and deletes an unheld one; and while the service is stopped under
 * load and started again, every acknowledged business change gets exactly one entry.
 */

type Json = Record<string, any>;

const TENANT = 'acme';
/** Generous: a loaded 2-core machine runs the service, the example app, PostgreSQL and Redis. */
const DEADLINE_MS = 45_000;
const WAIT = { timeoutMs: DEADLINE_MS, pauseMs: 100 };

describe('drill: the example console app, installed from the packed packages, against the running service', () => {
  let work: string;
  let auditDb: string;
  let consoleDb: string;
  let audit: Client;
  let consoleOwner: Client;
  let service: ServiceProcess;
  let keys: { emitter: string; investigator: string; legal: string };
  let app: ChildProcess;
  let appUrl: string;
  let appOutput = '';
  const queuePrefix = `test-console-${randomBytes(6).toString('hex')}`;

  async function call(base: string, method: string, path: string, key?: string, body?: object, user = 'u-ada') {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: {
        ...(key ? { authorization: `Bearer ${key}` } : {}),
        ...(body ? { 'content-type': 'application/json' } : {}),
        'x-user-id': user,
        'user-agent': 'drill/1.0',
      },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    return {
      status: res.status,
      body: (text && res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text) as Json,
    };
  }

  /** A call to the example app, as the console's signed-in `user`. */
  const console_ = (method: string, path: string, body?: object, user?: string) =>
    call(appUrl, method, path, undefined, body, user);
  const status = async () => (await console_('GET', '/audit/status')).body;

  /** The log's entries of `type`, by target id, counted (straight from the ledger, not the read model). */
  async function entriesByTarget(type: string): Promise<Map<string, number>> {
    const { rows } = await audit.query(
      `SELECT convert_from(leaf, 'UTF8')::jsonb #>> '{target,id}' AS id, count(*)::int AS n FROM entries
       WHERE log = $1 AND convert_from(leaf, 'UTF8')::jsonb ->> 'type' = $2 GROUP BY 1`,
      [TENANT, type],
    );
    return new Map(rows.map((r: { id: string; n: number }) => [r.id, r.n]));
  }

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'audit-example-'));
    const project = join(work, 'gpu-console');
    cpSync(join(ROOT, 'examples/gpu-console'), project, {
      recursive: true,
      filter: (source) => !/\/(node_modules|dist|vendor)$|package-lock\.json$/.test(source),
    });
    // The tarballs where the example's package.json expects them (file:vendor/...).
    await packPackages(join(project, 'vendor'));
    // npm installs the @audit/* tarballs offline; the app's other dependencies (NestJS, BullMQ, pg,
    // their types) are this repository's, linked in by name, as no registry is at hand.
    const manifest = JSON.parse(readFileSync(join(project, 'package.json'), 'utf8')) as Json;
    const own = Object.keys(manifest.dependencies).filter((name) => !name.startsWith('@audit/'));
    const fromTarballs = Object.fromEntries(
      Object.entries(manifest.dependencies as Record<string, string>).filter(([name]) => name.startsWith('@audit/')),
    );
    writeFileSync(
      join(project, 'package.json'),
      JSON.stringify({ ...manifest, dependencies: fromTarballs, devDependencies: {} }),
    );
    await installOffline(project);
    linkOwnDependencies(join(project, 'node_modules'), [...own, '@types/node', '@types/pg']);
    await promisify(execFile)(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', project]).catch(
      (error: { stdout?: string }) => {
        throw new Error(`tsc failed on the example:\n${error.stdout}`);
      },
    );

    auditDb = await createTestDatabase();
    audit = await superuserClient(auditDb);
    const url = new URL(auditDb);
    url.pathname = `/audit_test_console_${randomBytes(6).toString('hex')}`;
    consoleDb = url.toString();
    await ensureDatabase(consoleDb);
    consoleOwner = await superuserClient(consoleDb);

    service = await startServiceProcess(auditDb);
    const admin = service.env.AUDIT_BOOTSTRAP_ADMIN_KEY;
    const made: string[] = [];
    for (const [name, role] of [
      ['gpu-console', 'emitter'],
      ['gpu-console-receipts', 'investigator'],
    ]) {
      const res = await call(service.url, 'POST', '/v1/keys', admin, { name, roles: [role], tenants: [TENANT] });
      expect(res.status).toBe(201);
      made.push(res.body.key);
    }
    keys = { emitter: made[0], investigator: made[1], legal: await legalPersonKey(service, 'drill-legal', [TENANT]) };
    const pinned = await call(service.url, 'GET', `/v1/logs/${TENANT}/key`, keys.investigator);
    expect(pinned.status).toBe(200);

    const port = await freePort();
    appUrl = `http://127.0.0.1:${port}`;
    app = spawn(process.execPath, [join(project, 'dist/main.js')], {
      env: {
        ...process.env,
        // The app finds packages in its own node_modules only (the drill's NODE_PATH names the sources).
        NODE_PATH: '',
        PORT: String(port),
        DATABASE_URL: consoleDb,
        REDIS_URL: service.env.REDIS_URL,
        QUEUE_PREFIX: queuePrefix,
        AUDIT_URL: service.url,
        AUDIT_API_KEY: keys.emitter,
        AUDIT_TENANT: TENANT,
        AUDIT_READ_KEY: keys.investigator,
        AUDIT_VERIFIER_KEY: String(pinned.body).trim(),
        ...(service.env.AUDIT_LOG_ORIGIN ? { AUDIT_LOG_ORIGIN: service.env.AUDIT_LOG_ORIGIN } : {}),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    app.stdout?.on('data', (b: Buffer) => (appOutput += b.toString()));
    app.stderr?.on('data', (b: Buffer) => (appOutput += b.toString()));
    await until(
      'the example app answers',
      async () => {
        if (app.exitCode !== null) throw new Error(`the example app exited:\n${appOutput}`);
        return fetch(`${appUrl}/audit/status`).then(
          (r) => r.ok,
          () => false,
        );
      },
      WAIT,
    );
  }, 180_000);

  afterAll(async () => {
    if (app && app.exitCode === null && app.signalCode === null) {
      const exited = new Promise((ok) => app.once('exit', ok));
      app.kill('SIGKILL');
      await exited;
    }
    await service?.kill();
    await clearQueues(queuePrefix);
    if (service) await clearQueues(service.env.AUDIT_QUEUE_PREFIX);
    await audit?.end().catch(() => undefined);
    await consoleOwner?.end().catch(() => undefined);
    if (auditDb) await dropTestDatabase(auditDb);
    if (consoleDb) await dropTestDatabase(consoleDb);
    if (service) rmSync(service.env.AUDIT_CHECKPOINT_DIR, { recursive: true, force: true });
    if (work) rmSync(work, { recursive: true, force: true });
  }, 60_000);

  it('records sign-in, key creation, role grant and deployment once each, with receipts it proved', async () => {
    const signedIn = await console_('POST', '/sign-in', { user: 'u-ada' });
    const key = await console_('POST', '/api-keys', { name: 'ci' });
    const granted = await console_('POST', '/users/u-bob/roles', { role: 'admin' });
    const deployed = await console_('POST', '/deployments', { region: 'eu-west' });
    expect([signedIn.status, key.status, granted.status, deployed.status]).toEqual([201, 201, 201, 201]);
    const actions: [string, string, string][] = [
      ['auth.login.succeeded', 'session', signedIn.body.sessionId],
      ['api_key.created', 'api_key', key.body.id],
      ['admin.role.granted', 'user', 'u-bob'],
      ['deployment.created', 'deployment', deployed.body.id],
    ];

    const proven = await until(
      'the outbox is empty and every receipt is proven',
      async () => {
        const s = await status();
        return s.outbox === 0 && s.receipts.acknowledged >= 4 && s.receipts.pending === 0 && s;
      },
      WAIT,
    );
    expect(proven).toEqual({
      outbox: 0,
      deadLetters: 0,
      receipts: {
        acknowledged: proven.receipts.acknowledged,
        verified: proven.receipts.acknowledged,
        failed: 0,
        pending: 0,
      },
      alarms: [],
    });

    // The service's search finds each action exactly once, as the app recorded it.
    for (const [type, targetType, target] of actions) {
      const found = await until(
        `${type} is searchable`,
        async () => {
          const res = await call(
            service.url,
            'GET',
            `/v1/events?tenant=${TENANT}&type=${type}&target=${target}`,
            keys.investigator,
          );
          expect(res.status).toBe(200);
          return res.body.items.length > 0 && res.body.items;
        },
        WAIT,
      );
      expect(found).toHaveLength(1);
      expect(found[0]).toMatchObject({
        type,
        source: 'gpu-console',
        actor: { type: 'user', id: 'u-ada' },
        target: { type: targetType, id: target },
        outcome: 'success',
      });
      expect(found[0].personal).toMatchObject({ subject: 'u-ada', data: { userAgent: 'drill/1.0' } });
    }
  });

  it('its deletion worker refuses a subject under a legal hold and deletes an unheld one', async () => {
    for (const user of ['u-held', 'u-free']) {
      expect((await console_('POST', '/api-keys', { name: 'ci' }, user)).status).toBe(201);
    }
    // Bad input: a clear JSON error, nothing written.
    const refused = await console_('POST', '/api-keys', {}, 'u-free');
    expect(refused).toMatchObject({ status: 400, body: { message: expect.stringContaining('name') } });
    // The log exists (a hold needs a known tenant) once the relay has sent the keys' events.
    await until('the outbox is empty', async () => (await status()).outbox === 0, WAIT);
    const hold = await call(service.url, 'POST', '/v1/holds', keys.legal, {
      tenant: TENANT,
      matter: 'MATTER-1',
      scope: { subjects: ['u-held'] },
    });
    expect({ status: hold.status, body: hold.body }).toMatchObject({ status: 201 });

    const held = await console_('POST', '/users/u-held/deletion');
    const free = await console_('POST', '/users/u-free/deletion');
    expect([held.status, free.status]).toEqual([202, 202]);
    await until(
      'the unheld deletion completed',
      async () => {
        const job = await console_('GET', `/deletions/${free.body.jobId}`);
        return job.body.state === 'completed';
      },
      WAIT,
    );
    const heldJob = await until(
      'the held deletion settles',
      async () => {
        const job = await console_('GET', `/deletions/${held.body.jobId}`);
        return ['delayed', 'completed', 'failed'].includes(job.body.state) && job.body;
      },
      WAIT,
    );
    expect(heldJob).toMatchObject({ state: 'delayed', progress: { heldBy: [hold.body.id] } });

    const owned = await consoleOwner.query(
      `SELECT owner, count(*)::int AS n FROM api_keys WHERE owner IN ('u-held', 'u-free') GROUP BY owner`,
    );
    expect(owned.rows).toEqual([{ owner: 'u-held', n: 1 }]);
    await until('the outbox is empty', async () => (await status()).outbox === 0, WAIT);
    const deleted = await entriesByTarget('admin.user.deleted');
    expect(Object.fromEntries(deleted)).toEqual({ 'u-free': 1 });
    // The refused request is recorded as a failure, with the error's class.
    const failures = await audit.query(
      `SELECT convert_from(leaf, 'UTF8')::jsonb AS entry FROM entries WHERE log = $1
       AND convert_from(leaf, 'UTF8')::jsonb @> '{"type": "api_key.created", "outcome": "failure"}'`,
      [TENANT],
    );
    expect(failures.rows.map((r: Json) => r.entry)).toEqual([
      expect.objectContaining({
        actor: { type: 'user', id: 'u-free' },
        context: expect.objectContaining({ error: 'BadRequestException' }),
      }),
    ]);
  });

  it('the service stopped for a while under load and started again: every acknowledged change has exactly one entry', async () => {
    const acknowledged: string[] = [];
    let loading = true;
    // Four clients deploying one after the other, until told to stop.
    const load = Promise.all(
      Array.from({ length: 4 }, async () => {
        while (loading) {
          const res = await console_('POST', '/deployments', { region: 'us-east' });
          if (res.status === 201) acknowledged.push(res.body.id);
        }
      }),
    );
    try {
      await until('some deployments are acknowledged', async () => acknowledged.length >= 20, WAIT);
      service.child.kill('SIGTERM');
      await service.exited;
      const atStop = acknowledged.length;
      // Down for a while: at least 3 s (the relay backs off meanwhile), and 40 more changes.
      await new Promise((r) => setTimeout(r, 3_000));
      await until('deployments go on while the service is down', async () => acknowledged.length >= atStop + 40, WAIT);
      expect((await status()).outbox).toBeGreaterThan(0);

      service = await startServiceProcess(auditDb, { ...service.env }, { port: Number(new URL(service.url).port) });
      const atStart = acknowledged.length;
      await until('deployments go on after the service is back', async () => acknowledged.length >= atStart + 20, WAIT);
    } finally {
      loading = false;
      await load;
    }

    await until('the outbox is empty', async () => (await status()).outbox === 0, WAIT);
    const committed = await consoleOwner.query(`SELECT id FROM deployments WHERE region = 'us-east'`);
    expect(committed.rows.map((r: { id: string }) => r.id).sort()).toEqual([...acknowledged].sort());
    const entries = await entriesByTarget('deployment.created');
    const notOnce = acknowledged.filter((id) => entries.get(id) !== 1).map((id) => [id, entries.get(id) ?? 0]);
    expect(Object.fromEntries(notOnce)).toEqual({});
    const s = await status();
    expect({ deadLetters: s.deadLetters, alarms: s.alarms }).toEqual({ deadLetters: 0, alarms: [] });
  });
});
