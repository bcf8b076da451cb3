import { Client } from 'pg';
import { EventSearchStore } from '../src/investigation/event-search.store';
import { MetricsService } from '../src/platform/metrics/metrics.service';
import { TestApp, binary, createKey, startTestApp } from './support/test-app';
import {
  createTestDatabase,
  dropTestDatabase,
  searchLag,
  superuserClient,
  untilProjected,
} from './support/test-database';

const auth = (key: string) => ({ authorization: `Bearer ${key}` });

// The search read model is written after appends, by a projector (src/investigation/search-projector.ts).
// This file's service runs without one, so what searches see comes from their own catch-up; a second
// process on the same database runs only the projector.
describe('search projection', () => {
  let db: string;
  let t: TestApp;
  let client: Client;
  let emitter: string;
  let investigator: string;

  async function emit(tenant: string, n: number, from = 0): Promise<{ id: string; index: number }[]> {
    const events = Array.from({ length: n }, (_, i) => ({
      tenant,
      type: 'auth.login.succeeded',
      actor: { type: 'user', id: `u${(from + i) % 3}` },
      context: { n: from + i },
    }));
    return (await t.http().post('/v1/events/batch').set(auth(emitter)).send({ events }).expect(201)).body.results;
  }

  const projectedRows = async (log: string) =>
    Number((await client.query('SELECT count(*) AS n FROM event_search WHERE log = $1', [log])).rows[0].n);

  beforeAll(async () => {
    db = await createTestDatabase();
    t = await startTestApp(db, { AUDIT_COMPONENTS: 'api,sequencer,signer,worker' });
    client = await superuserClient(db);
    emitter = await createKey(t, 'console', ['emitter'], ['acme', 'globex']);
    investigator = await createKey(t, 'soc', ['investigator'], ['*']);
  });

  afterAll(async () => {
    await client.end();
    await t.close();
    await dropTestDatabase(db);
  });

  it('keeps the read model off the append path, and a search still sees every acknowledged entry', async () => {
    const results = await emit('acme', 40);
    expect(await projectedRows('acme')).toBe(0);
    expect(await searchLag(client)).toBeGreaterThanOrEqual(40);

    const page = (
      await t
        .http()
        .get('/v1/events')
        .query({ tenant: 'acme', actor: 'u1', limit: 1000 })
        .set(auth(investigator))
        .expect(200)
    ).body;
    expect(page.items.map((i: { index: number }) => i.index).sort((a: number, b: number) => a - b)).toEqual(
      results.filter((_, i) => i % 3 === 1).map((r) => r.index),
    );
    expect(await projectedRows('acme')).toBe(40);
  });

  it('serves an event read and an export of entries the projector has not reached', async () => {
    const [first] = await emit('globex', 25);
    expect(await projectedRows('globex')).toBe(0);
    const read = (await t.http().get(`/v1/events/${first.id}`).set(auth(investigator)).expect(200)).body;
    expect(read).toMatchObject({ id: first.id, index: first.index });

    const more = await emit('globex', 10, 25);
    const res = await t
      .http()
      .get('/v1/exports')
      .query({ tenant: 'globex' })
      .set(auth(investigator))
      .buffer(true)
      .parse(binary)
      .expect(200);
    const lines = (res.body as Buffer)
      .toString('utf8')
      .split('\n')
      .filter((l) => l !== '');
    expect(JSON.parse(lines[0]).count).toBe(35);
    expect(JSON.parse(lines[lines.length - 1]).index).toBe(more[more.length - 1].index);
  });

  it('gives concurrent catch-ups each entry once', async () => {
    await emit('acme', 500, 40);
    await emit('globex', 500, 35);
    const searches = Array.from({ length: 8 }, (_, k) =>
      t
        .http()
        .get('/v1/events')
        .query({ tenant: k % 2 === 0 ? 'acme' : 'globex', limit: 5 })
        .set(auth(investigator))
        .expect(200),
    );
    await Promise.all(searches);
    const doubled = await client.query('SELECT log, idx FROM event_search GROUP BY log, idx HAVING count(*) > 1');
    expect(doubled.rows).toEqual([]);
    const { rows } = await client.query(
      'SELECT l.log, l.size::int, count(s.idx)::int AS rows FROM logs l LEFT JOIN event_search s ON s.log = l.log WHERE l.log IN ($1, $2) GROUP BY l.log, l.size',
      ['acme', 'globex'],
    );
    for (const row of rows) expect(row.rows).toBe(row.size);
  });

  it('lets a background pass skip the logs it already brought up to date, and says which it did', async () => {
    const store = t.app.get(EventSearchStore);
    const before = await projectedRows('acme');
    await emit('acme', 20, 1040);
    await emit('globex', 20, 1035);
    const first = await store.project({ logs: null, skip: ['acme'], wait: false, perLog: 1000, maxLogs: 8 });
    expect(first.caughtUp).toContain('globex');
    expect(first.caughtUp).not.toContain('acme');
    expect(await projectedRows('acme')).toBe(before);
    // A log held back by the per-log limit is not caught up, and more is due at once.
    const second = await store.project({ logs: null, skip: [], wait: false, perLog: 5, maxLogs: 8 });
    expect(second).toEqual({ caughtUp: [], more: true });
    expect(await projectedRows('acme')).toBe(before + 5);
  });

  it('projects in the background in a process that runs the projector, and reports its lag', async () => {
    await emit('acme', 300, 540);
    expect(await searchLag(client)).toBeGreaterThan(0);
    const projector = await startTestApp(db, { AUDIT_COMPONENTS: 'projector' });
    try {
      await untilProjected(client);
      // The gauge is set after each pass: it reads 0 once a pass has found nothing left.
      const metrics = () => projector.app.get(MetricsService).registry.metrics();
      for (let i = 0; i < 40 && !/audit_search_lag_entries 0\b/.test(await metrics()); i++)
        await new Promise((resolve) => setTimeout(resolve, 25));
      expect(await metrics()).toMatch(/audit_search_lag_entries 0\b/);
      const { rows } = await client.query(
        'SELECT count(*)::int AS n, count(DISTINCT (log, idx))::int AS d FROM event_search',
      );
      expect(rows[0].n).toBe(rows[0].d);
    } finally {
      await projector.close();
    }
  });
});
