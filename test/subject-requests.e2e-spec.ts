import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeLeaf, leafHash } from '@audit/ledger';
import { runCommandLine } from '../src/command-line';
import { CommandBus } from '@nestjs/cqrs';
import { RebuildSubjectRequests } from '../src/privacy';
import { dueDateOf } from '../src/privacy/due-date';
import { MovableClock, TestApp, createKey, createPerson, platformEntries, startTestApp } from './support/test-app';
import { createTestDatabase, dropTestDatabase, superuserClient } from './support/test-database';

const auth = (key: string) => ({ authorization: `Bearer ${key}` });
const YEAR = 365.25 * 86_400_000;
const DAY = 86_400_000;
const TENANTS = ['acme', 'globex', 'initech'];

describe('subject requests (docs/api.md "Subject requests")', () => {
  let db: string;
  let t: TestApp;
  let dir: string;
  const clock = new MovableClock();
  let emitter: string;
  let investigator: string;
  let counsel: string;
  let counsel2: string;
  let narrow: string;
  let everywhere: string;

  async function emit(tenant: string, subject: string, data: object, n = 1): Promise<{ id: string; index: number }[]> {
    const events = Array.from({ length: n }, (_, i) => ({
      tenant,
      type: 'auth.login.succeeded',
      actor: { type: 'user', id: `actor-${i}` },
      personal: { subject, data: { ...data, attempt: i } },
    }));
    return (await t.http().post('/v1/events/batch').set(auth(emitter)).send({ events }).expect(201)).body.results;
  }

  async function submit(body: object, key = counsel, status = 202): Promise<Record<string, any>> {
    return (await t.http().post('/v1/subject-requests').set(auth(key)).send(body).expect(status)).body;
  }

  async function until(id: string, statuses: string[], key = counsel): Promise<Record<string, any>> {
    for (let i = 0; i < 400; i++) {
      const res = await t.http().get(`/v1/subject-requests/${id}`).set(auth(key)).expect(200);
      if (statuses.includes(res.body.status)) return res.body;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    throw new Error(`request ${id} did not reach ${statuses.join('/')}`);
  }

  async function leavesOf(log: string): Promise<Record<string, any>[]> {
    const client = await superuserClient(db);
    try {
      const { rows } = await client.query(
        "SELECT convert_from(leaf, 'UTF8') AS leaf FROM entries WHERE log = $1 ORDER BY idx",
        [log],
      );
      return rows.map((r: { leaf: string }) => JSON.parse(r.leaf));
    } finally {
      await client.end();
    }
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    t = await startTestApp(db, { AUDIT_DELETION_RECONCILE_MS: '200' }, { clock });
    dir = mkdtempSync(join(tmpdir(), 'audit-bundle-'));
    emitter = await createKey(t, 'auth-service', ['emitter'], TENANTS);
    investigator = await createKey(t, 'ivan', ['investigator'], ['*']);
    counsel = await createKey(t, 'alice-legal', ['legal'], TENANTS);
    counsel2 = await createKey(t, 'bob-legal', ['legal'], TENANTS);
    narrow = await createKey(t, 'carol-legal', ['legal'], ['acme']);
    everywhere = (await createPerson(t, 'dora-legal', ['legal'], ['*'])).key;
  });

  afterAll(async () => {
    await t.close();
    await dropTestDatabase(db);
    rmSync(dir, { recursive: true, force: true });
  });

  beforeEach(() => {
    clock.offsetMs = 0;
  });

  it('access: a bundle of every entry about the subject across three tenants, verified offline, with no one else’s data', async () => {
    for (const tenant of TENANTS) {
      await emit(tenant, 'subject-a', { email: `a@${tenant}.example` }, 2);
      await emit(tenant, 'subject-b', { email: `b@${tenant}.example` }, 2);
    }
    const received = await submit({ kind: 'access', subject: 'subject-a', tenants: TENANTS, reason: 'ticket 101' });
    expect(received).toMatchObject({ kind: 'access', status: 'received', overdue: false, tenants: TENANTS });
    const res = await t.http().get(`/v1/subject-requests/${received.id}/bundle`).set(auth(counsel)).expect(200);
    expect(res.headers['content-type']).toContain('application/x-ndjson');
    const text = res.text;
    expect(text).not.toContain('b@');
    expect(text).not.toContain('subject-b');
    const headers = text
      .split('\n')
      .filter((line) => line.startsWith('{"v":'))
      .map((line) => JSON.parse(line));
    expect(headers.map((h) => [h.log, h.count])).toEqual(TENANTS.map((tenant) => [tenant, 2]));

    const file = join(dir, 'bundle.ndjson');
    writeFileSync(file, text);
    const key = (await t.http().get('/v1/logs/acme/key').set(auth(investigator))).text.trim();
    let out = '';
    const io = { out: (s: string) => void (out += s), err: () => undefined };
    expect(await runCommandLine(['verify-export', file, '--key', key], {}, io)).toBe(0);
    expect(JSON.parse(out)).toMatchObject({ ok: true, logs: TENANTS, entries: 6, verified: 6, keyTrusted: true });

    // A tampered bundle fails, naming the line.
    const lines = text.split('\n');
    lines[lines.length - 2] = lines[lines.length - 2].replace('"index":', '"index":1');
    writeFileSync(file, lines.join('\n'));
    expect(
      await runCommandLine(['verify-export', file, '--key', key], {}, { out: () => undefined, err: () => undefined }),
    ).toBe(1);

    expect(await until(received.id, ['completed'])).toMatchObject({ status: 'completed', overdue: false });
    // Reading a bundle is itself a recorded read.
    const reads = (await platformEntries(db)).filter((e) => e.type === 'access.subjects.bundle');
    expect(reads).toHaveLength(1);
  });

  it('access over every tenant ("*") also brings the platform log’s records of reads that named the subject', async () => {
    await emit('acme', 'subject-s', { email: 's@acme.example' });
    await t
      .http()
      .get('/v1/events')
      .query({ tenant: 'acme', subject: 'subject-s' })
      .set(auth(investigator))
      .expect(200);
    const { id } = await submit(
      { kind: 'access', subject: 'subject-s', tenants: ['*'], reason: 'ticket 102' },
      everywhere,
    );
    const text = (await t.http().get(`/v1/subject-requests/${id}/bundle`).set(auth(everywhere)).expect(200)).text;
    const headers = text
      .split('\n')
      .filter((line) => line.startsWith('{"v":'))
      .map((line) => JSON.parse(line));
    expect(headers.map((h) => h.log)).toEqual(expect.arrayContaining(['acme', 'platform']));
    const platform = text
      .split('\n')
      .filter((line) => line.startsWith('{"index"'))
      .map((line) => JSON.parse(line));
    const types = platform.map((line) => JSON.parse(Buffer.from(line.leaf, 'base64').toString('utf8')).type);
    expect(types).toContain('access.events.search');
    expect(types).toContain('privacy.request.received');
  });

  it('refuses tenants outside the key’s scope, and "*" without a "*" scope; others’ requests look missing', async () => {
    const outside = await submit(
      { kind: 'access', subject: 'subject-a', tenants: ['acme', 'globex'], reason: 'x' },
      narrow,
      403,
    );
    expect(outside.code).toBe('tenant_out_of_scope');
    expect((await submit({ kind: 'erasure', subject: 's', tenants: ['*'], reason: 'x' }, counsel, 403)).code).toBe(
      'tenant_out_of_scope',
    );
    const { id } = await submit({ kind: 'access', subject: 'subject-a', tenants: ['globex'], reason: 'x' });
    expect((await t.http().get(`/v1/subject-requests/${id}`).set(auth(narrow)).expect(404)).body.code).toBe(
      'subject_request_not_found',
    );
    const listed = (await t.http().get('/v1/subject-requests').set(auth(narrow)).expect(200)).body.items;
    expect(listed.map((r: { id: string }) => r.id)).not.toContain(id);
    expect(
      (await submit({ kind: 'access', subject: 's', tenants: ['nowhere'], reason: 'x' }, everywhere, 422)).code,
    ).toBe('unknown_tenant');
  });

  it('refuses a reason carrying personal data: it would be written into an entry nothing can erase', async () => {
    const before = (await t.http().get('/v1/subject-requests').set(auth(counsel)).expect(200)).body.items.length;
    const refused = await submit(
      { kind: 'access', subject: 'subject-a', tenants: ['acme'], reason: 'asked by jane.doe@example.com' },
      counsel,
      422,
    );
    expect(refused.code).toBe('personal_data_outside');
    expect(JSON.stringify(refused)).not.toContain('jane.doe@example.com');
    expect((await t.http().get('/v1/subject-requests').set(auth(counsel)).expect(200)).body.items).toHaveLength(before);
  });

  it('rectification: a correction entry names the original, which never changes and shows where it is corrected', async () => {
    const [original] = await emit('acme', 'subject-r', { email: 'old@acme.example' });
    const originalLeaf = (await leavesOf('acme'))[original.index];
    const wrong = await submit(
      {
        kind: 'rectification',
        subject: 'someone-else',
        tenants: ['acme'],
        reason: 'ticket 103',
        corrects: { log: 'acme', index: original.index },
        data: { email: 'new@acme.example' },
      },
      counsel,
      422,
    );
    expect(wrong.code).toBe('corrected_entry_other_subject');
    const done = await submit({
      kind: 'rectification',
      subject: 'subject-r',
      tenants: ['acme'],
      reason: 'ticket 103',
      corrects: { log: 'acme', index: original.index },
      data: { email: 'new@acme.example' },
    });
    expect(done).toMatchObject({ status: 'completed', correction: { log: 'acme', index: expect.any(Number) } });
    const leaves = await leavesOf('acme');
    const correction = leaves[done.correction.index];
    expect(correction).toMatchObject({
      type: 'audit.correction',
      category: 'privacy',
      source: 'audit-trail',
      target: { type: 'event', id: original.id },
      personal: { subject: 'subject-r' },
      context: { corrects: { log: 'acme', index: original.index } },
    });
    const client = await superuserClient(db);
    try {
      const { rows } = await client.query('SELECT leaf FROM entries WHERE log = $1 AND idx = $2', [
        'acme',
        original.index,
      ]);
      expect(correction.context.corrects.leafHash).toBe(leafHash(rows[0].leaf).toString('base64'));
      expect(decodeLeaf(rows[0].leaf)).toEqual(originalLeaf);
    } finally {
      await client.end();
    }
    const read = (await t.http().get(`/v1/events/${original.id}`).set(auth(investigator)).expect(200)).body;
    expect(read.corrections).toEqual([{ log: 'acme', index: done.correction.index }]);
    expect(read.personal.data).toEqual({ email: 'old@acme.example', attempt: 0 });
    const fixed = (await t.http().get(`/v1/events/${correction.id}`).set(auth(investigator)).expect(200)).body;
    expect(fixed.personal.data).toEqual({ email: 'new@acme.example' });
  });

  it('erasure: one deletion request per tenant; a hold blocks its tenant alone, named, until released', async () => {
    clock.offsetMs = 30 * YEAR; // past every retention minimum: only the hold blocks
    await emit('acme', 'subject-e', { email: 'e@acme.example' }, 2);
    await emit('globex', 'subject-e', { email: 'e@globex.example' }, 2);
    const { body: hold } = await t
      .http()
      .post('/v1/holds')
      .set(auth(counsel))
      .send({ tenant: 'globex', matter: 'MAT-9', scope: { subjects: ['subject-e'] } })
      .expect(201);
    const received = await submit({
      kind: 'erasure',
      subject: 'subject-e',
      tenants: ['acme', 'globex'],
      reason: 'ticket 104',
    });
    expect(received.parts.map((p: { tenant: string }) => p.tenant)).toEqual(['acme', 'globex']);
    // Due one calendar month after receipt (src/privacy/due-date.spec.ts has the month ends).
    expect(received.dueAt).toBe(dueDateOf(new Date(received.receivedAt)).toISOString());
    const blocked = await until(received.id, ['partially_blocked', 'completed', 'blocked']);
    expect(blocked).toMatchObject({
      status: 'partially_blocked',
      overdue: false,
      parts: [
        { tenant: 'acme', status: 'completed' },
        { tenant: 'globex', status: 'blocked', blockedBy: [{ kind: 'hold', id: hold.id }] },
      ],
    });
    const listed = await t.http().get('/v1/subject-requests').query({ status: 'partially_blocked' }).set(auth(counsel));
    expect(listed.body.items.map((r: { id: string }) => r.id)).toEqual([received.id]);

    // Past its due date and still not completed: overdue.
    clock.offsetMs += 32 * DAY;
    expect((await until(received.id, ['partially_blocked'])).overdue).toBe(true);

    await t.http().post(`/v1/holds/${hold.id}/release`).set(auth(counsel)).send({ reason: 'closed' }).expect(202);
    await t.http().post(`/v1/holds/${hold.id}/release`).set(auth(counsel2)).send({ reason: 'closed' }).expect(200);
    expect(await until(received.id, ['completed'])).toMatchObject({
      status: 'completed',
      overdue: false,
      parts: [
        { tenant: 'acme', status: 'completed' },
        { tenant: 'globex', status: 'completed' },
      ],
    });
  });

  it('erasure over every tenant ("*") opens a part for every log, the platform log included', async () => {
    clock.offsetMs = 30 * YEAR; // past every retention minimum, the service's own records' too
    await emit('initech', 'subject-x', { email: 'x@initech.example' });
    await t.http().get('/v1/events').query({ subject: 'subject-x' }).set(auth(investigator)).expect(200);
    const received = await submit(
      { kind: 'erasure', subject: 'subject-x', tenants: ['*'], reason: 'ticket 105' },
      everywhere,
    );
    expect(received.parts.map((p: { tenant: string }) => p.tenant).sort()).toEqual([...TENANTS, 'platform'].sort());
    const done = await until(received.id, ['completed'], everywhere);
    expect(done.parts.every((p: { status: string }) => p.status === 'completed')).toBe(true);
    // The record of the read that named the subject keeps its leaf, not the subject's filter.
    const item = (
      await t
        .http()
        .get('/v1/events')
        .query({ tenant: 'platform', subject: 'subject-x', type: 'access.events.search' })
        .set(auth(investigator))
        .expect(200)
    ).body.items[0];
    expect(item.personal).toMatchObject({ subject: 'subject-x', erased: true });
  });

  it('the projection is rebuilt from the ledger alone, as it was', async () => {
    const client = await superuserClient(db);
    try {
      const rows = async () =>
        (
          await client.query(
            'SELECT id, kind, subject, tenants, status, received_at, due_at, state, version FROM subject_requests ORDER BY id',
          )
        ).rows;
      const live = await rows();
      expect(live.length).toBeGreaterThanOrEqual(5);
      await client.query('DELETE FROM subject_requests');
      const rebuilt = await t.app.get(CommandBus).execute(new RebuildSubjectRequests());
      expect(rebuilt.requests).toBe(live.length);
      expect(await rows()).toEqual(live);
    } finally {
      await client.end();
    }
  });

  it('no privacy entry carries the subject or its data in its leaf, only in its personal part', async () => {
    const subjects = ['subject-a', 'subject-s', 'subject-r', 'subject-e', 'subject-x', 'someone-else'];
    const entries = [...(await platformEntries(db)), ...(await leavesOf('acme')), ...(await leavesOf('globex'))].filter(
      (e) => e.category === 'privacy',
    );
    expect(entries.map((e) => e.type)).toEqual(
      expect.arrayContaining([
        'privacy.request.received',
        'privacy.access.delivered',
        'privacy.erasure.parts_opened',
        'privacy.rectification.corrected',
        'audit.correction',
      ]),
    );
    for (const entry of entries) {
      const { personal, ...leaf } = entry;
      expect(subjects).toContain(personal.subject);
      const text = JSON.stringify(leaf);
      for (const subject of subjects) expect(text).not.toContain(subject);
      expect(text).not.toContain('@acme.example');
    }
  });
});
