import { TestApp, createKey, startTestApp } from './support/test-app';
import { createTestDatabase, dropTestDatabase, superuserClient } from './support/test-database';

/**
 * The personal-data guard at ingestion (docs/api.md "Personal data outside `personal`"): what looks
 * like personal data outside `personal` never reaches a leaf, unless the type declares the field
 * not personal; in report mode it is accepted, counted and logged without its value.
 */
const auth = (key: string) => ({ authorization: `Bearer ${key}` });
const login = (extra: Record<string, unknown> = {}) => ({
  tenant: 'acme',
  type: 'auth.login.failed',
  actor: { type: 'user', id: 'usr_42' },
  outcome: 'failure',
  context: { method: 'password', attempts: 3 },
  ...extra,
});

async function entriesOf(db: string, log: string): Promise<number> {
  const client = await superuserClient(db);
  try {
    return (await client.query('SELECT count(*)::int AS n FROM entries WHERE log = $1', [log])).rows[0].n as number;
  } finally {
    await client.end();
  }
}

describe('personal data outside personal: enforced (the default)', () => {
  let db: string;
  let t: TestApp;
  let emitter: string;
  let counsel: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    t = await startTestApp(db);
    emitter = await createKey(t, 'auth-service', ['emitter'], ['acme']);
    counsel = await createKey(t, 'counsel', ['legal'], ['acme']);
    await t.http().post('/v1/events').set(auth(emitter)).send(login()).expect(201);
  });

  afterAll(async () => {
    await t.close();
    await dropTestDatabase(db);
  });

  it('refuses an IP address in context with 422 naming the field, and appends nothing', async () => {
    const before = await entriesOf(db, 'acme');
    const res = await t
      .http()
      .post('/v1/events')
      .set(auth(emitter))
      .send(login({ context: { method: 'password', origin: { via: ['proxy', '192.0.2.10'] } } }))
      .expect(422);
    expect(res.body).toMatchObject({
      code: 'personal_data_outside',
      details: [{ path: '/context/origin/via/1', message: expect.stringMatching(/IP address.*personal\.data/) }],
    });
    expect(res.body.message).toMatch(/^\/context\/origin\/via\/1 looks like an IP address: .*personal\.data/);
    expect(JSON.stringify(res.body)).not.toContain('192.0.2.10');
    expect(await entriesOf(db, 'acme')).toBe(before);
  });

  it('refuses a batch whole when one item carries an email as target id, naming its path', async () => {
    const before = await entriesOf(db, 'acme');
    const res = await t
      .http()
      .post('/v1/events/batch')
      .set(auth(emitter))
      .send({
        events: [
          login(),
          { ...login(), type: 'admin.user.suspended', target: { type: 'user', id: 'ada@example.com' }, context: {} },
        ],
      })
      .expect(422);
    expect(res.body.code).toBe('personal_data_outside');
    expect(res.body.details.map((d: { path: string }) => d.path)).toEqual(['/events/1/target/id']);
    expect(await entriesOf(db, 'acme')).toBe(before);
  });

  it('refuses an email as actor id or as personal.subject, and a field the type declares personal', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [login({ actor: { type: 'user', id: 'ada@example.com' } }), '/actor/id'],
      [login({ personal: { subject: 'ada@example.com', data: {} } }), '/personal/subject'],
      // `userAgent` is declared personal for auth.login.*: refused in context whatever it holds.
      [login({ context: { method: 'password', userAgent: 'Mozilla/5.0' } }), '/context/userAgent'],
    ];
    for (const [body, path] of cases) {
      const res = await t.http().post('/v1/events').set(auth(emitter)).send(body).expect(422);
      expect(res.body.details).toEqual([{ path, message: expect.stringContaining('personal.data') }]);
    }
  });

  it('takes the same data in personal.data, and a declared not-personal field', async () => {
    await t
      .http()
      .post('/v1/events')
      .set(auth(emitter))
      .send(login({ personal: { subject: 'usr_42', data: { ip: '192.0.2.10', email: 'ada@example.com' } } }))
      .expect(201);
    const instance = {
      tenant: 'acme',
      type: 'deployment.instance.started',
      actor: { type: 'service', id: 'scheduler' },
      context: { deploymentId: 'dep_1', ipAddress: '10.1.2.3', host: 'node-7.eu-west.internal' },
    };
    await t.http().post('/v1/events').set(auth(emitter)).send(instance).expect(201);
    // The same address in a field not declared so is refused.
    const res = await t
      .http()
      .post('/v1/events')
      .set(auth(emitter))
      .send({ ...instance, context: { ...instance.context, peer: '10.1.2.3' } })
      .expect(422);
    expect(res.body.details[0].path).toBe('/context/peer');
  });

  it('refuses personal data in a hold and in a deletion request, writing nothing', async () => {
    const platformBefore = await entriesOf(db, 'platform');
    const hold = (extra: Record<string, unknown>) => ({
      tenant: 'acme',
      matter: 'MAT-1',
      scope: { subjects: ['usr_42'] },
      ...extra,
    });
    const refused: [Record<string, unknown>, string][] = [
      [hold({ matter: 'Claim by ada@example.com' }), '/matter'],
      [hold({ description: 'logins from 192.0.2.10' }), '/description'],
      [hold({ scope: { subjects: ['usr_42', 'ada@example.com'] } }), '/scope/subjects/1'],
    ];
    for (const [body, path] of refused) {
      const res = await t.http().post('/v1/holds').set(auth(counsel)).send(body).expect(422);
      expect(res.body).toMatchObject({ code: 'personal_data_outside', details: [{ path }] });
    }
    const deletion = await t
      .http()
      .post('/v1/deletion-requests')
      .set(auth(counsel))
      .send({ kind: 'subject_erasure', tenant: 'acme', subject: 'usr_42', reason: 'asked by ada@example.com' })
      .expect(422);
    expect(deletion.body).toMatchObject({ code: 'personal_data_outside', details: [{ path: '/reason' }] });
    expect(await entriesOf(db, 'platform')).toBe(platformBefore);
    // A pseudonymous subject and a plain matter pass.
    await t.http().post('/v1/holds').set(auth(counsel)).send(hold({})).expect(201);
  });

  it('serves the catalogue with each type schema to any key', async () => {
    const all = await t.http().get('/v1/event-types').set(auth(emitter)).expect(200);
    expect(all.body.items).toContainEqual(
      expect.objectContaining({ type: 'auth.login.failed', category: 'auth', personal: ['ip', 'userAgent', 'email'] }),
    );
    const one = await t.http().get('/v1/event-types/deployment.instance.started').set(auth(counsel)).expect(200);
    expect(one.body).toMatchObject({ category: 'deployment', notPersonal: ['host', 'ipAddress'] });
    expect((await t.http().get('/v1/event-types/auth.nothing').set(auth(emitter)).expect(404)).body.code).toBe(
      'not_found',
    );
  });
});

describe('personal data outside personal: report mode', () => {
  let db: string;
  let t: TestApp;
  let emitter: string;
  const logs: string[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    t = await startTestApp(
      db,
      { AUDIT_PERSONAL_DATA_GUARD: 'report', AUDIT_PERSONAL_DATA_DETECT: 'email,ip,card', LOG_LEVEL: 'warn' },
      { logs },
    );
    emitter = await createKey(t, 'auth-service', ['emitter'], ['acme']);
  });

  afterAll(async () => {
    await t.close();
    await dropTestDatabase(db);
  });

  it('accepts, counts by kind and field, and logs the type and path without the value', async () => {
    await t
      .http()
      .post('/v1/events')
      .set(auth(emitter))
      .send(login({ context: { method: 'password', ip: '192.0.2.77', note: 'card 4111 1111 1111 1111' } }))
      .expect(201);
    const metrics = (await t.http().get('/metrics').expect(200)).text;
    expect(metrics).toMatch(
      /audit_personal_data_outside_total\{kind="declared",field="\/context\/ip",outcome="reported"\} 1/,
    );
    expect(metrics).toMatch(
      /audit_personal_data_outside_total\{kind="card",field="\/context\/\*",outcome="reported"\} 1/,
    );
    const lines = logs.filter((line) => line.includes('personal data outside personal'));
    expect(lines.map((line) => JSON.parse(line).level)).toEqual([40, 40]); // warn: one per field
    expect(lines.join('\n')).toContain('auth.login.failed /context/note');
    expect(lines.join('\n')).not.toMatch(/192\.0\.2\.77|4111/);
  });
});
