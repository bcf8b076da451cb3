import { MovableClock, TestApp, createKey, startTestApp } from './support/test-app';
import { createTestDatabase, dropTestDatabase } from './support/test-database';

const auth = (key: string) => ({ authorization: `Bearer ${key}` });
const YEAR = 365.25 * 86_400_000;
const HOUR = 3_600_000;

/**
 * What the console's event and hold pages show beyond the entry itself (issue 19): when and by
 * which deletion request an entry's personal data was erased, and the state of a hold's release
 * rule (who asked, how many more must, when the requests expire).
 */
describe('API for the console: erasure of an entry, release state of a hold', () => {
  let db: string;
  let t: TestApp;
  const clock = new MovableClock();
  let emitter: string;
  let investigator: string;
  let legal: string;
  let legal2: string;

  async function emit(subject: string): Promise<string> {
    const res = await t
      .http()
      .post('/v1/events')
      .set(auth(emitter))
      .send({
        tenant: 'acme',
        type: 'auth.login.succeeded',
        actor: { type: 'user', id: subject },
        personal: { subject, data: { email: `${subject}@example.com` } },
      })
      .expect(201);
    return res.body.id as string;
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    t = await startTestApp(db, { AUDIT_DELETION_RECONCILE_MS: '200' }, { clock });
    emitter = await createKey(t, 'auth-service', ['emitter'], ['acme']);
    investigator = await createKey(t, 'ivan', ['investigator'], ['acme']);
    legal = await createKey(t, 'alice-legal', ['legal'], ['acme']);
    legal2 = await createKey(t, 'bob-legal', ['legal'], ['acme']);
  });

  afterAll(async () => {
    await t.close();
    await dropTestDatabase(db);
  });

  it('GET /v1/events/{id} says when and by which deletion request the personal data was erased', async () => {
    const erasedId = await emit('subject-e');
    const keptId = await emit('subject-k');
    clock.offsetMs = 30 * YEAR; // past every retention minimum
    const before = await t.http().get(`/v1/events/${erasedId}`).set(auth(investigator)).expect(200);
    expect(before.body.erased).toBeUndefined();
    const request = await t
      .http()
      .post('/v1/deletion-requests')
      .set(auth(legal))
      .send({ kind: 'subject_erasure', tenant: 'acme', subject: 'subject-e', reason: 'the person asked' })
      .expect(202);
    let status = '';
    for (let i = 0; i < 400 && status !== 'completed'; i++) {
      status = (await t.http().get(`/v1/deletion-requests/${request.body.id}`).set(auth(legal))).body.status;
      if (status !== 'completed') await new Promise((resolve) => setTimeout(resolve, 25));
    }
    expect(status).toBe('completed');

    const erased = await t.http().get(`/v1/events/${erasedId}`).set(auth(investigator)).expect(200);
    expect(erased.body.personal).toMatchObject({ subject: 'subject-e', erased: true });
    expect(erased.body.erased).toEqual({ at: expect.any(String), by: request.body.id });
    // The service's (moved) clock decided the erasure: its time, not the wall clock's.
    expect(Date.parse(erased.body.erased.at)).toBeGreaterThan(Date.now() + 29 * YEAR);
    // Another subject's entry is untouched and says nothing of erasure.
    const kept = await t.http().get(`/v1/events/${keptId}`).set(auth(investigator)).expect(200);
    expect(kept.body.personal.data).toEqual({ email: 'subject-k@example.com' });
    expect(kept.body.erased).toBeUndefined();
  });

  it('GET /v1/holds/{id} shows the release rule: who asked, how many more must, when the requests expire', async () => {
    const placed = await t
      .http()
      .post('/v1/holds')
      .set(auth(legal))
      .send({ tenant: 'acme', matter: 'CASE-19', scope: { subjects: ['subject-k'] } })
      .expect(201);
    const path = `/v1/holds/${placed.body.id}`;
    expect((await t.http().get(path).set(auth(investigator)).expect(200)).body.release).toEqual({
      required: 2,
      missing: 2,
      approvals: [],
      expiresAt: null,
    });

    await t.http().post(`${path}/release`).set(auth(legal)).send({ reason: 'case closed' }).expect(202);
    const pending = (await t.http().get(path).set(auth(investigator)).expect(200)).body;
    expect(pending.release).toMatchObject({ required: 2, missing: 1 });
    expect(pending.release.approvals).toEqual([
      expect.objectContaining({ by: expect.objectContaining({ name: 'alice-legal' }), reason: 'case closed' }),
    ]);
    const [approval] = pending.release.approvals;
    // A request counts for HOLD_RELEASE_APPROVAL_TTL_HOURS (72 by default).
    expect(Date.parse(approval.expiresAt) - Date.parse(approval.at)).toBe(72 * HOUR);
    expect(pending.release.expiresAt).toBe(approval.expiresAt);
    // The history keeps the request; the approvals themselves are not a member of the hold.
    expect(pending.history.map((h: { type: string }) => h.type)).toEqual(['hold.placed', 'hold.release_requested']);
    expect(pending.approvals).toBeUndefined();

    // Past its lifetime the request no longer counts: nobody has asked any more.
    clock.offsetMs += 73 * HOUR;
    expect((await t.http().get(path).set(auth(investigator)).expect(200)).body.release).toMatchObject({
      missing: 2,
      approvals: [],
      expiresAt: null,
    });

    await t.http().post(`${path}/release`).set(auth(legal)).send({ reason: 'case closed' }).expect(202);
    await t.http().post(`${path}/release`).set(auth(legal2)).send({ reason: 'agreed' }).expect(200);
    const released = (await t.http().get(path).set(auth(investigator)).expect(200)).body;
    expect(released.status).toBe('released');
    expect(released.release).toBeUndefined();
  });
});
