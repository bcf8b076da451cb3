import { BenchFigure } from './report';

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
