import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { verifyWebhookSignature } from '../src/notifications/webhook-signature';
import { SinkReceiver, startSinkReceiver } from './support/sink-receivers';
import { TestApp, createKey, startTestApp, testKeyEncryptionKey } from './support/test-app';
import { createTestDatabase, dropTestDatabase, superuserClient } from './support/test-database';

const auth = (key: string) => ({ authorization: `Bearer ${key}` });
const SECRET = 'sealed-secret-0123456789abcdefghij';
const NEW_SECRET = 'rotated-secret-abcdefghij0123456789';
const LEGACY_SECRET = 'legacy-clear-secret-9876543210zyxw';
const ENV = { AUDIT_SINK_POLL_MS: '50', AUDIT_SINK_BACKOFF_MS: '20', AUDIT_SINK_MAX_BACKOFF_MS: '200' };

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Every batch the receiver took was signed with `secret`. */
const signedWith = (r: SinkReceiver, secret: string) =>
  r.received.every((b) => {
    const ts = b.headers['x-audit-timestamp'] as string;
    return verifyWebhookSignature(secret, ts, b.body, b.headers['x-audit-signature'] as string, Number(ts), 0);
  });

describe('sink secrets at rest', () => {
  let db: string;
  let t: TestApp;
  let owner: Client;
  let emitter: string;
  let receiver: SinkReceiver;
  const logs: string[] = [];

  const append = (n: number) =>
    t
      .http()
      .post('/v1/events/batch')
      .set(auth(emitter))
      .send({
        events: Array.from({ length: n }, (_, i) => ({
          tenant: 'acme',
          type: 'auth.login.succeeded',
          actor: { type: 'user', id: `u${i}` },
        })),
      })
      .expect(201);
  const row = async (id: string) =>
    (await owner.query('SELECT secret, secret_sealed, secret_key_id FROM sinks WHERE id = $1', [id])).rows[0];

  beforeAll(async () => {
    db = await createTestDatabase();
    t = await startTestApp(db, ENV, { logs });
    owner = await superuserClient(db);
    emitter = await createKey(t, 'emitter', ['emitter'], ['*']);
    receiver = await startSinkReceiver();
  });

  afterAll(async () => {
    await t.close();
    await owner.end();
    await receiver.stop();
    await dropTestDatabase(db);
  });

  it('keeps only the sealed secret, signs with it, and never shows or logs it', async () => {
    const created = await t
      .http()
      .post('/v1/sinks')
      .set(auth(t.adminKey))
      .send({
        name: 'siem',
        kind: 'ndjson',
        url: receiver.url('/in'),
        secret: SECRET,
        tenants: ['acme'],
        from: 'start',
      })
      .expect(201);
    const id = created.body.id as string;
    const stored = await row(id);
    expect(stored.secret).toBeNull();
    expect(stored.secret_key_id).toMatch(/^kek-[0-9a-f]{16}$/);
    expect(stored.secret_sealed.includes(Buffer.from(SECRET))).toBe(false);
    expect(JSON.stringify(await owner.query('SELECT * FROM sinks'))).not.toContain(SECRET);

    await append(3);
    await until('a delivery', () => receiver.received.length > 0);
    expect(signedWith(receiver, SECRET)).toBe(true);

    const changed = await t
      .http()
      .patch(`/v1/sinks/${id}`)
      .set(auth(t.adminKey))
      .send({ secret: NEW_SECRET })
      .expect(200);
    expect((await row(id)).secret_sealed.includes(Buffer.from(NEW_SECRET))).toBe(false);
    receiver.received.length = 0;
    await append(2);
    await until('a delivery after the change', () => receiver.received.length > 0);
    expect(signedWith(receiver, NEW_SECRET)).toBe(true);

    const tested = await t.http().post(`/v1/sinks/${id}/test`).set(auth(t.adminKey)).expect(200);
    const answers = [created, changed, tested, await t.http().get(`/v1/sinks/${id}`).set(auth(t.adminKey))];
    for (const secret of [SECRET, NEW_SECRET]) {
      for (const answer of answers) expect(answer.text).not.toContain(secret);
      expect(logs.join('\n')).not.toContain(secret);
    }
    expect(logs.length).toBeGreaterThan(0);
  });

  it('seals at start a secret a version before sealing left in clear, and keeps delivering with it', async () => {
    const legacy = await startSinkReceiver();
    const created = await t
      .http()
      .post('/v1/sinks')
      .set(auth(t.adminKey))
      .send({ name: 'old', kind: 'ndjson', url: legacy.url('/old'), secret: SECRET, tenants: ['acme'], from: 'end' })
      .expect(201);
    const id = created.body.id as string;
    await t.close();
    // What the table held before the migration: the secret in clear.
    await owner.query('UPDATE sinks SET secret = $2, secret_sealed = NULL, secret_key_id = NULL WHERE id = $1', [
      id,
      LEGACY_SECRET,
    ]);
    t = await startTestApp(db, ENV, { logs });
    emitter = await createKey(t, 'emitter-2', ['emitter'], ['*']);
    const stored = await row(id);
    expect(stored.secret).toBeNull();
    expect(stored.secret_key_id).toMatch(/^kek-[0-9a-f]{16}$/);
    expect(stored.secret_sealed.includes(Buffer.from(LEGACY_SECRET))).toBe(false);

    await append(2);
    await until('a delivery to the old sink', () => legacy.received.length > 0);
    expect(signedWith(legacy, LEGACY_SECRET)).toBe(true);
    expect(logs.join('\n')).not.toContain(LEGACY_SECRET);
    await legacy.stop();
  });

  it('after a rotation of the key-encryption key, seals every secret again under the new key at start', async () => {
    const legacy = await startSinkReceiver();
    const created = await t
      .http()
      .post('/v1/sinks')
      .set(auth(t.adminKey))
      .send({ name: 'rotated', kind: 'ndjson', url: legacy.url('/r'), secret: SECRET, tenants: ['acme'], from: 'end' })
      .expect(201);
    const id = created.body.id as string;
    const oldKeyId = (await row(id)).secret_key_id as string;
    await t.close();
    const newKey = randomBytes(32).toString('base64');
    t = await startTestApp(
      db,
      { ...ENV, AUDIT_KEY_ENCRYPTION_KEY: newKey, AUDIT_KEY_ENCRYPTION_KEYS_PREVIOUS: testKeyEncryptionKey(db) },
      { logs },
    );
    const ids = (await owner.query('SELECT DISTINCT secret_key_id FROM sinks')).rows.map((r) => r.secret_key_id);
    expect(ids).toHaveLength(1);
    expect(ids[0]).not.toBe(oldKeyId);
    emitter = await createKey(t, 'emitter-3', ['emitter'], ['*']);
    await append(1);
    await until('a delivery under the new key', () => legacy.received.length > 0);
    expect(signedWith(legacy, SECRET)).toBe(true);
    await legacy.stop();
  });
});
