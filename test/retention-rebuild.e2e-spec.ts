import { CommandBus } from '@nestjs/cqrs';
import { Client } from 'pg';
import { RebuildRetentionPolicies } from '../src/retention/rebuild-retention-policies.handler';
import { MovableClock, TestApp, platformEntries, startTestApp } from './support/test-app';
import { createTestDatabase, dropTestDatabase, superuserClient } from './support/test-database';

const auth = (key: string) => ({ authorization: `Bearer ${key}` });
const HOUR_MS = 3_600_000;

describe('retention policies rebuilt from the ledger', () => {
  let db: string;
  let t: TestApp;
  let client: Client;
  const clock = new MovableClock();
  const admins: Record<string, { key: string; id: string }> = {};

  // Every column as text: the snapshot compares what PostgreSQL holds, microseconds included.
  const rows = async () =>
    (
      await client.query(
        `SELECT category, min_days, max_days, mode, updated_at::text AS updated_at, updated_by
         FROM retention_policies ORDER BY category`,
      )
    ).rows;
  const list = async () =>
    (await t.http().get('/v1/retention-policies').set(auth(admins.ada.key)).expect(200)).body.items;
  const rebuild = () => t.app.get(CommandBus).execute(new RebuildRetentionPolicies());
  // Each change an hour after the last, on the service's clock ten days ahead of the wall clock.
  const put = (who: string, category: string, body: object) => {
    clock.offsetMs += HOUR_MS;
    return t.http().put(`/v1/retention-policies/${category}`).set(auth(admins[who].key)).send(body).expect(200);
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    clock.offsetMs = 10 * 24 * HOUR_MS;
    t = await startTestApp(db, {}, { clock });
    client = await superuserClient(db);
    for (const name of ['ada', 'bob']) {
      const res = await t
        .http()
        .post('/v1/keys')
        .set(auth(t.adminKey))
        .send({ name, roles: ['admin'], tenants: ['*'] })
        .expect(201);
      admins[name] = { key: res.body.key, id: res.body.id };
    }

    // Governance shortened with a reason, then lengthened and its maximum dropped, by another admin.
    await put('ada', 'auth', { minDays: 180, maxDays: 730, mode: 'governance', reason: 'privacy review' });
    await put('bob', 'auth', { minDays: 200, maxDays: null, mode: 'governance' });
    // Compliance lengthened, then its maximum changed twice.
    await put('ada', 'billing', { minDays: 4000, maxDays: 4018, mode: 'compliance', reason: 'new tax rule' });
    await put('bob', 'billing', { minDays: 4000, maxDays: null, mode: 'compliance' });
    await put('ada', 'billing', { minDays: 4000, maxDays: 5000, mode: 'compliance' });
    // Governance that becomes compliance.
    await put('bob', 'support', { minDays: 120, maxDays: 365, mode: 'compliance' });
    // Three governance versions, the last one shorter again.
    await put('ada', 'deployment', { minDays: 200, maxDays: 730, mode: 'governance' });
    await put('bob', 'deployment', { minDays: 300, maxDays: 900, mode: 'governance' });
    await put('ada', 'deployment', { minDays: 90, maxDays: 900, mode: 'governance', reason: 'incidents closed' });
  });

  afterAll(async () => {
    await client?.end();
    await t?.close();
    await dropTestDatabase(db);
  });

  it('rebuilds a deleted and corrupted table to exactly the live one', async () => {
    const live = await list();
    const snapshot = await rows();
    // Only the categories changed have rows; the others keep their defaults, in the table as in the API.
    expect(snapshot.map((r) => r.category)).toEqual(['auth', 'billing', 'deployment', 'support']);
    expect(
      live.filter((p: { source: string }) => p.source === 'set').map((p: { category: string }) => p.category),
    ).toEqual(['auth', 'billing', 'deployment', 'support']);
    const billing = live.find((p: { category: string }) => p.category === 'billing');
    expect(billing).toMatchObject({
      minDays: 4000,
      maxDays: 5000,
      mode: 'compliance',
      updatedBy: { id: admins.ada.id },
    });
    // The time is the service's clock, not the wall clock.
    expect(Date.parse(billing.updatedAt)).toBeGreaterThan(Date.now() + 9 * 24 * HOUR_MS);
    // Each row is its category's last entry: terms, time and actor.
    const entries = (await platformEntries(db)).filter((e) => e.category === 'retention');
    expect(entries).toHaveLength(9);
    for (const policy of live.filter((p: { source: string }) => p.source === 'set')) {
      const last = entries.filter((e) => e.target.id === policy.category).pop();
      expect(policy).toEqual({
        category: policy.category,
        ...last?.context.after,
        source: 'set',
        updatedAt: last?.occurredAt,
        updatedBy: last?.actor,
      });
    }

    // Rows lost and rows wrong in every column the guard lets a superuser change.
    await client.query(`DELETE FROM retention_policies WHERE category = 'auth'`);
    await client.query(
      `UPDATE retention_policies SET min_days = 1, max_days = 2, updated_by = 'api_key:mallory' WHERE category = 'deployment'`,
    );
    await client.query(
      `UPDATE retention_policies SET max_days = NULL, updated_at = '2000-01-01T00:00:00Z' WHERE category = 'billing'`,
    );
    await client.query(
      `UPDATE retention_policies SET max_days = 9999, updated_at = updated_at + interval '1 microsecond' WHERE category = 'support'`,
    );
    expect(await rows()).not.toEqual(snapshot);

    expect(await rebuild()).toEqual({ policies: 4, events: 9 });
    expect(await rows()).toEqual(snapshot);
    expect(await list()).toEqual(live);
    // A rebuild of a sound table changes nothing.
    expect(await rebuild()).toEqual({ policies: 4, events: 9 });
    expect(await rows()).toEqual(snapshot);

    // Live changes go on from the rebuilt rows (the change compares the terms it decided on).
    const res = await put('bob', 'deployment', { minDays: 100, maxDays: 900, mode: 'governance' });
    expect(res.body).toMatchObject({ minDays: 100, source: 'set', updatedBy: { id: admins.bob.id } });
    expect((await platformEntries(db)).filter((e) => e.category === 'retention').pop()?.context.before).toEqual({
      minDays: 90,
      maxDays: 900,
      mode: 'governance',
    });
  });

  it('refuses, writing nothing, what only a delete or a looser compliance policy would repair', async () => {
    const before = await rows();
    // A row no entry records (the runtime role may not delete it), and a compliance minimum
    // raised behind the service's back (PostgreSQL refuses to shorten it again).
    await client.query(`INSERT INTO retention_policies VALUES ('admin', 1, 2, 'governance', now(), 'api_key:mallory')`);
    await client.query(`UPDATE retention_policies SET min_days = 4500 WHERE category = 'billing'`);
    await client.query(`DELETE FROM retention_policies WHERE category = 'auth'`);
    const damaged = await rows();
    await expect(rebuild()).rejects.toMatchObject({
      code: 'retention_rebuild_refused',
      problems: [
        'admin: a row no entry records',
        'billing: compliance minimum 4500 days, the ledger says 4000 (compliance)',
      ],
    });
    expect(await rows()).toEqual(damaged);

    // Once an owner removed those rows, the rebuild restores the rest.
    await client.query(`DELETE FROM retention_policies WHERE category IN ('admin', 'billing')`);
    const events = (await platformEntries(db)).filter((e) => e.category === 'retention').length;
    expect(await rebuild()).toEqual({ policies: 4, events });
    expect(await rows()).toEqual(before);
  });
});
