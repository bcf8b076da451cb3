import {
  formatAddCheckpointRequest,
  formatCheckpoint,
  generateCosignerKey,
  generateNoteKey,
  leafHash,
  parseCosignatureVerifierKey,
  parsePrivateKey,
  signCheckpoint,
  verifyCosignatureLine,
  type NoteSigner,
} from '@audit/ledger';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { referenceConsistencyProof, referenceRoot } from '../libs/ledger/testdata/reference-tree';
import { WitnessStateStore } from '../src/witness/witness-state.store';
import { TestApp, startTestApp } from './support/test-app';
import { createTestDatabase, dropTestDatabase, superuserClient } from './support/test-database';

// The witness component alone (C2SP tlog-witness add-checkpoint), against logs made up here.
const ORIGIN = 'logs.example/acme';
const logKey = parsePrivateKey(generateNoteKey('logs.example', Buffer.alloc(32, 1)).privateKey);
const otherLogKey = parsePrivateKey(generateNoteKey('other.example', Buffer.alloc(32, 2)).privateKey);
const forger = parsePrivateKey(generateNoteKey('logs.example', Buffer.alloc(32, 3)).privateKey);
const witnessPair = generateCosignerKey('witness.test/w1', Buffer.alloc(32, 4));
const witnessVerifier = parseCosignatureVerifierKey(witnessPair.verifierKey);

const leaves = (tag: string, n: number): Buffer[] =>
  Array.from({ length: n }, (_, i) => leafHash(Buffer.from(`${tag} ${i}`)));
const main = leaves('main', 40);
const fork = [...main.slice(0, 10), ...leaves('fork', 30)];

function note(hashes: Buffer[], size: number, signer: NoteSigner = logKey, origin = ORIGIN): string {
  return signCheckpoint({ origin, size, rootHash: referenceRoot(hashes.slice(0, size)), extensions: [] }, signer);
}
function body(oldSize: number, hashes: Buffer[], size: number, signer?: NoteSigner, origin?: string): string {
  const proof = oldSize === 0 || oldSize === size ? [] : referenceConsistencyProof(oldSize, hashes.slice(0, size));
  return formatAddCheckpointRequest({ oldSize, proof, checkpoint: note(hashes, size, signer, origin) });
}

describe('witness component (POST /v1/witness/add-checkpoint)', () => {
  let db: string;
  let t: TestApp;
  let dir: string;
  let logsFile: string;
  const logs: string[] = [];

  const post = (text: string, type = 'text/plain') =>
    t.http().post('/v1/witness/add-checkpoint').set('content-type', type).send(text);
  async function stored(origin = ORIGIN): Promise<number | undefined> {
    const client = await superuserClient(db);
    const { rows } = await client.query('SELECT size FROM witness_state WHERE origin = $1', [origin]);
    await client.end();
    return rows[0] === undefined ? undefined : Number(rows[0].size);
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    dir = mkdtempSync(join(tmpdir(), 'audit-witness-'));
    logsFile = join(dir, 'logs.policy');
    writeFileSync(logsFile, `# logs this witness witnesses\nlog ${logKey.verifierKey}\nquorum none\n`);
    t = await startTestApp(
      db,
      { AUDIT_COMPONENTS: 'witness', AUDIT_WITNESS_KEY: witnessPair.privateKey, AUDIT_WITNESS_LOGS: logsFile },
      { logs },
    );
  });

  afterAll(async () => {
    await t.close();
    await dropTestDatabase(db);
    rmSync(dir, { recursive: true, force: true });
  });

  it('cosigns a first checkpoint from size 0, with a cosignature/v1 that verifies', async () => {
    const before = Math.floor(Date.now() / 1000);
    const res = await post(body(0, main, 10)).expect(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    const text = formatCheckpoint({
      origin: ORIGIN,
      size: 10,
      rootHash: referenceRoot(main.slice(0, 10)),
      extensions: [],
    });
    const cosignature = verifyCosignatureLine(res.text, text, witnessVerifier);
    expect(cosignature?.name).toBe('witness.test/w1');
    expect(cosignature?.timestamp).toBeGreaterThanOrEqual(before);
    expect(res.text.endsWith('\n')).toBe(true);
    expect(await stored()).toBe(10);
  });

  it('answers 409 with its size (text/x.tlog.size) when the old size is not the cosigned one', async () => {
    const res = await post(body(0, main, 12)).expect(409);
    expect(res.headers['content-type']).toBe('text/x.tlog.size');
    expect(res.text).toBe('10\n');
    expect(await stored()).toBe(10);
  });

  it('cosigns a consistent extension and a repeat of the same checkpoint', async () => {
    await post(body(10, main, 20)).expect(200);
    await post(body(20, main, 20)).expect(200);
    expect(await stored()).toBe(20);
  });

  it('refuses a fork with 422, changes nothing, and logs the refusal as an error', async () => {
    const res = await post(body(20, fork, 30)).expect(422);
    expect(res.body.code).toBe('inconsistent_checkpoint');
    expect(await stored()).toBe(20);
    const line = logs.map((l) => JSON.parse(l)).find((l) => String(l.msg).includes('possible split view'));
    expect(line).toBeDefined();
    expect(line.level).toBe(50);
    expect(line.msg).toContain(`origin=${ORIGIN}`);
    expect(line.msg).toContain('cosignedSize=20');
    expect(line.msg).toContain('checkpointSize=30');
  });

  it('refuses the same size with another root hash (409)', async () => {
    const res = await post(body(20, fork, 20)).expect(409);
    expect(res.body.code).toBe('root_hash_mismatch');
    expect(await stored()).toBe(20);
  });

  it('answers 404 for a log it does not witness, 403 for a checkpoint no trusted key signed', async () => {
    expect((await post(body(0, main, 5, otherLogKey, 'other.example/acme')).expect(404)).body.code).toBe('unknown_log');
    expect((await post(body(20, main, 25, forger)).expect(403)).body.code).toBe('untrusted_checkpoint');
    expect(await stored()).toBe(20);
  });

  it('answers 400 for malformed bodies and an old size above the size', async () => {
    await post(body(20, main, 25).replace('old 20', 'old 020')).expect(400);
    await post('old 20\n\nnot a checkpoint\n').expect(400);
    await post(`old 30\n\n${note(main, 25)}`).expect(400);
    await post(JSON.stringify({ old: 20 }), 'application/json').expect(400);
    expect(await stored()).toBe(20);
  });

  it('reads the logs file again when it changes', async () => {
    await post(body(0, main, 5, otherLogKey, 'other.example/acme')).expect(404);
    writeFileSync(logsFile, `log ${logKey.verifierKey}\nlog ${otherLogKey.verifierKey}\nquorum none\n`);
    await post(body(0, main, 5, otherLogKey, 'other.example/acme')).expect(200);
    // A bad edit keeps the last good list.
    writeFileSync(logsFile, 'log not-a-key\n');
    await post(body(5, main, 6, otherLogKey, 'other.example/acme')).expect(200);
  });

  it('lets exactly one of many concurrent extensions from the same old size through', async () => {
    const sizes = [21, 22, 23, 24, 25, 26, 27, 28];
    const answers = await Promise.all(sizes.map((size) => post(body(20, main, size))));
    const ok = answers.filter((res) => res.status === 200);
    expect(ok).toHaveLength(1);
    expect(answers.filter((res) => res.status === 409)).toHaveLength(sizes.length - 1);
    const winner = sizes[answers.indexOf(ok[0])];
    expect(await stored()).toBe(winner);
    for (const res of answers.filter((r) => r.status === 409)) expect(['20\n', `${winner}\n`]).toContain(res.text);
  });

  it('checks and advances the stored size atomically: a slow check holds back a concurrent one', async () => {
    const store = t.app.get(WitnessStateStore);
    const origin = 'race.example/acme';
    // An existing row: a new one would serialise the two through its unique index alone.
    await store.advance(origin, () => undefined, { size: 1, rootHash: Buffer.alloc(32, 1) });
    const seen: number[] = [];
    const advance = (size: number, delayMs: number) =>
      store.advance(
        origin,
        async (current) => {
          seen.push(current.size);
          await new Promise((resolve) => setTimeout(resolve, delayMs));
          if (current.size !== 1) throw new Error(`stale: ${current.size}`);
        },
        { size, rootHash: Buffer.alloc(32, size) },
      );
    const first = advance(7, 300);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const second = advance(3, 0);
    const results = await Promise.allSettled([first, second]);
    expect(results[0].status).toBe('fulfilled');
    // The second saw the first's size, never the 1 that the first was still replacing.
    expect(results[1].status).toBe('rejected');
    expect(seen).toEqual([1, 7]);
    expect(await stored(origin)).toBe(7);
  });
});
