import { LogStore } from '../src/ledger/log-store';
import { TestApp, createKey, startTestApp } from './support/test-app';
import { createTestDatabase, dropTestDatabase } from './support/test-database';

// Real: PostgreSQL, the whole service over HTTP. A full verification takes seconds to minutes on a
// large log; appends committed meanwhile must not make a sound log look broken.

const event = (i: number) => ({
  tenant: 'acme',
  type: 'billing.invoice.paid',
  actor: { type: 'user', id: `u${i}` },
  target: { type: 'invoice', id: `inv${i}` },
  outcome: 'success',
});

describe('full verification of a log being appended to', () => {
  let db: string;
  let t: TestApp;
  let emitter: string;
  let reader: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    t = await startTestApp(db);
    emitter = await createKey(t, 'billing', ['emitter'], ['acme']);
    reader = await createKey(t, 'secops', ['investigator'], ['acme']);
  });

  afterAll(async () => {
    await t?.close();
    await dropTestDatabase(db);
  });

  it('reads the head, the checkpoints and the entries from one snapshot, and the mirror before it', async () => {
    const events = Array.from({ length: 5 }, (_, i) => event(i));
    await t.http().post('/v1/events/batch').set('authorization', `Bearer ${emitter}`).send({ events }).expect(201);
    // Two appends and a checkpoint of them (signed, stored and mirrored) land after the verification
    // read the head and before it reads the checkpoints and the entries: its scoped transaction's
    // statements are wrapped, and the read of the checkpoints waits for them.
    const store = t.app.get(LogStore);
    const tenantScoped = store.tenantScoped.bind(store);
    let appended = 0;
    const spy = jest.spyOn(store, 'tenantScoped').mockImplementation((tenants, fn, options) =>
      tenantScoped(
        tenants,
        (sql) =>
          fn(async (text, params, name) => {
            if (text.startsWith('SELECT size, root, note FROM checkpoints')) {
              for (const i of [5, 6]) {
                await t.http().post('/v1/events').set('authorization', `Bearer ${emitter}`).send(event(i)).expect(201);
                appended++;
              }
              const signed = await t.http().post('/v1/logs/acme/checkpoint').set('authorization', `Bearer ${reader}`);
              expect([signed.status, signed.text.split('\n')[1]]).toEqual([200, '7']);
            }
            return sql(text, params, name);
          }),
        options,
      ),
    );
    try {
      const verified = await t.http().post('/v1/logs/acme/verify').set('authorization', `Bearer ${reader}`).expect(200);
      expect(appended).toBe(2);
      expect(verified.body).toMatchObject({ ok: true, size: 5, checked: 5, problems: [] });
    } finally {
      spy.mockRestore();
    }
    const again = await t.http().post('/v1/logs/acme/verify').set('authorization', `Bearer ${reader}`).expect(200);
    expect(again.body).toMatchObject({ ok: true, size: 7, checked: 7 });
  });
});
