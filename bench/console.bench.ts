import { randomBytes } from 'node:crypto';
import { startBenchService } from './bench-service';
import { BenchFigure } from './report';

/** Entries of the searched type: more than a page, so both answers carry 50 rows and a cursor. */
const SEARCHED = 500;

const percentile = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))];

function cookieOf(res: Response, name: string): string {
  const line = res.headers.getSetCookie().find((h) => h.startsWith(`${name}=`));
  if (line === undefined) throw new Error(`no ${name} cookie`);
  return line.slice(name.length + 1).split(';')[0];
}

/** Signs in to the console with `key` as a browser would; the session's Cookie header. */
async function consoleSession(url: string, key: string): Promise<string> {
  const form = await fetch(`${url}/console/sign-in`);
  const pre = cookieOf(form, 'audit_console_sign_in');
  const csrf = /name="_csrf" value="([^"]+)"/.exec(await form.text())?.[1] ?? '';
  const signedIn = await fetch(`${url}/console/sign-in`, {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie: `audit_console_sign_in=${pre}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ _csrf: csrf, key, next: '/console/events' }).toString(),
  });
  if (signedIn.status !== 303) throw new Error(`console sign-in answered ${signedIn.status}`);
  return `audit_console=${cookieOf(signedIn, 'audit_console')}`;
}

async function timed(fetchIt: () => Promise<Response>): Promise<number> {
  const t0 = process.hrtime.bigint();
  const res = await fetchIt();
  await res.arrayBuffer();
  if (res.status !== 200) throw new Error(`a search answered ${res.status}`);
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

/**
 * The console's search page with 50 rows against the same search through the JSON API, one
 * request at a time, interleaved (API, page, API, page…) so both meet the same machine. The page
 * makes the same API call in-process and renders it: the ratio is what the console adds.
 */
export async function consoleBench(
  url: string,
  key: string,
  tenant: string,
  quick: boolean,
  log: (line: string) => void,
): Promise<BenchFigure[]> {
  const rounds = quick ? 20 : 300;
  log(`console: search page of 50 rows against GET /v1/events, ${rounds} interleaved requests each`);
  const cookie = await consoleSession(url, key);
  const query = `tenant=${tenant}&type=auth.login.failed`;
  const api = () => fetch(`${url}/v1/events?${query}&limit=50`, { headers: { authorization: `Bearer ${key}` } });
  const page = () => fetch(`${url}/console/events?${query}`, { headers: { cookie } });
  for (let i = 0; i < 5; i++) await Promise.all([timed(api), timed(page)]);
  const apiMs: number[] = [];
  const pageMs: number[] = [];
  for (let i = 0; i < rounds; i++) {
    apiMs.push(await timed(api));
    pageMs.push(await timed(page));
  }
  const median = (xs: number[]) => percentile(xs, 0.5);
  return [
    {
      name: 'console search page (50 rows), median latency',
      value: median(pageMs),
      unit: 'ms',
      baseline: { name: 'the same search, JSON API', value: median(apiMs) },
      target: { kind: 'max-ratio', value: 1.5 },
    },
  ];
}

/**
 * `--only=console`: the built service as a child process on a fresh database (as
 * `npm run start:prod` runs it), a tenant with more failed sign-ins than a page holds, then
 * `consoleBench`. Removes its database and checkpoint directory afterwards.
 */
export async function runConsoleBench(quick: boolean, log: (line: string) => void): Promise<BenchFigure[]> {
  const service = await startBenchService({
    database: `audit_bench_console_${randomBytes(4).toString('hex')}`,
    ports: { from: 3980, spread: 9 },
    log: (line) => log(`console: ${line}`),
  });
  const { url, admin } = service;
  try {
    const made = await fetch(`${url}/v1/keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'bench-console', roles: ['emitter', 'investigator'], tenants: ['*'] }),
    });
    if (made.status !== 201) throw new Error(`creating the bench key answered ${made.status}`);
    const { key } = (await made.json()) as { key: string };
    for (let from = 0; from < SEARCHED; from += 250) {
      const events = Array.from({ length: 250 }, (_, i) => ({
        tenant: 'console',
        type: (from + i) % 5 === 4 ? 'auth.login.succeeded' : 'auth.login.failed',
        actor: { type: 'user', id: `user-${(from + i) % 37}` },
        personal: { subject: `subject-${(from + i) % 37}`, data: { email: `person${(from + i) % 37}@example.test` } },
      }));
      const res = await fetch(`${url}/v1/events/batch`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ events }),
      });
      if (res.status !== 201) throw new Error(`seeding the console tenant answered ${res.status}`);
    }
    return await consoleBench(url, key, 'console', quick, log);
  } finally {
    await service.stop();
  }
}
