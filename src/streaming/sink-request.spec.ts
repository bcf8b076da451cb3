import { RequestValidationError } from '../platform';
import { parseCreateSink, parsePatchSink, parseReplay, shownUrl, urlProblem } from './sink-request';

const base = {
  name: 'siem',
  kind: 'ndjson',
  url: 'https://siem.example/in',
  secret: 's'.repeat(32),
  tenants: ['acme'],
  from: 'end',
};

function problemOf(fn: () => unknown): { path: string; message: string } {
  try {
    fn();
  } catch (e) {
    if (e instanceof RequestValidationError) return e.problems[0];
    throw e;
  }
  throw new Error('accepted');
}

describe('sink urls', () => {
  it.each([
    ['ndjson', 'https://siem.example/in'],
    ['ndjson', 'http://127.0.0.1:8080/in'],
    ['splunk_hec', 'http://localhost:8088/services/collector/event'],
    ['splunk_hec', 'http://[::1]:8088/services/collector/event'],
    ['syslog', 'tcp://logs.example:514'],
    ['syslog', 'tls://127.0.0.1:6514'],
    ['syslog', 'relp://logs.example:2514'],
  ] as const)('%s takes %s', (kind, url) => expect(urlProblem(kind, url)).toBeNull());

  it.each([
    ['ndjson', 'http://siem.example/in', /loopback/],
    ['ndjson', 'http://10.0.0.1/in', /loopback/],
    ['ndjson', 'https://user:pw@siem.example/in', /credentials/],
    ['ndjson', 'https://token@siem.example/in', /credentials/],
    ['ndjson', 'ftp://siem.example/in', /https/],
    ['ndjson', 'tcp://siem.example:514', /https/],
    ['ndjson', 'siem.example/in', /absolute/],
    ['ndjson', 'https://siem.example/in#x', /fragment/],
    ['syslog', 'https://logs.example', /tcp/],
    ['syslog', 'tcp://logs.example', /port/],
    ['syslog', 'tls://u:p@logs.example:6514', /credentials/],
    ['syslog', 'tcp://logs.example:514/path', /only/],
    ['syslog', 'relp://logs.example', /port/],
    ['syslog', 'relp://logs.example:2514?x=1', /only/],
    ['syslog', 'udp://logs.example:514', /relp/],
    // imrelp over TLS asks for a client certificate, which a sink has no place for.
    ['syslog', 'relps://127.0.0.1:2515', /relp/],
    ['ndjson', 'relp://siem.example:2514', /https/],
  ] as const)('%s refuses %s', (kind, url, why) => expect(urlProblem(kind, url)).toMatch(why));

  it('shows a URL without its query (it may carry a token)', () => {
    expect(shownUrl('https://siem.example/in?token=abc')).toBe('https://siem.example/in?…');
    expect(shownUrl('tcp://logs.example:514')).toBe('tcp://logs.example:514');
    expect(shownUrl('relp://logs.example:2514')).toBe('relp://logs.example:2514');
    expect(shownUrl('http://127.0.0.1:8080/a/b')).toBe('http://127.0.0.1:8080/a/b');
  });
});

describe('sink requests', () => {
  it('takes a full body and defaults personalData to false', () => {
    expect(parseCreateSink(base)).toEqual({
      ...base,
      categories: null,
      types: null,
      personalData: false,
    });
  });

  it('needs a secret for the HTTP kinds, not for syslog', () => {
    const { secret: _, ...noSecret } = base;
    expect(problemOf(() => parseCreateSink(noSecret)).path).toBe('/secret');
    expect(problemOf(() => parseCreateSink({ ...noSecret, kind: 'splunk_hec' })).path).toBe('/secret');
    expect(parseCreateSink({ ...noSecret, kind: 'syslog', url: 'tcp://127.0.0.1:514' }).secret).toBeNull();
  });

  it.each([
    [{ ...base, kind: 'kafka' }, '/kind'],
    [{ ...base, from: 'middle' }, '/from'],
    [{ ...base, tenants: [] }, '/tenants'],
    [{ ...base, tenants: ['*', 'acme'] }, '/tenants'],
    [{ ...base, tenants: ['platform'] }, '/tenants/0'],
    [{ ...base, tenants: ['Acme!'] }, '/tenants/0'],
    [{ ...base, categories: ['nope'] }, '/categories/0'],
    [{ ...base, types: ['NotAType'] }, '/types/0'],
    [{ ...base, secret: 'short' }, '/secret'],
    [{ ...base, url: 'https://a:b@x.example' }, '/url'],
    [{ ...base, extra: 1 }, '/extra'],
    [{ ...base, name: '   ' }, '/name'],
  ])('refuses a bad field (%#)', (body, path) => expect(problemOf(() => parseCreateSink(body)).path).toBe(path));

  it('patches only the fields given, checks the url against the kind, refuses from', () => {
    expect(parsePatchSink({ name: 'new' }, 'ndjson')).toEqual({ name: 'new' });
    expect(problemOf(() => parsePatchSink({}, 'ndjson')).path).toBe('');
    expect(problemOf(() => parsePatchSink({ url: 'https://x.example' }, 'syslog')).path).toBe('/url');
    expect(problemOf(() => parsePatchSink({ from: 'start' }, 'ndjson')).path).toBe('/from');
  });

  it('replays a tenant log only', () => {
    expect(parseReplay({ log: 'acme', from: 3 })).toEqual({ log: 'acme', from: 3 });
    expect(problemOf(() => parseReplay({ log: 'platform', from: 0 })).path).toBe('/log');
    expect(problemOf(() => parseReplay({ log: 'acme', from: -1 })).path).toBe('/from');
  });
});
