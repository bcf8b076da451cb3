import { HoldCheckClient, withHoldGuard } from '@audit/hold-guard';
import { Queue, Worker } from 'bullmq';
import { randomBytes } from 'node:crypto';
import { TestApp, clearQueues, createKey, startTestApp } from './support/test-app';
import { createTestDatabase, dropTestDatabase } from './support/test-database';

/**
 * Another platform service's deletion worker, guarded by the real audit service: what a service
 * adopting libs/hold-guard gets.
 */
describe('hold guard against the real service and a real queue', () => {
  let db: string;
  let t: TestApp;
  const prefix = `test-guard-${randomBytes(6).toString('hex')}`;
  const connection = { host: '127.0.0.1', port: 6379 };

  beforeAll(async () => {
    db = await createTestDatabase();
    t = await startTestApp(db);
    await t.app.listen(0, '127.0.0.1');
  });

  afterAll(async () => {
    await t.close();
    await clearQueues(prefix);
    await dropTestDatabase(db);
  });

  it('keeps a held deletion out of the way with the hold id, and runs it once the hold is released', async () => {
    const auth = (key: string) => ({ authorization: `Bearer ${key}` });
    const emitter = await createKey(t, 'support-desk', ['emitter'], ['acme']);
    await t
      .http()
      .post('/v1/events')
      .set(auth(emitter))
      .send({ tenant: 'acme', type: 'auth.logout', actor: { type: 'user', id: 'u1' } })
      .expect(201);
    const legal = await createKey(t, 'alice', ['legal'], ['acme']);
    const secondLegal = await createKey(t, 'bob', ['legal'], ['acme']);
    const { body: hold } = await t
      .http()
      .post('/v1/holds')
      .set(auth(legal))
      .send({ tenant: 'acme', matter: 'MAT-9', scope: { subjects: ['person-1'] } })
      .expect(201);

    const deleted: string[] = [];
    const client = new HoldCheckClient({ baseUrl: await t.app.getUrl(), apiKey: emitter });
    const queue = new Queue<{ tenant: string; subject: string }>('erasure', { connection, prefix });
    const worker = new Worker<{ tenant: string; subject: string }>(
      'erasure',
      withHoldGuard(
        async (job) => {
          deleted.push(job.data.subject);
        },
        { client, question: (job) => ({ tenant: job.data.tenant, subject: job.data.subject }), retryHeldAfterMs: 300 },
      ),
      { connection, prefix },
    );
    try {
      const held = await queue.add('erase', { tenant: 'acme', subject: 'person-1' });
      const free = await queue.add('erase', { tenant: 'acme', subject: 'person-2' });
      const wait = async (check: () => Promise<boolean>) => {
        for (let i = 0; i < 400 && !(await check()); i++) await new Promise((resolve) => setTimeout(resolve, 25));
      };
      await wait(async () => (await free.isCompleted()) && (await queue.getJob(held.id!))!.progress !== 0);
      expect(deleted).toEqual(['person-2']);
      const waiting = (await queue.getJob(held.id!))!;
      expect(await waiting.getState()).toBe('delayed');
      expect(waiting.progress).toMatchObject({ heldBy: [hold.id] });

      await t.http().post(`/v1/holds/${hold.id}/release`).set(auth(legal)).send({ reason: 'settled' }).expect(202);
      await t
        .http()
        .post(`/v1/holds/${hold.id}/release`)
        .set(auth(secondLegal))
        .send({ reason: 'settled' })
        .expect(200);
      await wait(async () => (await queue.getJob(held.id!))!.isCompleted());
      expect(deleted).toEqual(['person-2', 'person-1']);
    } finally {
      await worker.close();
      await queue.close();
    }
  });
});
