import type { LedgerEntry } from '@audit/ledger';
import { verifyWebhookSignature } from '../notifications';
import { CHECKPOINT_HEADER, hecBatch, ndjsonBatch, syslogFrames } from './sink-formats';
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
