import { AddressInfo, Socket, connect, createServer } from 'node:net';
import { clearQueues } from '../support/redis-keys';
import { createTestDatabase, dropTestDatabase } from '../support/test-database';
import { RsyslogReceiver, ReceivedSyslog, startRsyslog } from './support/rsyslog';
import { ServiceProcess, callOk, startServiceProcess } from './support/service-process';
import { until } from './support/until';

const DELIVERY = {
  AUDIT_SINK_POLL_MS: '50',
  AUDIT_SINK_BACKOFF_MS: '50',
  AUDIT_SINK_MAX_BACKOFF_MS: '500',
  AUDIT_SINK_BATCH: '7',
  // The outage must not put the sink in error: it is to resume on its own.
  AUDIT_SINK_MAX_FAILURES: '100000',
};
/** How long the drill waits for what it expects to see. */
const WAIT = { timeoutMs: 60_000, pauseMs: 100 };

/**
 * A link to imrelp on `port` that, while `swallowing`, lets each new session's first frame (the
 * `open`, and its answer back) through and then swallows whatever the client sends: the messages
 * vanish unanswered, as on a link that fails once the session is open.
 */
async function relpLink(port: number) {
  let swallowing = false;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(port, '127.0.0.1');
    const swallow = swallowing;
    let head = Buffer.alloc(0);
    let opened = false;
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket
        .on('error', () => socket.destroy())
        .on('close', () => {
          client.destroy();
          upstream.destroy();
          sockets.delete(socket);
        });
    }
    upstream.pipe(client);
    client.on('data', (bytes: Buffer) => {
      if (!swallow) return void upstream.write(bytes);
      if (opened) return;
      head = Buffer.concat([head, bytes]);
      const open = /^\d+ open (\d+) /.exec(head.toString('latin1'));
      if (open === null || head.length < open[0].length + Number(open[1]) + 1) return;
      opened = true;
      upstream.write(head.subarray(0, open[0].length + Number(open[1]) + 1));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `relp://127.0.0.1:${(server.address() as AddressInfo).port}`,
    swallow: (on: boolean) => void (swallowing = on),
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * Every index 0..n-1 of `log` arrived, first arrivals in index order; a repeat only of an entry
 * at or after `outageFrom` (a resend across the outage), never of one delivered before it.
 */
function expectComplete(received: ReceivedSyslog[], log: string, n: number, outageFrom: number): void {
  const indices = received.filter((m) => m.log === log).map((m) => m.index);
  const firsts = indices.filter((index, i) => indices.indexOf(index) === i);
  expect(firsts).toEqual(Array.from({ length: n }, (_, i) => i));
  const repeats = indices.filter((index, i) => indices.indexOf(index) !== i);
  expect(repeats.filter((index) => index < outageFrom)).toEqual([]);
}

/**
 * Drill: a syslog sink against Debian's rsyslog (imtcp, octet-counted framing; then over TLS with
 * gtls), run as its own process. rsyslog is stopped while entries keep coming, then started
 * again: every entry of every log arrives, in order per log, none missing, and no entry of a log
 * the sink does not cover. Then RELP (imrelp) across a receiver that is frozen and killed.
 */
describe('drill: syslog and RELP delivery to rsyslog across a receiver outage', () => {
  let db: string;
  let service: ServiceProcess | undefined;
  const receivers: RsyslogReceiver[] = [];
  let link: Awaited<ReturnType<typeof relpLink>> | undefined;

  afterEach(async () => {
    await service?.kill();
    if (service) await clearQueues(service.env.AUDIT_QUEUE_PREFIX);
    service = undefined;
    for (const r of receivers.splice(0)) await r.close();
    await link?.close();
    link = undefined;
    await dropTestDatabase(db);
  });

  /** The service with a key to append with, and a syslog sink of acme and globex to `rsyslog` (initech not covered). */
  async function streamTo(rsyslog: RsyslogReceiver, env: Record<string, string> = {}, url = rsyslog.url) {
    service = await startServiceProcess(db, {
      ...DELIVERY,
      ...env,
      // The test certificate's CA, trusted by the service's TLS client (and by nothing else).
      ...(rsyslog.caFile ? { NODE_EXTRA_CA_CERTS: rsyslog.caFile } : {}),
    });
    const running = service;
    const admin = running.env.AUDIT_BOOTSTRAP_ADMIN_KEY;
    const emitter = (
      await callOk(running, admin, 'POST', '/v1/keys', { name: 'app', roles: ['emitter'], tenants: ['*'] })
    ).key as string;
    const counts: Record<string, number> = { acme: 0, globex: 0, initech: 0 };
    const append = async (tenant: string, n: number) => {
      const events = Array.from({ length: n }, (_, i) => ({
        tenant,
        type: 'auth.login.succeeded',
        actor: { type: 'user', id: `u${counts[tenant] + i}` },
      }));
      await callOk(running, emitter, 'POST', '/v1/events/batch', { events });
      counts[tenant] += n;
    };
    await append('acme', 20);
    await append('globex', 9);
    await append('initech', 4);
    const sink = await callOk(running, admin, 'POST', '/v1/sinks', {
      name: 'rsyslog',
      kind: 'syslog',
      url,
      tenants: ['acme', 'globex'],
      from: 'start',
    });
    const arrived = (log: string) =>
      new Set(
        rsyslog
          .received()
          .filter((m) => m.log === log)
          .map((m) => m.index),
      ).size;
    const allArrived = () => arrived('acme') === counts.acme && arrived('globex') === counts.globex;
    const state = () => callOk(running, admin, 'GET', `/v1/sinks/${sink.id}`);
    const caughtUp = async () => (await state()).positions.every((p: { lag: number }) => p.lag === 0);
    /** No index below the sink's position in a log is missing from what rsyslog wrote (`expect`s it). */
    const nothingAcknowledgedMissing = async () => {
      const written = rsyslog.received();
      for (const { log, position } of (await state()).positions as { log: string; position: number }[]) {
        const indices = new Set(written.filter((m) => m.log === log).map((m) => m.index));
        const missing = Array.from({ length: position }, (_, i) => i).filter((i) => !indices.has(i));
        expect({ log, missing }).toEqual({ log, missing: [] });
      }
    };
    return { counts, append, allArrived, state, caughtUp, nothingAcknowledgedMissing };
  }

  it.each([['tcp'], ['tls']])('over %s: every entry arrives, in order per log, none missing', async (transport) => {
    db = await createTestDatabase();
    const rsyslog = await startRsyslog({ tls: transport === 'tls' });
    receivers.push(rsyslog);
    const { counts, append, allArrived, state, caughtUp } = await streamTo(rsyslog);
    await until('the first entries at rsyslog', allArrived, WAIT);

    // rsyslog goes away; entries keep coming; the sink fails and says so.
    await rsyslog.stop();
    const before = { ...counts };
    await append('acme', 15);
    await append('globex', 6);
    await append('initech', 3);
    await until('a recorded failure', async () => (await state()).failures > 0, WAIT);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const failing = await state();
    expect(failing.status).toBe('active');
    expect(failing.lastError).not.toBeNull();

    await rsyslog.start();
    await until('every entry at rsyslog', allArrived, WAIT);
    const received = rsyslog.received();
    expectComplete(received, 'acme', counts.acme, before.acme);
    expectComplete(received, 'globex', counts.globex, before.globex);
    expect(received.filter((m) => m.log !== 'acme' && m.log !== 'globex')).toEqual([]);
    await until('positions at the end', caughtUp, WAIT);
    expect(await state()).toMatchObject({ status: 'active', failures: 0, lastError: null });
  });

  /*
   * RELP: the position moves only on imrelp's acknowledgement, which (a direct main queue) comes
   * after rsyslog wrote the message out. First the link swallows every message of each session
   * once it is open; then rsyslog is frozen (the kernel still takes connections and bytes,
   * nothing is answered) and killed, losing whatever it held unanswered. Nothing below a sink's
   * position may be missing from what rsyslog wrote, and once it is back every entry arrives, each
   * once: what was lost was never acknowledged, what was acknowledged is not sent again.
   */
  it('over relp: nothing acknowledged is lost, every entry arrives once', async () => {
    db = await createTestDatabase();
    const rsyslog = await startRsyslog({ relp: true });
    receivers.push(rsyslog);
    link = await relpLink(Number(new URL(rsyslog.url).port));
    const { counts, append, allArrived, state, caughtUp, nothingAcknowledgedMissing } = await streamTo(
      rsyslog,
      { AUDIT_SINK_TIMEOUT_MS: '1000' },
      link.url,
    );
    await until('the first entries at rsyslog', allArrived, WAIT);
    await until('positions at the end', caughtUp, WAIT);

    link.swallow(true);
    await append('acme', 15);
    await append('globex', 6);
    await append('initech', 3);
    // A correct sink fails here; one that counted written messages as delivered moves on.
    await until('the swallowed entries tried', async () => (await state()).failures > 1 || (await caughtUp()), WAIT);
    await nothingAcknowledgedMissing();

    link.swallow(false);
    rsyslog.freeze();
    const failures = (await state()).failures as number;
    await until('a failure against a frozen rsyslog', async () => (await state()).failures > failures, WAIT);
    await rsyslog.kill();
    await nothingAcknowledgedMissing();

    await rsyslog.start();
    await until('every entry at rsyslog', allArrived, WAIT);
    const received = rsyslog.received();
    expectComplete(received, 'acme', counts.acme, 0);
    expectComplete(received, 'globex', counts.globex, 0);
    expect(received.filter((m) => m.log !== 'acme' && m.log !== 'globex')).toEqual([]);
    await until('positions at the end', caughtUp, WAIT);
    expect(await state()).toMatchObject({ status: 'active', failures: 0, lastError: null });
  });
});
