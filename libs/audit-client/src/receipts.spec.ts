import {
  Checkpoint,
  GENESIS_PREV,
  LedgerEntry,
  encodeLeaf,
  generateNoteKey,
  leafHash,
  nodeHash,
  parsePrivateKey,
  signCheckpoint,
} from '@audit/ledger';
import { randomBytes } from 'node:crypto';
import { WireEvent } from './audit-event';
import { AuditAlarm, FetchError, ReceiptVerifier, receiptProblems } from './receipts';
import { Acknowledgement } from './transport';

const sent: WireEvent = {
  tenant: 'acme',
  type: 'auth.login.succeeded',
  actor: { type: 'user', id: 'u1' },
  target: { type: 'session', id: 's1' },
  outcome: 'success',
  occurredAt: '2026-12-04T10:00:00.000Z',
  context: { sessionId: 's1', method: 'password' },
  personal: { subject: 'u1', data: { ip: '203.0.113.9', email: 'a@example.com' } },
};

function entryFor(event: WireEvent, overrides: Partial<LedgerEntry> = {}): LedgerEntry {
  return {
    v: 1,
    log: event.tenant,
    index: 4,
    prev: GENESIS_PREV,
    id: '019aee00-0000-7000-8000-000000000001',
    recordedAt: '2026-12-04T10:00:00.123Z',
    source: 'console',
    type: event.type,
    category: 'auth',
    actor: event.actor,
    ...(event.target ? { target: event.target } : {}),
    outcome: event.outcome ?? 'unknown',
    occurredAt: event.occurredAt,
    ...(event.context ? { context: event.context } : {}),
    ...(event.personal
      ? { personal: { subject: event.personal.subject, digest: randomBytes(32).toString('base64') } }
      : {}),
    ...overrides,
  } as LedgerEntry;
}

function ackOf(entry: LedgerEntry): Acknowledgement {
  const leaf = encodeLeaf(entry);
  return {
    id: entry.id,
    log: entry.log,
    index: entry.index,
    recordedAt: entry.recordedAt,
    leafHash: leafHash(leaf).toString('base64'),
    leaf: leaf.toString('base64'),
  };
}

describe('checking an acknowledgement against what was sent', () => {
  it('accepts the leaf of the event sent', () => {
    expect(receiptProblems(sent, ackOf(entryFor(sent)), 'console')).toEqual([]);
  });

  it('accepts the catalogue category and an empty context sent as none', () => {
    const bare: WireEvent = {
      tenant: 'acme',
      type: 'auth.logout',
      actor: { type: 'user', id: 'u1' },
      occurredAt: sent.occurredAt,
      context: {},
    };
    expect(receiptProblems(bare, ackOf(entryFor(bare)))).toEqual([]);
  });

  it('refuses a leaf hash that is not SHA-256(0x00 ‖ leaf)', () => {
    const ack = ackOf(entryFor(sent));
    const other = { ...ack, leafHash: leafHash(Buffer.from('x')).toString('base64') };
    expect(receiptProblems(sent, other)).toEqual(['leafHash differs']);
  });

  it.each<[string, Partial<LedgerEntry>]>([
    ['log', { log: 'globex' }],
    ['type', { type: 'auth.logout' }],
    ['category', { category: 'admin' }],
    ['actor', { actor: { type: 'user', id: 'u2' } }],
    ['target', { target: { type: 'session', id: 's2' } }],
    ['outcome', { outcome: 'failure' }],
    ['occurredAt', { occurredAt: '2026-12-04T10:00:00.001Z' }],
    ['context', { context: { sessionId: 's1', method: 'sso' } }],
    ['personal', { personal: { subject: 'u9', digest: randomBytes(32).toString('base64') } }],
    ['source', { source: 'someone-else' }],
  ])('refuses a leaf whose %s is not what was sent', (member, change) => {
    // The answer is self-consistent (its hash matches its leaf): only the members betray it.
    const problems = receiptProblems(sent, ackOf(entryFor(sent, change)), 'console');
    expect(problems).toContain(`${member} differs`);
  });

  it('refuses a leaf with personal data when none was sent, and without it when some was', () => {
    const { personal: _p, ...withoutPersonal } = sent;
    expect(receiptProblems(withoutPersonal, ackOf(entryFor(sent)))).toContain('personal differs');
    const { personal: _q, ...entry } = entryFor(sent);
    expect(receiptProblems(sent, ackOf(entry as LedgerEntry))).toContain('personal differs');
  });

  it('refuses an answer whose place disagrees with its leaf', () => {
    const ack = ackOf(entryFor(sent));
    expect(receiptProblems(sent, { ...ack, index: 5 })).toContain('index differs');
    expect(receiptProblems(sent, { ...ack, id: '019aee00-0000-7000-8000-000000000002' })).toContain('id differs');
  });

  it('refuses a leaf that does not decode', () => {
    const ack = ackOf(entryFor(sent));
    const garbage = Buffer.from('{"v":2}');
    expect(
      receiptProblems(sent, {
        ...ack,
        leaf: garbage.toString('base64'),
        leafHash: leafHash(garbage).toString('base64'),
      })[0],
    ).toMatch(/does not decode/);
  });
});

/** A fake log of three leaves, its checkpoints signed with a test key, served through a fake fetch. */
function fakeLog(tamper: { inclusion?: boolean; forkAt3?: boolean; unsigned?: boolean } = {}) {
  const keys = generateNoteKey('audit-test', randomBytes(32));
  const signer = parsePrivateKey(keys.privateKey);
  const h = [0, 1, 2].map((i) => leafHash(Buffer.from(`leaf ${i}`)));
  const root2 = nodeHash(h[0], h[1]);
  const root3 = nodeHash(root2, tamper.forkAt3 ? leafHash(Buffer.from('other')) : h[2]);
  let size = 2;
  const checkpoint = (): string => {
    const cp: Checkpoint = { origin: 'audit.test/acme', size, rootHash: size === 2 ? root2 : root3, extensions: [] };
    return signCheckpoint(cp, signer);
  };
  const b64 = (b: Buffer) => b.toString('base64');
  const fetchImpl = (async (url: string) => {
    const u = new URL(url);
    const path = u.pathname.replace('/v1/logs/acme', '');
    let body: unknown;
    if (path === '/checkpoint' && tamper.unsigned) return new Response('{"code":"no_checkpoint"}', { status: 404 });
    if (path === '/checkpoint') return new Response(checkpoint(), { status: 200 });
    if (path === '/proof/inclusion') {
      const index = Number(u.searchParams.get('index'));
      const proof = size === 2 ? [h[1 - index]] : index === 2 ? [root2] : [h[1 - index], h[2]];
      if (tamper.inclusion) proof[0] = leafHash(Buffer.from('tampered'));
      body = { index, size, leafHash: b64(h[index]), proof: proof.map(b64) };
    } else if (path === '/proof/consistency') body = { from: 2, size: 3, proof: [b64(h[2])] };
    else return new Response('{}', { status: 404 });
    return new Response(JSON.stringify(body), { status: 200, headers: { 'content-type': 'application/json' } });
  }) as unknown as typeof fetch;
  const alarms: AuditAlarm[] = [];
  const verifier = new ReceiptVerifier({
    baseUrl: 'http://audit.test',
    readKey: 'k',
    verifierKey: keys.verifierKey,
    originPrefix: 'audit.test',
    onAlarm: (a) => alarms.push(a),
    fetch: fetchImpl,
  });
  return { verifier, alarms, h, grow: () => (size = 3) };
}

describe('proving receipts', () => {
  it('verifies inclusion against a checkpoint signed by the pinned key, and says pending beyond it', async () => {
    const { verifier, alarms, h } = fakeLog();
    await expect(verifier.verify({ log: 'acme', index: 1, leafHash: h[1].toString('base64') })).resolves.toBe(
      'verified',
    );
    await expect(verifier.verify({ log: 'acme', index: 2, leafHash: h[2].toString('base64') })).resolves.toBe(
      'pending',
    );
    expect(alarms).toEqual([]);
  });

  it('says pending while the log has no signed checkpoint yet, and throws for any other refusal', async () => {
    const { verifier, alarms, h } = fakeLog({ unsigned: true });
    await expect(verifier.verify({ log: 'acme', index: 0, leafHash: h[0].toString('base64') })).resolves.toBe(
      'pending',
    );
    await expect(verifier.verify({ log: 'other', index: 0, leafHash: h[0].toString('base64') })).rejects.toThrow(
      FetchError,
    );
    expect(alarms).toEqual([]);
  });

  it('follows the log to a consistent later checkpoint', async () => {
    const { verifier, alarms, h, grow } = fakeLog();
    await verifier.checkpoint('acme');
    grow();
    await expect(verifier.verify({ log: 'acme', index: 2, leafHash: h[2].toString('base64') })).resolves.toBe(
      'verified',
    );
    expect(verifier.latestCheckpoint('acme')?.size).toBe(3);
    expect(alarms).toEqual([]);
  });

  it('raises the alarm for a tampered inclusion proof', async () => {
    const { verifier, alarms, h } = fakeLog({ inclusion: true });
    await expect(verifier.verify({ log: 'acme', index: 0, leafHash: h[0].toString('base64') })).resolves.toBe('failed');
    expect(alarms).toEqual([expect.objectContaining({ kind: 'proof_failed', log: 'acme', index: 0 })]);
  });

  it('raises the alarm for a later checkpoint inconsistent with the one verified before', async () => {
    const { verifier, alarms, h, grow } = fakeLog({ forkAt3: true });
    await verifier.checkpoint('acme');
    grow();
    await expect(verifier.verify({ log: 'acme', index: 0, leafHash: h[0].toString('base64') })).resolves.toBe('failed');
    expect(alarms).toEqual([expect.objectContaining({ kind: 'checkpoint_inconsistent', log: 'acme' })]);
    expect(verifier.latestCheckpoint('acme')?.size).toBe(2);
  });

  it('raises the alarm for a checkpoint signed by another key', async () => {
    const { alarms, h } = fakeLog();
    const other = generateNoteKey('audit-test', randomBytes(32));
    const { verifier: honest } = fakeLog();
    const wrongKey = new ReceiptVerifier({
      ...(honest as unknown as { options: ConstructorParameters<typeof ReceiptVerifier>[0] }).options,
      verifierKey: other.verifierKey,
      onAlarm: (a) => alarms.push(a),
    });
    await expect(wrongKey.verify({ log: 'acme', index: 0, leafHash: h[0].toString('base64') })).resolves.toBe('failed');
    expect(alarms).toEqual([expect.objectContaining({ kind: 'proof_failed', log: 'acme' })]);
  });
});
