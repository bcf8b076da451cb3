import { createServer } from 'node:http';
import { AddressInfo } from 'node:net';
import { verifyWebhookSignature } from '../src/notifications/webhook-signature';
import { TestApp, createKey, startTestApp } from './support/test-app';
import { createTestDatabase, dropTestDatabase } from './support/test-database';

const auth = (key: string) => ({ authorization: `Bearer ${key}` });
const SECRET = 'hold-webhook-secret-0123456789abcdef';

describe('hold notifications', () => {
  let db: string;
  let t: TestApp;
  const received: { body: Record<string, unknown>; verified: boolean }[] = [];
  const receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      const verified = verifyWebhookSignature(
        SECRET,
        req.headers['x-audit-timestamp'] as string,
        body,
        req.headers['x-audit-signature'] as string,
        Date.now() / 1000,
        300,
      );
      received.push({ body: JSON.parse(body), verified });
      res.writeHead(204).end();
    });
  });

  beforeAll(async () => {
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    db = await createTestDatabase();
    t = await startTestApp(db, {
      AUDIT_WEBHOOK_URL: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`,
      AUDIT_WEBHOOK_SECRET: SECRET,
      HOLD_RELEASE_APPROVALS: '1',
    });
  });

  afterAll(async () => {
    await t.close();
    await dropTestDatabase(db);
    receiver.close();
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
    const { body: hold } = await t
      .http()
      .post('/v1/holds')
      .set(auth(legal))
      .send({ tenant: 'acme', matter: 'MAT-SECRET-7', scope: {} })
      .expect(201);
    await t.http().post(`/v1/holds/${hold.id}/release`).set(auth(legal)).send({ reason: 'done' }).expect(200);
    await until(() => received.length >= 2);
    const types = received.map((r) => r.body.type).sort();
    expect(types).toEqual(['hold.placed', 'hold.released']);
    for (const r of received) {
      expect(r.verified).toBe(true);
      expect(r.body).toMatchObject({
        tenant: 'acme',
        subjectRef: { type: 'hold', id: hold.id },
        ledger: { log: 'acme' },
      });
    }
    expect(JSON.stringify(received)).not.toContain('MAT-SECRET-7');
  });
});
