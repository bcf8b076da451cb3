import type { LedgerEntry } from '@audit/ledger';
import { verifyWebhookSignature } from '../notifications';
import { CHECKPOINT_HEADER, formatDelivery, hecBatch, ndjsonBatch, syslogFrames } from './sink-formats';
import { parseOctetCounted } from './syslog-format';

const entry = (index: number): LedgerEntry => ({
  v: 1,
  log: 'acme',
  index,
  prev: '0'.repeat(64),
  id: `0190f7a0-1234-7abc-8def-0000000000${String(index).padStart(2, '0')}`,
  recordedAt: '2026-01-02T03:04:05.678Z',
  source: 'shop',
  type: 'billing.invoice.issued',
  category: 'billing',
  actor: { type: 'user', id: 'u1' },
  outcome: 'success',
  occurredAt: '2026-01-02T03:04:05.000Z',
});
const batch = [0, 1, 2].map((i) => ({ entry: entry(i), leafHash: String(i).repeat(64) }));
const CHECKPOINT = 'audit.example/acme\n3\nroot=\n\n— audit sig\n';
const SECRET = 'sink-secret-0123456789abcdef';

describe('sink formats', () => {
  it('NDJSON: one OCSF event per line, in order, signed like the webhooks, with the checkpoint', () => {
    const { body, headers } = ndjsonBatch(batch, CHECKPOINT, SECRET, 1_700_000_000);
    const lines = body.toString('utf8').split('\n');
    expect(lines.pop()).toBe('');
    expect(lines.map((l) => JSON.parse(l).metadata.sequence)).toEqual([0, 1, 2]);
    expect(Buffer.from(headers[CHECKPOINT_HEADER], 'base64').toString('utf8')).toBe(CHECKPOINT);
    const verify = (b: Buffer) =>
      verifyWebhookSignature(SECRET, headers['x-audit-timestamp'], b, headers['x-audit-signature'], 1_700_000_000, 300);
    expect(verify(body)).toBe(true);
    expect(verify(Buffer.concat([body, Buffer.from(' ')]))).toBe(false);
  });

  it('HEC: Splunk token, one {time, event} object per entry', () => {
    const { body, headers } = hecBatch(batch, CHECKPOINT, 'hec-token', 'audit.example');
    expect(headers.authorization).toBe('Splunk hec-token');
    const events = body
      .toString('utf8')
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(events).toHaveLength(3);
    expect(events[0]).toMatchObject({
      time: Date.parse('2026-01-02T03:04:05.678Z') / 1000,
      sourcetype: 'ocsf:6003',
      event: { type_uid: 600301, metadata: { sequence: 0, tenant_uid: 'acme' } },
    });
  });

  it('syslog: octet-counted RFC 5424 messages with the index and leaf hash in structured data', () => {
    const { frames, rest } = parseOctetCounted(syslogFrames(batch, 'audit.example'));
    expect(rest).toHaveLength(0);
    expect(frames).toHaveLength(3);
    const text = frames[1].toString('utf8');
    expect(text).toMatch(
      /^<110>1 2026-01-02T03:04:05.678Z audit.example audit-trail - billing.invoice.issued \[audit@32473 log="acme" index="1" id="[^"]+" leafHash="1{64}"\] \uFEFF\{/,
    );
    expect(JSON.parse(text.slice(text.indexOf('\uFEFF') + 1)).metadata.sequence).toBe(1);
  });
});

describe('formatting a delivery batch from stored leaves', () => {
  const stored = (index: number, changes: Partial<LedgerEntry> = {}) => JSON.stringify({ ...entry(index), ...changes });
  const base = {
    kind: 'ndjson' as const,
    relp: false,
    personal: null,
    categories: null,
    types: null,
    checkpoint: CHECKPOINT,
    secret: SECRET,
    now: 1_700_000_000,
    host: 'audit.example',
  };
  const leaves = [
    stored(4),
    stored(5, { category: 'admin', type: 'admin.user.created' }),
    stored(6, { personal: { subject: 's1' } as unknown as LedgerEntry['personal'] }),
  ];
  const leafHashes = ['4'.repeat(64), '5'.repeat(64), '6'.repeat(64)];
  const lines = (body: Buffer) =>
    body
      .toString('utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l));

  it('sends every entry with its own leaf hash, in order, when the sink has no filters', () => {
    const { indices, payload } = formatDelivery({ ...base, leaves, leafHashes });
    expect(indices).toEqual([4, 5, 6]);
    if (payload.transport !== 'http') throw new Error(payload.transport);
    const events = lines(payload.batch.body);
    expect(events.map((e) => [e.metadata.sequence, e.unmapped.leaf_hash])).toEqual([
      [4, leafHashes[0]],
      [5, leafHashes[1]],
      [6, leafHashes[2]],
    ]);
    // Nothing personal leaves for a sink that does not carry it.
    expect(events.some((e) => 'personal' in e.unmapped || 'personal_erased' in e.unmapped)).toBe(false);
  });

  it("applies the sink's category and type filters and names only what passed", () => {
    expect(formatDelivery({ ...base, leaves, leafHashes, categories: ['admin'] }).indices).toEqual([5]);
    expect(formatDelivery({ ...base, leaves, leafHashes, types: ['billing.invoice.issued'] }).indices).toEqual([4, 6]);
    const none = formatDelivery({ ...base, leaves, leafHashes, categories: ['holds'] });
    expect(none.indices).toEqual([]);
  });

  it('adds personal data only for a sink that carries it, and marks erased data as erased', () => {
    const carried = formatDelivery({ ...base, leaves, leafHashes, personal: new Map([[6, { email: 'a@b.example' }]]) });
    if (carried.payload.transport !== 'http') throw new Error(carried.payload.transport);
    const events = lines(carried.payload.batch.body);
    expect(events[2].unmapped.personal).toEqual({ email: 'a@b.example' });
    expect('personal' in events[0].unmapped).toBe(false);
    const erased = formatDelivery({ ...base, leaves, leafHashes, personal: new Map() });
    if (erased.payload.transport !== 'http') throw new Error(erased.payload.transport);
    expect(lines(erased.payload.batch.body)[2].unmapped).toMatchObject({ personal_erased: true });
  });

  it('gives each kind its transport: HEC over HTTP, syslog frames over TCP or TLS, messages over RELP', () => {
    expect(formatDelivery({ ...base, kind: 'splunk_hec', leaves, leafHashes }).payload).toMatchObject({
      transport: 'http',
      batch: { headers: { authorization: `Splunk ${SECRET}` } },
    });
    const syslog = formatDelivery({ ...base, kind: 'syslog', leaves, leafHashes }).payload;
    if (syslog.transport !== 'syslog') throw new Error(syslog.transport);
    expect(parseOctetCounted(syslog.frames).frames).toHaveLength(3);
    const relp = formatDelivery({ ...base, kind: 'syslog', relp: true, leaves, leafHashes }).payload;
    if (relp.transport !== 'relp') throw new Error(relp.transport);
    expect(relp.messages).toHaveLength(3);
  });
});
