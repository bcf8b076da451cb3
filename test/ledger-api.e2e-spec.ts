import { createHash } from 'node:crypto';
import {
  EMPTY_ROOT,
  decodeEntryBundle,
  decodeLeaf,
  leafHash,
  nodeHash,
  openCheckpoint,
  parseVerifierKey,
  splitTile,
  verifyConsistency,
  verifyInclusion,
} from '@audit/ledger';
import { TestApp, binary, createKey, startTestApp } from './support/test-app';
import { readPersonalData } from './support/personal-data';
import {
  OnTestDatabase,
  createTestDatabase,
  dropTestDatabase,
  onTestDatabase,
  superuserClient,
} from './support/test-database';

const event = (tenant: string, i: number, extra: Record<string, unknown> = {}) => ({
  tenant,
  type: 'billing.invoice.paid',
  actor: { type: 'user', id: `u${i}` },
  target: { type: 'invoice', id: `inv${i}` },
  outcome: 'success',
  occurredAt: '2026-11-27T10:00:00.000+01:00',
  context: { amountCents: i, currency: 'EUR' },
  ...extra,
});

async function waitFor<T>(probe: () => Promise<T | undefined>, ms = 5000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('ingestion and the log read API', () => {
  let db: string;
  let t: TestApp;
  let emitter: string;
  let reader: string;
  const auth = (key: string) => ({ authorization: `Bearer ${key}` });

  beforeAll(async () => {
    db = await createTestDatabase();
    t = await startTestApp(db);
    emitter = await createKey(t, 'billing', ['emitter'], ['acme', 'globex']);
    reader = await createKey(t, 'secops', ['investigator'], ['*']);
  });

  afterAll(async () => {
    await t.close();
    await dropTestDatabase(db);
  });

  async function checkpointOf(log: string, size: number) {
    const key = parseVerifierKey((await t.http().get(`/v1/logs/${log}/key`).set(auth(reader)).expect(200)).text.trim());
    const note = await waitFor(async () => {
      const res = await t.http().get(`/v1/logs/${log}/checkpoint`).set(auth(reader));
      if (res.status !== 200) return undefined;
      const cp = openCheckpoint(res.text, key, `${t.config.logOriginPrefix}/${log}`);
      return cp.size >= size ? cp : undefined;
    });
    return note;
  }

  it('appends one event after commit and names its log, index, id and leaf hash', async () => {
    const res = await t.http().post('/v1/events').set(auth(emitter)).send(event('acme', 0)).expect(201);
    expect(res.body).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      log: 'acme',
      index: 0,
      leafHash: expect.any(String),
      recordedAt: expect.any(String),
      leaf: expect.any(String),
    });
    const client = await superuserClient(db);
    const rows = await client.query('SELECT leaf FROM entries WHERE log = $1 AND idx = 0', ['acme']);
    await client.end();
    const leaf = rows.rows[0].leaf as Buffer;
    expect(leafHash(leaf).toString('base64')).toBe(res.body.leafHash);
    // The answer's leaf is the stored leaf, and its hash is SHA-256(0x00 ‖ leaf) computed here by hand.
    expect(Buffer.from(res.body.leaf, 'base64').equals(leaf)).toBe(true);
    const byHand = createHash('sha256')
      .update(Buffer.from([0]))
      .update(Buffer.from(res.body.leaf, 'base64'))
      .digest();
    expect(byHand.toString('base64')).toBe(res.body.leafHash);
    const entry = decodeLeaf(leaf);
    expect(entry).toMatchObject({
      log: 'acme',
      index: 0,
      source: 'billing',
      category: 'billing',
      occurredAt: '2026-11-27T09:00:00.000Z',
      id: res.body.id,
    });
    expect(entry.prev).toBe(Buffer.alloc(32).toString('base64'));
  });

  it('appends a batch of 500 all at once, chained in order, with recordedAt never going back', async () => {
    const events = Array.from({ length: 500 }, (_, i) => event('acme', i + 1));
    const res = await t.http().post('/v1/events/batch').set(auth(emitter)).send({ events }).expect(201);
    expect(res.body.results).toHaveLength(500);
    for (const result of res.body.results as { leaf: string; leafHash: string; index: number }[]) {
      const bytes = Buffer.from(result.leaf, 'base64');
      const byHand = createHash('sha256')
        .update(Buffer.from([0]))
        .update(bytes)
        .digest();
      expect(byHand.toString('base64')).toBe(result.leafHash);
      expect(decodeLeaf(bytes).index).toBe(result.index);
    }
    expect(res.body.results.map((r: { index: number }) => r.index)).toEqual(
      Array.from({ length: 500 }, (_, i) => i + 1),
    );
    const client = await superuserClient(db);
    const { rows } = await client.query('SELECT idx, leaf FROM entries WHERE log = $1 ORDER BY idx', ['acme']);
    await client.end();
    let prev = EMPTY_ROOT;
    let last = '';
    rows.forEach((row, i) => {
      const entry = decodeLeaf(row.leaf);
      expect(entry.index).toBe(i);
      if (i > 0) expect(entry.prev).toBe(prev.toString('base64'));
      expect(entry.recordedAt >= last).toBe(true);
      last = entry.recordedAt;
      prev = leafHash(row.leaf);
    });
  });

  it('serves a signed checkpoint, proofs and tiles that standard verification accepts', async () => {
    const cp = await checkpointOf('acme', 501);
    expect(cp.size).toBe(501);
    const bundle = await t
      .http()
      .get('/v1/logs/acme/tile/entries/000')
      .set(auth(reader))
      .buffer(true)
      .parse(binary)
      .expect(200);
    const leaves = decodeEntryBundle(bundle.body, 256);
    const partial = await t
      .http()
      .get('/v1/logs/acme/tile/entries/001.p/245')
      .set(auth(reader))
      .buffer(true)
      .parse(binary)
      .expect(200);
    const allLeaves = [...leaves, ...decodeEntryBundle(partial.body, 245)];
    const hashes = allLeaves.map(leafHash);

    const tile = await t
      .http()
      .get('/v1/logs/acme/tile/0/000')
      .set(auth(reader))
      .buffer(true)
      .parse(binary)
      .expect(200);
    expect(splitTile(tile.body, 256)).toEqual(hashes.slice(0, 256));
    expect(tile.headers['cache-control']).toContain('immutable');
    const level1 = await t
      .http()
      .get('/v1/logs/acme/tile/1/000.p/1')
      .set(auth(reader))
      .buffer(true)
      .parse(binary)
      .expect(200);
    expect(level1.body).toEqual(perfectRoot(hashes.slice(0, 256)));

    for (const index of [0, 1, 255, 256, 400, 500]) {
      const proof = (
        await t.http().get(`/v1/logs/acme/proof/inclusion?index=${index}&size=501`).set(auth(reader)).expect(200)
      ).body;
      expect(proof.leafHash).toBe(hashes[index].toString('base64'));
      verifyInclusion(
        index,
        501,
        hashes[index],
        proof.proof.map((p: string) => Buffer.from(p, 'base64')),
        cp.rootHash,
      );
    }
    const first = await t.http().get('/v1/logs/acme/proof/inclusion?index=0&size=1').set(auth(reader)).expect(200);
    expect(first.body.proof).toEqual([]);

    await t.http().post('/v1/events').set(auth(emitter)).send(event('acme', 999)).expect(201);
    const later = await checkpointOf('acme', 502);
    const consistency = (
      await t.http().get(`/v1/logs/acme/proof/consistency?from=501&size=502`).set(auth(reader)).expect(200)
    ).body;
    verifyConsistency(
      501,
      502,
      consistency.proof.map((p: string) => Buffer.from(p, 'base64')),
      cp.rootHash,
      later.rootHash,
    );
  });

  it('makes a proof available as soon as the append is acknowledged', async () => {
    const res = await t.http().post('/v1/events').set(auth(emitter)).send(event('globex', 1)).expect(201);
    const proof = await t
      .http()
      .get(`/v1/logs/globex/proof/inclusion?index=${res.body.index}&size=${res.body.index + 1}`)
      .set(auth(reader))
      .expect(200);
    expect(proof.body.leafHash).toBe(res.body.leafHash);
  });

  it('keeps personal data beside the leaf, salted, and only its digest in the leaf', async () => {
    const personal = { subject: 'usr_42', data: { email: 'ada@example.com', ip: '192.0.2.10' } };
    const res = await t
      .http()
      .post('/v1/events')
      .set(auth(emitter))
      .send(event('globex', 2, { personal }))
      .expect(201);
    const client = await superuserClient(db);
    const leaf = (
      await client.query('SELECT leaf FROM entries WHERE log = $1 AND idx = $2', ['globex', res.body.index])
    ).rows[0].leaf as Buffer;
    const raw = (
      await client.query('SELECT data, salt FROM personal_data WHERE log = $1 AND idx = $2', ['globex', res.body.index])
    ).rows[0] as { data: Buffer; salt: Buffer };
    const stored = (await readPersonalData(client, db, 'globex')).find((row) => row.idx === res.body.index);
    await client.end();
    expect(leaf.toString()).not.toContain('ada@example.com');
    expect(leaf.toString()).not.toContain('192.0.2.10');
    // Stored sealed: neither the data nor the salt is there in clear.
    expect(raw.data.includes(Buffer.from('ada@example.com'))).toBe(false);
    expect(stored).toMatchObject({ subject: 'usr_42', data: personal.data });
    if (!stored?.salt) throw new Error('no salt');
    expect(raw.salt.includes(stored.salt)).toBe(false);
    const { personalDigest } = await import('@audit/ledger');
    expect(decodeLeaf(leaf).personal).toEqual({
      subject: 'usr_42',
      digest: personalDigest(stored.salt, personal.data),
    });
  });

  it('returns the original entry for a retried Idempotency-Key, and 409 for another body', async () => {
    const body = event('globex', 3);
    const first = await t
      .http()
      .post('/v1/events')
      .set(auth(emitter))
      .set('idempotency-key', 'retry-1')
      .send(body)
      .expect(201);
    const again = await t
      .http()
      .post('/v1/events')
      .set(auth(emitter))
      .set('idempotency-key', 'retry-1')
      .send(body)
      .expect(201);
    expect(again.body).toEqual(first.body);
    expect(typeof first.body.leaf).toBe('string');
    const other = await t
      .http()
      .post('/v1/events')
      .set(auth(emitter))
      .set('idempotency-key', 'retry-1')
      .send(event('globex', 4))
      .expect(409);
    expect(other.body).toMatchObject({ statusCode: 409, code: 'idempotency_conflict' });
  });

  it('appends concurrent retries of one key exactly once', async () => {
    const body = event('globex', 5);
    const before = await headSize('globex');
    const answers = await Promise.all(
      Array.from({ length: 12 }, () =>
        t.http().post('/v1/events').set(auth(emitter)).set('idempotency-key', 'storm').send(body),
      ),
    );
    expect(answers.every((a) => a.status === 201)).toBe(true);
    expect(new Set(answers.map((a) => a.body.id)).size).toBe(1);
    expect(await headSize('globex')).toBe(before + 1);
  });

  it('honours per-item idempotency keys in a batch', async () => {
    const events = [
      { ...event('globex', 6), idempotencyKey: 'b-1' },
      { ...event('globex', 7), idempotencyKey: 'b-2' },
    ];
    const first = await t.http().post('/v1/events/batch').set(auth(emitter)).send({ events }).expect(201);
    const again = await t.http().post('/v1/events/batch').set(auth(emitter)).send({ events }).expect(201);
    expect(again.body).toEqual(first.body);
  });

  it('appends a batch spanning two tenants atomically, each event in its own log', async () => {
    const before = { acme: await headSize('acme'), globex: await headSize('globex') };
    const res = await t
      .http()
      .post('/v1/events/batch')
      .set(auth(emitter))
      .send({ events: [event('globex', 20), event('acme', 21), event('globex', 22)] })
      .expect(201);
    expect(res.body.results.map((r: { log: string; index: number }) => [r.log, r.index])).toEqual([
      ['globex', before.globex],
      ['acme', before.acme],
      ['globex', before.globex + 1],
    ]);
    // The next single append to each log continues right after.
    const next = await t.http().post('/v1/events').set(auth(emitter)).send(event('acme', 23)).expect(201);
    expect(next.body.index).toBe(before.acme + 1);
  });

  it('signs a checkpoint on demand', async () => {
    const appended = await t.http().post('/v1/events').set(auth(emitter)).send(event('globex', 30)).expect(201);
    const res = await t.http().post('/v1/logs/globex/checkpoint').set(auth(reader)).expect(200);
    expect(Number(res.text.split('\n')[1])).toBeGreaterThanOrEqual(appended.body.index + 1);
    expect((await t.http().post('/v1/logs/nothing/checkpoint').set(auth(reader))).status).toBe(404);
  });

  it('verifies the log in full', async () => {
    const res = await t.http().post('/v1/logs/acme/verify').set(auth(reader)).expect(200);
    expect(res.body).toMatchObject({ ok: true, log: 'acme', size: 504, checked: 504, problems: [] });
  });

  async function headSize(log: string): Promise<number> {
    const client = await superuserClient(db);
    const { rows } = await client.query('SELECT size FROM logs WHERE log = $1', [log]);
    await client.end();
    return Number(rows[0].size);
  }
});

function perfectRoot(hashes: Buffer[]): Buffer {
  let level = hashes;
  while (level.length > 1) {
    const next: Buffer[] = [];
    for (let i = 0; i < level.length; i += 2) next.push(nodeHash(level[i], level[i + 1]));
    level = next;
  }
  return level[0];
}

describe('a log whose checkpoints nobody has signed yet', () => {
  let t: OnTestDatabase<TestApp>;
  const auth = (key: string) => ({ authorization: `Bearer ${key}` });

  // The API alone: no signer runs, so nothing signs a checkpoint unless asked to.
  beforeAll(async () => (t = await onTestDatabase((db) => startTestApp(db, { AUDIT_COMPONENTS: 'api' }))));

  afterAll(() => t?.close());

  it('answers 404 no_checkpoint for a log with entries and no checkpoint, unknown_log for no log at all', async () => {
    const emitter = await createKey(t, 'billing', ['emitter'], ['acme']);
    const reader = await createKey(t, 'secops', ['investigator'], ['*']);
    await t.http().post('/v1/events').set(auth(emitter)).send(event('acme', 1)).expect(201);
    const none = await t.http().get('/v1/logs/acme/checkpoint').set(auth(reader)).expect(404);
    expect(none.body).toEqual({
      statusCode: 404,
      error: 'Not Found',
      code: 'no_checkpoint',
      message: 'the log has no signed checkpoint yet',
    });
    const unknown = await t.http().get('/v1/logs/nothing/checkpoint').set(auth(reader)).expect(404);
    expect(unknown.body).toEqual({ statusCode: 404, error: 'Not Found', code: 'unknown_log', message: 'no such log' });
    // Signed on demand, the log has one.
    const signed = await t.http().post('/v1/logs/acme/checkpoint').set(auth(reader)).expect(200);
    expect((await t.http().get('/v1/logs/acme/checkpoint').set(auth(reader)).expect(200)).text).toBe(signed.text);
  });
});
