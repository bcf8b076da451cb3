import type { TestApp } from './test-app';

/** The value of cookie `name` in a response's Set-Cookie headers, or undefined. */
export function setCookie(res: { headers: Record<string, unknown> }, name: string): string | undefined {
  const headers = res.headers['set-cookie'];
  const list = Array.isArray(headers) ? (headers as string[]) : typeof headers === 'string' ? [headers] : [];
  const line = list.find((h) => h.startsWith(`${name}=`));
  return line?.slice(name.length + 1).split(';')[0];
}

/** The hidden `_csrf` field of a page. */
export function csrfOf(page: string): string {
  const match = /name="_csrf" value="([^"]+)"/.exec(page);
  if (!match) throw new Error('the page has no CSRF field');
  return match[1];
}

/** A signed-in console session for the holder of `key`: its Cookie header and CSRF token. */
export async function consoleSignIn(t: TestApp, key: string): Promise<{ cookie: string; csrf: string; token: string }> {
  const form = await t.http().get('/console/sign-in').expect(200);
  const pre = setCookie(form, 'audit_console_sign_in') as string;
  const res = await t
    .http()
    .post('/console/sign-in')
    .set('cookie', `audit_console_sign_in=${pre}`)
    .type('form')
    .send({ _csrf: csrfOf(form.text), key, next: '/console/settings' })
    .expect(303);
  const token = setCookie(res, 'audit_console') as string;
  const cookie = `audit_console=${token}`;
  const settings = await t.http().get('/console/settings').set('cookie', cookie).expect(200);
  return { cookie, csrf: csrfOf(settings.text), token };
}
