import { TestApp, createKey, startTestApp } from './support/test-app';
import { createTestDatabase, dropTestDatabase } from './support/test-database';

/**
 * A flood of full verifications (a script in a loop, or one insider) is bounded: at most
 * AUDIT_VERIFY_CONCURRENCY run and AUDIT_VERIFY_QUEUE wait; the rest are refused at once with a
 * JSON 429 and a Retry-After, and the service still verifies afterwards.
 */
describe('full verifications: a bounded number at once', () => {
  let db: string;
  let t: TestApp;
  let investigator: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    t = await startTestApp(db, { AUDIT_VERIFY_CONCURRENCY: '1', AUDIT_VERIFY_QUEUE: '1' });
    const emitter = await createKey(t, 'emitter', ['emitter'], ['acme']);
    investigator = await createKey(t, 'investigator', ['investigator'], ['acme']);
    // Enough entries that one verification lasts while the others arrive.
    for (let b = 0; b < 4; b++) {
      const events = Array.from({ length: 500 }, (_, i) => ({
        tenant: 'acme',
        type: 'auth.logout',
        actor: { type: 'user', id: `u${b * 500 + i}` },
      }));
      await t.http().post('/v1/events/batch').set('authorization', `Bearer ${emitter}`).send({ events }).expect(201);
    }
  });

  afterAll(async () => {
    await t.close();
    await dropTestDatabase(db);
  });

  it('runs one, lets one wait, refuses the others with 429 verification_busy, and verifies again afterwards', async () => {
    const answers = await Promise.all(
      Array.from({ length: 6 }, () =>
        t.http().post('/v1/logs/acme/verify').set('authorization', `Bearer ${investigator}`),
      ),
    );
    const statuses = answers.map((res) => res.status).sort();
    expect(statuses).toEqual([200, 200, 429, 429, 429, 429]);
    for (const res of answers.filter((r) => r.status === 200)) expect(res.body).toMatchObject({ ok: true });
    for (const res of answers.filter((r) => r.status === 429)) {
      expect(res.body).toMatchObject({ statusCode: 429, code: 'verification_busy' });
      expect(res.headers['retry-after']).toBe('5');
    }
    const again = await t
      .http()
      .post('/v1/logs/acme/verify')
      .set('authorization', `Bearer ${investigator}`)
      .expect(200);
    expect(again.body).toMatchObject({ ok: true, checked: 2000 });
  });
});
