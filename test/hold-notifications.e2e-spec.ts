import { TestApp, createKey, startTestApp } from './support/test-app';
import { createTestDatabase, dropTestDatabase } from './support/test-database';
import { WebhookReceiver, startWebhookReceiver } from './support/webhook-receiver';

const auth = (key: string) => ({ authorization: `Bearer ${key}` });
const SECRET = 'hold-webhook-secret-0123456789abcdef';

describe('hold notifications', () => {
  let db: string;
  let t: TestApp;
  let receiver: WebhookReceiver;

  beforeAll(async () => {
    receiver = await startWebhookReceiver(SECRET);
    db = await createTestDatabase();
    t = await startTestApp(db, {
      AUDIT_WEBHOOK_URL: receiver.url,
      AUDIT_WEBHOOK_SECRET: SECRET,
    });
  });

  afterAll(async () => {
    await t.close();
    await dropTestDatabase(db);
    await receiver.close();
  });

  async function until(predicate: () => boolean): Promise<void> {
    for (let i = 0; i < 200 && !predicate(); i++) await new Promise((resolve) => setTimeout(resolve, 25));
  }

  it('tells the webhook that a hold was placed and released, signed, without the matter', async () => {
    const emitter = await createKey(t, 'billing', ['emitter'], ['acme']);
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
      .send({ tenant: 'acme', matter: 'MAT-SECRET-7', scope: {} })
      .expect(201);
    await t.http().post(`/v1/holds/${hold.id}/release`).set(auth(legal)).send({ reason: 'done' }).expect(202);
    await t.http().post(`/v1/holds/${hold.id}/release`).set(auth(secondLegal)).send({ reason: 'done' }).expect(200);
    await until(() => receiver.received.length >= 2);
    const types = receiver.received.map((r) => r.body.type).sort();
    expect(types).toEqual(['hold.placed', 'hold.released']);
    for (const r of receiver.received) {
      expect(r.verified).toBe(true);
      expect(r.body).toMatchObject({
        tenant: 'acme',
        subjectRef: { type: 'hold', id: hold.id },
        ledger: { log: 'acme' },
      });
    }
    expect(JSON.stringify(receiver.received)).not.toContain('MAT-SECRET-7');
  });
});
