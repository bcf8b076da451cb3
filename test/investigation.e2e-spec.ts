import { leafHash, openCheckpoint, parseVerifierKey, verifyExport, verifyInclusion } from '@audit/ledger';
import { runCommandLine } from '../src/command-line';
import {
  MovableClock,
  TestApp,
  createKey,
  platformEntries,
  startTestApp,
  testKeyEncryptionKey,
  testPersonalSearchKey,
  testSigningKey,
} from './support/test-app';
import { createTestDatabase, dropTestDatabase, superuserClient, untilProjected } from './support/test-database';

const auth = (key: string) => ({ authorization: `Bearer ${key}` });

/** Reads a whole text body (NDJSON, CSV) as one string. */
function text(res: unknown, done: (err: Error | null, body: string) => void): void {
  const chunks: Buffer[] = [];
  const stream = res as NodeJS.ReadableStream;
  stream.on('data', (c: Buffer) => chunks.push(c));
  stream.on('end', () => done(null, Buffer.concat(chunks).toString('utf8')));
}

describe('investigation: search, event reads and exports', () => {
  let db: string;
  let t: TestApp;
  const clock = new MovableClock();
  let emitter: string;
  let investigator: string;
  let everywhere: string;
  let legal: string;

  async function emit(events: object[]): Promise<{ id: string; index: number; recordedAt: string }[]> {
    const res = await t.http().post('/v1/events/batch').set(auth(emitter)).send({ events }).expect(201);
    return res.body.results;
  }

  async function search(
    query: Record<string, string | number>,
    key = investigator,
    status = 200,
  ): Promise<Record<string, any>> {
    return (await t.http().get('/v1/events').query(query).set(auth(key)).expect(status)).body;
  }

  /** Every page of a search, following cursors. */
  async function allPages(
    query: Record<string, string | number>,
    key = investigator,
    between?: () => Promise<unknown>,
  ): Promise<Record<string, any>[]> {
    const items: Record<string, any>[] = [];
    let cursor: string | null = null;
    do {
      const page = await search(cursor ? { ...query, cursor } : query, key);
      items.push(...page.items);
      cursor = page.nextCursor;
      await between?.();
    } while (cursor);
    return items;
  }

  /**
   * Erases `subject` of `tenant` through the API, with the clock moved past the support and auth
   * minimums for the length of it only, and waits for the request to finish.
   */
  async function erase(tenant: string, subject: string): Promise<string> {
    clock.offsetMs = 400 * 86_400_000;
    try {
      const request = await t
        .http()
        .post('/v1/deletion-requests')
        .set(auth(legal))
        .send({ kind: 'subject_erasure', tenant, subject, reason: 'the person asked' })
        .expect(202);
      let status = '';
      for (let i = 0; i < 400 && !['completed', 'partially_blocked', 'blocked', 'failed'].includes(status); i++) {
        await new Promise((resolve) => setTimeout(resolve, 25));
        status = (await t.http().get(`/v1/deletion-requests/${request.body.id}`).set(auth(legal))).body.status;
      }
      return status;
    } finally {
      clock.offsetMs = 0;
    }
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    t = await startTestApp(db, {}, { clock });
    emitter = await createKey(t, 'console', ['emitter'], ['acme', 'globex', 'initech']);
    investigator = await createKey(t, 'alice', ['investigator'], ['acme']);
    everywhere = await createKey(t, 'soc', ['investigator'], ['*']);
    legal = await createKey(t, 'counsel', ['legal'], ['acme', 'initech']);
    await emit(
      Array.from({ length: 30 }, (_, i) => ({
        tenant: 'acme',
        type: i % 3 === 0 ? 'auth.login.failed' : 'support.ticket.opened',
        actor: { type: 'user', id: `u${i % 5}` },
        ...(i % 2 === 0 ? { target: { type: 'ticket', id: `t${i}` } } : {}),
        outcome: i % 3 === 0 ? 'failure' : 'success',
        ...(i % 10 === 1 ? { personal: { subject: 'subject-7', data: { email: `person${i}@example.com` } } } : {}),
      })),
    );
    await emit(
      Array.from({ length: 5 }, () => ({ tenant: 'globex', type: 'auth.logout', actor: { type: 'user', id: 'u1' } })),
    );
  });

  afterAll(async () => {
    await t.close();
    await dropTestDatabase(db);
  });

  // Every test starts at the real time; one that needs another moves the clock itself.
  beforeEach(() => {
    clock.offsetMs = 0;
  });

  describe('GET /v1/events', () => {
    it('filters on each member, combined, newest first', async () => {
      const all = await allPages({ tenant: 'acme', limit: 7 });
      expect(all).toHaveLength(30);
      expect(all.map((e) => e.index)).toEqual(Array.from({ length: 30 }, (_, i) => 29 - i));

      const byActor = (await search({ tenant: 'acme', actor: 'u2' })).items;
      expect(byActor.map((e: any) => e.index)).toEqual([27, 22, 17, 12, 7, 2]);
      const combined = (await search({ tenant: 'acme', actor: 'u2', type: 'auth.login.failed', outcome: 'failure' }))
        .items;
      expect(combined.map((e: any) => e.index)).toEqual([27, 12]);
      expect(
        (await search({ tenant: 'acme', category: 'support', target: 't4' })).items.map((e: any) => e.index),
      ).toEqual([4]);
      expect((await search({ tenant: 'acme', targetType: 'ticket', actorType: 'user' })).items).toHaveLength(15);
      expect((await search({ tenant: 'acme', source: 'console', limit: 1000 })).items).toHaveLength(30);
      expect((await search({ tenant: 'acme', source: 'billing' })).items).toHaveLength(0);
      const subject = (await search({ tenant: 'acme', subject: 'subject-7' })).items;
      expect(subject.map((e: any) => e.index)).toEqual([21, 11, 1]);
      expect(subject[0].personal).toMatchObject({ subject: 'subject-7', data: { email: 'person21@example.com' } });
      expect(subject[0]).toMatchObject({
        v: 1,
        log: 'acme',
        type: 'auth.login.failed',
        actor: { type: 'user', id: 'u1' },
      });
      expect(typeof subject[0].leafHash).toBe('string');
    });

    it('filters on a recordedAt range, from inclusive and to exclusive', async () => {
      const [later] = await emit([{ tenant: 'globex', type: 'auth.logout', actor: { type: 'user', id: 'late' } }]);
      const range = await search({ tenant: 'globex', from: later.recordedAt }, everywhere);
      expect(range.items.map((e: any) => e.id)).toEqual([later.id]);
      const before = await search({ tenant: 'globex', to: later.recordedAt }, everywhere);
      expect(before.items.map((e: any) => e.index)).toEqual([4, 3, 2, 1, 0]);
    });

    it('searches every tenant of the key when no tenant is named, and nothing else', async () => {
      const mine = await allPages({ actor: 'u1' });
      expect(new Set(mine.map((e) => e.log))).toEqual(new Set(['acme']));
      const all = await allPages({ actor: 'u1' }, everywhere);
      expect(new Set(all.map((e) => e.log))).toEqual(new Set(['acme', 'globex']));
      expect(await search({ tenant: 'globex' }, investigator, 404)).toMatchObject({
        statusCode: 404,
        code: 'not_found',
      });
    });

    it('pages without skipping or repeating an entry while new ones arrive', async () => {
      const seeded = await emit(
        Array.from({ length: 240 }, (_, i) => ({
          tenant: 'initech',
          type: 'deployment.updated',
          actor: { type: 'svc', id: `d${i % 4}` },
        })),
      );
      // Appends run the whole time the pages are read.
      let reading = true;
      let arrivals = 0;
      const appending = (async () => {
        while (reading) {
          await emit(
            Array.from({ length: 5 }, () => ({
              tenant: 'initech',
              type: 'deployment.updated',
              actor: { type: 'svc', id: 'new' },
            })),
          );
          arrivals++;
        }
      })();
      const pages = await allPages({ tenant: 'initech', limit: 17, type: 'deployment.updated' }, everywhere);
      reading = false;
      await appending;
      const ids = pages.map((e) => e.id);
      expect(new Set(ids).size).toBe(ids.length);
      for (const s of seeded) expect(ids).toContain(s.id);
      // Every page continues strictly older than the last: what arrived later is never in it.
      for (let i = 1; i < pages.length; i++) expect(pages[i].index).toBeLessThan(pages[i - 1].index);
      expect(arrivals).toBeGreaterThan(0);
    });

    it.each([
      [{ colour: 'red' }, '/query/colour'],
      [{ from: 'yesterday' }, '/query/from'],
      [{ from: '2026-13-45T00:00:00Z' }, '/query/from'],
      [{ from: '2026-11-27T10:00:00Z', to: '2026-11-27T09:00:00Z' }, '/query/to'],
      [{ limit: 0 }, '/query/limit'],
      [{ limit: 1001 }, '/query/limit'],
      [{ limit: 'ten' }, '/query/limit'],
      [{ outcome: 'maybe' }, '/query/outcome'],
      [{ tenant: 'Not A Tenant' }, '/query/tenant'],
      [{ cursor: 'garbage' }, '/query/cursor'],
    ])('refuses %j with 400 naming %s', async (query, path) => {
      const body = await search(query as Record<string, string>, investigator, 400);
      expect(body).toMatchObject({ statusCode: 400, error: 'Bad Request' });
      expect(body.details.map((d: { path: string }) => d.path)).toContain(path);
    });

    it('refuses a cursor used with other filters or another tenant', async () => {
      const { nextCursor } = await search({ tenant: 'acme', limit: 5 }, everywhere);
      expect(nextCursor).toEqual(expect.any(String));
      for (const other of [{ tenant: 'globex' }, { tenant: 'acme', actor: 'u1' }] as Record<string, string>[]) {
        const body = await search({ ...other, cursor: nextCursor }, everywhere, 400);
        expect(body.details[0]).toMatchObject({
          path: '/query/cursor',
          message: expect.stringContaining('another query'),
        });
      }
      await search({ tenant: 'acme', limit: 9, cursor: nextCursor }, everywhere);
    });

    it('records each search, with a subject filter beside the leaf rather than in it', async () => {
      await search({ tenant: 'acme', subject: 'subject-7', type: 'support.ticket.opened' });
      const record = (await platformEntries(db)).filter((e) => e.type === 'access.events.search').at(-1) as Record<
        string,
        any
      >;
      expect(record.context.filters).toEqual({ tenant: 'acme', type: 'support.ticket.opened' });
      expect(JSON.stringify(record.context)).not.toContain('subject-7');
      expect(record.personal).toEqual({ subject: 'subject-7', digest: expect.any(String) });
    });
  });

  describe('GET /v1/events/{id}', () => {
    it('answers the entry with an inclusion proof that verifies against the signed checkpoint', async () => {
      const [made] = await emit([{ tenant: 'acme', type: 'auth.logout', actor: { type: 'user', id: 'u9' } }]);
      const res = await t.http().get(`/v1/events/${made.id}`).set(auth(investigator)).expect(200);
      expect(res.body).toMatchObject({ id: made.id, log: 'acme', index: made.index, type: 'auth.logout' });
      const key = (await t.http().get('/v1/logs/acme/key').set(auth(investigator))).text.trim();
      const checkpoint = openCheckpoint(res.body.inclusion.checkpoint, parseVerifierKey(key));
      expect(checkpoint.size).toBe(res.body.inclusion.size);
      expect(checkpoint.size).toBeGreaterThan(made.index);
      const leaf = (
        await t
          .http()
          .get('/v1/logs/acme/proof/inclusion')
          .query({ index: made.index, size: checkpoint.size })
          .set(auth(investigator))
      ).body.leafHash;
      expect(res.body.leafHash).toBe(leaf);
      expect(() =>
        verifyInclusion(
          made.index,
          checkpoint.size,
          Buffer.from(leaf, 'base64'),
          res.body.inclusion.proof.map((p: string) => Buffer.from(p, 'base64')),
          checkpoint.rootHash,
        ),
      ).not.toThrow();
    });

    it("answers 404 for another tenant's entry, like a missing one, and 400 for a malformed id", async () => {
      const globexId = (await search({ tenant: 'globex' }, everywhere)).items[0].id;
      const foreign = await t.http().get(`/v1/events/${globexId}`).set(auth(investigator)).expect(404);
      const missing = await t
        .http()
        .get('/v1/events/01900000-0000-7000-8000-000000000000')
        .set(auth(investigator))
        .expect(404);
      expect(foreign.body).toEqual(missing.body);
      expect(missing.body).toMatchObject({ statusCode: 404, error: 'Not Found', code: 'event_not_found' });
      const bad = await t.http().get('/v1/events/not-an-id').set(auth(investigator)).expect(400);
      expect(bad.body.details[0].path).toBe('/params/id');
    });
  });

  describe('erasure and rebuild', () => {
    it('shows erased personal data as erased, keeps none in the read model, and rebuilds it identically', async () => {
      expect(await erase('acme', 'subject-7')).toBe('completed');
      const items = (await search({ tenant: 'acme', subject: 'subject-7' })).items;
      expect(items).toHaveLength(3);
      for (const item of items)
        expect(item.personal).toEqual({ subject: 'subject-7', digest: expect.any(String), erased: true });

      const client = await superuserClient(db);
      try {
        const dump = async () => (await client.query('SELECT * FROM event_search ORDER BY log, idx')).rows;
        // The erasure appended to the ledger after the search above; the projector catches up alone.
        await untilProjected(client);
        const before = await dump();
        expect(JSON.stringify(before)).not.toContain('@example.com');
        const io = { out: jest.fn(), err: jest.fn() };
        expect(
          await runCommandLine(
            ['search', 'rebuild'],
            {
              ...process.env,
              DATABASE_URL: db,
              AUDIT_SIGNING_KEY: testSigningKey(db),
              AUDIT_KEY_ENCRYPTION_KEY: testKeyEncryptionKey(db),
              AUDIT_PERSONAL_SEARCH_KEY: testPersonalSearchKey(db),
              LOG_LEVEL: 'silent',
            },
            io,
          ),
        ).toBe(0);
        expect(JSON.parse(io.out.mock.calls[0][0])).toMatchObject({ entries: before.length });
        expect(await dump()).toEqual(before);
      } finally {
        await client.end();
      }
    });
  });

  describe('GET /v1/exports', () => {
    let key: string;

    beforeAll(async () => {
      for (let b = 0; b < 3; b++) {
        await emit(
          Array.from({ length: 1000 }, (_, i) => ({
            tenant: 'initech',
            type: 'billing.invoice.paid',
            actor: { type: 'user', id: `payer${i % 7}` },
            context: { n: b * 1000 + i },
          })),
        );
      }
      // Its own erased subject, so the exports below do not rest on the erasure test above.
      await emit(
        Array.from({ length: 3 }, (_, i) => ({
          tenant: 'initech',
          type: 'auth.login.succeeded',
          actor: { type: 'user', id: 'subject-8' },
          personal: { subject: 'subject-8', data: { email: `subject-8.${i}@example.com` } },
        })),
      );
      expect(await erase('initech', 'subject-8')).toBe('completed');
      key = (await t.http().get('/v1/logs/initech/key').set(auth(everywhere))).text.trim();
    });

    const exportOf = async (query: Record<string, string>) =>
      await t.http().get('/v1/exports').query(query).set(auth(everywhere)).buffer(true).parse(text).expect(200);

    it('streams an NDJSON export of a few thousand entries that verifies offline against the key', async () => {
      const res = await exportOf({ tenant: 'initech' });
      expect(res.headers['content-type']).toContain('application/x-ndjson');
      const lines = (res.body as string).split('\n').filter((l) => l !== '');
      const header = JSON.parse(lines[0]);
      expect(header).toMatchObject({ v: 1, log: 'initech', key, count: lines.length - 1 });
      expect(lines.length - 1).toBeGreaterThan(3000);
      const report = await verifyExport(lines, { trustedKey: key });
      expect(report.problems).toEqual([]);
      expect(report).toMatchObject({
        ok: true,
        entries: lines.length - 1,
        verified: lines.length - 1,
        keyTrusted: true,
      });
      const first = JSON.parse(lines[1]);
      expect(leafHash(Buffer.from(first.leaf, 'base64')).toString('base64')).toEqual(expect.any(String));
    });

    it('exports a filter, with personal data or the erased marker, and the verifier names a tampered line', async () => {
      const filtered = await exportOf({ tenant: 'initech', actor: 'payer3' });
      const lines = (filtered.body as string).split('\n').filter((l) => l !== '');
      expect(JSON.parse(lines[0]).filter).toEqual({ tenant: 'initech', actor: 'payer3' });
      expect((await verifyExport(lines, { trustedKey: key })).ok).toBe(true);

      const erased = (await exportOf({ tenant: 'initech', subject: 'subject-8' })).body as string;
      const erasedLines = erased.split('\n').filter((l) => l !== '');
      expect(erasedLines.slice(1).map((l) => JSON.parse(l).personal)).toEqual([
        { erased: true },
        { erased: true },
        { erased: true },
      ]);
      expect(erased).not.toContain('@example.com');
      expect((await verifyExport(erasedLines, { trustedKey: key })).ok).toBe(true);

      const tampered = [...lines];
      const entry = JSON.parse(tampered[5]);
      const leaf = Buffer.from(entry.leaf, 'base64').toString('utf8').replace('"payer3"', '"payer4"');
      tampered[5] = JSON.stringify({ ...entry, leaf: Buffer.from(leaf).toString('base64') });
      const report = await verifyExport(tampered, { trustedKey: key });
      expect(report.ok).toBe(false);
      expect(report.firstBadLine).toBe(6);
      expect(report.problems[0]).toMatchObject({ line: 6, code: 'bad_proof' });
    });

    it('writes CSV with formula cells neutralised', async () => {
      await emit([
        {
          tenant: 'globex',
          type: 'support.ticket.opened',
          actor: { type: 'user', id: '=HYPERLINK("http://evil.example","x")' },
          context: { note: 'plain' },
        },
      ]);
      const res = await t
        .http()
        .get('/v1/exports')
        .query({ tenant: 'globex', format: 'csv' })
        .set(auth(everywhere))
        .buffer(true)
        .parse(text)
        .expect(200);
      expect(res.headers['content-type']).toContain('text/csv');
      const rows = (res.body as string).split('\r\n');
      expect(rows[0]).toBe(
        'index,id,recordedAt,occurredAt,source,type,category,actorType,actorId,targetType,targetId,outcome,subject,context,personal,leafHash',
      );
      const evil = rows.find((r) => r.includes('HYPERLINK')) as string;
      expect(evil).toContain(`"'=HYPERLINK(""http://evil.example"",""x"")"`);
      expect(evil).not.toMatch(/(^|,)=/);
    });

    it('requires a tenant, refuses unknown filters, and records the export', async () => {
      const exportRecords = async () => (await platformEntries(db)).filter((e) => e.type === 'access.exports');
      const before = (await exportRecords()).length;
      await exportOf({ tenant: 'globex', format: 'csv' });
      const missing = await t.http().get('/v1/exports').set(auth(everywhere)).expect(400);
      expect(missing.body.details[0].path).toBe('/query/tenant');
      await t.http().get('/v1/exports').query({ tenant: 'acme', colour: 'red' }).set(auth(everywhere)).expect(400);
      const foreign = await t.http().get('/v1/exports').query({ tenant: 'globex' }).set(auth(investigator)).expect(404);
      expect(foreign.body).toEqual({ statusCode: 404, error: 'Not Found', code: 'not_found', message: 'no such log' });
      // One record per export asked for, refused ones included, in order.
      const records = (await exportRecords()).slice(before);
      expect(records.map((r) => [r.outcome, r.target?.id, r.context.error])).toEqual([
        ['success', 'globex', undefined],
        ['failure', undefined, 'invalid_request'],
        ['failure', 'acme', 'invalid_request'],
        ['failure', 'globex', 'not_found'],
      ]);
    });
  });
});
