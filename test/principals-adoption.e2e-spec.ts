import { randomBytes, randomUUID } from 'node:crypto';
import { hashKeySecret, newKeySecret } from '../src/access/api-key-secret';
import {
  TestApp,
  platformEntries,
  startTestApp,
  testKeyEncryptionKey,
  testPersonalSearchKey,
  testSigningKey,
} from './support/test-app';
import { createTestDatabase, dropTestDatabase, superuserClient } from './support/test-database';

/**
 * Keys made before principals existed keep working: at start each gets a principal (docs/api.md
 * "Keys older than principals"), and the names that let one key pose as another are not carried over.
 */
const auth = (key: string) => ({ authorization: `Bearer ${key}` });

interface LegacyKey {
  readonly id: string;
  readonly name: string;
  readonly secret: string;
  readonly prefix: string;
  readonly roles: string[];
  readonly tenants: string[];
}

describe('principals: keys older than principals', () => {
  let db: string;
  let t: TestApp;
  const legacy: Record<string, LegacyKey> = {};

  /** A key as versions before principals stored it: no principal, nobody named as having seen it. */
  async function insertLegacyKey(label: string, name: string, roles: string[], tenants: string[]): Promise<void> {
    const { secret, prefix } = newKeySecret(randomBytes(32));
    const key = { id: randomUUID(), name, secret, prefix, roles, tenants };
    const client = await superuserClient(db);
    try {
      await client.query(
        `INSERT INTO api_keys (id, name, prefix, secret_hash, roles, tenants, created_at, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, now(), NULL)`,
        [key.id, name, prefix, hashKeySecret(secret), roles, tenants],
      );
    } finally {
      await client.end();
    }
    legacy[label] = key;
  }

  // One deployment across restarts: the same signing key and bootstrap admin secret.
  const adminSecret = `test-admin-${randomBytes(16).toString('hex')}`;
  const env = () => ({
    AUDIT_SIGNING_KEY: testSigningKey(db),
    AUDIT_KEY_ENCRYPTION_KEY: testKeyEncryptionKey(db),
    AUDIT_PERSONAL_SEARCH_KEY: testPersonalSearchKey(db),
    AUDIT_BOOTSTRAP_ADMIN_KEY: adminSecret,
  });

  beforeAll(async () => {
    db = await createTestDatabase();
    // The schema is made by a first start; the keys are then written as an older version would have.
    t = await startTestApp(db, env());
    await t.close();
    await insertLegacyKey('billingAcme', 'billing', ['emitter'], ['acme']);
    await insertLegacyKey('billingGlobex', 'billing', ['emitter'], ['globex']);
    await insertLegacyKey('billingAcmeSpare', 'billing', ['emitter'], ['acme']);
    await insertLegacyKey('impostor', 'audit-trail', ['emitter'], ['*']);
    await insertLegacyKey('counsel', 'counsel', ['legal', 'investigator'], ['acme']);
    t = await startTestApp(db, env());
  });

  afterAll(async () => {
    await t.close();
    await dropTestDatabase(db);
  });

  const emit = (key: string, tenant: string, idempotencyKey?: string) => {
    const request = t.http().post('/v1/events').set(auth(key));
    if (idempotencyKey) request.set('idempotency-key', idempotencyKey);
    return request.send({ tenant, type: 'auth.logout', actor: { type: 'user', id: 'u1' } });
  };

  async function sourceOf(id: string): Promise<string> {
    const client = await superuserClient(db);
    try {
      const { rows } = await client.query("SELECT convert_from(leaf, 'UTF8') AS leaf FROM entries WHERE id = $1", [id]);
      return JSON.parse(rows[0].leaf).source as string;
    } finally {
      await client.end();
    }
  }

  it('gives every old key a principal, recorded in the platform log, and the keys keep working', async () => {
    const entries = await platformEntries(db);
    const adopted = entries.filter((e) => e.type === 'api_key.adopted').map((e) => e.target.id);
    expect(adopted.sort()).toEqual(
      Object.values(legacy)
        .map((k) => k.id)
        .sort(),
    );
    const created = entries.filter((e) => e.type === 'principal.created' && e.context.adoptedKey);
    // The two billing keys of acme share one service; globex's billing is another.
    expect(created).toHaveLength(4);
    const first = await emit(legacy.billingAcme.secret, 'acme').expect(201);
    const spare = await emit(legacy.billingAcmeSpare.secret, 'acme').expect(201);
    const globex = await emit(legacy.billingGlobex.secret, 'globex').expect(201);
    expect(await sourceOf(first.body.id)).toBe('billing');
    expect(await sourceOf(spare.body.id)).toBe('billing');
    expect(await sourceOf(globex.body.id)).toBe(`billing-${legacy.billingGlobex.prefix}`);
  });

  it('no longer lets a key named audit-trail write as the service', async () => {
    const res = await emit(legacy.impostor.secret, 'acme').expect(201);
    expect(await sourceOf(res.body.id)).toBe(`audit-trail-${legacy.impostor.prefix}`);
  });

  it("keeps one tenant's idempotency apart from another's key of the same old name", async () => {
    const acme = await emit(legacy.billingAcme.secret, 'acme', 'invoice-7').expect(201);
    const globex = await emit(legacy.billingGlobex.secret, 'globex', 'invoice-7').expect(201);
    expect(globex.body.id).not.toBe(acme.body.id);
  });

  it('makes an old legal key a person holding what the key held', async () => {
    const keys = (await t.http().get('/v1/keys').set(auth(t.adminKey)).expect(200)).body.items;
    const counsel = keys.find((k: { id: string }) => k.id === legacy.counsel.id);
    const principal = (await t.http().get(`/v1/principals/${counsel.principal}`).set(auth(t.adminKey)).expect(200))
      .body;
    expect(principal).toMatchObject({ kind: 'person', name: 'counsel' });
    expect(principal.grants.map((g: { role: string; status: string }) => `${g.role}:${g.status}`).sort()).toEqual([
      'investigator:active',
      'legal:active',
    ]);
    await t.http().get('/v1/holds?tenant=acme').set(auth(legacy.counsel.secret)).expect(200);
  });

  it('does it once: a restart adopts nothing again', async () => {
    const before = (await platformEntries(db)).length;
    await t.close();
    t = await startTestApp(db, env());
    expect((await platformEntries(db)).length).toBe(before);
  });
});
