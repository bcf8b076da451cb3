import type { Response } from 'supertest';
import { TestApp, createKey, startTestApp } from './support/test-app';
import { createTestDatabase, dropTestDatabase, superuserClient } from './support/test-database';

// The emitter writes to its own tenant, so that nothing else (such as records of reads) lands in its log.
const event = (i: number) => ({ tenant: 'globex', type: 'auth.login.succeeded', actor: { type: 'user', id: `u${i}` } });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('rate limits per API key', () => {
  let db: string;
  let t: TestApp;
  let emitter: string;
  let reader: string;
  let otherReader: string;
  const auth = (key: string) => ({ authorization: `Bearer ${key}` });

  beforeAll(async () => {
    db = await createTestDatabase();
    // Tiny budgets: non-emitters 2/s with a burst of 4 (the admin spends 3 creating keys), emitters 1/s, burst 2.
    t = await startTestApp(db, { AUDIT_RATE_LIMIT_OTHER: '2/4', AUDIT_RATE_LIMIT_EMITTER: '1/2' });
    emitter = await createKey(t, 'billing', ['emitter'], ['globex']);
    reader = await createKey(t, 'secops', ['investigator'], ['acme']);
    otherReader = await createKey(t, 'secops-2', ['investigator'], ['acme']);
  });

  afterAll(async () => {
    await t.close();
    await dropTestDatabase(db);
  });

  async function entries(): Promise<number> {
    const client = await superuserClient(db);
    const { rows } = await client.query("SELECT count(*)::int AS n FROM entries WHERE log = 'globex'");
    await client.end();
    return rows[0].n;
  }

  /** Calls until the first 429; returns it and how many calls got through before it. */
  async function untilLimited(call: (i: number) => Promise<Response>): Promise<{ limited: Response; passed: number }> {
    for (let i = 0; i < 20; i++) {
      const res = await call(i);
      if (res.status === 429) return { limited: res, passed: i };
    }
    throw new Error('never limited');
  }

  function expectLimited(res: Response, key: string): number {
    expect(res.status).toBe(429);
    expect(res.body).toMatchObject({
      statusCode: 429,
      error: 'Too Many Requests',
      code: 'rate_limited',
      message: expect.any(String),
    });
    expect(res.headers['retry-after']).toMatch(/^[1-9][0-9]*$/);
    expect(JSON.stringify(res.body)).not.toContain(key.slice(0, 12));
    return Number(res.headers['retry-after']);
  }

  it('answers 429 with Retry-After past the burst, leaves other keys and public routes alone, and admits again after Retry-After', async () => {
    const read = () => t.http().get('/v1/logs/acme/checkpoint').set(auth(reader));
    const { limited, passed } = await untilLimited(read);
    expect(passed).toBeGreaterThanOrEqual(4);
    const retryAfter = expectLimited(limited, reader);
    expect(retryAfter).toBe(1);

    expect((await t.http().get('/v1/logs/acme/checkpoint').set(auth(otherReader))).status).not.toBe(429);
    expect((await t.http().get('/metrics').set(auth(reader))).status).toBe(200);

    await sleep(retryAfter * 1000);
    expect((await read()).status).not.toBe(429);
  });

  it('appends nothing for an emitter past its budget', async () => {
    const { limited, passed } = await untilLimited((i) =>
      t.http().post('/v1/events').set(auth(emitter)).send(event(i)),
    );
    expect(passed).toBeGreaterThanOrEqual(2);
    expectLimited(limited, emitter);
    const before = await entries();
    expect(before).toBe(passed);

    const batch = await t
      .http()
      .post('/v1/events/batch')
      .set(auth(emitter))
      .send({ events: [event(100), event(101), event(102)] });
    expectLimited(batch, emitter);
    expect(await entries()).toBe(before);
  });
});
