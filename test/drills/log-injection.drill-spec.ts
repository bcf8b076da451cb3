import { rmSync } from 'node:fs';
import { connect } from 'node:net';
import type { Readable } from 'node:stream';
import { clearQueues } from '../support/redis-keys';
import { createTestDatabase, dropTestDatabase, superuserClient } from '../support/test-database';
import { ServiceProcess, legalPersonKey, startServiceProcess } from './support/service-process';

// The role the service's queries run as (platform/database/database-bootstrap.ts RUNTIME_ROLE).
const RUNTIME_ROLE = 'audit_runtime';

/**
 * What an attacker puts wherever a request carries text: CR and LF with a forged JSON log line
 * after them, U+2028 and U+2029 (line terminators to JavaScript), NEL (U+0085), ANSI sequences
 * (colour, clear screen, a terminal title ended by BEL) with the 7-bit ESC and the 8-bit CSI.
 */
const FORGED = '{"level":60,"msg":"forged"}';
const HOSTILE = `x\r\n${FORGED}\n\u2028\u2029\u0085\u001b[31mred\u001b[2J\u001b]0;pwned\u0007\u009b0m-end`;
/**
 * In a raw HTTP head: UTF-8 bytes outside ASCII pass Node's parser (a header value reads as
 * Latin-1, so U+2028 arrives as "\u00e2\u0080\u00a8", a C1 control included); control characters
 * (ESC, BEL, a bare CR or LF) make it refuse the request (400) before any route.
 */
const HEAD_TEXT = 'x\u2028\u2029\u0085\u009b0m-end';
const HEAD_ESC = 'x\u001b[31mred\u001b]0;pwned\u0007-end';

/**
 * Sends `head` (request line and headers, without the blank line) and `body` as raw bytes on a
 * connection of its own (`Connection: close`: the service closes it after its answer), so nothing
 * a client library refuses or encodes is refused or encoded; resolves with the status of the
 * answer (null when the service closed without one).
 */
function rawRequest(url: string, head: string, body = ''): Promise<number | null> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) });
    const chunks: Buffer[] = [];
    socket.setTimeout(30_000, () => socket.destroy(new Error(`no answer within 30 s to ${JSON.stringify(head)}`)));
    socket.on('data', (b: Buffer) => chunks.push(b));
    socket.on('error', (e: NodeJS.ErrnoException) => (e.code === 'ECONNRESET' ? undefined : reject(e)));
    socket.on('close', () => {
      const status = /^HTTP\/1\.1 (\d{3}) /.exec(Buffer.concat(chunks).toString('latin1'));
      resolve(status ? Number(status[1]) : null);
    });
    const bodyBytes = Buffer.from(body, 'utf8');
    // Not end(): Node's server aborts a request whose client half-closed before it was answered.
    socket.write(
      Buffer.concat([
        Buffer.from(
          `${head}\r\nHost: ${hostname}:${port}\r\nConnection: close\r\nContent-Length: ${bodyBytes.length}\r\n\r\n`,
          'utf8',
        ),
        bodyBytes,
      ]),
    );
  });
}

/** Resolves once `stream` has emitted everything it will (its end), so the output is complete. */
async function drained(stream: Readable | null): Promise<void> {
  if (!stream || stream.readableEnded || stream.destroyed) return;
  await new Promise<void>((resolve) => {
    stream.once('end', resolve);
    stream.once('close', resolve);
  });
}

/**
 * "Log injection": CR, LF, U+2028 and ANSI escape sequences in headers, the URL and body fields,
 * sent to the built service as an OS process logging at `trace`, on routes that succeed and on
 * every error path reachable from outside (400, 401, 404, 413/415, 500, 503), never break a log
 * line: every line of its output parses as JSON, and none holds a raw ESC, CR, U+2028 or U+2029.
 */
describe('drill: log injection', () => {
  it('keeps every line of the service output one JSON object, whatever requests carry', async () => {
    const db = await createTestDatabase();
    let service: ServiceProcess | undefined;
    try {
      service = await startServiceProcess(db, { LOG_LEVEL: 'trace' });
      const url = service.url;
      const admin = service.env.AUDIT_BOOTSTRAP_ADMIN_KEY;
      const call = async (method: string, path: string, key: string | null, body?: unknown, headers = {}) => {
        const res = await fetch(`${url}${path}`, {
          method,
          headers: {
            ...(key !== null ? { authorization: `Bearer ${key}` } : {}),
            ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
            ...headers,
          },
          body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
        });
        return { status: res.status, body: (await res.text()) as string };
      };
      const createKey = async (name: string, roles: string[]) => {
        const res = await call('POST', '/v1/keys', admin, { name, roles, tenants: ['acme'] });
        expect(res.status).toBe(201);
        return (JSON.parse(res.body) as { key: string }).key;
      };
      const emitter = await createKey('auth-service', ['emitter']);
      const investigator = await createKey('ivan', ['investigator']);
      const legal = await legalPersonKey(service, 'lena', ['acme']);
      const enc = encodeURIComponent(HOSTILE);
      const event = {
        tenant: 'acme',
        type: 'auth.login.succeeded',
        actor: { type: 'user', id: HOSTILE },
        target: { type: 'session', id: HOSTILE },
        context: { [HOSTILE]: HOSTILE, nested: { note: HOSTILE } },
        personal: { subject: HOSTILE, data: { name: HOSTILE } },
      };

      // What each request is answered; all are checked together once they were sent.
      const statuses: [what: string, status: number | null, expected: number][] = [];
      const send = async (what: string, expected: number, sent: Promise<{ status: number } | number | null>) => {
        const answer = await sent;
        statuses.push([what, typeof answer === 'object' && answer !== null ? answer.status : answer, expected]);
      };
      const raw = (head: string, body?: string) => rawRequest(url, head, body);

      // Accepted requests carrying the hostile text in body fields, the query and headers.
      await send('an event with hostile fields', 201, call('POST', '/v1/events', emitter, event));
      await send(
        'a search by a hostile actor and subject',
        200,
        call('GET', `/v1/events?tenant=acme&actor=${enc}&subject=${enc}`, investigator),
      );
      await send(
        'a search with a hostile User-Agent and custom header (raw UTF-8)',
        200,
        raw(
          `GET /v1/events?tenant=acme&actor=${enc} HTTP/1.1\r\nAuthorization: Bearer ${investigator}\r\n` +
            `User-Agent: ${HEAD_TEXT}\r\nX-Custom: ${HEAD_TEXT}`,
        ),
      );
      await send(
        'a hold with a hostile matter, description and subject',
        201,
        call('POST', '/v1/holds', legal, {
          tenant: 'acme',
          matter: HOSTILE,
          description: HOSTILE,
          scope: { subjects: [HOSTILE], actors: [HOSTILE] },
        }),
      );
      await send(
        'a hold check of a hostile subject',
        200,
        call('POST', '/v1/holds/check', legal, { tenant: 'acme', subject: HOSTILE, actor: HOSTILE }),
      );
      await send(
        'an erasure of a hostile subject with a hostile reason (run by the worker)',
        202,
        call('POST', '/v1/deletion-requests', legal, {
          kind: 'subject_erasure',
          tenant: 'acme',
          subject: HOSTILE,
          reason: HOSTILE,
        }),
      );

      // 400, 401, 404, 413, 415: refused by the input rule, the guard, the router, Node's parser.
      await send('a hostile event type', 400, call('POST', '/v1/events', emitter, { ...event, type: HOSTILE }));
      await send(
        'a hostile idempotencyKey in a batch',
        400,
        call('POST', '/v1/events/batch', emitter, { events: [{ ...event, idempotencyKey: HOSTILE }] }),
      );
      await send(
        'a hostile Idempotency-Key (raw UTF-8)',
        400,
        raw(
          `POST /v1/events HTTP/1.1\r\nAuthorization: Bearer ${emitter}\r\nContent-Type: application/json\r\n` +
            `Idempotency-Key: ${HEAD_TEXT}`,
          JSON.stringify(event),
        ),
      );
      await send(
        'an Idempotency-Key with ESC (raw)',
        400,
        raw(
          `POST /v1/events HTTP/1.1\r\nAuthorization: Bearer ${emitter}\r\nContent-Type: application/json\r\n` +
            `Idempotency-Key: ${HEAD_ESC}`,
          JSON.stringify(event),
        ),
      );
      await send('an unknown hostile query parameter', 400, call('GET', `/v1/events?${enc}=${enc}`, investigator));
      await send('a hostile time filter', 400, call('GET', `/v1/events?tenant=acme&from=${enc}`, investigator));
      await send('hostile JSON syntax', 400, call('POST', '/v1/events', emitter, `{"tenant":"${HOSTILE}`));
      await send(
        'a hostile event too large',
        413,
        call('POST', '/v1/events', emitter, { ...event, context: { big: HOSTILE.repeat(2000) } }),
      );
      await send(
        'a hostile text body',
        415,
        call('POST', '/v1/events', emitter, HOSTILE, { 'content-type': 'text/plain' }),
      );
      await send(
        'a hostile charset (raw)',
        415,
        raw(
          `POST /v1/events HTTP/1.1\r\nAuthorization: Bearer ${emitter}\r\n` +
            `Content-Type: application/json; charset=${HEAD_TEXT}`,
          JSON.stringify(event),
        ),
      );
      await send(
        'a bogus hostile key (raw UTF-8)',
        401,
        raw(`GET /v1/events HTTP/1.1\r\nAuthorization: Bearer atk_${HEAD_TEXT}`),
      );
      await send(
        'a bogus key with ESC (raw)',
        400,
        raw(`GET /v1/events HTTP/1.1\r\nAuthorization: Bearer ${HEAD_ESC}`),
      );
      await send('a hostile key of the right shape', 401, call('GET', '/v1/events', `atk_${enc}`));
      await send('a User-Agent with ESC (raw)', 400, raw(`GET /health HTTP/1.1\r\nUser-Agent: ${HEAD_ESC}`));
      await send('a bare CR in a header (raw)', 400, raw(`GET /health HTTP/1.1\r\nX-Custom: a\rForged: ${FORGED}`));
      await send('a bare LF in a header (raw)', 400, raw(`GET /health HTTP/1.1\r\nX-Custom: a\n${FORGED}: b`));
      await send('ESC in the request target (raw)', 400, raw(`GET /v1/events?tenant=\u001b[2J HTTP/1.1`));
      await send('a hostile path', 404, call('GET', `/v1/${enc}/${enc}`, investigator));
      await send('a hostile log', 404, call('POST', `/v1/logs/${enc}/verify`, investigator));
      await send('a hostile hold id', 404, call('GET', `/v1/holds/${enc}`, legal));
      await send('a path that is not UTF-8', 400, call('GET', `/v1/holds/%ff${enc}`, legal));

      // 500 and 503 from outside: the runtime role may no longer append. An append answers 500
      // (logged as unhandled), a read whose record cannot be written 503 (logged by the interceptor).
      const su = await superuserClient(db);
      try {
        await su.query(`REVOKE INSERT ON entries FROM ${RUNTIME_ROLE}`);
        try {
          await send(
            'a hostile append the ledger cannot take (raw UTF-8 User-Agent)',
            500,
            raw(
              `POST /v1/events HTTP/1.1\r\nAuthorization: Bearer ${emitter}\r\nContent-Type: application/json\r\n` +
                `User-Agent: ${HEAD_TEXT}`,
              JSON.stringify(event),
            ),
          );
          await send(
            'a hostile read that cannot be recorded',
            503,
            call('GET', `/v1/events?tenant=acme&actor=${enc}&subject=${enc}`, investigator),
          );
        } finally {
          await su.query(`GRANT INSERT ON entries TO ${RUNTIME_ROLE}`);
        }
      } finally {
        await su.end();
      }

      // Each request reached the path it was meant for.
      expect(statuses.map(([what, status]) => [what, status])).toEqual(
        statuses.map(([what, , expected]) => [what, expected]),
      );

      // The whole output: the process is gone and its pipes have ended.
      await service.kill();
      await Promise.all([drained(service.child.stdout), drained(service.child.stderr)]);
      const output = service.output();
      const lines = output.split('\n').filter((line) => line.trim() !== '');
      const notJson = lines.filter((line) => {
        try {
          return typeof JSON.parse(line) !== 'object';
        } catch {
          return true;
        }
      });
      expect(notJson).toEqual([]);
      for (const [name, re] of [
        ['ESC', /\u001b/],
        ['BEL', /\u0007/],
        ['CR', /\r/],
        ['U+2028', /\u2028/],
        ['U+2029', /\u2029/],
        ['a C1 control', /[\u0080-\u009f]/],
      ] as const)
        expect({ raw: name, lines: lines.filter((line) => re.test(line)) }).toEqual({ raw: name, lines: [] });
      const entries = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
      expect(entries.every((e) => typeof e.level === 'number' && typeof e.msg === 'string')).toBe(true);
      // Nothing forged a line of its own, and the error paths were logged (so they were looked at).
      expect(entries.filter((e) => e.msg === 'forged' || e.level === 60)).toEqual([]);
      expect(entries.map((e) => e.msg)).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/^unhandled /),
          expect.stringMatching(/^a read of events\.search was refused/),
        ]),
      );
    } finally {
      await service?.kill();
      if (service) {
        rmSync(service.env.AUDIT_CHECKPOINT_DIR, { recursive: true, force: true });
        await clearQueues(service.env.AUDIT_QUEUE_PREFIX);
      }
      await dropTestDatabase(db);
    }
  });
});
