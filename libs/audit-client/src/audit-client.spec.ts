import { GENESIS_PREV, LedgerEntry, encodeLeaf, leafHash } from '@audit/ledger';
import { AuditClient } from './audit-client';
import { AuditAlarm } from './receipts';

// The service stands behind a fake fetch here: a real one is in outbox-relay.int-spec.ts.
interface Call {
  events: { idempotencyKey: string; tenant: string; type: string; occurredAt: string }[];
}

function answerFor(call: Call) {
  return {
    results: call.events.map((e, i) => {
      const entry = {
        v: 1,
        log: e.tenant,
        index: i,
        prev: GENESIS_PREV,
        id: `019aee00-0000-7000-8000-00000000000${i}`,
        recordedAt: '2026-12-04T10:00:00.000Z',
        source: 'console',
        type: e.type,
        category: 'auth',
        actor: { type: 'user', id: 'u1' },
        outcome: 'unknown',
        occurredAt: e.occurredAt,
      } as LedgerEntry;
      const leaf = encodeLeaf(entry);
      return {
        id: entry.id,
        log: entry.log,
        index: i,
        recordedAt: entry.recordedAt,
        leafHash: leafHash(leaf).toString('base64'),
        leaf: leaf.toString('base64'),
      };
    }),
  };
}

function fakeService(statuses: (number | 'network')[], headers: Record<string, string> = {}) {
  const calls: Call[] = [];
  const at: number[] = [];
  const impl = (async (_url: string, init: RequestInit) => {
    const call = JSON.parse(String(init.body)) as Call;
    calls.push(call);
    at.push(Date.now());
    const status = statuses.shift() ?? 201;
    if (status === 'network') throw new TypeError('fetch failed');
    const body = status === 201 ? answerFor(call) : { statusCode: status, error: 'x', message: 'x' };
    return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });
  }) as unknown as typeof fetch;
  return { calls, at, impl };
}

const login = { tenant: 'acme', type: 'auth.logout' as const, actor: { type: 'user', id: 'u1' } };

function client(
  fetchImpl: typeof fetch,
  alarms: AuditAlarm[],
  extra: Partial<ConstructorParameters<typeof AuditClient>[0]> = {},
) {
  return new AuditClient({
    baseUrl: 'http://audit.test',
    apiKey: 'k',
    lingerMs: 5,
    backoff: { baseMs: 1, maxMs: 50, factor: 2 },
    fetch: fetchImpl,
    onAlarm: (a) => alarms.push(a),
    ...extra,
  });
}

describe('the in-memory client', () => {
  it('batches what arrives within the linger time into one request, each event under its own UUIDv7 key', async () => {
    const svc = fakeService([]);
    const c = client(svc.impl, []);
    const acks = await Promise.all([c.emit(login), c.emit(login), c.emit(login)]);
    expect(svc.calls).toHaveLength(1);
    const keys = svc.calls[0].events.map((e) => e.idempotencyKey);
    expect(new Set(keys).size).toBe(3);
    keys.forEach((k) => expect(k).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7/));
    expect(acks.map((a) => a.index)).toEqual([0, 1, 2]);
  });

  it('splits by batch size', async () => {
    const svc = fakeService([]);
    const c = client(svc.impl, [], { batchSize: 2 });
    await c.emitBatch([login, login, login, login, login]);
    expect(svc.calls.map((call) => call.events.length)).toEqual([2, 2, 1]);
  });

  it('retries network errors, 503 and 500 under the same keys until acknowledged', async () => {
    const svc = fakeService(['network', 503, 500]);
    const c = client(svc.impl, []);
    await c.emit(login);
    expect(svc.calls).toHaveLength(4);
    expect(new Set(svc.calls.map((call) => call.events[0].idempotencyKey)).size).toBe(1);
  });

  it('waits for the Retry-After of a 429', async () => {
    const svc = fakeService([429], { 'retry-after': '1' });
    const c = client(svc.impl, [], { backoff: { baseMs: 1, maxMs: 5_000, factor: 2 } });
    await c.emit(login);
    expect(svc.calls).toHaveLength(2);
    expect(svc.at[1] - svc.at[0]).toBeGreaterThanOrEqual(950);
  });

  it('never retries another 4xx, and raises the alarm', async () => {
    const svc = fakeService([422]);
    const alarms: AuditAlarm[] = [];
    const c = client(svc.impl, alarms);
    await expect(c.emit(login)).rejects.toThrow(/refused the events for good \(422\)/);
    expect(svc.calls).toHaveLength(1);
    expect(alarms).toEqual([expect.objectContaining({ kind: 'dead_letter' })]);
  });

  it('gives up after maxAttempts and says so', async () => {
    const svc = fakeService([503, 503, 503]);
    const c = client(svc.impl, [], { maxAttempts: 3 });
    await expect(c.emit(login)).rejects.toThrow(/unavailable after 3 attempts/);
  });
});
