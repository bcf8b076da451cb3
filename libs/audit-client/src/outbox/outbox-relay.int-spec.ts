import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client, Pool } from 'pg';
import { DataSource } from 'typeorm';
import { TcpProxy } from '../../../../test/support/tcp-proxy';
import { TestApp, createKey, startTestApp } from '../../../../test/support/test-app';
import { createTestDatabase, dropTestDatabase, superuserClient } from '../../../../test/support/test-database';
import { AuditEvent, toWire } from '../audit-event';
import { AuditAlarm, ReceiptVerifier } from '../receipts';
import { Acknowledgement } from '../transport';
import { outboxForEntityManager, outboxForPg } from './audit-outbox';
import { OutboxRelay, listDeadLetters, resendDeadLetter } from './outbox-relay';
import { OUTBOX_MIGRATION_SQL } from './outbox-schema';

// Real: the audit service (in-process, on a loopback port), its PostgreSQL database, the
// emitter's own PostgreSQL database with the shipped migration, global fetch. A TCP proxy in
// front of the service takes it away for a while.

const SERVER = process.env.TEST_DATABASE_SERVER ?? 'postgres://postgres@127.0.0.1:5432';

async function createEmitterDatabase(): Promise<string> {
  const name = `audit_test_emitter_${randomBytes(6).toString('hex')}`;
  const admin = new Client({ connectionString: `${SERVER}/postgres` });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${name}"`);
  await admin.end();
  const url = `${SERVER}/${name}`;
  const client = new Client({ connectionString: url });
  await client.connect();
  await client.query(OUTBOX_MIGRATION_SQL);
  await client.query('CREATE TABLE orders (id text PRIMARY KEY)');
  await client.end();
  return url;
}

const paid = (orderId: string): AuditEvent => ({
  tenant: 'acme',
  type: 'billing.invoice.paid',
  actor: { type: 'user', id: 'u1' },
  target: { type: 'invoice', id: orderId },
  outcome: 'success',
  context: { invoiceId: orderId, amountCents: 1200, currency: 'EUR' },
});

async function until(probe: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await probe())) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('the transactional outbox and its relay, against the real service', () => {
  let serviceDb: string;
  let emitterDb: string;
  let t: TestApp;
  let url: string;
  let proxy: TcpProxy;
  let pool: Pool;
  let apiKey: string;
  let readKey: string;
  let service: Client;
  const alarms: AuditAlarm[] = [];
  const relays: OutboxRelay[] = [];

  beforeAll(async () => {
    serviceDb = await createTestDatabase();
    emitterDb = await createEmitterDatabase();
    t = await startTestApp(serviceDb);
    await t.app.listen(0, '127.0.0.1');
    const port = (t.app.getHttpServer().address() as AddressInfo).port;
    proxy = await TcpProxy.start(port);
    url = `http://127.0.0.1:${proxy.port}`;
    apiKey = await createKey(t, 'console', ['emitter'], ['acme']);
    readKey = await createKey(t, 'console-receipts', ['investigator'], ['acme']);
    pool = new Pool({ connectionString: emitterDb, max: 8 });
    service = await superuserClient(serviceDb);
  });

  afterEach(async () => {
    await Promise.all(relays.splice(0).map((r) => r.stop()));
    alarms.length = 0;
    await pool.query('DELETE FROM audit_outbox');
  });

  afterAll(async () => {
    await pool?.end();
    await service?.end();
    await proxy?.close();
    await t?.close();
    if (emitterDb) await dropTestDatabase(emitterDb);
    if (serviceDb) await dropTestDatabase(serviceDb);
  });

  function relay(options: Partial<ConstructorParameters<typeof OutboxRelay>[1]> = {}): OutboxRelay {
    const r = new OutboxRelay(pool, {
      baseUrl: url,
      apiKey,
      source: 'console',
      idleMs: 20,
      backoff: { baseMs: 20, maxMs: 200, factor: 2 },
      timeoutMs: 2_000,
      onAlarm: (a) => alarms.push(a),
      ...options,
    });
    relays.push(r);
    return r;
  }

  const outboxRows = async () => Number((await pool.query('SELECT count(*) FROM audit_outbox')).rows[0].count);
  const entries = async () =>
    Number((await service.query(`SELECT count(*) FROM entries WHERE log = 'acme'`)).rows[0].count);
  /** Invoices (target ids) with more than one entry in the log. */
  const duplicated = async () =>
    (
      await service.query(
        `SELECT convert_from(leaf, 'UTF8')::jsonb->'target'->>'id' AS id FROM entries WHERE log = 'acme'
         GROUP BY 1 HAVING count(*) > 1`,
      )
    ).rows;

  it('writes the event in the business transaction (pg and TypeORM): rolled back with it, committed with it', async () => {
    const tx = await pool.connect();
    await tx.query('BEGIN');
    await tx.query(`INSERT INTO orders VALUES ('o-rolled-back')`);
    await outboxForPg(tx).record(paid('o-rolled-back'));
    await tx.query('ROLLBACK');
    await tx.query('BEGIN');
    await tx.query(`INSERT INTO orders VALUES ('o-pg')`);
    const [key] = await outboxForPg(tx).record(paid('o-pg'));
    await tx.query('COMMIT');
    tx.release();
    expect(key).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-/);

    const dataSource = await new DataSource({ type: 'postgres', url: emitterDb }).initialize();
    try {
      await expect(
        dataSource.transaction(async (manager) => {
          await manager.query(`INSERT INTO orders VALUES ('o-orm-failed')`);
          await outboxForEntityManager(manager).record(paid('o-orm-failed'));
          throw new Error('business rule');
        }),
      ).rejects.toThrow('business rule');
      await dataSource.transaction(async (manager) => {
        await manager.query(`INSERT INTO orders VALUES ('o-orm')`);
        await outboxForEntityManager(manager).record(paid('o-orm'));
      });
    } finally {
      await dataSource.destroy();
    }
    const rows = await pool.query(`SELECT event->'target'->>'id' AS id FROM audit_outbox ORDER BY audit_outbox.id`);
    expect(rows.rows.map((r) => r.id)).toEqual(['o-pg', 'o-orm']);
  });

  it('writes and commits in one round trip (recordAndCommit): the event exactly as sent, quotes and backslashes included; a failed write commits nothing', async () => {
    // A value that would end a literal early, or read as an escape, if it were not escaped.
    const hostile: AuditEvent = {
      ...paid('o-one-trip'),
      occurredAt: '2026-12-04T10:00:00.000Z',
      context: {
        invoiceId: `o'); DROP TABLE orders; --`,
        note: 'back\\slash \\\' quote " \u00e9 \u{1F600}',
        amountCents: 1,
        currency: 'EUR',
      },
    };
    const tx = await pool.connect();
    try {
      await tx.query('BEGIN');
      await tx.query(`INSERT INTO orders VALUES ('o-one-trip')`);
      const [key] = await outboxForPg(tx).recordAndCommit(hostile);
      // Committed: another connection sees both rows.
      const row = await pool.query('SELECT idempotency_key, event FROM audit_outbox WHERE idempotency_key = $1', [key]);
      expect(row.rows[0].event).toEqual(toWire(hostile));
      expect((await pool.query(`SELECT 1 FROM orders WHERE id = 'o-one-trip'`)).rowCount).toBe(1);

      // A write that fails (a key that exists: the same statement twice) leaves the business row
      // uncommitted too, and the connection usable after a ROLLBACK.
      await tx.query('BEGIN');
      await tx.query(`INSERT INTO orders VALUES ('o-not-committed')`);
      await tx
        .query(`INSERT INTO audit_outbox (idempotency_key, event) VALUES ($1, '{}')`, [key])
        .catch(() => undefined);
      await expect(outboxForPg(tx).recordAndCommit(paid('o-not-committed'))).rejects.toThrow();
      await tx.query('ROLLBACK');
      expect((await pool.query(`SELECT 1 FROM orders WHERE id = 'o-not-committed'`)).rowCount).toBe(0);
    } finally {
      tx.release();
    }
  });

  it('sends the rows, deletes them on acknowledgement, and their receipts prove against the pinned key', async () => {
    const acks: Acknowledgement[] = [];
    const before = await entries();
    await outboxForPg(pool).record(paid('o-1'), paid('o-2'), paid('o-3'));
    const r = relay({ onAcknowledged: (a) => acks.push(...a) });
    r.start();
    await until(async () => (await outboxRows()) === 0);
    expect(await entries()).toBe(before + 3);
    expect(acks).toHaveLength(3);

    const pinned = (await t.http().get('/v1/logs/acme/key').set('authorization', `Bearer ${readKey}`).expect(200)).text;
    const verifier = new ReceiptVerifier({
      baseUrl: url,
      readKey,
      verifierKey: pinned.trim(),
      originPrefix: t.config.logOriginPrefix,
      onAlarm: (a) => alarms.push(a),
    });
    for (const ack of acks) {
      let outcome = await verifier.verify(ack);
      while (outcome === 'pending') {
        await new Promise((res) => setTimeout(res, 50));
        outcome = await verifier.verify(ack);
      }
      expect(outcome).toBe('verified');
    }
    expect(alarms).toEqual([]);
  });

  it('keeps the rows while the service is away and sends each exactly once when it is back', async () => {
    const before = await entries();
    const r = relay();
    r.start();
    proxy.cut();
    for (let i = 0; i < 20; i++) {
      const tx = await pool.connect();
      await tx.query('BEGIN');
      await tx.query('INSERT INTO orders VALUES ($1)', [`outage-${i}`]);
      await outboxForPg(tx).record(paid(`outage-${i}`));
      await tx.query('COMMIT');
      tx.release();
    }
    await new Promise((res) => setTimeout(res, 1_000));
    expect(await outboxRows()).toBe(20);
    expect(await entries()).toBe(before);
    proxy.restore();
    await until(async () => (await outboxRows()) === 0);
    expect(await entries()).toBe(before + 20);
    expect(await duplicated()).toEqual([]);
    expect(alarms).toEqual([]);
  });

  it('never lets two relays send one row: each idempotency key travels in exactly one acknowledged request', async () => {
    const before = await entries();
    const events = Array.from({ length: 200 }, (_, i) => paid(`pair-${i}`));
    await outboxForPg(pool).record(...events);
    const sentKeys: string[] = [];
    const counting: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      if (res.status === 201) {
        const body = JSON.parse(String(init?.body)) as { events: { idempotencyKey: string }[] };
        sentKeys.push(...body.events.map((e) => e.idempotencyKey));
      }
      return res;
    };
    const a = relay({ fetch: counting, batchSize: 10 });
    const b = relay({ fetch: counting, batchSize: 10 });
    a.start();
    b.start();
    await until(async () => (await outboxRows()) === 0);
    expect(sentKeys).toHaveLength(200);
    expect(new Set(sentKeys).size).toBe(200);
    expect(await entries()).toBe(before + 200);
    expect(await duplicated()).toEqual([]);
  });

  it('moves a row refused for good (422) to the dead letters with the answer, raises the alarm, and resends it fixed', async () => {
    const before = await entries();
    const leaking: AuditEvent = {
      ...paid('o-leak'),
      context: { invoiceId: 'o-leak', note: 'mail jane.doe@example.com' },
    };
    await outboxForPg(pool).record(paid('o-ok-1'), leaking, paid('o-ok-2'));
    const r = relay();
    r.start();
    await until(async () => (await outboxRows()) === 0);
    expect(await entries()).toBe(before + 2);
    const dead = await listDeadLetters(pool);
    expect(dead).toHaveLength(1);
    expect(dead[0]).toMatchObject({ status: 422, answer: { code: 'personal_data_outside' } });
    expect(dead[0].event.target).toEqual({ type: 'invoice', id: 'o-leak' });
    expect(alarms).toEqual([expect.objectContaining({ kind: 'dead_letter' })]);

    const fixed = await resendDeadLetter(pool, dead[0].id, (event) => ({
      ...event,
      context: { invoiceId: 'o-leak' },
    }));
    expect(fixed).toBe(true);
    await until(async () => (await outboxRows()) === 0);
    expect(await entries()).toBe(before + 3);
    expect(await listDeadLetters(pool)).toEqual([]);
  });

  describe('a service that lies', () => {
    let fake: Server;
    let fakeUrl: string;
    let tamper: 'leaf' | 'proof';

    beforeAll(async () => {
      // Forwards to the real service, and alters either the append answer's leaf or the inclusion proof.
      fake = createServer(async (req, res) => {
        const chunks: Buffer[] = [];
        for await (const c of req) chunks.push(c as Buffer);
        const upstream = await fetch(`${url}${req.url}`, {
          method: req.method,
          headers: { authorization: req.headers.authorization ?? '', 'content-type': 'application/json' },
          body: req.method === 'POST' ? Buffer.concat(chunks) : undefined,
        });
        let text = await upstream.text();
        if (tamper === 'leaf' && req.url === '/v1/events/batch' && upstream.status === 201) {
          const body = JSON.parse(text);
          const leaf = JSON.parse(Buffer.from(body.results[0].leaf, 'base64').toString());
          leaf.outcome = 'failure';
          body.results[0].leaf = Buffer.from(JSON.stringify(leaf)).toString('base64');
          text = JSON.stringify(body);
        }
        if (tamper === 'proof' && req.url?.includes('/proof/inclusion') && upstream.status === 200) {
          const body = JSON.parse(text);
          body.proof = body.proof.length > 0 ? [Buffer.alloc(32, 7).toString('base64'), ...body.proof.slice(1)] : [];
          text = JSON.stringify(body);
        }
        res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'text/plain' });
        res.end(text);
      });
      await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
      fakeUrl = `http://127.0.0.1:${(fake.address() as AddressInfo).port}`;
    });

    afterAll(() => new Promise<void>((resolve) => fake.close(() => resolve())));

    it('raises the alarm for an acknowledgement whose leaf is not what was sent', async () => {
      tamper = 'leaf';
      await outboxForPg(pool).record(paid('o-lied-about'));
      relay({ baseUrl: fakeUrl }).start();
      await until(async () => alarms.length > 0);
      expect(alarms[0]).toMatchObject({ kind: 'receipt_mismatch', log: 'acme' });
      expect(alarms[0].reason).toMatch(/outcome differs/);
    });

    it('raises the alarm for a tampered inclusion proof', async () => {
      tamper = 'proof';
      const acks: Acknowledgement[] = [];
      await outboxForPg(pool).record(paid('o-proof-1'), paid('o-proof-2'));
      relay({ baseUrl: fakeUrl, onAcknowledged: (a) => acks.push(...a) }).start();
      await until(async () => (await outboxRows()) === 0);
      const pinned = (await t.http().get('/v1/logs/acme/key').set('authorization', `Bearer ${readKey}`).expect(200))
        .text;
      const verifier = new ReceiptVerifier({
        baseUrl: fakeUrl,
        readKey,
        verifierKey: pinned.trim(),
        originPrefix: t.config.logOriginPrefix,
        onAlarm: (a) => alarms.push(a),
      });
      let outcome = await verifier.verify(acks[1]);
      while (outcome === 'pending') {
        await new Promise((res) => setTimeout(res, 50));
        outcome = await verifier.verify(acks[1]);
      }
      expect(outcome).toBe('failed');
      expect(alarms).toEqual([expect.objectContaining({ kind: 'proof_failed', log: 'acme', index: acks[1].index })]);
    });
  });
});
