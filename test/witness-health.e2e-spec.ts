import { generateCosignerKey, parsePrivateKey } from '@audit/ledger';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MovableClock, TestApp, createKey, startTestApp, testSigningKey } from './support/test-app';
import { freePort, libraryWitness } from './support/library-witness';
import { createTestDatabase, dropTestDatabase } from './support/test-database';

// A deployment witnessed by three witnesses (quorum 2 of 3): itself (the witness component, over
// real HTTP), an honest witness made here that can be told to answer 503, and one down. What
// /metrics and /health say about them, with the service's clock moved to age the checkpoints.
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The value of one sample of the Prometheus text, or undefined when it is not there. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    const match = /^([a-z_]+)\{([^}]*)\} (\S+)$/.exec(line);
    if (match === null || match[1] !== name) continue;
    const have = match[2].split(',');
    if (wanted.every((w) => have.includes(w))) return Number(match[3]);
  }
  return undefined;
}

describe('witness metrics and health (AUDIT_WITNESS_QUORUM_MAX_AGE_SECONDS)', () => {
  let db: string;
  let t: TestApp;
  let dir: string;
  let server: Server;
  let emitter: string;
  const mode: { failing?: boolean } = {};
  const clock = new MovableClock();
  const self = generateCosignerKey('self.witness.test', Buffer.alloc(32, 71));
  const honest = generateCosignerKey('honest.witness.test', Buffer.alloc(32, 72));
  const down = generateCosignerKey('down.witness.test', Buffer.alloc(32, 73));

  const append = (n: number) =>
    Promise.all(
      Array.from({ length: n }, (_, i) =>
        t
          .http()
          .post('/v1/events')
          .set({ authorization: `Bearer ${emitter}` })
          .send({ tenant: 'acme', type: 'auth.login.succeeded', actor: { type: 'user', id: `u${i}` } })
          .expect(201),
      ),
    );
  const metrics = async () => (await t.http().get('/metrics').expect(200)).text;
  const health = async () => (await t.http().get('/health').expect(200)).body;
  /** Polls until `check` holds (the sweep runs every second), returning its last value. */
  async function until<T>(read: () => Promise<T>, check: (value: T) => boolean): Promise<T> {
    let value = await read();
    for (let i = 0; i < 100 && !check(value); i++) {
      await sleep(200);
      value = await read();
    }
    return value;
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    dir = mkdtempSync(join(tmpdir(), 'audit-witness-health-'));
    const [selfPort, honestPort] = [await freePort(), await freePort()];
    server = libraryWitness(honest.privateKey, mode);
    await new Promise<void>((resolve) => server.listen(honestPort, '127.0.0.1', resolve));
    const logKey = parsePrivateKey(testSigningKey(db)).verifierKey;
    writeFileSync(join(dir, 'logs.policy'), `log ${logKey}\nquorum none\n`);
    writeFileSync(
      join(dir, 'witnesses.policy'),
      `log ${logKey}\n` +
        `witness self ${self.verifierKey} http://127.0.0.1:${selfPort}/v1/witness\n` +
        `witness honest ${honest.verifierKey} http://127.0.0.1:${honestPort}\n` +
        `witness down ${down.verifierKey} http://127.0.0.1:1\n` +
        'group two 2 self honest down\nquorum two\n',
    );
    t = await startTestApp(
      db,
      {
        AUDIT_COMPONENTS: 'all,witness',
        AUDIT_LOG_ORIGIN: 'audit-test',
        AUDIT_WITNESS_KEY: self.privateKey,
        AUDIT_WITNESS_LOGS: join(dir, 'logs.policy'),
        AUDIT_WITNESS_POLICY: join(dir, 'witnesses.policy'),
        AUDIT_WITNESS_QUORUM_MAX_AGE_SECONDS: '60',
      },
      { clock },
    );
    await t.app.listen(selfPort, '127.0.0.1');
    emitter = await createKey(t, 'billing', ['emitter'], ['acme']);
  });

  afterAll(async () => {
    await t.close();
    await new Promise((resolve) => server.close(resolve));
    await dropTestDatabase(db);
    rmSync(dir, { recursive: true, force: true });
  });

  it('shows per witness the cosigned size and its age, and counts the failures by status', async () => {
    await append(4);
    const text = await until(
      metrics,
      (m) => (sample(m, 'audit_witness_cosigned_size', { log: 'acme', witness: 'honest' }) ?? 0) >= 4,
    );
    expect(sample(text, 'audit_witness_cosigned_size', { log: 'acme', witness: 'honest' })).toBeGreaterThanOrEqual(4);
    expect(sample(text, 'audit_witness_cosigned_size', { log: 'acme', witness: 'self' })).toBeGreaterThanOrEqual(4);
    expect(sample(text, 'audit_witness_cosigned_size', { log: 'acme', witness: 'down' })).toBeUndefined();
    const age = sample(text, 'audit_witness_cosigned_age_seconds', { log: 'acme', witness: 'honest' });
    expect(age).toBeGreaterThanOrEqual(0);
    expect(age).toBeLessThan(60);
    expect(sample(text, 'audit_witness_quorum_lag_seconds', { log: 'acme' })).toBe(0);
    expect(
      sample(text, 'audit_witness_submission_failures_total', { witness: 'down', status: 'unreachable' }),
    ).toBeGreaterThanOrEqual(1);

    // A witness is asked only for a checkpoint it has not cosigned: a new one.
    mode.failing = true;
    await append(1);
    const failing = await until(
      metrics,
      (m) => sample(m, 'audit_witness_submission_failures_total', { witness: 'honest', status: '503' }) !== undefined,
    );
    expect(
      sample(failing, 'audit_witness_submission_failures_total', { witness: 'honest', status: '503' }),
    ).toBeGreaterThanOrEqual(1);
  });

  it('reports in /health a log whose new checkpoint waits for the quorum longer than the max age, until a quorum', async () => {
    // The honest witness answers 503 (previous test): only "self" cosigns the new checkpoint.
    mode.failing = true;
    const body = await until(health, (h) => h.details?.witnesses?.failing?.includes('honest') === true);
    expect(body).toMatchObject({
      status: 'ok',
      details: { witnesses: { status: 'up', maxAgeSeconds: 60 } },
    });
    expect(body.details.witnesses.failing).toEqual(['down', 'honest']);
    await append(3);
    await until(metrics, (m) => (sample(m, 'audit_witness_quorum_lag_seconds', { log: 'acme' }) ?? 0) >= 1);
    // Not yet older than 60 s.
    expect((await health()).details.witnesses.status).toBe('up');

    clock.offsetMs = 3600_000;
    const late = await health();
    expect(late).toMatchObject({
      status: 'degraded',
      details: { witnesses: { status: 'degraded', code: 'witness_quorum_late', maxAgeSeconds: 60 } },
    });
    expect(late.details.witnesses.late).toBeGreaterThanOrEqual(1);
    expect(late.details.witnesses.oldestSeconds).toBeGreaterThan(3600 - 60);
    // No log names in the unauthenticated /health; the metric names them.
    expect(JSON.stringify(late)).not.toContain('acme');
    expect(sample(await metrics(), 'audit_witness_quorum_lag_seconds', { log: 'acme' })).toBeGreaterThan(3500);

    // The witness answers again: the latest checkpoint meets the quorum, nothing is late any more.
    mode.failing = false;
    const back = await until(health, (h) => h.details?.witnesses?.status === 'up');
    expect(back).toMatchObject({ details: { witnesses: { status: 'up' } } });
    expect(back.details.witnesses.failing).toEqual(['down']);
    expect(sample(await metrics(), 'audit_witness_quorum_lag_seconds', { log: 'acme' })).toBe(0);
  });
});

describe('witness health without AUDIT_WITNESS_POLICY', () => {
  let db: string;
  let t: TestApp;

  beforeAll(async () => {
    db = await createTestDatabase();
    t = await startTestApp(db, { AUDIT_WITNESS_QUORUM_MAX_AGE_SECONDS: '1' });
  });

  afterAll(async () => {
    await t.close();
    await dropTestDatabase(db);
  });

  it('has no witnesses entry in /health and no witness gauges', async () => {
    const body = (await t.http().get('/health').expect(200)).body;
    expect(body.status).toBe('ok');
    expect(body.details.witnesses).toBeUndefined();
    const text = (await t.http().get('/metrics').expect(200)).text;
    expect(text).not.toMatch(/^audit_witness_cosigned_size\{/m);
  });
});
