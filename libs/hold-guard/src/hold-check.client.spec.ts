import { HoldCheckClient, HoldCheckError, type HoldQuestion } from '@audit/hold-guard';

const API_KEY = 'ak_live_9f8e7d6c5b4a-secret';
const SUBJECT = 'jane.doe@example.com';
const QUESTION: HoldQuestion = { tenant: 'acme', subject: SUBJECT, category: 'billing' };

type FetchCall = { url: string; init: RequestInit };

function fakeFetch(answer: (call: FetchCall) => Response | Promise<Response>) {
  const calls: FetchCall[] = [];
  const fetch = jest.fn(async (url: string | URL | Request, init?: RequestInit) => {
    const call = { url: String(url), init: init ?? {} };
    calls.push(call);
    return answer(call);
  });
  return { fetch: fetch as unknown as typeof globalThis.fetch, calls, mock: fetch };
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json', ...headers },
  });
}

function clientWith(answer: (call: FetchCall) => Response | Promise<Response>, timeoutMs?: number) {
  const fake = fakeFetch(answer);
  const client = new HoldCheckClient({
    baseUrl: 'https://audit.internal/',
    apiKey: API_KEY,
    fetch: fake.fetch,
    ...(timeoutMs === undefined ? {} : { timeoutMs }),
  });
  return { client, ...fake };
}

async function checkError(client: HoldCheckClient, question: HoldQuestion = QUESTION, signal?: AbortSignal) {
  try {
    await client.check(question, signal ? { signal } : {});
  } catch (error) {
    expect(error).toBeInstanceOf(HoldCheckError);
    const e = error as HoldCheckError;
    // Whatever went wrong, neither the key nor the subject may reach a log line.
    for (const text of [e.message, e.stack ?? '', e.serviceMessage ?? '', JSON.stringify(e)]) {
      expect(text).not.toContain(API_KEY);
      expect(text).not.toContain(SUBJECT);
    }
    return e;
  }
  throw new Error('expected the check to fail');
}

/** A fetch that answers only when aborted, as the real one does. */
function hangingFetch(call: FetchCall): Promise<Response> {
  return new Promise((_, reject) => {
    const signal = call.init.signal!;
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}

describe('HoldCheckClient', () => {
  describe('the request', () => {
    it('posts the question to /v1/holds/check with the key as a bearer token', async () => {
      const { client, calls } = clientWith(() => json(200, { held: false, holds: [] }));
      await client.check(QUESTION);
      expect(calls).toHaveLength(1);
      expect(calls[0].url).toBe('https://audit.internal/v1/holds/check');
      expect(calls[0].init.method).toBe('POST');
      const headers = calls[0].init.headers as Record<string, string>;
      expect(headers.authorization).toBe(`Bearer ${API_KEY}`);
      expect(headers['content-type']).toBe('application/json');
      expect(JSON.parse(String(calls[0].init.body))).toEqual({ tenant: 'acme', subject: SUBJECT, category: 'billing' });
    });

    it('keeps a path prefix in baseUrl', async () => {
      const fake = fakeFetch(() => json(200, { held: false, holds: [] }));
      const client = new HoldCheckClient({ baseUrl: 'http://gw.local/audit', apiKey: API_KEY, fetch: fake.fetch });
      await client.check({ tenant: 'acme' });
      expect(fake.calls[0].url).toBe('http://gw.local/audit/v1/holds/check');
    });

    it('sends only the contract fields, and a Date `at` as RFC 3339', async () => {
      const { client, calls } = clientWith(() => json(200, { held: false, holds: [] }));
      const question = {
        tenant: 'acme',
        actor: 'user:42',
        type: 'invoice.paid',
        at: new Date('2024-03-01T10:00:00Z'),
        payload: { card: '4111' },
      } as HoldQuestion;
      await client.check(question);
      expect(JSON.parse(String(calls[0].init.body))).toEqual({
        tenant: 'acme',
        actor: 'user:42',
        type: 'invoice.paid',
        at: '2024-03-01T10:00:00.000Z',
      });
    });

    it.each([
      ['no tenant', { subject: SUBJECT }],
      ['an empty tenant', { tenant: '', subject: SUBJECT }],
      ['a subject that is not a string', { tenant: 'acme', subject: 42 }],
      ['an invalid Date', { tenant: 'acme', subject: SUBJECT, at: new Date('nope') }],
      ['an `at` of the wrong type', { tenant: 'acme', subject: SUBJECT, at: 1_700_000_000 }],
    ])('refuses a question with %s without calling the service', async (_, question) => {
      const { client, mock } = clientWith(() => json(200, { held: false, holds: [] }));
      const error = await checkError(client, question as unknown as HoldQuestion);
      expect(error.code).toBe('invalid_question');
      expect(mock).not.toHaveBeenCalled();
    });
  });

  describe('answers', () => {
    it('returns the holds that cover the data', async () => {
      const { client } = clientWith(() =>
        json(200, { held: true, holds: [{ id: 'h-1', matter: 'M-2024-7' }, { id: 'h-2' }] }),
      );
      await expect(client.check(QUESTION)).resolves.toEqual({
        held: true,
        holds: [{ id: 'h-1', matter: 'M-2024-7' }, { id: 'h-2' }],
      });
    });

    it('returns not held', async () => {
      const { client } = clientWith(() => json(200, { held: false, holds: [] }));
      await expect(client.check(QUESTION)).resolves.toEqual({ held: false, holds: [] });
    });

    it('drops fields it does not know (the contract may add some)', async () => {
      const { client } = clientWith(() =>
        json(200, { held: true, checkedAt: 'x', holds: [{ id: 'h-1', scope: { subjects: [SUBJECT] } }] }),
      );
      await expect(client.check(QUESTION)).resolves.toEqual({ held: true, holds: [{ id: 'h-1' }] });
    });
  });

  describe('error answers', () => {
    it.each([
      [401, 'unauthenticated'],
      [403, 'forbidden'],
      [400, 'invalid_request'],
      [500, 'internal'],
    ])('throws HTTP %i with the service code %s', async (status, code) => {
      const { client } = clientWith(() =>
        json(status, { statusCode: status, error: 'x', code, message: `bad key ${API_KEY} for ${SUBJECT}` }),
      );
      const error = await checkError(client);
      expect(error.status).toBe(status);
      expect(error.code).toBe(code);
      expect(error.message).toBe(`hold check failed: HTTP ${status} (${code})`);
      expect(error.serviceMessage).toBe('bad key [redacted] for [redacted]');
    });

    it('reads Retry-After in seconds on 429', async () => {
      const { client } = clientWith(() =>
        json(
          429,
          { statusCode: 429, error: 'Too Many Requests', code: 'rate_limited', message: 'slow down' },
          {
            'retry-after': '7',
          },
        ),
      );
      const error = await checkError(client);
      expect(error).toMatchObject({ status: 429, code: 'rate_limited', retryAfterMs: 7000 });
    });

    it('reads Retry-After as an HTTP date', async () => {
      const at = new Date(Date.now() + 60_000).toUTCString();
      const { client } = clientWith(() => json(503, { code: 'unavailable' }, { 'retry-after': at }));
      const error = await checkError(client);
      expect(error.retryAfterMs).toBeGreaterThan(50_000);
      expect(error.retryAfterMs).toBeLessThanOrEqual(60_000);
    });

    it.each([
      ['a body that is not JSON', () => new Response('<html>bad gateway</html>', { status: 502 })],
      ['no code', () => json(500, { message: 'oops' })],
      ['a code that is not a plain token', () => json(500, { code: `no ${SUBJECT}` })],
    ])('gives unexpected_status for %s', async (_, answer) => {
      const { client } = clientWith(answer);
      const error = await checkError(client);
      expect(error.code).toBe('unexpected_status');
      expect(error.status).toBeGreaterThanOrEqual(500);
    });

    it('does not follow redirects', async () => {
      const { client, calls } = clientWith(
        () => new Response(null, { status: 307, headers: { location: 'https://elsewhere.example/' } }),
      );
      const error = await checkError(client);
      expect(calls[0].init.redirect).toBe('manual');
      expect(error).toMatchObject({ code: 'unexpected_status', status: 307 });
    });
  });

  describe('malformed answers', () => {
    it.each([
      ['not JSON', 'held'],
      ['an array', '[]'],
      ['null', 'null'],
      ['no held', '{"holds":[]}'],
      ['held as a string', '{"held":"false","holds":[]}'],
      ['no holds', '{"held":false}'],
      ['holds as an object', '{"held":true,"holds":{"id":"h-1"}}'],
      ['a hold that is not an object', '{"held":true,"holds":["h-1"]}'],
      ['a hold without id', '{"held":true,"holds":[{"matter":"M"}]}'],
      ['a hold with an empty id', '{"held":true,"holds":[{"id":""}]}'],
      ['a hold with a numeric id', '{"held":true,"holds":[{"id":7}]}'],
      ['a matter that is not a string', '{"held":true,"holds":[{"id":"h-1","matter":1}]}'],
      ['held without holds', '{"held":true,"holds":[]}'],
      ['holds while not held', '{"held":false,"holds":[{"id":"h-1"}]}'],
      ['an empty body', ''],
    ])('throws malformed_answer for %s', async (_, body) => {
      const { client } = clientWith(() => new Response(body, { status: 200 }));
      const error = await checkError(client);
      expect(error.code).toBe('malformed_answer');
      expect(error.status).toBeUndefined();
    });
  });

  describe('transport failures', () => {
    it('times out', async () => {
      const { client } = clientWith(hangingFetch, 20);
      const error = await checkError(client);
      expect(error.code).toBe('check_timeout');
      expect(error.message).toBe('hold check got no answer within 20 ms');
    });

    it('times out while the body is still arriving', async () => {
      const { client } = clientWith((call) => {
        const body = new ReadableStream({
          start(controller) {
            controller.enqueue(new TextEncoder().encode('{"held":'));
            call.init.signal!.addEventListener('abort', () => controller.error(call.init.signal!.reason));
          },
        });
        return new Response(body, { status: 200 });
      }, 20);
      expect((await checkError(client)).code).toBe('check_timeout');
    });

    it('stops when the caller aborts', async () => {
      const { client } = clientWith(hangingFetch, 10_000);
      const caller = new AbortController();
      setTimeout(() => caller.abort(), 10);
      const error = await checkError(client, QUESTION, caller.signal);
      expect(error.code).toBe('check_aborted');
    });

    it('reports an unreachable service, keeping the network cause', async () => {
      const cause = Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:443'), { code: 'ECONNREFUSED' });
      const { client } = clientWith(() => Promise.reject(new TypeError('fetch failed', { cause })));
      const error = await checkError(client);
      expect(error.code).toBe('check_unreachable');
      expect(error.status).toBeUndefined();
      expect((error.cause as Error).message).toBe('fetch failed');
    });
  });

  describe('construction', () => {
    it.each([
      ['a baseUrl that is not a URL', { baseUrl: 'audit', apiKey: API_KEY }],
      ['a baseUrl that is not http', { baseUrl: 'ftp://audit', apiKey: API_KEY }],
      ['an empty apiKey', { baseUrl: 'https://audit', apiKey: '' }],
      ['a zero timeout', { baseUrl: 'https://audit', apiKey: API_KEY, timeoutMs: 0 }],
    ])('refuses %s', (_, options) => {
      expect(() => new HoldCheckClient(options)).toThrow(/HoldCheckClient/);
    });
  });
});
