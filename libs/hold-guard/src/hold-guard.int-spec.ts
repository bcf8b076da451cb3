import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Queue, Worker, type JobState } from 'bullmq';
import { HoldCheckClient, withHoldGuard, type HoldRecord } from '@audit/hold-guard';
import { clearQueues } from '../../../test/support/redis-keys';

// Real: a BullMQ queue and worker on the local Redis, an HTTP server speaking the hold-check
// contract, global fetch. Fake: the audit service behind that contract (a few fixed answers).

const connection = { host: '127.0.0.1', port: 6379 };
const API_KEY = 'test-hold-guard-key';
const RETRY_HELD_AFTER_MS = 2_000;

/** Ids only: job data sits in Redis in clear text. */
interface ErasureJob {
  tenant: string;
  subject: string;
}

/** Stands in for the audit service: holds on "held-person" until released, 500 for "broken". */
class FakeAuditService {
  released = false;
  readonly asked: Array<Record<string, unknown>> = [];
  private readonly server: Server = createServer((req, res) => void this.answer(req, res));

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve, reject) => this.server.close((e) => (e ? reject(e) : resolve())));
  }

  askedAbout(subject: string): number {
    return this.asked.filter((q) => q.subject === subject).length;
  }

  private async answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    if (req.method !== 'POST' || req.url !== '/v1/holds/check') {
      return send(404, { statusCode: 404, error: 'Not Found', code: 'not_found', message: 'no such route' });
    }
    if (req.headers.authorization !== `Bearer ${API_KEY}`) {
      return send(401, { statusCode: 401, error: 'Unauthorized', code: 'unauthenticated', message: 'bad key' });
    }
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const question = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
    this.asked.push(question);
    if (question.subject === 'broken') {
      return send(500, { statusCode: 500, error: 'Internal Server Error', code: 'internal', message: 'store down' });
    }
    if (question.subject === 'held-person' && !this.released) {
      return send(200, {
        held: true,
        holds: [
          { id: 'hold-1', matter: 'M-1' },
          { id: 'hold-2', matter: 'M-2' },
        ],
      });
    }
    return send(200, { held: false, holds: [] });
  }
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('withHoldGuard on a real BullMQ worker', () => {
  const prefix = `test-hold-guard-${randomUUID()}`;
  const service = new FakeAuditService();
  const erased: string[] = [];
  let queue: Queue<ErasureJob, string>;
  let worker: Worker<ErasureJob, string>;

  async function stateOf(id: string): Promise<JobState | 'unknown'> {
    return queue.getJobState(id);
  }

  beforeAll(async () => {
    const baseUrl = await service.start();
    const client = new HoldCheckClient({ baseUrl, apiKey: API_KEY, timeoutMs: 2_000 });
    queue = new Queue<ErasureJob, string>('erasures', { connection, prefix });
    worker = new Worker<ErasureJob, string>(
      'erasures',
      withHoldGuard(
        async (job) => {
          erased.push(job.data.subject);
          return 'erased';
        },
        {
          client,
          question: (job) => ({ tenant: job.data.tenant, subject: job.data.subject }),
          retryHeldAfterMs: RETRY_HELD_AFTER_MS,
        },
      ),
      { connection, prefix },
    );
    await worker.waitUntilReady();
  });

  afterAll(async () => {
    await worker?.close();
    await queue?.obliterate({ force: true });
    await queue?.close();
    await clearQueues(prefix);
    await service.stop();
  });

  it('runs the deletion when nothing is held', async () => {
    const job = await queue.add('erase', { tenant: 'acme', subject: 'free-person' });
    await until('completion', async () => ((await stateOf(job.id!)) === 'completed' ? true : undefined));
    expect(erased).toContain('free-person');
    expect((await queue.getJob(job.id!))?.returnvalue).toBe('erased');
  });

  it('delays a held job without running it, records the hold ids, and runs it once released', async () => {
    const job = await queue.add('erase', { tenant: 'acme', subject: 'held-person' });
    await until('the job to be delayed', async () => ((await stateOf(job.id!)) === 'delayed' ? true : undefined));

    expect(erased).not.toContain('held-person');
    const held = (await queue.getJob(job.id!))!;
    const record = held.progress as HoldRecord;
    expect(record.heldBy).toEqual(['hold-1', 'hold-2']);
    expect(Date.parse(record.retryAt) - Date.parse(record.heldAt)).toBe(RETRY_HELD_AFTER_MS);
    // Ids only: the job keeps its own data, and no hold matter lands in Redis.
    expect(held.data).toEqual({ tenant: 'acme', subject: 'held-person' });
    expect(held.attemptsMade).toBe(0);
    const { logs } = await queue.getJobLogs(job.id!);
    expect(logs[0]).toMatch(/^held by hold-1, hold-2: not run, checked again at /);
    expect(JSON.stringify({ progress: held.progress, logs })).not.toContain('M-1');

    service.released = true;
    await until('completion after release', async () => ((await stateOf(job.id!)) === 'completed' ? true : undefined));
    expect(erased.filter((s) => s === 'held-person')).toHaveLength(1);
    expect(service.askedAbout('held-person')).toBeGreaterThanOrEqual(2);
  });

  it('never runs the deletion when the check fails: retries, then fails', async () => {
    const job = await queue.add(
      'erase',
      { tenant: 'acme', subject: 'broken' },
      { attempts: 2, backoff: { type: 'fixed', delay: 100 } },
    );
    await until('failure', async () => ((await stateOf(job.id!)) === 'failed' ? true : undefined));

    const failed = (await queue.getJob(job.id!))!;
    expect(failed.attemptsMade).toBe(2);
    expect(failed.failedReason).toBe('hold check failed: HTTP 500 (internal)');
    expect(failed.finishedOn).toBeDefined();
    expect(erased).not.toContain('broken');
    expect(service.askedAbout('broken')).toBe(2);
  });
});
