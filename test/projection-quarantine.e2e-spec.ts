import { verifyExport } from '@audit/ledger';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { runCommandLine } from '../src/command-line';
import { EventToAppend } from '../src/ledger/append-plan';
import { Sequencer } from '../src/ledger/sequencer';
import { MetricsService } from '../src/platform/metrics/metrics.service';
import {
  TestApp,
  createKey,
  platformEntries,
  startTestApp,
  testKeyEncryptionKey,
  testPersonalSearchKey,
  testSigningKey,
} from './support/test-app';
import {
  createTestDatabase,
  dropTestDatabase,
  searchLag,
  superuserClient,
  untilProjected,
} from './support/test-database';

const auth = (key: string) => ({ authorization: `Bearer ${key}` });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Reads a whole text body (NDJSON) as one string. */
function text(res: unknown, done: (err: Error | null, body: string) => void): void {
  const chunks: Buffer[] = [];
  const stream = res as NodeJS.ReadableStream;
  stream.on('data', (c: Buffer) => chunks.push(c));
  stream.on('end', () => done(null, Buffer.concat(chunks).toString('utf8')));
}

// The actor id a test-only trigger on the read model refuses: an entry that cannot be projected
// for a reason the service cannot know in advance. It stands for personal data too: it must never
// appear in the quarantine's error text.
const POISON = 'poison-marker-7f3a';

// This file's main service runs without a background projector, so a read's own catch-up meets
// bad entries first; the tests that need the projector start a second process that runs only it.
describe('projections that cannot stall', () => {
  let db: string;
  let t: TestApp;
  let client: Client;
  let emitter: string;
  let investigator: string;
  let acmeOnly: string;

  async function emit(tenant: string, n: number, actor = 'u1'): Promise<{ id: string; index: number }[]> {
    const events = Array.from({ length: n }, (_, i) => ({
      tenant,
      type: 'auth.login.succeeded',
      actor: { type: 'user', id: actor },
      context: { n: i },
    }));
    return (await t.http().post('/v1/events/batch').set(auth(emitter)).send({ events }).expect(201)).body.results;
  }

  /**
   * Appends straight through the service's sequencer, past the HTTP input checks: how entries that
   * are already stored (from before the input rule) came to be. The chain stays valid.
   */
  async function appendDirect(log: string, fields: Partial<EventToAppend>): Promise<{ id: string; index: number }> {
    const [appended] = await t.app.get(Sequencer).append([
      {
        log,
        source: 'console',
        type: 'auth.login.succeeded',
        category: 'auth',
        actor: { type: 'user', id: 'u1' },
        outcome: 'success',
        ...fields,
      },
    ]);
    return appended;
  }

  const search = async (query: Record<string, string>, key = investigator) =>
    (await t.http().get('/v1/events').query(query).set(auth(key)).expect(200)).body;
  const exportLines = async (query: Record<string, string>) => {
    const res = await t
      .http()
      .get('/v1/exports')
      .query(query)
      .set(auth(investigator))
      .buffer(true)
      .parse(text)
      .expect(200);
    return (res.body as string).split('\n').filter((l) => l !== '');
  };
  const storedLeaf = async (log: string, index: number) =>
    (
      (await client.query('SELECT leaf FROM entries WHERE log = $1 AND idx = $2', [log, index])).rows[0].leaf as Buffer
    ).toString('base64');
  const projectedRows = async (log: string) =>
    Number((await client.query('SELECT count(*) AS n FROM event_search WHERE log = $1', [log])).rows[0].n);
  const logSize = async (log: string) =>
    Number((await client.query('SELECT size FROM logs WHERE log = $1', [log])).rows[0].size);

  beforeAll(async () => {
    db = await createTestDatabase();
    t = await startTestApp(db, { AUDIT_COMPONENTS: 'api,sequencer,signer,worker' });
    client = await superuserClient(db);
    emitter = await createKey(t, 'console', ['emitter'], ['acme', 'globex', 'initech', 'umbrella', 'hooli']);
    investigator = await createKey(t, 'soc', ['investigator'], ['*']);
    acmeOnly = await createKey(t, 'alice', ['investigator'], ['acme']);
  });

  afterAll(async () => {
    await client.end();
    await t.close();
    await dropTestDatabase(db);
  });

  describe('entries stored with U+0000', () => {
    let nul: { id: string; index: number };

    beforeAll(async () => {
      await emit('acme', 2);
      nul = await appendDirect('acme', {
        type: 'auth.login.failed',
        actor: { type: 'user', id: 'a\u0000b' },
        context: { k: 'a\u0000b', 'key\u0000': 1, escaped: '\\u0000 is text' },
      });
      await emit('acme', 2);
    });

    it('are projected and searchable, and every read serves the exact leaf', async () => {
      const page = await search({ tenant: 'acme', type: 'auth.login.failed' });
      expect(page.items.map((i: { id: string }) => i.id)).toEqual([nul.id]);
      expect(page.items[0]).toMatchObject({
        actor: { id: 'a\u0000b' },
        context: { k: 'a\u0000b', 'key\u0000': 1, escaped: '\\u0000 is text' },
      });
      expect(page.incomplete).toBe(false);
      expect(await projectedRows('acme')).toBe(await logSize('acme'));
      // In the read model only, U+0000 reads as U+FFFD: that value finds the entry.
      expect((await search({ tenant: 'acme', actor: 'a\uFFFDb' })).items.map((i: { id: string }) => i.id)).toEqual([
        nul.id,
      ]);

      const read = (await t.http().get(`/v1/events/${nul.id}`).set(auth(investigator)).expect(200)).body;
      expect(read).toMatchObject({ id: nul.id, actor: { id: 'a\u0000b' }, context: { k: 'a\u0000b' } });

      const lines = await exportLines({ tenant: 'acme' });
      const line = lines
        .slice(1)
        .map((l) => JSON.parse(l))
        .find((l) => l.index === nul.index);
      expect(line.leaf).toBe(await storedLeaf('acme', nul.index));
      // A complete export's first line reads as it always did.
      expect(JSON.parse(lines[0])).toMatchObject({ count: await logSize('acme') });
      expect(JSON.parse(lines[0])).not.toHaveProperty('incomplete');
      expect((await verifyExport(lines)).ok).toBe(true);
    });

    it('do not stop `search rebuild`', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'audit-cli-'));
      let out = '';
      let err = '';
      try {
        const code = await runCommandLine(
          ['search', 'rebuild', 'acme'],
          {
            DATABASE_URL: db,
            AUDIT_CHECKPOINT_DIR: dir,
            AUDIT_SIGNING_KEY: testSigningKey(db),
            AUDIT_KEY_ENCRYPTION_KEY: testKeyEncryptionKey(db),
            AUDIT_PERSONAL_SEARCH_KEY: testPersonalSearchKey(db),
            LOG_LEVEL: 'silent',
          },
          { out: (s) => (out += s), err: (s) => (err += s) },
        );
        expect(err).toBe('');
        expect(code).toBe(0);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
      expect(JSON.parse(out)).toEqual({ logs: 1, entries: await logSize('acme') });
      expect(await projectedRows('acme')).toBe(await logSize('acme'));
      expect(
        (await search({ tenant: 'acme', type: 'auth.login.failed' })).items.map((i: { id: string }) => i.id),
      ).toEqual([nul.id]);
    });
  });

  describe('an entry that cannot be projected', () => {
    let poisoned: { id: string; index: number };
    let projector: TestApp | undefined;

    beforeAll(async () => {
      // Test-only, installed as the superuser: the read model refuses one marked entry, as it
      // might refuse an entry for a reason nobody foresaw. Its message quotes the value.
      await client.query(`
        CREATE FUNCTION test_refuse_marked() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF NEW.actor_id = '${POISON}' THEN RAISE EXCEPTION 'refused %', NEW.actor_id; END IF;
          RETURN NEW;
        END $$`);
      await client.query(
        'CREATE TRIGGER test_refuse_marked BEFORE INSERT ON event_search FOR EACH ROW EXECUTE FUNCTION test_refuse_marked()',
      );
    });

    afterAll(async () => {
      await projector?.close();
    });

    it('is quarantined by a background projector, which keeps projecting that log and every other', async () => {
      await emit('globex', 3);
      poisoned = await appendDirect('globex', { actor: { type: 'user', id: POISON } });
      await emit('globex', 3);
      await emit('initech', 5);
      expect(await searchLag(client)).toBeGreaterThan(0);

      projector = await startTestApp(db, { AUDIT_COMPONENTS: 'projector' });
      await untilProjected(client);
      expect(await projectedRows('globex')).toBe((await logSize('globex')) - 1);
      expect(await projectedRows('initech')).toBe(await logSize('initech'));
      const { rows } = await client.query(
        "SELECT projection, log, idx::int, id, error FROM projection_quarantine WHERE log = 'globex'",
      );
      expect(rows).toEqual([
        { projection: 'search', log: 'globex', idx: poisoned.index, id: poisoned.id, error: expect.any(String) },
      ]);
      expect(rows[0].error).not.toContain(POISON);

      // Entries appended later flow past it.
      const later = await emit('globex', 2);
      await untilProjected(client);
      expect(await projectedRows('globex')).toBe((await logSize('globex')) - 1);
      expect((await search({ tenant: 'globex', actor: 'u1' })).items.map((i: { id: string }) => i.id)).toEqual(
        expect.arrayContaining(later.map((l) => l.id)),
      );

      const metrics = async () => projector!.app.get(MetricsService).registry.metrics();
      for (let i = 0; i < 40 && !/audit_search_quarantined_entries 1\b/.test(await metrics()); i++) await sleep(25);
      expect(await metrics()).toMatch(/audit_search_quarantined_entries 1\b/);
      expect(await metrics()).toMatch(/audit_search_lag_entries 0\b/);
    });

    it('is quarantined by a search that catches the log up itself', async () => {
      await projector?.close();
      projector = undefined;
      await emit('umbrella', 2);
      const second = await appendDirect('umbrella', { actor: { type: 'user', id: POISON }, type: 'auth.logout' });
      await emit('umbrella', 2);
      const page = await search({ tenant: 'umbrella' });
      expect(page.items).toHaveLength((await logSize('umbrella')) - 1);
      expect(page).toMatchObject({ incomplete: true, quarantined: [{ log: 'umbrella', index: second.index }] });
      // Its progress passed it: the log's next search has nothing to redo.
      expect(
        Number((await client.query("SELECT size FROM event_search_progress WHERE log = 'umbrella'")).rows[0].size),
      ).toBe(await logSize('umbrella'));
    });

    it('is listed by GET /v1/logs/{log}/quarantine for investigators of that tenant, and the read is recorded', async () => {
      const res = await t.http().get('/v1/logs/globex/quarantine').set(auth(investigator)).expect(200);
      expect(res.body).toEqual({
        items: [{ index: poisoned.index, id: poisoned.id, error: expect.any(String), since: expect.any(String) }],
      });
      expect(res.body.items[0].error).not.toContain(POISON);
      expect(Number.isNaN(Date.parse(res.body.items[0].since))).toBe(false);
      expect((await t.http().get('/v1/logs/initech/quarantine').set(auth(investigator)).expect(200)).body).toEqual({
        items: [],
      });
      // Another tenant's log looks like a missing one; other roles may not ask.
      const foreign = await t.http().get('/v1/logs/globex/quarantine').set(auth(acmeOnly)).expect(404);
      const missing = await t.http().get('/v1/logs/nosuchlog/quarantine').set(auth(acmeOnly)).expect(404);
      expect(foreign.body).toEqual(missing.body);
      expect(missing.body).toEqual({ statusCode: 404, error: 'Not Found', code: 'not_found', message: 'no such log' });
      await t.http().get('/v1/logs/globex/quarantine').set(auth(emitter)).expect(403);
      // A log name that PostgreSQL could not store, or that is not UTF-8: the input rule, never a 500.
      for (const [bad, path] of [
        ['glo%00bex', '/params/log'],
        ['glo%ffbex', '/params'],
        ['x'.repeat(101), '/params'],
      ]) {
        const refused = await t.http().get(`/v1/logs/${bad}/quarantine`).set(auth(investigator)).expect(400);
        expect(refused.body).toMatchObject({ code: 'invalid_request', details: [{ path }] });
        expect(JSON.stringify(refused.body)).not.toContain('glo');
      }
      const records = (await platformEntries(db)).filter((e) => e.type === 'access.logs.quarantine');
      expect(records.map((r) => [r.target?.id, r.outcome])).toEqual(
        expect.arrayContaining([
          ['globex', 'success'],
          ['initech', 'success'],
          ['globex', 'failure'],
        ]),
      );
    });

    it('is reported by /health as degraded (still 200) and counted in the metric', async () => {
      const res = await t.http().get('/health').expect(200);
      expect(res.body).toMatchObject({
        status: 'degraded',
        details: { projections: { status: 'degraded', quarantined: 2 } },
      });
      const metrics = await t.http().get('/metrics').expect(200);
      expect(metrics.text).toMatch(/audit_search_quarantined_entries 2\b/);
    });

    it('never vanishes from a search whose range covers it', async () => {
      const page = await search({ tenant: 'globex', actor: 'somebody-else' });
      expect(page).toEqual({
        items: [],
        nextCursor: null,
        incomplete: true,
        quarantined: [{ log: 'globex', index: poisoned.index }],
      });
      const everywhere = await search({ limit: '1' });
      expect(everywhere.incomplete).toBe(true);
      expect(everywhere.quarantined).toEqual(expect.arrayContaining([{ log: 'globex', index: poisoned.index }]));
      // A range that ends before the entry was recorded does not cover it; nor does another tenant.
      const recordedAt = (
        await client.query("SELECT recorded_at FROM entries WHERE log = 'globex' AND idx = $1", [poisoned.index])
      ).rows[0].recorded_at as Date;
      expect(await search({ tenant: 'globex', to: new Date(recordedAt.getTime() - 1).toISOString() })).toMatchObject({
        incomplete: false,
        quarantined: [],
      });
      expect(await search({ tenant: 'initech' })).toMatchObject({ incomplete: false, quarantined: [] });
      expect(await search({}, acmeOnly)).toMatchObject({ incomplete: false, quarantined: [] });

      // Read by id, it is served from its leaf.
      const read = (await t.http().get(`/v1/events/${poisoned.id}`).set(auth(investigator)).expect(200)).body;
      expect(read).toMatchObject({ id: poisoned.id, index: poisoned.index, actor: { id: POISON } });
    });

    it('is named in the first line of an export covering it, which still carries its leaf and proof when it matches', async () => {
      const size = await logSize('globex');
      const all = await exportLines({ tenant: 'globex' });
      expect(JSON.parse(all[0])).toMatchObject({ count: size, incomplete: true, quarantined: [poisoned.index] });
      const entries = all.slice(1).map((l) => JSON.parse(l));
      expect(entries.map((e) => e.index)).toEqual(Array.from({ length: size }, (_, i) => i));
      expect(entries[poisoned.index].leaf).toBe(await storedLeaf('globex', poisoned.index));
      expect((await verifyExport(all)).problems).toEqual([]);

      // A filter its leaf matches includes it; one it does not match leaves it out, and still says so.
      const matching = await exportLines({ tenant: 'globex', actor: POISON });
      expect(JSON.parse(matching[0])).toMatchObject({ count: 1, incomplete: true, quarantined: [poisoned.index] });
      expect(JSON.parse(matching[1]).index).toBe(poisoned.index);
      expect((await verifyExport(matching)).ok).toBe(true);
      const other = await exportLines({ tenant: 'globex', actor: 'u1' });
      expect(JSON.parse(other[0])).toMatchObject({
        count: other.length - 1,
        incomplete: true,
        quarantined: [poisoned.index],
      });
      expect(other.slice(1).map((l) => JSON.parse(l).index)).not.toContain(poisoned.index);
      expect((await verifyExport(other)).ok).toBe(true);
    });

    it('stays quarantined through `search rebuild`, which succeeds', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'audit-cli-'));
      let out = '';
      try {
        const code = await runCommandLine(
          ['search', 'rebuild', 'globex'],
          {
            DATABASE_URL: db,
            AUDIT_CHECKPOINT_DIR: dir,
            AUDIT_SIGNING_KEY: testSigningKey(db),
            AUDIT_KEY_ENCRYPTION_KEY: testKeyEncryptionKey(db),
            AUDIT_PERSONAL_SEARCH_KEY: testPersonalSearchKey(db),
            LOG_LEVEL: 'silent',
          },
          { out: (s) => (out += s), err: () => undefined },
        );
        expect(code).toBe(0);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
      expect(JSON.parse(out)).toEqual({ logs: 1, entries: (await logSize('globex')) - 1 });
      expect(
        (await t.http().get('/v1/logs/globex/quarantine').set(auth(investigator)).expect(200)).body.items.map(
          (i: { index: number }) => i.index,
        ),
      ).toEqual([poisoned.index]);
    });
  });

  it('makes a failing projector visible: the lag is not reported as 0, failed passes are counted, /health is degraded', async () => {
    // A fault that is not one entry's (the runtime role lost a grant): nothing to quarantine, every
    // pass fails until it is mended.
    await client.query('REVOKE INSERT ON event_search FROM audit_runtime');
    const projector = await startTestApp(db, { AUDIT_COMPONENTS: 'projector' });
    try {
      await emit('hooli', 4);
      const metrics = async () => projector.app.get(MetricsService).registry.metrics();
      for (let i = 0; i < 80 && !/audit_search_projection_failures_total [1-9]/.test(await metrics()); i++)
        await sleep(25);
      expect(await metrics()).toMatch(/audit_search_projection_failures_total [1-9]/);
      expect(await metrics()).toMatch(/audit_search_lag_entries [1-9]/);
      const health = (await projector.http().get('/health').expect(200)).body;
      expect(health).toMatchObject({
        status: 'degraded',
        details: { projections: { status: 'degraded', projector: 'failing' } },
      });

      await client.query('GRANT INSERT ON event_search TO audit_runtime');
      await untilProjected(client);
      for (
        let i = 0;
        i < 40 && (await projector.http().get('/health')).body.details.projections.projector !== 'ok';
        i++
      )
        await sleep(25);
      expect((await projector.http().get('/health')).body.details.projections).toMatchObject({ projector: 'ok' });
    } finally {
      await client.query('GRANT INSERT ON event_search TO audit_runtime');
      await projector.close();
    }
  });
});
