import { AddressInfo, createServer } from 'node:net';
import { parseCheckpoint } from '@audit/ledger';
import { verifyWebhookSignature } from '../src/notifications/webhook-signature';
import { RelpFrameReader } from '../src/streaming/relp';
import { SinkReceiver, startSinkReceiver } from './support/sink-receivers';
import { TestApp, createKey, firstLegalPerson, startTestApp } from './support/test-app';
import { createTestDatabase, dropTestDatabase } from './support/test-database';

const auth = (key: string) => ({ authorization: `Bearer ${key}` });
const SECRET = 'ndjson-secret-0123456789abcdefghij';
const HEC_TOKEN = '0b6c1f2e-5d7a-4c3b-9e8f-1a2b3c4d5e6f';

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The OCSF events of NDJSON batches, in arrival order. */
const ndjsonEvents = (r: SinkReceiver) =>
  r.received.flatMap((b) =>
    b.body
      .toString('utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Record<string, any>),
  );
/** The OCSF events of HEC batches (one JSON object per line), in arrival order. */
const hecEvents = (r: SinkReceiver) =>
  r.received.flatMap((b) =>
    b.body
      .toString('utf8')
      .split('\n')
      .map((l) => (JSON.parse(l) as { event: Record<string, any> }).event),
  );

/** Every index 0..n-1 of `log` arrived, first arrivals in order; a repeat only re-sends what came before. */
function expectComplete(events: Record<string, any>[], log: string, n: number): void {
  const seqs = events.filter((e) => e.metadata.tenant_uid === log).map((e) => e.metadata.sequence as number);
  const firsts = seqs.filter((s, i) => seqs.indexOf(s) === i);
  expect(firsts).toEqual(Array.from({ length: n }, (_, i) => i));
}

describe('delivery to sinks', () => {
  let db: string;
  let t: TestApp;
  let emitter: string;
  let ndjson: SinkReceiver;
  let hec: SinkReceiver;
  const counts: Record<string, number> = { acme: 0, globex: 0 };
  /** The leaf hash (hex) the service answered for each appended entry, by `log/index`. */
  const leafHashes = new Map<string, string>();

  const append = async (tenant: string, n: number, personal = false) => {
    const res = await t
      .http()
      .post('/v1/events/batch')
      .set(auth(emitter))
      .send({
        events: Array.from({ length: n }, (_, i) => ({
          tenant,
          type: 'auth.login.succeeded',
          actor: { type: 'user', id: `u${i}` },
          ...(personal ? { personal: { subject: `u${i}`, data: { email: `person${i}@example.test` } } } : {}),
        })),
      })
      .expect(201);
    for (const r of res.body.results as { log: string; index: number; leafHash: string }[])
      leafHashes.set(`${r.log}/${r.index}`, Buffer.from(r.leafHash, 'base64').toString('hex'));
    counts[tenant] += n;
  };
  const sink = async (body: object, key = t.adminKey) =>
    (await t.http().post('/v1/sinks').set(auth(key)).send(body).expect(201)).body as Record<string, any>;

  beforeAll(async () => {
    db = await createTestDatabase();
    t = await startTestApp(db, {
      AUDIT_SINK_POLL_MS: '50',
      AUDIT_SINK_BACKOFF_MS: '20',
      AUDIT_SINK_MAX_BACKOFF_MS: '200',
      AUDIT_SINK_BATCH: '7',
    });
    emitter = await createKey(t, 'emitter', ['emitter'], ['*']);
    ndjson = await startSinkReceiver();
    hec = await startSinkReceiver();
    await append('acme', 12, true);
    await append('globex', 5);
  });

  afterAll(async () => {
    await t.close();
    await ndjson.stop();
    await hec.stop();
    await dropTestDatabase(db);
  });

  it('delivers every entry of its tenants, in order, signed, under a checkpoint, across a receiver outage', async () => {
    const n = await sink({
      name: 'siem',
      kind: 'ndjson',
      url: ndjson.url('/in'),
      secret: SECRET,
      tenants: ['acme'],
      from: 'start',
    });
    const h = await sink({
      name: 'splunk',
      kind: 'splunk_hec',
      url: hec.url('/services/collector/event'),
      secret: HEC_TOKEN,
      tenants: ['acme'],
      from: 'start',
    });
    await until('the first entries', () => ndjsonEvents(ndjson).length >= 12 && hecEvents(hec).length >= 12);

    // The receivers go away; entries keep coming; the sinks fail and record it.
    // The NDJSON receiver is gone (connection refused); the HEC one answers 503 (kept nothing).
    await ndjson.stop();
    hec.status = 503;
    await append('acme', 9);
    await until('a recorded failure', async () => {
      const got = await t.http().get(`/v1/sinks/${n.id}`).set(auth(t.adminKey)).expect(200);
      const gotHec = await t.http().get(`/v1/sinks/${h.id}`).set(auth(t.adminKey)).expect(200);
      return got.body.failures > 0 && got.body.lastError !== null && gotHec.body.failures > 0;
    });
    expect((await t.http().get(`/v1/sinks/${h.id}`).set(auth(t.adminKey))).body.lastError.message).toBe(
      'the receiver answered 503',
    );
    const failing = (await t.http().get(`/v1/sinks/${n.id}`).set(auth(t.adminKey)).expect(200)).body;
    expect(failing.lastError.message).toMatch(/ECONNREFUSED|delivery failed/);
    expect(failing.positions).toEqual([{ log: 'acme', position: 12, size: 21, lag: 9, sent: 12 }]);
    await ndjson.start();
    hec.status = 200;
    await until('everything', () => ndjsonEvents(ndjson).length >= 21 && hecEvents(hec).length >= 21);

    const events = ndjsonEvents(ndjson);
    expectComplete(events, 'acme', 21);
    expectComplete(hecEvents(hec), 'acme', 21);
    expect(events.filter((e) => e.metadata.tenant_uid !== 'acme')).toEqual([]);
    // Each event carries its entry's leaf hash, the one its append was answered with.
    for (const e of [...events, ...hecEvents(hec)])
      expect(e.unmapped.leaf_hash).toBe(leafHashes.get(`${e.metadata.tenant_uid}/${e.metadata.sequence}`));
    expect(hecEvents(hec).filter((e) => e.metadata.tenant_uid !== 'acme')).toEqual([]);
    // Not approved for personal data: none of it left.
    expect(events.some((e) => 'personal' in e.unmapped)).toBe(false);
    expect(
      JSON.stringify(ndjson.received.map((b) => b.body.toString())) +
        JSON.stringify(hec.received.map((b) => b.body.toString())),
    ).not.toMatch(/@example\.test/);

    for (const batch of ndjson.received) {
      const ts = batch.headers['x-audit-timestamp'] as string;
      expect(
        verifyWebhookSignature(SECRET, ts, batch.body, batch.headers['x-audit-signature'] as string, Number(ts), 0),
      ).toBe(true);
      const note = Buffer.from(batch.headers['x-audit-checkpoint'] as string, 'base64').toString('utf8');
      const { size } = parseCheckpoint(note.slice(0, note.indexOf('\n\n') + 1));
      const lines = batch.body
        .toString()
        .split('\n')
        .filter((l) => l !== '');
      // Only entries the batch's signed checkpoint covers.
      for (const line of lines) expect(JSON.parse(line).metadata.sequence).toBeLessThan(size);
    }
    for (const batch of hec.received) expect(batch.headers.authorization).toBe(`Splunk ${HEC_TOKEN}`);
    expect(hecEvents(hec)[0]).toMatchObject({ class_uid: 3002, type_uid: 300201, metadata: { version: '1.3.0' } });

    const done = (await t.http().get(`/v1/sinks/${n.id}`).set(auth(t.adminKey)).expect(200)).body;
    expect(done).toMatchObject({ status: 'active', failures: 0, lastError: null });
    expect(done.positions).toEqual([{ log: 'acme', position: 21, size: 21, lag: 0, sent: 21 }]);
    const metrics = await t.http().get('/metrics').expect(200);
    expect(metrics.text).toContain(`audit_sink_sent_total{sink="${n.id}"} 21`);
    expect(metrics.text).toMatch(new RegExp(`audit_sink_failed_total\\{sink="${h.id}"\\} [1-9]`));
    await t.http().delete(`/v1/sinks/${n.id}`).set(auth(t.adminKey)).expect(204);
    await t.http().delete(`/v1/sinks/${h.id}`).set(auth(t.adminKey)).expect(204);
  });

  it('a sink with personal data sends nothing until approved, then the personal data too', async () => {
    ndjson.received.length = 0;
    const p = await sink({
      name: 'with-personal',
      kind: 'ndjson',
      url: ndjson.url('/personal'),
      secret: SECRET,
      tenants: ['acme'],
      from: 'start',
      personalData: true,
    });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(ndjson.received).toEqual([]);
    const legal = await firstLegalPerson(t);
    await t.http().post(`/v1/sinks/${p.id}/approve`).set(auth(legal.key)).expect(200);
    await until('the entries', () => ndjsonEvents(ndjson).length >= counts.acme);
    const events = ndjsonEvents(ndjson);
    expectComplete(events, 'acme', counts.acme);
    expect(events[0].unmapped.personal).toEqual({ email: 'person0@example.test' });
    expect(events[12].unmapped).not.toHaveProperty('personal');
    await t.http().delete(`/v1/sinks/${p.id}`).set(auth(t.adminKey)).expect(204);
  });

  it('a sink of one tenant never gets another tenant entries; "*" gets every tenant but never platform', async () => {
    ndjson.received.length = 0;
    const g = await sink({
      name: 'globex',
      kind: 'ndjson',
      url: ndjson.url('/g'),
      secret: SECRET,
      tenants: ['globex'],
      from: 'start',
    });
    await until('globex', () => ndjsonEvents(ndjson).length >= counts.globex);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(new Set(ndjsonEvents(ndjson).map((e) => e.metadata.tenant_uid))).toEqual(new Set(['globex']));
    await t.http().delete(`/v1/sinks/${g.id}`).set(auth(t.adminKey)).expect(204);
    ndjson.received.length = 0;
    const all = await sink({
      name: 'all',
      kind: 'ndjson',
      url: ndjson.url('/all'),
      secret: SECRET,
      tenants: ['*'],
      from: 'start',
    });
    await until('all', () => ndjsonEvents(ndjson).length >= counts.globex + counts.acme);
    const events = ndjsonEvents(ndjson);
    expectComplete(events, 'acme', counts.acme);
    expectComplete(events, 'globex', counts.globex);
    expect(events.filter((e) => e.metadata.tenant_uid === 'platform')).toEqual([]);
    await t.http().delete(`/v1/sinks/${all.id}`).set(auth(t.adminKey)).expect(204);
  });

  it('POST /v1/sinks/{id}/test sends one signed test event and moves nothing', async () => {
    ndjson.received.length = 0;
    const s = await sink({
      name: 'tested',
      kind: 'ndjson',
      url: ndjson.url('/t'),
      secret: SECRET,
      tenants: ['acme'],
      from: 'end',
    });
    const res = await t.http().post(`/v1/sinks/${s.id}/test`).set(auth(t.adminKey)).expect(200);
    expect(res.body).toEqual({ delivered: true, error: null });
    const [batch] = ndjson.received;
    const ts = batch.headers['x-audit-timestamp'] as string;
    expect(
      verifyWebhookSignature(SECRET, ts, batch.body, batch.headers['x-audit-signature'] as string, Number(ts), 0),
    ).toBe(true);
    expect(JSON.parse(batch.body.toString())).toMatchObject({ message: 'sink.test', metadata: { sequence: -1 } });
    await ndjson.stop();
    const failed = await t.http().post(`/v1/sinks/${s.id}/test`).set(auth(t.adminKey)).expect(200);
    expect(failed.body).toEqual({ delivered: false, error: expect.stringMatching(/ECONNREFUSED|delivery failed/) });
    await ndjson.start();
  });

  it('a RELP sink moves past exactly the messages the receiver acknowledged, also in a batch that broke', async () => {
    // A RELP receiver that answers 200 to the first `budget` messages and breaks the connection
    // at the next one (received, never acknowledged).
    let budget = 10;
    const indices: number[] = [];
    const receiver = createServer((socket) => {
      const reader = new RelpFrameReader();
      socket.on('error', () => socket.destroy());
      socket.on('data', (bytes: Buffer) => {
        for (const frame of reader.push(bytes)) {
          if (frame.command === 'open') socket.write(`${frame.txnr} rsp 22 200 OK\ncommands=syslog\n`);
          if (frame.command === 'close') socket.end(`${frame.txnr} rsp 0\n`);
          if (frame.command !== 'syslog') continue;
          indices.push(Number(/ index="(\d+)"/.exec(frame.data.toString('latin1'))?.[1]));
          if (budget === 0) return void socket.destroy();
          budget--;
          socket.write(`${frame.txnr} rsp 6 200 OK\n`);
        }
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    try {
      const port = (receiver.address() as AddressInfo).port;
      const s = await sink({
        name: 'relp',
        kind: 'syslog',
        url: `relp://127.0.0.1:${port}`,
        tenants: ['acme'],
        from: 'start',
      });
      const view = async () =>
        (await t.http().get(`/v1/sinks/${s.id}`).set(auth(t.adminKey)).expect(200)).body as Record<string, any>;
      // Batches of 7: the first acknowledged whole, the second broken after its third message.
      await until('a failure', async () => (await view()).failures > 1);
      expect((await view()).positions).toEqual([expect.objectContaining({ log: 'acme', position: 10 })]);
      expect((await view()).lastError.message).toMatch(/RELP_CLOSED|ECONNRESET|EPIPE/);
      expect(indices.slice(0, 11)).toEqual(Array.from({ length: 11 }, (_, i) => i));

      budget = Infinity;
      await until('every entry acknowledged', async () => (await view()).positions[0].position === counts.acme);
      // Each acknowledged message was sent once; only index 10 (received, not acknowledged) again.
      const firsts = indices.filter((index, i) => indices.indexOf(index) === i);
      expect(firsts).toEqual(Array.from({ length: counts.acme }, (_, i) => i));
      expect(indices.filter((index, i) => indices.indexOf(index) !== i).every((index) => index === 10)).toBe(true);
      expect(await view()).toMatchObject({ failures: 0, lastError: null });
    } finally {
      await new Promise<void>((resolve) => receiver.close(() => resolve()));
    }
  });
});
