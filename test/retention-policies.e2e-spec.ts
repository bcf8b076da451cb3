import { CATEGORIES } from '../src/events/event-catalogue';
import { RETENTION_DEFAULTS } from '../src/retention/retention-defaults';
import { TestApp, createKey, platformEntries, startTestApp } from './support/test-app';
import { createTestDatabase, dropTestDatabase, superuserClient } from './support/test-database';

const auth = (key: string) => ({ authorization: `Bearer ${key}` });

describe('retention policies', () => {
  let db: string;
  let t: TestApp;
  let ada: string;
  let adaId: string;
  const others: Record<string, string> = {};

  const retentionEntries = async () => (await platformEntries(db)).filter((e) => e.category === 'retention');
  const put = (category: string, body: unknown, key = ada) =>
    t
      .http()
      .put(`/v1/retention-policies/${category}`)
      .set(auth(key))
      .send(body as object);
  const list = async () =>
    (await t.http().get('/v1/retention-policies').set(auth(ada)).expect(200)).body.items as Record<string, any>[];

  beforeAll(async () => {
    db = await createTestDatabase();
    t = await startTestApp(db);
    const res = await t
      .http()
      .post('/v1/keys')
      .set(auth(t.adminKey))
      .send({ name: 'ada', roles: ['admin'], tenants: ['*'] })
      .expect(201);
    ada = res.body.key;
    adaId = res.body.id;
    for (const role of ['emitter', 'investigator', 'legal'])
      others[role] = await createKey(t, `${role}-key`, [role], ['*']);
  });

  afterAll(async () => {
    await t.close();
    await dropTestDatabase(db);
  });

  it('lists the default of every category', async () => {
    const items = await list();
    expect(items.map((i) => i.category)).toEqual([...CATEGORIES]);
    for (const item of items)
      expect(item).toEqual({
        category: item.category,
        ...RETENTION_DEFAULTS[item.category as keyof typeof RETENTION_DEFAULTS],
        source: 'default',
      });
    expect(items.find((i) => i.category === 'billing')).toMatchObject({ minDays: 3653, mode: 'compliance' });
  });

  it('an admin lengthens a compliance minimum: committed with its record in the platform log', async () => {
    const res = await put('billing', {
      minDays: 4000,
      maxDays: 4018,
      mode: 'compliance',
      reason: 'new tax rule',
    }).expect(200);
    expect(res.body).toMatchObject({
      category: 'billing',
      minDays: 4000,
      maxDays: 4018,
      mode: 'compliance',
      source: 'set',
      updatedBy: { type: 'api_key', id: adaId },
    });
    expect(Date.parse(res.body.updatedAt)).not.toBeNaN();
    const [entry] = await retentionEntries();
    expect(entry).toMatchObject({
      type: 'retention.policy_changed',
      category: 'retention',
      source: 'audit-trail',
      actor: { type: 'api_key', id: adaId },
      target: { type: 'retention_policy', id: 'billing' },
      outcome: 'success',
      context: {
        before: { minDays: 3653, maxDays: 4018, mode: 'compliance' },
        after: { minDays: 4000, maxDays: 4018, mode: 'compliance' },
        reason: 'new tax rule',
      },
    });
    expect((await list()).find((i) => i.category === 'billing')).toEqual(res.body);
  });

  it('a compliance minimum cannot be shortened nor turned governance: 409, nothing recorded or changed', async () => {
    const before = (await platformEntries(db)).length;
    const shortened = await put('billing', {
      minDays: 3653,
      maxDays: 4018,
      mode: 'compliance',
      reason: 'back to ten years',
    }).expect(409);
    expect(shortened.body).toMatchObject({ statusCode: 409, code: 'compliance_minimum' });
    // A default compliance policy (no row yet) is just as firm.
    await put('access', { minDays: 30, maxDays: 730, mode: 'compliance', reason: 'r' }).expect(409);
    const mode = await put('billing', { minDays: 4000, maxDays: 4018, mode: 'governance', reason: 'r' }).expect(409);
    expect(mode.body.code).toBe('compliance_mode');
    expect((await platformEntries(db)).length).toBe(before);
    expect((await list()).find((i) => i.category === 'billing')).toMatchObject({ minDays: 4000, mode: 'compliance' });
  });

  it('PostgreSQL refuses to shorten a compliance minimum as well', async () => {
    const client = await superuserClient(db);
    try {
      await expect(
        client.query(`UPDATE retention_policies SET min_days = 1 WHERE category = 'billing'`),
      ).rejects.toThrow(/compliance minimum/);
      await expect(
        client.query(`UPDATE retention_policies SET mode = 'governance' WHERE category = 'billing'`),
      ).rejects.toThrow(/compliance minimum/);
    } finally {
      await client.end();
    }
  });

  it('shortening a governance minimum needs a reason, and is recorded with it', async () => {
    const before = (await retentionEntries()).length;
    const refused = await put('auth', { minDays: 180, maxDays: 730, mode: 'governance' }).expect(400);
    expect(refused.body).toMatchObject({ code: 'reason_required', details: [{ path: '/reason' }] });
    expect((await retentionEntries()).length).toBe(before);
    const res = await put('auth', {
      minDays: 180,
      maxDays: 730,
      mode: 'governance',
      reason: 'privacy review 2026-11',
    }).expect(200);
    expect(res.body).toMatchObject({ category: 'auth', minDays: 180, maxDays: 730, mode: 'governance', source: 'set' });
    const entries = await retentionEntries();
    expect(entries).toHaveLength(before + 1);
    expect(entries[entries.length - 1]).toMatchObject({
      target: { id: 'auth' },
      context: {
        before: { minDays: 365, maxDays: 730, mode: 'governance' },
        after: { minDays: 180, maxDays: 730, mode: 'governance' },
        reason: 'privacy review 2026-11',
      },
    });
    // Lengthening again needs no reason; it is recorded with none.
    await put('auth', { minDays: 200, maxDays: null, mode: 'governance' }).expect(200);
    const last = (await retentionEntries()).pop();
    expect(last?.context).toEqual({
      category: 'auth',
      before: { minDays: 180, maxDays: 730, mode: 'governance' },
      after: { minDays: 200, maxDays: null, mode: 'governance' },
      reason: null,
    });
  });

  it('a PUT that changes nothing records nothing', async () => {
    const before = (await platformEntries(db)).length;
    const same = await put('auth', { minDays: 200, maxDays: null, mode: 'governance', reason: 'again' }).expect(200);
    expect(same.body).toMatchObject({ minDays: 200, maxDays: null, source: 'set' });
    const untouched = await put('support', { ...RETENTION_DEFAULTS.support }).expect(200);
    expect(untouched.body).toMatchObject({ source: 'default' });
    expect((await platformEntries(db)).length).toBe(before);
  });

  it('other roles get 403 on both routes', async () => {
    for (const key of Object.values(others)) {
      const read = await t.http().get('/v1/retention-policies').set(auth(key)).expect(403);
      expect(read.body.code).toBe('forbidden');
      await put('support', { minDays: 1, maxDays: 2, mode: 'governance', reason: 'r' }, key).expect(403);
    }
    await t.http().get('/v1/retention-policies').expect(401);
  });

  it('refuses bad requests with 400 and the field paths, or 404 for an unknown category; nothing recorded', async () => {
    const before = (await platformEntries(db)).length;
    const cases: [string, unknown, number, string, string[]][] = [
      [
        'support',
        { minDays: -1, mode: 'weekly', extra: 1 },
        400,
        'invalid_request',
        ['/maxDays', '/extra', '/minDays', '/mode'],
      ],
      ['support', { minDays: 'ninety', maxDays: 365, mode: 'governance' }, 400, 'invalid_request', ['/minDays']],
      [
        'support',
        { minDays: 90.5, maxDays: '365', mode: 'governance' },
        400,
        'invalid_request',
        ['/minDays', '/maxDays'],
      ],
      ['support', { minDays: 90, maxDays: 365, mode: 'governance', reason: '  ' }, 400, 'invalid_request', ['/reason']],
      ['support', { minDays: 100000, maxDays: null, mode: 'governance' }, 400, 'invalid_request', ['/minDays']],
      ['support', [], 400, 'invalid_request', ['']],
      ['support', { minDays: 400, maxDays: 365, mode: 'governance' }, 400, 'invalid_retention_period', ['/maxDays']],
      ['weather', { minDays: 1, maxDays: 2, mode: 'governance' }, 404, 'unknown_category', []],
    ];
    for (const [category, body, status, code, paths] of cases) {
      const res = await put(category, body).expect(status);
      expect(res.body).toMatchObject({ statusCode: status, code });
      expect(((res.body.details ?? []) as { path: string }[]).map((d) => d.path).sort()).toEqual([...paths].sort());
    }
    const notJson = await t
      .http()
      .put('/v1/retention-policies/support')
      .set(auth(ada))
      .set('content-type', 'application/json')
      .send('{"minDays":')
      .expect(400);
    expect(notJson.body.code).toBe('invalid_request');
    expect((await platformEntries(db)).length).toBe(before);
    expect((await list()).find((i) => i.category === 'support')).toMatchObject({ source: 'default' });
  });
});
