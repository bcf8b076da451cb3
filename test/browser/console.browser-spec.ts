import { readFileSync } from 'node:fs';
import { AddressInfo } from 'node:net';
import { Browser, BrowserContext, Page } from 'playwright-core';
import { generateNoteKey } from '@audit/ledger';
import { TestApp, createKey, createPerson, startTestApp } from '../support/test-app';
import { createTestDatabase, dropTestDatabase, superuserClient } from '../support/test-database';
import { accessibilityViolations, bearer, launchChromium, shoot, signIn } from './support/chromium';

/**
 * A signing key whose verifier key text has a `+` inside its base64 part: the browser must split
 * the key text at the first two `+` only (a key drawn at random has one about half the time).
 */
function signingKeyWithPlus(): string {
  for (let seed = 0; ; seed++) {
    const pair = generateNoteKey('audit-test', Buffer.alloc(32, seed));
    if (pair.verifierKey.split('+').length > 3) return pair.privateKey;
  }
}

describe('the console in Chromium', () => {
  let db: string;
  let t: TestApp;
  let base: string;
  let browser: Browser;
  let emitter: string;
  let investigator: string;
  const contexts: BrowserContext[] = [];

  async function newPage(): Promise<Page> {
    const context = await browser.newContext({ acceptDownloads: true });
    contexts.push(context);
    return context.newPage();
  }

  beforeAll(async () => {
    browser = await launchChromium(['--disable-component-update', '--disable-quic', '--disable-sync']);
    db = await createTestDatabase();
    t = await startTestApp(db, { AUDIT_SIGNING_KEY: signingKeyWithPlus() });
    await t.app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(t.app.getHttpServer().address() as AddressInfo).port}`;
    emitter = await createKey(t, 'browser-emitter', ['emitter'], ['acme']);
    investigator = await createKey(t, 'browser-investigator', ['investigator'], ['acme']);
    const events = Array.from({ length: 120 }, (_, i) => ({
      tenant: 'acme',
      type: i % 2 === 0 ? 'auth.login.succeeded' : 'auth.login.failed',
      actor: { type: 'user', id: `user-${i % 7}` },
      personal: { subject: `subject-${i % 5}`, data: { email: `person${i % 5}@example.test` } },
    }));
    await t.http().post('/v1/events/batch').set('authorization', bearer(emitter)).send({ events }).expect(201);
  });

  afterAll(async () => {
    for (const context of contexts) await context.close();
    await browser?.close();
    await t?.close();
    if (db) await dropTestDatabase(db);
  });

  it('signs in with the keyboard alone, and every page passes axe-core (no serious or critical violation)', async () => {
    const page = await newPage();
    await page.goto(`${base}/console/events`);
    await page.waitForURL(/\/console\/sign-in/);
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement?.textContent')).toBe('Skip to content');
    await page.getByLabel('API key').focus();
    await page.keyboard.type(investigator);
    await page.keyboard.press('Enter');
    await page.waitForURL(`${base}/console/events`);
    for (const path of ['/console/events', '/console/events?tenant=acme', '/console/logs/acme', '/console/settings']) {
      await page.goto(`${base}${path}`);
      expect({ path, violations: await accessibilityViolations(page) }).toEqual({ path, violations: [] });
    }
  });

  it('searches, loads older results as the list scrolls, and keeps every search as a link', async () => {
    const page = await newPage();
    await signIn(page, base, investigator);
    await page.getByLabel('Tenant').fill('acme');
    await page.getByLabel('Type', { exact: true }).fill('auth.login.succeeded');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.waitForURL(/tenant=acme/);
    expect(page.url()).toContain('type=auth.login.succeeded');
    await expect(page.locator('table.results tbody tr:not(.more)').count()).resolves.toBe(50);
    await page.locator('tr.more').scrollIntoViewIfNeeded();
    await page.locator('table.results tbody tr:not(.more)').nth(59).waitFor();
    await expect(page.locator('table.results tbody tr:not(.more)').count()).resolves.toBe(60);
    await page.getByRole('button', { name: 'Show local time' }).click();
    await expect(page.getByRole('button', { name: 'Show UTC' }).count()).resolves.toBe(1);
    await shoot(page, 'console-search');
    // At 200% zoom (half the CSS width) the page reflows instead of scrolling sideways.
    await page.setViewportSize({ width: 640, height: 800 });
    const overflow = await page.evaluate<number>(
      'document.documentElement.scrollWidth - document.documentElement.clientWidth',
    );
    expect(overflow).toBeLessThanOrEqual(0);
  });

  it('verifies an entry in the browser against the pinned key, and shows a tampered leaf as failed', async () => {
    const page = await newPage();
    await signIn(page, base, investigator, '/console/events?tenant=acme');
    await page.locator('table.results tbody tr a').first().click();
    await page.waitForURL(/\/console\/events\/[0-9a-f-]{36}$/);
    const id = page.url().split('/').pop() as string;
    await page.getByRole('button', { name: 'Pin this key and verify' }).click();
    const status = page.locator('#verify-status');
    await page.locator('#verify-status[data-result]').waitFor();
    // The text first: on a failure it says why.
    expect(await status.textContent()).toMatch(/^Verified: /);
    expect(await status.getAttribute('data-result')).toBe('verified');
    await shoot(page, 'console-event-verified');
    const download = page.waitForEvent('download');
    await page.getByRole('link', { name: 'Download the entry with its proof' }).click();
    const evidence = JSON.parse(readFileSync(await (await download).path(), 'utf8'));
    expect(evidence).toMatchObject({ id, log: 'acme' });

    const owner = await superuserClient(db);
    try {
      await owner.query('ALTER TABLE entries DISABLE TRIGGER entries_append_only');
      await owner.query(
        `UPDATE entries SET leaf = convert_to(replace(convert_from(leaf, 'UTF8'), '"user-', '"resu-'), 'UTF8')
         WHERE log = 'acme' AND idx = $1`,
        [evidence.index],
      );
      await owner.query('ALTER TABLE entries ENABLE TRIGGER entries_append_only');
    } finally {
      await owner.end();
    }
    await page.reload();
    await page.locator('#verify-status[data-result]').waitFor();
    expect(await status.getAttribute('data-result')).toBe('failed');
    expect(await status.textContent()).toContain('changed after it was logged');
    await shoot(page, 'console-event-tampered');
  });

  it('places a hold after a preview, and releases it only when a second legal person approves', async () => {
    const first = await createPerson(t, 'browser-legal-one', ['legal'], ['acme']);
    const second = await createPerson(t, 'browser-legal-two', ['legal'], ['acme']);
    const one = await newPage();
    await signIn(one, base, first.key, '/console/holds/new');
    await one.getByLabel('Tenant (or * for every tenant)').fill('acme');
    await one.getByLabel('Matter reference (no personal data)').fill('MATTER-2026-17');
    await one.getByLabel('Subjects').fill('subject-1');
    await one.getByRole('button', { name: 'Preview' }).click();
    await one.getByRole('heading', { name: 'Preview' }).waitFor();
    expect(await one.locator('.preview').textContent()).toMatch(/would cover\s+24\s+entries/);
    await shoot(one, 'console-hold-preview');
    await one.getByRole('button', { name: 'Place this hold' }).click();
    await one.waitForURL(/\/console\/holds\/[0-9a-f-]{36}$/);
    const holdUrl = one.url();
    await one.getByLabel('Reason', { exact: true }).fill('matter settled');
    await one.getByRole('button', { name: 'Request or approve the release' }).click();
    await one.getByText(/Release requested: 1 of 2/).waitFor();

    const two = await newPage();
    await signIn(two, base, second.key, new URL(holdUrl).pathname);
    await two.getByLabel('Reason', { exact: true }).fill('agreed: matter settled');
    await two.getByRole('button', { name: 'Request or approve the release' }).click();
    await two.getByText('The hold is released.').waitFor();
    expect(await two.locator('dl.members').textContent()).toContain('released');
    await shoot(two, 'console-hold-released');
  });

  it('downloads an export of a search', async () => {
    const page = await newPage();
    await signIn(page, base, investigator, '/console/events?tenant=acme&type=auth.login.failed');
    const download = page.waitForEvent('download');
    await page.getByRole('link', { name: 'Export these results (NDJSON)' }).click();
    const lines = readFileSync(await (await download).path(), 'utf8')
      .trim()
      .split('\n');
    const leaves = lines.map((line) => JSON.parse(line)).filter((line) => typeof line.leaf === 'string');
    expect(leaves).toHaveLength(60);
  });
});
