import request from 'supertest';
import { TestApp, createKey, startTestApp } from './support/test-app';
import { createTestDatabase, dropTestDatabase, superuserClient } from './support/test-database';

/**
 * The input rule at the edge of every route (docs/api.md "Input rule"): what PostgreSQL cannot
 * store unchanged, what is not UTF-8, duplicate or reserved member names and impossible dates are
 * refused with the field's JSON pointer, and nothing is written.
 */

const good = (tenant = 'acme') => ({ tenant, type: 'auth.login.succeeded', actor: { type: 'user', id: 'u1' } });
const auth = (key: string) => ({ authorization: `Bearer ${key}` });
const NUL = '\u0000';

describe('the input rule', () => {
  let db: string;
  let t: TestApp;
  let emitter: string;
  let investigator: string;
  let legal: string;
  let holdId: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    t = await startTestApp(db);
    emitter = await createKey(t, 'auth-service', ['emitter'], ['acme']);
    investigator = await createKey(t, 'secops', ['investigator'], ['acme']);
    legal = await createKey(t, 'counsel', ['legal', 'admin'], ['acme']);
    await t.http().post('/v1/events').set(auth(emitter)).send(good()).expect(201);
    holdId = (
      await t.http().post('/v1/holds').set(auth(legal)).send({ tenant: 'acme', matter: 'MAT-1', scope: {} }).expect(201)
    ).body.id;
  });

  afterAll(async () => {
    await t.close();
    await dropTestDatabase(db);
  });

  async function counts(): Promise<{ entries: number; keys: number; holds: number; deletions: number }> {
    const client = await superuserClient(db);
    try {
      const { rows } = await client.query(
        'SELECT (SELECT count(*) FROM entries)::int AS entries, (SELECT count(*) FROM api_keys)::int AS keys, (SELECT count(*) FROM holds)::int AS holds, (SELECT count(*) FROM deletion_requests)::int AS deletions',
      );
      return rows[0];
    } finally {
      await client.end();
    }
  }

  /** A JSON body sent as these exact characters (supertest would re-serialise an object). */
  const raw = (
    method: 'post' | 'put',
    path: string,
    key: string,
    text: string | Buffer,
    contentType = 'application/json',
  ) =>
    t
      .http()
      [method](path)
      .set(auth(key))
      .set('content-type', contentType)
      .serialize((body: unknown) => body as string)
      .send(text as string);
  const post = (path: string, key: string, body: unknown) =>
    t
      .http()
      .post(path)
      .set(auth(key))
      .send(body as object);
  const get = (path: string, key = investigator) => t.http().get(path).set(auth(key));

  const bodyCases: [string, () => request.Test, number, string, string][] = [
    [
      'U+0000 in a context value',
      () => post('/v1/events', emitter, { ...good(), context: { k: `a${NUL}b` } }),
      400,
      'invalid_request',
      '/context/k',
    ],
    [
      'U+0000 in a context member name',
      () => post('/v1/events', emitter, { ...good(), context: { [`k${NUL}`]: 'v' } }),
      400,
      'invalid_request',
      '/context',
    ],
    [
      'U+0000 in actor.id',
      () => post('/v1/events', emitter, { ...good(), actor: { type: 'user', id: `u${NUL}` } }),
      400,
      'invalid_request',
      '/actor/id',
    ],
    [
      'U+0000 in personal.data',
      () => post('/v1/events', emitter, { ...good(), personal: { subject: 's1', data: { email: `a${NUL}@x` } } }),
      400,
      'invalid_request',
      '/personal/data/email',
    ],
    [
      'U+0000 in personal.subject',
      () => post('/v1/events', emitter, { ...good(), personal: { subject: `s${NUL}`, data: {} } }),
      400,
      'invalid_request',
      '/personal/subject',
    ],
    [
      'U+0000 in one event of a batch',
      () => post('/v1/events/batch', emitter, { events: [good(), { ...good(), context: { deep: [{ x: NUL }] } }] }),
      400,
      'invalid_request',
      '/events/1/context/deep/0/x',
    ],
    [
      'an escaped lone surrogate',
      () => raw('post', '/v1/holds', legal, '{"tenant":"acme","matter":"M\\ud800","scope":{}}'),
      400,
      'invalid_request',
      '/matter',
    ],
    [
      'an escaped lone low surrogate in a member name',
      () => raw('post', '/v1/holds', legal, '{"tenant":"acme","matter":"M","scope":{},"\\udc00":1}'),
      400,
      'invalid_request',
      '',
    ],
    [
      'invalid UTF-8 bytes in a string',
      () =>
        raw(
          'post',
          '/v1/events',
          emitter,
          Buffer.concat([
            Buffer.from(JSON.stringify(good()).replace(/}$/, ',"context":{"k":"')),
            Buffer.from([0xc3, 0x28, 0xff]),
            Buffer.from('"}}'),
          ]),
        ),
      400,
      'invalid_request',
      '',
    ],
    [
      'a UTF-8 encoded surrogate (CESU-8)',
      () =>
        raw(
          'post',
          '/v1/events',
          emitter,
          Buffer.concat([
            Buffer.from(JSON.stringify(good()).replace(/}$/, ',"context":{"k":"')),
            Buffer.from([0xed, 0xa0, 0x80]),
            Buffer.from('"}}'),
          ]),
        ),
      400,
      'invalid_request',
      '',
    ],
    [
      'charset=iso-8859-1',
      () => raw('post', '/v1/events', emitter, JSON.stringify(good()), 'application/json; charset=iso-8859-1'),
      415,
      'unsupported_media_type',
      '',
    ],
    [
      'a duplicate member name',
      () =>
        raw(
          'post',
          '/v1/events',
          emitter,
          '{"tenant":"globex","tenant":"acme","type":"auth.logout","actor":{"type":"user","id":"u1"}}',
        ),
      400,
      'invalid_request',
      '/tenant',
    ],
    [
      'a duplicate member name deep inside',
      () => raw('post', '/v1/events', emitter, JSON.stringify(good()).replace(/}$/, ',"context":{"a":{"b":1,"b":2}}}')),
      400,
      'invalid_request',
      '/context/a/b',
    ],
    [
      'a __proto__ member',
      () =>
        raw(
          'post',
          '/v1/events',
          emitter,
          JSON.stringify(good()).replace(/}$/, ',"context":{"__proto__":{"admin":true}}}'),
        ),
      400,
      'invalid_request',
      '/context/__proto__',
    ],
    [
      'a constructor.prototype member',
      () =>
        raw(
          'post',
          '/v1/events',
          emitter,
          JSON.stringify(good()).replace(/}$/, ',"context":{"constructor":{"prototype":{}}}}'),
        ),
      400,
      'invalid_request',
      '/context/constructor/prototype',
    ],
    [
      'February 30th',
      () => post('/v1/events', emitter, { ...good(), occurredAt: '2024-02-30T00:00:00Z' }),
      400,
      'invalid_request',
      '/occurredAt',
    ],
    [
      'year 0000',
      () => post('/v1/events', emitter, { ...good(), occurredAt: '0000-06-01T00:00:00Z' }),
      400,
      'invalid_request',
      '/occurredAt',
    ],
    [
      'a time before year 0001 in UTC',
      () => post('/v1/events', emitter, { ...good(), occurredAt: '0001-01-01T00:30:00+01:00' }),
      400,
      'invalid_request',
      '/occurredAt',
    ],
    [
      'hour 24',
      () => post('/v1/events', emitter, { ...good(), occurredAt: '2024-01-01T24:00:00Z' }),
      400,
      'invalid_request',
      '/occurredAt',
    ],
    [
      'U+0000 in a hold matter',
      () => post('/v1/holds', legal, { tenant: 'acme', matter: `M${NUL}`, scope: {} }),
      400,
      'invalid_request',
      '/matter',
    ],
    [
      'U+0000 in hold subjects',
      () => post('/v1/holds', legal, { tenant: 'acme', matter: 'M', scope: { subjects: ['ok', NUL] } }),
      400,
      'invalid_request',
      '/scope/subjects/1',
    ],
    [
      'an impossible hold window',
      () => post('/v1/holds', legal, { tenant: 'acme', matter: 'M', scope: { from: '2023-02-29T00:00:00Z' } }),
      400,
      'invalid_request',
      '/scope/from',
    ],
    [
      'an impossible amended window',
      () => post(`/v1/holds/${holdId}/amend`, legal, { scope: { to: '2024-04-31T00:00:00Z' }, reason: 'r' }),
      400,
      'invalid_request',
      '/scope/to',
    ],
    [
      'U+0000 in a release reason',
      () => post(`/v1/holds/${holdId}/release`, legal, { reason: `r${NUL}` }),
      400,
      'invalid_request',
      '/reason',
    ],
    [
      'an impossible check time',
      () => post('/v1/holds/check', emitter, { tenant: 'acme', at: '2023-02-29T00:00:00Z' }),
      400,
      'invalid_request',
      '/at',
    ],
    [
      'U+0000 in a deletion subject',
      () =>
        post('/v1/deletion-requests', legal, {
          kind: 'subject_erasure',
          tenant: 'acme',
          subject: `s${NUL}`,
          reason: 'r',
        }),
      400,
      'invalid_request',
      '/subject',
    ],
    [
      'U+0000 in a deletion reason',
      () => post('/v1/deletion-requests', legal, { kind: 'tenant_closure', tenant: 'acme', reason: `r${NUL}` }),
      400,
      'invalid_request',
      '/reason',
    ],
    [
      'a duplicate member in a key request',
      () => raw('post', '/v1/keys', legal, '{"name":"x","roles":["emitter"],"roles":["admin"],"tenants":["acme"]}'),
      400,
      'invalid_request',
      '/roles',
    ],
    [
      'an impossible key expiry',
      () =>
        post('/v1/keys', legal, {
          name: 'x',
          roles: ['emitter'],
          tenants: ['acme'],
          expiresAt: '2999-02-29T00:00:00Z',
        }),
      400,
      'invalid_request',
      '/expiresAt',
    ],
  ];

  it.each(bodyCases)('refuses %s, naming the path, and writes nothing', async (_name, call, status, code, path) => {
    const before = await counts();
    const res = await call();
    expect(res.status).toBe(status);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.body).toMatchObject({
      statusCode: status,
      error: expect.any(String),
      code,
      message: expect.any(String),
    });
    if (status === 400) expect(res.body.details).toEqual([expect.objectContaining({ path })]);
    // The message names the field, never the value sent.
    expect(JSON.stringify(res.body)).not.toMatch(/\\u0000|\\ud800|globex|MAT|2024-02-30/);
    expect(await counts()).toEqual(before);
  });

  it('refuses a U+0000 in a retention policy change and in its path parameter', async () => {
    const admin = auth(t.adminKey);
    const before = await counts();
    const body = { minDays: 400, maxDays: null, mode: 'governance', reason: `r${NUL}` };
    const res = await t.http().put('/v1/retention-policies/auth').set(admin).send(body).expect(400);
    expect(res.body.details).toEqual([expect.objectContaining({ path: '/reason' })]);
    const param = await t
      .http()
      .put('/v1/retention-policies/au%00th')
      .set(admin)
      .send({ ...body, reason: 'r' })
      .expect(400);
    expect(param.body).toMatchObject({ code: 'invalid_request', details: [{ path: '/params/category' }] });
    expect(await counts()).toEqual(before);
  });

  // A string PostgreSQL cannot store is refused before the read is recorded (the record would hold
  // it); an impossible date is refused by the route, and that refused read is recorded as usual.
  const queryCases: [string, string, string, number][] = [
    ['U+0000 in a search filter', '/v1/events?tenant=acme&actor=%00', '/query/actor', 0],
    ['invalid UTF-8 in a search filter', '/v1/events?tenant=acme&actor=%ff', '/query/actor', 0],
    ['an encoded surrogate in a search filter', '/v1/events?tenant=acme&type=%ed%a0%80', '/query/type', 0],
    ['U+0000 in an export filter', '/v1/exports?tenant=acme&subject=a%00', '/query/subject', 0],
    ['U+0000 in a path parameter', '/v1/events/0190%00', '/params/id', 0],
    ['U+0000 in a log name', '/v1/logs/ac%00me/checkpoint', '/params/log', 0],
    [
      'an export from before year 0001 in UTC',
      '/v1/exports?tenant=acme&from=0001-01-01T00:30:00%2B01:00',
      '/query/from',
      1,
    ],
    ['year 0000 in a search', '/v1/events?tenant=acme&to=0000-01-01T00:00:00Z', '/query/to', 1],
  ];

  it.each(queryCases)('refuses %s, naming the parameter', async (_name, path, pointer, records) => {
    const before = await counts();
    const res = await get(path);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({
      statusCode: 400,
      code: 'invalid_request',
      details: [{ path: pointer, message: expect.any(String) }],
    });
    expect(await counts()).toEqual({ ...before, entries: before.entries + records });
  });

  it('authenticates first: a bad body or query without a valid key is 401', async () => {
    const dup = '{"tenant":"acme","tenant":"acme","type":"auth.logout","actor":{"type":"user","id":"u1"}}';
    expect(
      (await t.http().post('/v1/events').set('content-type', 'application/json').send('{"tenant":')).body,
    ).toMatchObject({ statusCode: 401, code: 'unauthenticated' });
    expect((await t.http().post('/v1/events').set('content-type', 'application/json').send(dup)).body).toMatchObject({
      statusCode: 401,
      code: 'unauthenticated',
    });
    expect(
      (await t.http().post('/v1/events').set('content-type', 'application/json; charset=latin1').send('{}')).body,
    ).toMatchObject({ statusCode: 401, code: 'unauthenticated' });
    expect((await t.http().get('/v1/events?actor=%00')).body).toMatchObject({
      statusCode: 401,
      code: 'unauthenticated',
    });
    expect(
      (
        await t
          .http()
          .post('/v1/events')
          .set(auth(investigator))
          .send({ ...good(), context: { k: NUL } })
      ).body,
    ).toMatchObject({ statusCode: 403, code: 'forbidden' });
  });

  it('answers DELETE on the ledger with 401 without a key, and 409 with one', async () => {
    for (const path of [
      '/v1/logs/acme',
      '/v1/logs/acme/entries/0',
      '/v1/events/01890000-0000-7000-8000-000000000000',
    ]) {
      expect((await t.http().delete(path)).body).toMatchObject({ statusCode: 401, code: 'unauthenticated' });
      expect((await t.http().delete(path).set(auth(investigator))).body).toMatchObject({
        statusCode: 409,
        code: 'ledger_immutable',
      });
    }
  });

  it("answers DELETE on another tenant's log exactly as on its own or a missing one: nothing to learn", async () => {
    const globexEmitter = await createKey(t, 'globex-service', ['emitter'], ['globex']);
    await t.http().post('/v1/events').set(auth(globexEmitter)).send(good('globex')).expect(201);
    const answers = await Promise.all(
      ['/v1/logs/acme', '/v1/logs/globex', '/v1/logs/nosuchlog'].map(
        async (path) => (await t.http().delete(path).set(auth(investigator)).expect(409)).body,
      ),
    );
    expect(answers[1]).toEqual(answers[0]);
    expect(answers[2]).toEqual(answers[0]);
  });

  it('never counts a refused release request as an approval: one insider cannot pre-approve with a bad body', async () => {
    const otherLegal = await createKey(t, 'counsel-2', ['legal'], ['acme']);
    const hold = (await post('/v1/holds', legal, { tenant: 'acme', matter: 'MAT-2', scope: {} }).expect(201)).body
      .id as string;
    await post(`/v1/holds/${hold}/release`, legal, { reason: `r${NUL}` }).expect(400);
    await raw('post', `/v1/holds/${hold}/release`, legal, '{"reason":"a","reason":"b"}').expect(400);
    await raw(
      'post',
      `/v1/holds/${hold}/release`,
      legal,
      Buffer.from([0x7b, 0x22, 0x72, 0x65, 0x61, 0x73, 0x6f, 0x6e, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]),
    ).expect(400);
    const pending = await post(`/v1/holds/${hold}/release`, otherLegal, { reason: 'matter closed' }).expect(202);
    expect(pending.body).toMatchObject({ status: 'release_pending', approvals: 1, required: 2 });
    expect((await get(`/v1/holds/${hold}`, legal).expect(200)).body.status).toBe('active');
  });

  it('names deletion, not holds, when a deletion request is outside the key scope', async () => {
    const res = await post('/v1/deletion-requests', legal, {
      kind: 'subject_erasure',
      tenant: 'globex',
      subject: 's',
      reason: 'r',
    }).expect(403);
    expect(res.body.code).toBe('tenant_out_of_scope');
    expect(res.body.message).not.toMatch(/hold/);
    expect(res.body.message).toMatch(/deletion/);
  });

  it('answers 415 and 431 with a code like every other error', async () => {
    const xml = await t
      .http()
      .post('/v1/events')
      .set(auth(emitter))
      .set('content-type', 'application/xml')
      .send('<a/>');
    expect(xml.status).toBe(415);
    expect(xml.body).toMatchObject({
      statusCode: 415,
      error: 'Unsupported Media Type',
      code: 'unsupported_media_type',
      message: expect.any(String),
    });
    const huge = await t
      .http()
      .get('/health')
      .set('x-padding', 'x'.repeat(64 * 1024));
    expect(huge.status).toBe(431);
    expect(huge.body).toMatchObject({
      statusCode: 431,
      error: 'Request Header Fields Too Large',
      code: 'headers_too_large',
      message: expect.any(String),
    });
  });

  it('keeps what is valid exactly: escapes, astral characters, UTF-8 charset, leap days and offsets', async () => {
    const text = JSON.stringify(good()).replace(
      /}$/,
      ',"occurredAt":"2024-02-29T23:30:00.1234-01:00","context":{"e\\u0301":"\\ud83d\\ude00 caf\u00e9 \\u0007"}}',
    );
    const res = await raw('post', '/v1/events', emitter, text, 'application/json; charset=UTF-8').expect(201);
    const item = (await get(`/v1/events/${res.body.id}`).expect(200)).body;
    expect(item.occurredAt).toBe('2024-03-01T00:30:00.123Z');
    expect(item.context).toEqual({ 'e\u0301': '\u{1F600} caf\u00e9 \u0007' });
    await t
      .http()
      .post('/v1/events')
      .set(auth(emitter))
      .send({ ...good(), occurredAt: '0001-01-01T00:00:00Z' })
      .expect(201);
    await t
      .http()
      .post('/v1/events')
      .set(auth(emitter))
      .send({ ...good(), occurredAt: '9999-12-31T23:59:59.999Z' })
      .expect(201);
    await get('/v1/events?tenant=acme&actor=u1&from=2024-02-29T00:00:00%2B01:00').expect(200);
  });
});
