import { TestApp, createKey, startTestApp } from './support/test-app';
import { createTestDatabase, dropTestDatabase, superuserClient } from './support/test-database';

describe('operations', () => {
  let db: string;
  let t: TestApp;

  beforeAll(async () => {
    db = await createTestDatabase();
    t = await startTestApp(db);
  });

  afterAll(async () => {
    await t.close();
    await dropTestDatabase(db);
  });

  it('reports PostgreSQL and Redis health', async () => {
    const res = await t.http().get('/health').expect(200);
    expect(res.body).toMatchObject({ status: 'ok', info: { postgres: { status: 'up' }, redis: { status: 'up' } } });
  });

  it('exposes Prometheus metrics for appends, batches, commits, checkpoints and queues', async () => {
    const key = await createKey(t, 'billing', ['emitter'], ['acme']);
    await t
      .http()
      .post('/v1/events')
      .set('authorization', `Bearer ${key}`)
      .send({ tenant: 'acme', type: 'auth.logout', actor: { type: 'user', id: 'u' } })
      .expect(201);
    const res = await t.http().get('/metrics').expect(200);
    expect(res.headers['content-type']).toContain('text/plain');
    for (const name of [
      'audit_appended_entries_total',
      'audit_append_batch_entries_bucket',
      'audit_append_commit_seconds_bucket',
      'audit_checkpoint_lag_seconds',
      'audit_queue_jobs',
      'audit_checkpoint_mirror_mismatch',
    ]) {
      expect(res.text).toContain(name);
    }
    expect(res.text).toMatch(/audit_appended_entries_total [1-9]/);
  });

  it('publishes the OpenAPI document', async () => {
    const res = await t.http().get('/docs-json').expect(200);
    expect(Object.keys(res.body.paths)).toEqual(
      expect.arrayContaining([
        '/v1/events',
        '/v1/events/batch',
        '/v1/keys',
        '/v1/logs/{log}/checkpoint',
        '/v1/logs/{log}/verify',
      ]),
    );
    await t
      .http()
      .get('/docs')
      .expect((r) => expect([200, 301, 302]).toContain(r.status));
  });

  it('records key creation in the platform log, without the secret', async () => {
    const key = await createKey(t, 'auditor', ['investigator'], ['acme']);
    const client = await superuserClient(db);
    const { rows } = await client.query(
      "SELECT convert_from(leaf, 'UTF8') AS leaf FROM entries WHERE log = 'platform' ORDER BY idx",
    );
    await client.end();
    const created = rows
      .map((r) => JSON.parse(r.leaf))
      .filter((e) => e.type === 'api_key.created' && e.context.name === 'auditor');
    expect(created).toHaveLength(1);
    expect(created[0]).toMatchObject({
      source: 'audit-trail',
      category: 'api_keys',
      context: { roles: ['investigator'], tenants: ['acme'] },
    });
    expect(rows.map((r) => r.leaf).join('\n')).not.toContain(key);
  });
});
