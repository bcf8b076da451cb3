import { gzipSync } from 'node:zlib';
import { TestApp, binary, createKey, platformEntries, startTestApp } from './support/test-app';
import { consoleSignIn, csrfOf, setCookie } from './support/console';
import { createTestDatabase, dropTestDatabase } from './support/test-database';

const bearer = (key: string) => `Bearer ${key}`;

/** Every `<script>` of a page loads a file of the console: no inline script for the policy to allow. */
function inlineScripts(page: string): string[] {
  return [...page.matchAll(/<script\b([^>]*)>/g)]
    .filter((m) => !/\bsrc="\/console\/assets\//.test(m[1]))
    .map((m) => m[0]);
}

describe('console (sessions, CSRF, pages over the API)', () => {
  let db: string;
  let t: TestApp;
  let emitter: string;
  let investigator: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    t = await startTestApp(db);
    emitter = await createKey(t, 'console-emitter', ['emitter'], ['acme', 'globex']);
    investigator = await createKey(t, 'console-investigator', ['investigator'], ['acme']);
    for (const tenant of ['acme', 'globex'])
      await t
        .http()
        .post('/v1/events')
        .set('authorization', bearer(emitter))
        .send({ tenant, type: 'auth.logout', actor: { type: 'user', id: `user-of-${tenant}` } })
        .expect(201);
  });

  afterAll(async () => {
    await t.close();
    await dropTestDatabase(db);
  });

  it('sends a page without a session to sign in, and back to it afterwards', async () => {
    const res = await t.http().get('/console/events?tenant=acme').expect(303);
    expect(res.headers.location).toBe('/console/sign-in?next=%2Fconsole%2Fevents%3Ftenant%3Dacme');
  });

  it('signs in with a key into an HttpOnly, SameSite=Strict cookie, records it, and never records the key', async () => {
    const form = await t.http().get('/console/sign-in').expect(200);
    const pre = setCookie(form, 'audit_console_sign_in') as string;
    const res = await t
      .http()
      .post('/console/sign-in')
      .set('cookie', `audit_console_sign_in=${pre}`)
      .type('form')
      .send({ _csrf: csrfOf(form.text), key: investigator, next: '/console/events?tenant=acme' })
      .expect(303);
    expect(res.headers.location).toBe('/console/events?tenant=acme');
    const line = (res.headers['set-cookie'] as unknown as string[]).find((h) => h.startsWith('audit_console='));
    expect(line).toMatch(/HttpOnly/);
    expect(line).toMatch(/SameSite=Strict/);
    const entries = await platformEntries(db);
    const signedIn = entries.filter((e) => e.type === 'console.signed_in');
    expect(signedIn.length).toBeGreaterThan(0);
    const token = setCookie(res, 'audit_console') as string;
    const text = JSON.stringify(entries);
    expect(text).not.toContain(investigator);
    expect(text).not.toContain(token);
  });

  it('refuses a sign-in without the form token of this browser, and a wrong key with a recorded failure', async () => {
    const form = await t.http().get('/console/sign-in').expect(200);
    await t
      .http()
      .post('/console/sign-in')
      .type('form')
      .send({ _csrf: csrfOf(form.text), key: investigator })
      .expect(403);
    const pre = setCookie(form, 'audit_console_sign_in') as string;
    const before = (await platformEntries(db)).filter((e) => e.type === 'console.sign_in_failed').length;
    const wrong = 'atk_not-a-key-of-anyone-0123456789abcdef';
    const res = await t
      .http()
      .post('/console/sign-in')
      .set('cookie', `audit_console_sign_in=${pre}`)
      .type('form')
      .send({ _csrf: csrfOf(form.text), key: wrong })
      .expect(401);
    expect(setCookie(res, 'audit_console')).toBeUndefined();
    const entries = await platformEntries(db);
    expect(entries.filter((e) => e.type === 'console.sign_in_failed').length).toBe(before + 1);
    expect(JSON.stringify(entries)).not.toContain(wrong);
  });

  it('searches through the API with the key’s own scope, recorded as the key’s read', async () => {
    const session = await consoleSignIn(t, investigator);
    const page = await t.http().get('/console/events?tenant=acme').set('cookie', session.cookie).expect(200);
    expect(page.text).toContain('user: user-of-acme');
    const direct = await t.http().get('/v1/events?tenant=globex').set('authorization', bearer(investigator));
    expect(direct.status).toBeGreaterThanOrEqual(400);
    const other = await t
      .http()
      .get('/console/events?tenant=globex')
      .set('cookie', session.cookie)
      .expect(direct.status);
    expect(other.text).toContain(direct.body.code);
    expect(other.text).not.toContain('user-of-globex');
    const reads = (await platformEntries(db)).filter((e) => e.type === 'access.events.search');
    expect(reads.some((e) => e.context?.query?.tenant === 'acme' || JSON.stringify(e).includes('acme'))).toBe(true);
  });

  it('serves pages under a strict Content-Security-Policy with no inline script', async () => {
    const session = await consoleSignIn(t, investigator);
    for (const path of ['/console/sign-in', '/console/events?tenant=acme', '/console/settings', '/console/logs']) {
      const res = await t.http().get(path).set('cookie', session.cookie).expect(200);
      const policy = String(res.headers['content-security-policy']);
      expect(policy).toContain("script-src 'self'");
      expect(policy).not.toContain('unsafe-inline');
      expect(policy).toContain("frame-ancestors 'none'");
      expect(inlineScripts(res.text)).toEqual([]);
    }
  });

  it('refuses a form post without the session’s CSRF token or from another origin, and changes nothing', async () => {
    const legal = await createKey(t, 'console-legal', ['legal'], ['acme']);
    const session = await consoleSignIn(t, legal);
    const body = {
      tenant: 'acme',
      matter: 'MATTER-1',
      description: '',
      subjects: 's-1',
      actors: '',
      categories: '',
      types: '',
      from: '',
      to: '',
    };
    await t.http().post('/console/holds').set('cookie', session.cookie).type('form').send(body).expect(403);
    await t
      .http()
      .post('/console/holds')
      .set('cookie', session.cookie)
      .set('origin', 'https://evil.example')
      .type('form')
      .send({ ...body, _csrf: session.csrf })
      .expect(403);
    const holds = await t.http().get('/v1/holds?tenant=acme').set('authorization', bearer(legal)).expect(200);
    expect(holds.body.items).toEqual([]);
    const placed = await t
      .http()
      .post('/console/holds')
      .set('cookie', session.cookie)
      .type('form')
      .send({ ...body, _csrf: session.csrf })
      .expect(303);
    expect(placed.headers.location).toMatch(/^\/console\/holds\/[0-9a-f-]{36}$/);
    // Widening through the console is the API's amendment, by the same person.
    const widened = await t
      .http()
      .post(`${placed.headers.location}/amend`)
      .set('cookie', session.cookie)
      .type('form')
      .send({ ...body, subjects: 's-1\ns-2', reason: 'a second subject', _csrf: session.csrf })
      .expect(200);
    expect(widened.text).toContain('The hold is widened.');
    const hold = await t
      .http()
      .get(`/v1/holds/${placed.headers.location.split('/').pop()}`)
      .set('authorization', bearer(legal))
      .expect(200);
    expect(hold.body.scope.subjects).toEqual(['s-1', 's-2']);
    expect(hold.body.history.map((h: { type: string }) => h.type)).toEqual(['hold.placed', 'hold.amended']);
  });

  it('ends a session at sign-out and when its key is revoked, for the pages and for the API', async () => {
    const session = await consoleSignIn(t, investigator);
    await t.http().get('/v1/events?tenant=acme').set('authorization', bearer(session.token)).expect(200);
    await t
      .http()
      .post('/console/sign-out')
      .set('cookie', session.cookie)
      .type('form')
      .send({ _csrf: session.csrf })
      .expect(303);
    await t.http().get('/console/events').set('cookie', session.cookie).expect(303);
    await t.http().get('/v1/events?tenant=acme').set('authorization', bearer(session.token)).expect(401);
    expect((await platformEntries(db)).some((e) => e.type === 'console.signed_out')).toBe(true);

    const doomed = await createKey(t, 'console-doomed', ['investigator'], ['acme']);
    const second = await consoleSignIn(t, doomed);
    const keys = await t
      .http()
      .get('/v1/keys')
      .query({ prefix: doomed.slice(0, 12) })
      .set('authorization', bearer(t.adminKey));
    await t.http().delete(`/v1/keys/${keys.body.items[0].id}`).set('authorization', bearer(t.adminKey)).expect(200);
    await t.http().get('/console/events').set('cookie', second.cookie).expect(303);
  });

  it('serves its scripts from the service, under 100 KB compressed in all', async () => {
    let compressed = 0;
    for (const name of ['htmx.min.js', 'console.js', 'console.css']) {
      const res = await t.http().get(`/console/assets/${name}`).buffer(true).parse(binary).expect(200);
      compressed += gzipSync(res.body as Buffer).length;
    }
    expect(compressed).toBeGreaterThan(1_000);
    expect(compressed).toBeLessThan(100 * 1024);
    await t.http().get('/console/assets/..%2Fconsole.module.ts').expect(404);
  });

  it('accepts form bodies only on console routes: the JSON API still refuses them', async () => {
    const res = await t
      .http()
      .post('/v1/events')
      .set('authorization', bearer(emitter))
      .type('form')
      .send({ tenant: 'acme', type: 'auth.logout' })
      .expect(415);
    expect(res.body.code).toBeDefined();
  });
});
