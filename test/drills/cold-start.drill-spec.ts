import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parsePrivateKey } from '@audit/ledger';
import { MIGRATIONS } from '../../src/platform/database/migrations';
import { clearQueues } from '../support/redis-keys';
import { dropTestDatabase, superuserClient } from '../support/test-database';
import { ServiceProcess, startServiceProcess } from './support/service-process';

const SERVER = process.env.TEST_DATABASE_SERVER ?? 'postgres://postgres@127.0.0.1:5432';
const TENANT = 'acme';

const auth = (key: string) => ({ authorization: `Bearer ${key}`, 'content-type': 'application/json' });

/** The last lines a process wrote (its start-up failure is there, after Nest's route lines). */
const tail = (service: ServiceProcess) => service.output().trim().split('\n').slice(-8).join('\n');

/** Polls `/health` until it answers 200 (the process may still be migrating or waiting on a lock). */
async function healthy(service: ServiceProcess, ms = 90_000): Promise<{ status: number; body: any }> {
  const until = Date.now() + ms;
  let last: string;
  for (;;) {
    if (service.child.exitCode !== null)
      throw new Error(`a service exited with ${service.child.exitCode} while starting:\n${tail(service)}`);
    try {
      const res = await fetch(`${service.url}/health`, { signal: AbortSignal.timeout(5_000) });
      const body = await res.json();
      if (res.status === 200) return { status: res.status, body };
      last = `${res.status} ${JSON.stringify(body)}`;
    } catch (e) {
      last = String(e);
    }
    if (Date.now() > until) throw new Error(`no 200 from /health within ${ms} ms (last: ${last}):\n${tail(service)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function post(service: ServiceProcess, path: string, key: string, body: unknown): Promise<any> {
  const res = await fetch(`${service.url}${path}`, { method: 'POST', headers: auth(key), body: JSON.stringify(body) });
  const text = await res.text();
  if (res.status !== 201) throw new Error(`POST ${path}: ${res.status} ${text}`);
  return JSON.parse(text);
}

describe('drill: cold start of three processes at once', () => {
  it('on an empty database without AUDIT_SIGNING_KEY: all healthy, one signing key (in a file, not the database), every migration once', async () => {
    // A database that does not exist yet: the processes create it (createTestDatabase would create and migrate it).
    const db = `${SERVER}/audit_test_${randomBytes(6).toString('hex')}`;
    // The deployment's state directory: the checkpoint mirror, and beside it the signing key file
    // the first process generates (AUDIT_SIGNING_KEY_FILE's default).
    const state = mkdtempSync(join(tmpdir(), 'audit-state-'));
    const deployment = {
      AUDIT_QUEUE_PREFIX: `drill-${randomBytes(6).toString('hex')}`,
      AUDIT_CHECKPOINT_DIR: join(state, 'checkpoints'),
      AUDIT_BOOTSTRAP_ADMIN_KEY: `drill-admin-${randomBytes(16).toString('hex')}`,
      AUDIT_SIGNING_KEY: '',
    };
    const services: ServiceProcess[] = [];
    try {
      // All three spawned in the same tick, none waited for.
      const started = await Promise.allSettled(
        [0, 1, 2].map(() => startServiceProcess(db, deployment, { waitForHealth: false })),
      );
      for (const s of started) if (s.status === 'fulfilled') services.push(s.value);
      for (const s of started) if (s.status === 'rejected') throw s.reason;

      for (const service of services) {
        const health = await healthy(service);
        expect(health.status).toBe(200);
        expect(health.body.status).toBe('ok');
      }

      const [a] = services;
      const admin = deployment.AUDIT_BOOTSTRAP_ADMIN_KEY;
      const emitter = (await post(a, '/v1/keys', admin, { name: 'emitter', roles: ['emitter'], tenants: [TENANT] }))
        .key as string;
      const investigator = (
        await post(a, '/v1/keys', admin, { name: 'investigator', roles: ['investigator'], tenants: [TENANT] })
      ).key as string;
      await post(a, '/v1/events', emitter, { tenant: TENANT, type: 'auth.logout', actor: { type: 'user', id: 'u1' } });

      const keys: string[] = [];
      for (const service of services) {
        const res = await fetch(`${service.url}/v1/logs/${TENANT}/key`, { headers: auth(investigator) });
        const text = await res.text();
        expect({ status: res.status, text }).toEqual({ status: 200, text: expect.any(String) });
        keys.push(text.trim());
      }
      expect(keys[0]).toMatch(/\+[0-9a-f]{8}\+/);
      expect(new Set(keys).size).toBe(1);
      const keyFile = join(state, 'signing-key');
      expect(statSync(keyFile).mode & 0o777).toBe(0o600);
      expect(parsePrivateKey(readFileSync(keyFile, 'utf8').trim()).verifierKey).toBe(keys[0]);

      const owner = await superuserClient(db);
      try {
        const { rows: serviceKeys } = await owner.query('SELECT name FROM service_keys');
        expect(serviceKeys).toHaveLength(0);
        const { rows: applied } = await owner.query('SELECT name FROM migrations ORDER BY name');
        const expected = MIGRATIONS.map((m) => new m().name as string).sort();
        expect(applied.map((r: { name: string }) => r.name)).toEqual(expected);
      } finally {
        await owner.end();
      }
    } finally {
      await Promise.all(services.map((s) => s.kill()));
      await dropTestDatabase(db);
      await clearQueues(deployment.AUDIT_QUEUE_PREFIX);
      rmSync(state, { recursive: true, force: true });
    }
  });
});
