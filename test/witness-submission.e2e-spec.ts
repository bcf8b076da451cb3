import {
  generateCosignerKey,
  openCheckpointWithPolicy,
  parseCheckpoint,
  parsePrivateKey,
  parseWitnessPolicy,
  verifyTlogProof,
} from '@audit/ledger';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCommandLine } from '../src/command-line';
import { TestApp, createKey, startTestApp, testSigningKey } from './support/test-app';
import { freePort, libraryWitness } from './support/library-witness';
import { createTestDatabase, dropTestDatabase, superuserClient } from './support/test-database';

// A deployment that submits its checkpoints to three witnesses (quorum 2 of 3): itself (the
// witness component, over real HTTP), an honest witness made here from the library, and one down.
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('submitting checkpoints to witnesses (AUDIT_WITNESS_POLICY)', () => {
  let db: string;
  let t: TestApp;
  let dir: string;
  let server: Server;
  let emitter: string;
  let investigator: string;
  const requests: string[] = [];
  const mode: { liar?: string } = {};
  const self = generateCosignerKey('self.witness.test', Buffer.alloc(32, 61));
  const honest = generateCosignerKey('honest.witness.test', Buffer.alloc(32, 62));
  const down = generateCosignerKey('down.witness.test', Buffer.alloc(32, 63));
  let policyText: string;

  const auth = (key: string) => ({ authorization: `Bearer ${key}` });
  const append = (n: number) =>
    Promise.all(
      Array.from({ length: n }, (_, i) =>
        t
          .http()
          .post('/v1/events')
          .set(auth(emitter))
          .send({ tenant: 'acme', type: 'auth.login.succeeded', actor: { type: 'user', id: `u${i}` } })
          .expect(201),
      ),
    );
  async function quorumCheckpoint(minSize: number): Promise<string> {
    for (let i = 0; i < 100; i++) {
      const res = await t.http().get('/v1/logs/acme/checkpoint?quorum=1').set(auth(investigator));
      if (res.status === 200 && parseCheckpoint(res.text.slice(0, res.text.indexOf('\n\n') + 1)).size >= minSize)
        return res.text;
      await sleep(200);
    }
    throw new Error('no checkpoint met the quorum');
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    dir = mkdtempSync(join(tmpdir(), 'audit-submit-'));
    const [selfPort, honestPort] = [await freePort(), await freePort()];
    server = libraryWitness(honest.privateKey, mode, requests);
    await new Promise<void>((resolve) => server.listen(honestPort, '127.0.0.1', resolve));
    const logKey = parsePrivateKey(testSigningKey(db)).verifierKey;
    writeFileSync(join(dir, 'logs.policy'), `log ${logKey}\nquorum none\n`);
    policyText =
      `log ${logKey}\n` +
      `witness self ${self.verifierKey} http://127.0.0.1:${selfPort}/v1/witness\n` +
      `witness honest ${honest.verifierKey} http://127.0.0.1:${honestPort}\n` +
      `witness down ${down.verifierKey} http://127.0.0.1:1\n` +
      'group two 2 self honest down\nquorum two\n';
    writeFileSync(join(dir, 'witnesses.policy'), policyText);
    t = await startTestApp(db, {
      AUDIT_COMPONENTS: 'all,witness',
      AUDIT_LOG_ORIGIN: 'audit-test',
      AUDIT_WITNESS_KEY: self.privateKey,
      AUDIT_WITNESS_LOGS: join(dir, 'logs.policy'),
      AUDIT_WITNESS_POLICY: join(dir, 'witnesses.policy'),
    });
    await t.app.listen(selfPort, '127.0.0.1');
    emitter = await createKey(t, 'billing', ['emitter'], ['acme']);
    investigator = await createKey(t, 'secops', ['investigator'], ['acme']);
  });

  afterAll(async () => {
    await t.close();
    await new Promise((resolve) => server.close(resolve));
    await dropTestDatabase(db);
    rmSync(dir, { recursive: true, force: true });
  });

  it('gets a checkpoint cosigned by 2 of 3 witnesses with one down, and serves it with ?quorum=1', async () => {
    await append(5);
    const note = await quorumCheckpoint(5);
    const checked = openCheckpointWithPolicy(note, parseWitnessPolicy(policyText), 'audit-test/acme');
    expect(checked.cosigners).toEqual(['self', 'honest']);
    expect(checked.quorumMet).toBe(true);
    const latest = await t.http().get('/v1/logs/acme/checkpoint').set(auth(investigator)).expect(200);
    expect(latest.headers['x-witness-quorum']).toBeDefined();
    const client = await superuserClient(db);
    const { rows } = await client.query(
      'SELECT last_status, last_error FROM witness_submissions WHERE log = $1 AND witness_key = $2',
      ['acme', down.verifierKey],
    );
    await client.end();
    expect(rows[0].last_status).toBeNull();
    expect(rows[0].last_error).toMatch(/^unreachable/);
  });

  it('extends the witnesses with consistency proofs as the log grows', async () => {
    const before = await quorumCheckpoint(5);
    const size = parseCheckpoint(before.slice(0, before.indexOf('\n\n') + 1)).size;
    await append(7);
    const note = await quorumCheckpoint(size + 7);
    expect(openCheckpointWithPolicy(note, parseWitnessPolicy(policyText)).cosigners).toEqual(['self', 'honest']);
    expect(requests.some((r) => /old [1-9][0-9]* size/.test(r))).toBe(true);
  });

  it('recovers from a witness size it had wrong through the 409 answer', async () => {
    const client = await superuserClient(db);
    await client.query('UPDATE witness_submissions SET size = 1 WHERE log = $1 AND witness_key = $2', [
      'acme',
      honest.verifierKey,
    ]);
    await client.end();
    const seen = requests.length;
    const before = await quorumCheckpoint(1);
    const size = parseCheckpoint(before.slice(0, before.indexOf('\n\n') + 1)).size;
    await append(2);
    await quorumCheckpoint(size + 2);
    expect(requests.slice(seen).some((r) => r.includes('old 1 size'))).toBe(true);
  });

  it('serves the log line for witnesses with every current origin', async () => {
    const res = await t.http().get('/v1/witness/policy').set(auth(investigator)).expect(200);
    const policy = parseWitnessPolicy(res.text);
    expect(policy.logs).toHaveLength(1);
    expect(res.text).toContain('# origin audit-test/acme\n');
    expect(res.text).not.toContain('audit-test/platform');
  });

  it('does not store a cosignature that does not verify against the policy key', async () => {
    // Same name, another key: the answer looks right but is not the policy's witness.
    mode.liar = generateCosignerKey('honest.witness.test', Buffer.alloc(32, 64)).privateKey;
    const before = await quorumCheckpoint(1);
    const size = parseCheckpoint(before.slice(0, before.indexOf('\n\n') + 1)).size;
    await append(3);
    const client = await superuserClient(db);
    let row: { last_status: number | null; last_error: string | null } | undefined;
    for (let i = 0; i < 100 && row?.last_error?.startsWith('no valid cosignature') !== true; i++) {
      await sleep(200);
      const { rows } = await client.query(
        'SELECT last_status, last_error FROM witness_submissions WHERE log = $1 AND witness_key = $2',
        ['acme', honest.verifierKey],
      );
      row = rows[0];
    }
    const { rows: stored } = await client.query(
      'SELECT count(*)::int AS n FROM checkpoint_cosignatures WHERE log = $1 AND witness_key = $2 AND size > $3',
      ['acme', honest.verifierKey, size],
    );
    await client.end();
    expect(row?.last_status).toBe(200);
    expect(stored[0].n).toBe(0);
    // Only "self" cosigned the new checkpoint: the quorum checkpoint stays the old one.
    const after = await t.http().get('/v1/logs/acme/checkpoint?quorum=1').set(auth(investigator)).expect(200);
    expect(after.text).toBe(before);
    const latest = await t.http().get('/v1/logs/acme/checkpoint').set(auth(investigator)).expect(200);
    expect(latest.headers['x-witness-quorum']).toBe('not-met');
    delete mode.liar;
  });

  it('gives a receipt (tlog-proof) that verifies offline with the command line, and fails without a cosignature', async () => {
    const posted = await t
      .http()
      .post('/v1/events')
      .set(auth(emitter))
      .send({ tenant: 'acme', type: 'auth.login.succeeded', actor: { type: 'user', id: 'receipt' } })
      .expect(201);
    const id = posted.body.id as string;
    const event = await t.http().get(`/v1/events/${id}`).set(auth(investigator)).expect(200);
    await quorumCheckpoint(Number(event.body.index) + 1);
    const res = await t.http().get(`/v1/events/${id}/proof`).set(auth(investigator)).expect(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.headers['x-witness-quorum']).toBe('met');
    expect(res.text.startsWith(`c2sp.org/tlog-proof@v1\nindex ${event.body.index}\n`)).toBe(true);
    const leaf = Buffer.from(event.body.leaf as string, 'base64');
    expect(verifyTlogProof(res.text, parseWitnessPolicy(policyText), leaf).cosigners).toEqual(['self', 'honest']);

    const files = { proof: join(dir, 'r.tlog-proof'), policy: join(dir, 'witnesses.policy'), leaf: join(dir, 'leaf') };
    writeFileSync(files.proof, res.text);
    writeFileSync(files.leaf, leaf);
    let out = '';
    const cli = (...argv: string[]) => runCommandLine(argv, {}, { out: (text) => (out += text), err: () => undefined });
    expect(await cli('verify-proof', files.proof, '--policy', files.policy, '--leaf', files.leaf)).toBe(0);
    expect(JSON.parse(out)).toMatchObject({ ok: true, origin: 'audit-test/acme', cosigners: ['self', 'honest'] });
    // Without the honest witness's line only one cosignature is left: below the quorum of 2.
    const lines = res.text.split('\n');
    writeFileSync(files.proof, lines.filter((line) => !line.startsWith('— honest.witness.test ')).join('\n'));
    out = '';
    expect(await cli('verify-proof', files.proof, '--policy', files.policy, '--leaf', files.leaf)).toBe(1);
    expect(JSON.parse(out).code).toBe('quorum_not_met');
  });

  it('exports at the quorum checkpoint with its cosignatures, which verify-export --policy checks', async () => {
    await append(2);
    const note = await quorumCheckpoint(1);
    const size = parseCheckpoint(note.slice(0, note.indexOf('\n\n') + 1)).size;
    // Appends after the quorum checkpoint stay out of a quorum=1 export.
    await append(1);
    const res = await t.http().get('/v1/exports?tenant=acme&quorum=1').set(auth(investigator)).expect(200);
    const lines = res.text.split('\n').filter((line) => line !== '');
    const header = JSON.parse(lines[0]);
    expect(header.checkpoint).toBe(note);
    expect(header.witnessed).toEqual({ quorumMet: true, cosigners: ['self', 'honest'] });
    expect(lines.slice(1).map((line) => JSON.parse(line).index)).toEqual(Array.from({ length: size }, (_, i) => i));

    const files = { file: join(dir, 'export.ndjson'), policy: join(dir, 'witnesses.policy') };
    writeFileSync(files.file, res.text);
    let out = '';
    const cli = (...argv: string[]) => runCommandLine(argv, {}, { out: (text) => (out += text), err: () => undefined });
    expect(await cli('verify-export', files.file, '--policy', files.policy)).toBe(0);
    expect(JSON.parse(out)).toMatchObject({
      ok: true,
      verified: size,
      witness: { cosigners: ['self', 'honest'], quorumMet: true },
    });
    // The honest witness's line removed: one cosignature is below the quorum of 2.
    header.checkpoint = note
      .split('\n')
      .filter((line) => !line.startsWith('— honest.witness.test '))
      .join('\n');
    writeFileSync(files.file, [JSON.stringify(header), ...lines.slice(1)].join('\n') + '\n');
    out = '';
    expect(await cli('verify-export', files.file, '--policy', files.policy)).toBe(1);
    expect(JSON.parse(out).problems.map((p: { code: string }) => p.code)).toEqual(['quorum_not_met']);

    // A plain export carries the cosignatures stored so far and says whether they met the quorum.
    const plain = await t.http().get('/v1/exports?tenant=acme').set(auth(investigator)).expect(200);
    const plainHeader = JSON.parse(plain.text.slice(0, plain.text.indexOf('\n')));
    expect(typeof plainHeader.witnessed.quorumMet).toBe('boolean');
    expect(plainHeader.count).toBeGreaterThan(size);
    await t.http().get('/v1/exports?tenant=acme&quorum=yes').set(auth(investigator)).expect(400);
  });
});
