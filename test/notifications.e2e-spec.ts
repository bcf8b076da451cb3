import { getQueueToken } from '@nestjs/bullmq';
import { Queue } from 'bullmq';
import { createHmac, randomBytes } from 'node:crypto';
import { IncomingHttpHeaders, Server, createServer } from 'node:http';
import { AddressInfo } from 'node:net';
import { Notification } from '../src/notifications/notification';
import { NOTIFICATIONS_QUEUE } from '../src/notifications/notifications.queue';
import { Notifier } from '../src/notifications/notifier';
import { verifyWebhookSignature } from '../src/notifications/webhook-signature';
import { TestApp, startTestApp } from './support/test-app';
import { createTestDatabase, dropTestDatabase } from './support/test-database';

interface Received {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  readonly status: number;
}

/** A real HTTP receiver on a free port; answers from a per-delivery script, then 200. */
class Receiver {
  readonly received: Received[] = [];
  readonly script = new Map<string, number[]>();
  private readonly server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const delivery = String(req.headers['x-audit-delivery']);
      const status = this.script.get(delivery)?.shift() ?? 200;
      this.received.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks),
        status,
      });
      res.writeHead(status, { 'content-type': 'text/plain' }).end(status === 200 ? 'ok' : 'no');
    });
  });

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hooks/audit`;
  }

  for(id: string): Received[] {
    return this.received.filter((r) => r.headers['x-audit-delivery'] === id);
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

async function until(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function notification(id: string, type: Notification['type'] = 'hold.placed'): Notification {
  return {
    type,
    id,
    tenant: 'acme',
    at: '2025-01-02T03:04:05.678Z',
    subjectRef: { type: 'hold', id: `hold-${id}` },
    ledger: { log: 'acme', index: 3 },
  };
}

describe('notifications', () => {
  let db: string;

  beforeAll(async () => {
    db = await createTestDatabase();
  });

  afterAll(async () => {
    await dropTestDatabase(db);
  });

  describe('with a webhook configured', () => {
    const secret = randomBytes(32).toString('hex');
    const receiver = new Receiver();
    let t: TestApp;
    let notifier: Notifier;
    let queue: Queue;

    beforeAll(async () => {
      const url = await receiver.start();
      t = await startTestApp(db, {
        AUDIT_WEBHOOK_URL: url,
        AUDIT_WEBHOOK_SECRET: secret,
        AUDIT_WEBHOOK_BACKOFF_MS: '20',
      });
      notifier = t.app.get(Notifier);
      queue = t.app.get<Queue>(getQueueToken(NOTIFICATIONS_QUEUE));
    });

    afterAll(async () => {
      await t.close();
      await receiver.stop();
    });

    it('delivers one signed POST that verifies with the secret', async () => {
      const id = `n-${randomBytes(8).toString('hex')}`;
      await notifier.notify(notification(id));
      await until('the delivery', () => receiver.for(id).length === 1);
      const [r] = receiver.for(id);
      expect(r.method).toBe('POST');
      expect(r.url).toBe('/hooks/audit');
      expect(r.headers['content-type']).toBe('application/json');
      expect(JSON.parse(r.body.toString('utf8'))).toEqual({ v: 1, ...notification(id) });

      const timestamp = String(r.headers['x-audit-timestamp']);
      const now = Math.floor(Date.now() / 1000);
      expect(Math.abs(now - Number(timestamp))).toBeLessThanOrEqual(5);
      const signature = String(r.headers['x-audit-signature']);
      expect(verifyWebhookSignature(secret, timestamp, r.body, signature, now, 300)).toBe(true);
      // The recipe of docs/api.md, by hand: HMAC-SHA256 over "<timestamp>.<raw body>".
      const byHand = createHmac('sha256', secret).update(`${timestamp}.`).update(r.body).digest('hex');
      expect(signature).toBe(`sha256=${byHand}`);
      expect(
        verifyWebhookSignature('another-secret-of-at-least-32-characters', timestamp, r.body, signature, now, 300),
      ).toBe(false);
    });

    it('delivers once when the same id is notified twice, at once or later', async () => {
      const id = `n-${randomBytes(8).toString('hex')}`;
      await Promise.all([notifier.notify(notification(id)), notifier.notify(notification(id))]);
      await until('the delivery', () => receiver.for(id).length >= 1);
      await notifier.notify(notification(id));
      await sleep(500);
      expect(receiver.for(id)).toHaveLength(1);
    });

    it('retries through BullMQ: answered 500 twice, delivered on the third attempt', async () => {
      const id = `n-${randomBytes(8).toString('hex')}`;
      receiver.script.set(id, [500, 500]);
      await notifier.notify(notification(id, 'deletion.blocked'));
      await until('the third attempt', () => receiver.for(id).length === 3);
      expect(receiver.for(id).map((r) => r.status)).toEqual([500, 500, 200]);
      for (const r of receiver.for(id)) {
        expect(r.body.toString('utf8')).toBe(receiver.for(id)[0].body.toString('utf8'));
        expect(
          verifyWebhookSignature(
            secret,
            String(r.headers['x-audit-timestamp']),
            r.body,
            String(r.headers['x-audit-signature']),
            Math.floor(Date.now() / 1000),
            300,
          ),
        ).toBe(true);
      }
      await until('the job to complete', async () => (await queue.getJob(id))?.finishedOn !== undefined);
      expect(await (await queue.getJob(id))!.getState()).toBe('completed');
      await sleep(200);
      expect(receiver.for(id)).toHaveLength(3);
    });

    it('gives up at once when the receiver refuses the body for good (422)', async () => {
      const id = `n-${randomBytes(8).toString('hex')}`;
      receiver.script.set(id, [422, 422]);
      await notifier.notify(notification(id, 'hold.released'));
      await until('the job to fail', async () => (await (await queue.getJob(id))?.getState()) === 'failed');
      await sleep(200);
      expect(receiver.for(id)).toHaveLength(1);
    });

    it('counts deliveries and failures in the metrics', async () => {
      const res = await t.http().get('/metrics').expect(200);
      expect(res.text).toMatch(/audit_notifications_total\{outcome="delivered"\} [1-9]/);
      expect(res.text).toMatch(/audit_notifications_total\{outcome="attempt_failed"\} [1-9]/);
      expect(res.text).toMatch(/audit_notifications_total\{outcome="failed"\} [1-9]/);
    });

    it('refuses a malformed notification', async () => {
      await expect(notifier.notify({ ...notification('n-bad'), at: 'yesterday' })).rejects.toThrow(
        /at must be an RFC 3339 time/,
      );
    });
  });

  describe('without a webhook', () => {
    let t: TestApp;

    beforeAll(async () => {
      t = await startTestApp(db);
    });

    afterAll(async () => {
      await t.close();
    });

    it('queues nothing', async () => {
      await t.app.get(Notifier).notify(notification('n-unheard'));
      const queue = t.app.get<Queue>(getQueueToken(NOTIFICATIONS_QUEUE));
      expect(await queue.getJob('n-unheard')).toBeUndefined();
      expect(Object.values(await queue.getJobCounts()).every((n) => n === 0)).toBe(true);
    });
  });
});
