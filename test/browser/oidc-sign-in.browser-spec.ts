import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { Browser, BrowserContext, Page } from 'playwright-core';
import { ServiceProcess, callOk, freePort, startServiceProcess } from '../drills/support/service-process';
import { platformEntries } from '../support/test-app';
import { createTestDatabase, dropTestDatabase } from '../support/test-database';
import { launchChromium, shoot } from './support/chromium';

/**
 * Sign-in through the company's identity provider (docs/console.md "Sign-in with the identity
 * provider"), against a real OpenID provider (`oidc-provider`, in a child process). openid-client
 * is ESM-only and Jest cannot load it, so the service runs as the built process (`npm run
 * test:browser` builds `dist/` first; `AUDIT_DRILL_MAIN` names another build).
 */

const PROVIDER_SCRIPT = resolve(__dirname, 'support/oidc-provider.mjs');
const PROVIDER_NAME = 'Example IdP';
const CLIENT_ID = 'audit-console';
const TENANT = 'acme';

/** The provider process, once it listens. */
function startProvider(port: number, redirectUri: string, clientSecret: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [PROVIDER_SCRIPT], {
    env: {
      ...process.env,
      OIDC_TEST_PORT: String(port),
      OIDC_TEST_CLIENT_ID: CLIENT_ID,
      OIDC_TEST_CLIENT_SECRET: clientSecret,
      OIDC_TEST_REDIRECT_URI: redirectUri,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  return new Promise((ok, fail) => {
    child.stdout?.on('data', (b: Buffer) => {
      output += b.toString();
      if (output.includes('ready ')) ok(child);
    });
    child.stderr?.on('data', (b: Buffer) => (output += b.toString()));
    child.once('exit', (code) => fail(new Error(`the OpenID provider exited with ${code}:\n${output}`)));
  });
}

describe('the console: sign-in with the identity provider (OpenID Connect) in Chromium', () => {
  let db: string;
  let service: ServiceProcess;
  let provider: ChildProcess;
  let issuer: string;
  let browser: Browser;
  const clientSecret = randomBytes(24).toString('base64url');
  const contexts: BrowserContext[] = [];

  async function newPage(): Promise<Page> {
    const context = await browser.newContext();
    contexts.push(context);
    return context.newPage();
  }

  /** From a console page to the provider, by the sign-in page's button. */
  async function startAtConsole(page: Page): Promise<void> {
    await page.goto(`${service.url}/console/events`);
    await page.waitForURL(/\/console\/sign-in/);
    await page.getByRole('link', { name: `Sign in with ${PROVIDER_NAME}` }).click();
    await page.waitForURL(`${issuer}/**`);
  }

  /** Signs in at the provider as `login` (the subject) and lets it share the identity with the console. */
  async function loginAtProvider(page: Page, login: string): Promise<void> {
    // The development login page takes any login name (the subject) and any password.
    await page.locator('input[name="login"]').fill(login);
    await page.locator('input[name="password"]').fill('any password');
    await page.getByRole('button', { name: 'Sign-in' }).click();
    const consent = page.getByRole('button', { name: 'Continue' });
    await consent.waitFor();
    await consent.click();
  }

  async function throughProvider(page: Page, login: string): Promise<void> {
    await startAtConsole(page);
    await loginAtProvider(page, login);
  }

  const entries = async (type: string) => (await platformEntries(db)).filter((e) => e.type === type);

  beforeAll(async () => {
    browser = await launchChromium();
    db = await createTestDatabase();
    const [providerPort, servicePort] = [await freePort(), await freePort()];
    issuer = `http://127.0.0.1:${providerPort}`;
    const redirect = `http://127.0.0.1:${servicePort}/console/sign-in/oidc/callback`;
    provider = await startProvider(providerPort, redirect, clientSecret);
    service = await startServiceProcess(
      db,
      {
        OIDC_ISSUER: issuer,
        OIDC_CLIENT_ID: CLIENT_ID,
        OIDC_CLIENT_SECRET: clientSecret,
        OIDC_REDIRECT_URL: redirect,
        OIDC_PROVIDER_NAME: PROVIDER_NAME,
        LOG_LEVEL: 'debug',
      },
      { port: servicePort },
    );
    const admin = service.env.AUDIT_BOOTSTRAP_ADMIN_KEY;
    const emitter = (
      await callOk(service, admin, 'POST', '/v1/keys', { name: 'oidc-emitter', roles: ['emitter'], tenants: [TENANT] })
    ).key as string;
    const events = Array.from({ length: 3 }, (_, i) => ({
      tenant: TENANT,
      type: 'auth.login.succeeded',
      actor: { type: 'user', id: `user-${i}` },
    }));
    await callOk(service, emitter, 'POST', '/v1/events/batch', { events });
    // An admin registers the person with the subject the provider vouches for, qualified by its issuer.
    const ada = await callOk(service, admin, 'POST', '/v1/principals', {
      name: 'ada',
      kind: 'person',
      email: 'ada@example.test',
      oidcSubject: `${issuer}#ada`,
    });
    await callOk(service, admin, 'POST', `/v1/principals/${ada.id}/grants`, {
      role: 'investigator',
      tenants: [TENANT],
    });
  });

  afterAll(async () => {
    for (const context of contexts) await context.close();
    await browser?.close();
    await service?.kill();
    provider?.kill('SIGKILL');
    if (db) await dropTestDatabase(db);
  });

  it('signs in through the provider as the registered principal, searches, and signs out', async () => {
    const page = await newPage();
    const callbacks: string[] = [];
    page.on('request', (request) => {
      if (request.url().includes('/console/sign-in/oidc/callback')) callbacks.push(request.url());
    });
    await throughProvider(page, 'ada');
    await page.waitForURL(`${service.url}/console/events`);
    await expect(page.locator('form.sign-out span').textContent()).resolves.toBe(
      `ada (investigator; tenants ${TENANT})`,
    );

    await page.getByLabel('Tenant').fill(TENANT);
    await page.getByRole('button', { name: 'Search' }).click();
    await page.waitForURL(/tenant=acme/);
    await expect(page.locator('table.results tbody tr:not(.more)').count()).resolves.toBe(3);
    await shoot(page, 'console-oidc-signed-in');

    const signedIn = await entries('console.signed_in');
    expect(signedIn).toHaveLength(1);
    expect(signedIn[0]).toMatchObject({ context: { method: 'oidc' }, actor: { type: 'api_key' } });
    const searches = (await platformEntries(db)).filter((e) => e.type === 'access.events.search');
    expect(searches.at(-1)?.actor).toEqual(signedIn[0].actor);

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(/\/console\/sign-in$/);
    expect(await entries('console.signed_out')).toHaveLength(1);

    // Neither the code nor the state of the provider's redirect is in the service's logs or the ledger.
    const callback = new URL(callbacks[0]);
    const secrets = [callback.searchParams.get('code'), callback.searchParams.get('state')] as string[];
    expect(secrets.every((s) => s.length > 10)).toBe(true);
    const ledger = JSON.stringify(await platformEntries(db));
    for (const secret of secrets) {
      expect(service.output()).not.toContain(secret);
      expect(ledger).not.toContain(secret);
    }
  });

  it('refuses a subject no principal is registered for, with a recorded failure', async () => {
    const before = (await entries('console.sign_in_failed')).length;
    const page = await newPage();
    await throughProvider(page, 'mallory');
    await page.waitForURL(/\/console\/sign-in\/oidc\/callback/);
    await expect(page.locator('h1').textContent()).resolves.toBe('Sign-in refused');
    await expect(page.locator('main').textContent()).resolves.toContain('no principal is registered for this identity');
    await expect(page.context().cookies()).resolves.not.toContainEqual(
      expect.objectContaining({ name: 'audit_console' }),
    );
    const failed = await entries('console.sign_in_failed');
    expect(failed.slice(before)).toEqual([
      expect.objectContaining({ context: { method: 'oidc', reason: 'unknown_subject' } }),
    ]);
    await shoot(page, 'console-oidc-unknown-subject');
  });

  it('refuses a callback whose state is not the one this browser started with', async () => {
    const before = (await entries('console.sign_in_failed')).length;
    const page = await newPage();
    // The browser starts a sign-in, then is sent to the provider with another state (as a forged
    // link would send it): the provider signs it in and returns that state, not the cookie's.
    const authorization = page.waitForRequest((request) => request.url().startsWith(`${issuer}/auth?`));
    await startAtConsole(page);
    const forged = new URL((await authorization).url());
    forged.searchParams.set('state', `forged-${forged.searchParams.get('state')}`);
    await page.goto(forged.href);
    const answered = page.waitForResponse((response) => response.url().includes('/console/sign-in/oidc/callback'));
    await loginAtProvider(page, 'ada');
    const answer = await answered;
    expect(answer.url()).toContain('state=forged-');
    expect(answer.status()).toBe(400);
    await expect(page.locator('main').textContent()).resolves.toContain('sign in again');
    await expect(page.context().cookies()).resolves.not.toContainEqual(
      expect.objectContaining({ name: 'audit_console' }),
    );
    const failed = await entries('console.sign_in_failed');
    expect(failed.slice(before)).toEqual([
      expect.objectContaining({ context: { method: 'oidc', reason: 'state_mismatch' } }),
    ]);
    expect(await entries('console.signed_in')).toHaveLength(1);
  });

  it('answers hostile callbacks: NUL and invalid UTF-8 refused at the edge as JSON, a repeated key or a missing state cookie refused and recorded; never a session', async () => {
    const before = (await entries('console.sign_in_failed')).length;
    const callback = (query: string) =>
      fetch(`${service.url}/console/sign-in/oidc/callback?${query}`, { redirect: 'manual' });
    // The service's input rule refuses these before any handler: a JSON error naming the field.
    for (const [query, field] of [
      ['code=%00&state=%00', '/query/code'],
      ['code=%FF%FE&state=%C3%28', '/query/code'],
      ['error=%00%1B%5B31m', '/query/error'],
    ]) {
      const res = await callback(query);
      expect(res.headers.get('set-cookie') ?? '').not.toContain('audit_console=');
      expect({ query, status: res.status, body: await res.json() }).toEqual({
        query,
        status: 400,
        body: expect.objectContaining({ code: 'invalid_request', details: [expect.objectContaining({ path: field })] }),
      });
    }
    // Well-formed but hostile: a repeated code and state, and no sign-in state cookie.
    const repeated = await callback('code=a&code=b&state=s&state=t');
    expect(repeated.status).toBe(400);
    expect(repeated.headers.get('set-cookie') ?? '').not.toContain('audit_console=');
    expect(await repeated.text()).toContain('sign in again');
    const failed = (await entries('console.sign_in_failed')).slice(before);
    expect(failed).toEqual([
      expect.objectContaining({ context: { method: 'oidc', reason: 'state_missing_or_expired' } }),
    ]);
    expect((await fetch(`${service.url}/health`)).status).toBe(200);
  });
});
