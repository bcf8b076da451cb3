import { AddressInfo } from 'node:net';
import { Browser, BrowserContext, Page } from 'playwright-core';
import { MovableClock, TestApp, createKey, startTestApp } from '../support/test-app';
import { createTestDatabase, dropTestDatabase } from '../support/test-database';
import { accessibilityViolations, bearer, launchChromium, shoot, signIn } from './support/chromium';

const YEAR = 365.25 * 86_400_000;

/**
 * The console's records of what happened to an entry and a hold, and its admin pages for
 * principals (issue 19): an erased entry names when and by which deletion request, a hold shows
 * its release rule and its history from the ledger, an admin creates a principal and grants it.
 */
describe('the console in Chromium: erasure, hold history, principals', () => {
  let db: string;
  let t: TestApp;
  let base: string;
  let browser: Browser;
  const clock = new MovableClock();
  let investigator: string;
  let legal: string;
  let admin: string;
  const contexts: BrowserContext[] = [];

  async function newPage(): Promise<Page> {
    const context = await browser.newContext();
    contexts.push(context);
    return context.newPage();
  }

  beforeAll(async () => {
    browser = await launchChromium();
    db = await createTestDatabase();
    t = await startTestApp(db, { AUDIT_DELETION_RECONCILE_MS: '200' }, { clock });
    await t.app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(t.app.getHttpServer().address() as AddressInfo).port}`;
    investigator = await createKey(t, 'browser-investigator', ['investigator'], ['acme']);
    legal = await createKey(t, 'alice-legal', ['legal'], ['acme']);
    admin = await createKey(t, 'browser-admin', ['admin'], ['*']);
  });

  afterAll(async () => {
    for (const context of contexts) await context.close();
    await browser?.close();
    await t?.close();
    if (db) await dropTestDatabase(db);
  });

  it('shows an erased entry as erased, when, and by which deletion request, linked', async () => {
    const emitter = await createKey(t, 'browser-emitter', ['emitter'], ['acme']);
    const made = await t
      .http()
      .post('/v1/events')
      .set('authorization', bearer(emitter))
      .send({
        tenant: 'acme',
        type: 'auth.login.succeeded',
        actor: { type: 'user', id: 'user-e' },
        personal: { subject: 'subject-e', data: { email: 'erase-me@example.test' } },
      })
      .expect(201);
    clock.offsetMs = 30 * YEAR; // past the retention minimum of authentication events
    const request = await t
      .http()
      .post('/v1/deletion-requests')
      .set('authorization', bearer(legal))
      .send({ kind: 'subject_erasure', tenant: 'acme', subject: 'subject-e', reason: 'the person asked' })
      .expect(202);
    let status = '';
    for (let i = 0; i < 400 && status !== 'completed'; i++) {
      status = (await t.http().get(`/v1/deletion-requests/${request.body.id}`).set('authorization', bearer(legal))).body
        .status;
      if (status !== 'completed') await new Promise((r) => setTimeout(r, 25));
    }
    expect(status).toBe('completed');

    const page = await newPage();
    await signIn(page, base, investigator, `/console/events/${made.body.id}`);
    const erased = page.locator('p.erased');
    expect(await erased.textContent()).toMatch(new RegExp(`Erased\\s+\\S+\\s+by request\\s+${request.body.id}`));
    expect(await erased.getByRole('link', { name: request.body.id }).getAttribute('href')).toBe(
      `/console/deletions/${request.body.id}`,
    );
    expect(await page.locator('main').textContent()).not.toContain('erase-me@example.test');
    await shoot(page, 'console-event-erased');
    expect(await accessibilityViolations(page)).toEqual([]);
  });

  it("shows a hold's release rule (who asked, how many more, until when) and its history from the ledger", async () => {
    const placed = await t
      .http()
      .post('/v1/holds')
      .set('authorization', bearer(legal))
      .send({ tenant: 'acme', matter: 'CASE-HISTORY', scope: { subjects: ['subject-h'] } })
      .expect(201);
    await t
      .http()
      .post(`/v1/holds/${placed.body.id}/release`)
      .set('authorization', bearer(legal))
      .send({ reason: 'matter settled' })
      .expect(202);

    const page = await newPage();
    await signIn(page, base, investigator, `/console/holds/${placed.body.id}`);
    const state = await page.locator('#release-state').textContent();
    expect(state).toContain('A release needs 2 distinct legal persons.');
    expect(state).toContain('1 more must still ask.');
    expect(state).toMatch(/The request expires \S+ unless they do/);
    const requests = page.getByRole('table', { name: 'Release requests that count' });
    expect(await requests.locator('tbody tr').count()).toBe(1);
    expect(await requests.locator('tbody tr').textContent()).toContain('alice-legal');
    expect(await requests.locator('tbody tr').textContent()).toContain('matter settled');
    const history = page.getByRole('table', { name: 'Ledger entries of this hold' });
    const rows = await history.locator('tbody tr').allTextContents();
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatch(/placed[\s\S]*alice-legal/);
    expect(rows[1]).toMatch(/release requested[\s\S]*alice-legal/);
    await shoot(page, 'console-hold-history');
    expect(await accessibilityViolations(page)).toEqual([]);
  });

  it('lets an admin create a person principal with its sign-in subject, grant it a role and revoke the grant', async () => {
    const page = await newPage();
    await signIn(page, base, admin, '/console/principals');
    await page.getByLabel('Name', { exact: true }).fill('dana-investigator');
    await page.getByLabel('Kind').selectOption('person');
    await page.getByLabel("Email (a person's; personal data)").fill('dana@example.test');
    await page.getByLabel('OpenID Connect subject (optional)').fill('https://login.example.test#dana');
    await page.getByRole('button', { name: 'Create principal' }).click();
    await page.getByText('Principal dana-investigator created').waitFor();

    const grant = page.getByRole('form', { name: 'Grant a role to dana-investigator' });
    await grant.getByLabel('Role').selectOption('investigator');
    await grant.getByLabel('Tenants (comma separated, or *)').fill('acme');
    await grant.getByRole('button', { name: 'Grant' }).click();
    await page.getByText('Granted investigator.').waitFor();
    // The page made the JSON API's own calls: the principal and its grant are there.
    const listed = await t.http().get('/v1/principals').set('authorization', bearer(admin)).expect(200);
    const dana = listed.body.items.find((p: { name: string }) => p.name === 'dana-investigator');
    expect(dana).toMatchObject({ kind: 'person', oidcSubject: 'https://login.example.test#dana' });
    expect(dana.grants).toEqual([
      expect.objectContaining({ role: 'investigator', tenants: ['acme'], status: 'active' }),
    ]);
    expect(await page.locator('tr', { hasText: 'dana-investigator' }).textContent()).toContain(
      'investigator over acme (active)',
    );
    await shoot(page, 'console-principals');
    expect(await accessibilityViolations(page)).toEqual([]);

    await page.getByRole('button', { name: 'Revoke investigator grant of dana-investigator' }).click();
    await page.getByText('Grant revoked.').waitFor();
    const after = await t.http().get(`/v1/principals/${dana.id}`).set('authorization', bearer(admin)).expect(200);
    expect(after.body.grants[0].status).toBe('revoked');
  });
});
