import { Redis } from 'ioredis';
import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { createTestDatabase, dropTestDatabase } from '../support/test-database';
import { ServiceProcess, freePort, startServiceProcess } from './support/service-process';
import { until } from './support/until';

/** Up to 10 s for a warning to be logged. */
const WAIT = { timeoutMs: 10_000, pauseMs: 100 };

/** A redis-server of the drill's own, on a free port, with nothing persisted. */
interface DrillRedis {
  readonly url: string;
  /** A client of the drill (not of the service), disconnected by `stop()`. */
  readonly client: Redis;
  stop(): Promise<void>;
}

async function startRedis(policy: string, extra: string[] = []): Promise<DrillRedis> {
  const port = await freePort();
  const child: ChildProcess = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--maxmemory',
      '64mb',
      '--maxmemory-policy',
      policy,
      '--save',
      '',
      '--appendonly',
      'no',
      ...extra,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout?.on('data', (b: Buffer) => (output += b.toString()));
  child.stderr?.on('data', (b: Buffer) => (output += b.toString()));
  const exited = new Promise<void>((ok) => child.once('exit', () => ok()));
  const client = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0 });
  client.on('error', () => undefined);
  const stop = async () => {
    client.disconnect();
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  };
  try {
    for (let i = 0; ; i++) {
      if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}:\n${output}`);
      try {
        if (client.status !== 'ready') await client.connect();
        await client.ping();
        break;
      } catch (e) {
        if (i > 200) throw new Error(`redis-server did not answer within 20 s:\n${output}`, { cause: e });
        client.disconnect();
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } catch (e) {
    await stop();
    throw e;
  }
  return { url: `redis://127.0.0.1:${port}`, client, stop };
}

async function health(service: ServiceProcess): Promise<{ status: number; body: any }> {
  const res = await fetch(`${service.url}/health`);
  return { status: res.status, body: await res.json() };
}

/** The service's warning lines (pino level 40) that name the setting. */
function warnings(service: ServiceProcess, setting: string): string[] {
  return service
    .output()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { level: number; msg: string })
    .filter((l) => l.level === 40 && l.msg.includes(setting))
    .map((l) => l.msg);
}

describe('drill: Redis configured to evict keys', () => {
  let db: string;
  const redises: DrillRedis[] = [];
  const services: ServiceProcess[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
  });

  afterEach(async () => {
    await Promise.all(services.splice(0).map((s) => s.kill().then(() => rmDir(s))));
    await Promise.all(redises.splice(0).map((r) => r.stop()));
  });

  afterAll(async () => {
    if (db) await dropTestDatabase(db);
  });

  const rmDir = (s: ServiceProcess) => rmSync(s.env.AUDIT_CHECKPOINT_DIR, { recursive: true, force: true });

  async function serviceOn(redis: DrillRedis): Promise<ServiceProcess> {
    const service = await startServiceProcess(db, { REDIS_URL: redis.url });
    services.push(service);
    return service;
  }

  it('allkeys-lru: /health is degraded (200) naming maxmemory-policy=allkeys-lru, one warning line; noeviction set live clears it', async () => {
    const redis = await startRedis('allkeys-lru');
    redises.push(redis);
    const service = await serviceOn(redis);

    const degraded = await health(service);
    expect(degraded).toMatchObject({
      status: 200,
      body: {
        status: 'degraded',
        details: {
          postgres: { status: 'up' },
          redis: { status: 'degraded', maxmemoryPolicy: 'allkeys-lru' },
        },
      },
    });
    expect(degraded.body.details.redis.message).toContain('maxmemory-policy=allkeys-lru');

    await until('the allkeys-lru warning', () => warnings(service, 'maxmemory-policy=allkeys-lru').length > 0, WAIT);
    expect(warnings(service, 'maxmemory-policy=allkeys-lru')).toHaveLength(1);

    // The operator mends the setting: no restart needed.
    await redis.client.config('SET', 'maxmemory-policy', 'noeviction');
    const mended = await health(service);
    expect(mended).toMatchObject({ status: 200, body: { status: 'ok', details: { redis: { status: 'up' } } } });
    expect(JSON.stringify(mended.body)).not.toContain('maxmemory-policy');
  });

  it('noeviction: /health is ok and names no setting, and nothing is warned', async () => {
    const redis = await startRedis('noeviction');
    redises.push(redis);
    const service = await serviceOn(redis);

    const answer = await health(service);
    expect(answer).toMatchObject({ status: 200, body: { status: 'ok', details: { redis: { status: 'up' } } } });
    expect(JSON.stringify(answer.body)).not.toContain('maxmemory-policy');
    // The start-up check has had time to answer (the service appended its bootstrap key meanwhile).
    await new Promise((r) => setTimeout(r, 1000));
    expect(warnings(service, 'maxmemory-policy')).toEqual([]);
  });

  it('CONFIG refused (renamed, as managed Redis services do): the policy is read from INFO memory instead', async () => {
    const renamed = `config-${randomBytes(6).toString('hex')}`;
    const redis = await startRedis('volatile-lru', ['--rename-command', 'CONFIG', renamed]);
    redises.push(redis);
    await expect(redis.client.config('GET', 'maxmemory-policy')).rejects.toThrow(/unknown command/i);
    const service = await serviceOn(redis);

    expect(await health(service)).toMatchObject({
      status: 200,
      body: { status: 'degraded', details: { redis: { status: 'degraded', maxmemoryPolicy: 'volatile-lru' } } },
    });
    await until('the volatile-lru warning', () => warnings(service, 'maxmemory-policy=volatile-lru').length > 0, WAIT);
    expect(warnings(service, 'maxmemory-policy=volatile-lru')).toHaveLength(1);
  });
});
