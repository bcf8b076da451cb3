/**
 * What each kind of sink sends for a batch of entries, as bytes and headers. Pure: the delivery
 * worker adds only the transport. The batch's signed checkpoint (C2SP signed note text) travels
 * with it, so a receiver can check every entry's leaf hash against a root it can verify.
 */
import type { JsonValue, LedgerEntry } from '@audit/ledger';
// Not the notifications index: this module runs on the delivery's worker thread, which must not
// load Nest and the notifications context with it.
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, signWebhook } from '../notifications/webhook-signature';
import { StreamedEntry, toOcsf } from './ocsf';
import type { SinkKind } from './sink-request';
import { formatSyslog, frameOctetCounted } from './syslog-format';

/** The header carrying the checkpoint that covers a batch: the note text, base64 (it spans lines). */
export const CHECKPOINT_HEADER = 'x-audit-checkpoint';
export const NDJSON_CONTENT_TYPE = 'application/x-ndjson';

export interface HttpBatch {
  readonly body: Buffer;
  readonly headers: Readonly<Record<string, string>>;
}

/**
 * NDJSON of OCSF events, one per line, each line ending in `\n`; signed like the webhooks
 * (`x-audit-signature: sha256=<HMAC-SHA256(secret, "<timestamp>.<body>")>`, `x-audit-timestamp`).
 */
export function ndjsonBatch(
  entries: readonly StreamedEntry[],
  checkpoint: string,
  secret: string,
  now: number,
): HttpBatch {
  const body = Buffer.from(entries.map((e) => `${JSON.stringify(toOcsf(e))}\n`).join(''), 'utf8');
  return {
    body,
    headers: {
      'content-type': NDJSON_CONTENT_TYPE,
      [CHECKPOINT_HEADER]: Buffer.from(checkpoint, 'utf8').toString('base64'),
      [TIMESTAMP_HEADER]: String(now),
      [SIGNATURE_HEADER]: signWebhook(secret, now, body),
    },
  };
}

/**
 * A Splunk HTTP Event Collector batch for `/services/collector/event`: one JSON object per event,
 * concatenated, `{time, host, source, sourcetype, event}` with `time` in epoch seconds and the
 * OCSF event as `event`; `Authorization: Splunk <token>`.
 */
export function hecBatch(
  entries: readonly StreamedEntry[],
  checkpoint: string,
  token: string,
  host: string,
): HttpBatch {
  const body = entries
    .map((e) => {
      const event = toOcsf(e);
      return JSON.stringify({
        time: Date.parse(e.entry.recordedAt) / 1000,
        host,
        source: `audit-trail:${e.entry.log}`,
        sourcetype: `ocsf:${event.class_uid as number}`,
        event,
      });
    })
    .join('\n');
  return {
    body: Buffer.from(body, 'utf8'),
    headers: {
      'content-type': 'application/json',
      authorization: `Splunk ${token}`,
      [CHECKPOINT_HEADER]: Buffer.from(checkpoint, 'utf8').toString('base64'),
    },
  };
}

/**
 * One RFC 5424 message per entry: MSGID the type, structured data
 * `[audit@32473 log index id leafHash]`, the OCSF event as JSON in MSG.
 */
export function syslogMessages(entries: readonly StreamedEntry[], hostname: string): Buffer[] {
  return entries.map((e) =>
    formatSyslog({
      timestamp: e.entry.recordedAt,
      hostname,
      appName: 'audit-trail',
      msgId: e.entry.type,
      params: [
        ['log', e.entry.log],
        ['index', String(e.entry.index)],
        ['id', e.entry.id],
        ['leafHash', e.leafHash],
      ],
      message: JSON.stringify(toOcsf(e)),
    }),
  );
}

/** The messages of `syslogMessages`, octet-counted, for syslog over TCP or TLS. */
export function syslogFrames(entries: readonly StreamedEntry[], hostname: string): Buffer {
  return Buffer.concat(syslogMessages(entries, hostname).map(frameOctetCounted));
}

/** One log's part of a delivery as read from the ledger: what `formatDelivery` turns into bytes. */
export interface DeliveryBatch {
  readonly kind: SinkKind;
  /** A syslog sink over RELP: one message per entry, each acknowledged on its own. */
  readonly relp: boolean;
  /** The leaves in index order, as the ledger stores them (canonical JSON text). */
  readonly leaves: readonly string[];
  /** Each leaf's hash, lowercase hex. */
  readonly leafHashes: readonly string[];
  /**
   * Only for a sink that carries personal data: the opened personal data of the batch's entries
   * by index, null where it was erased. Null for every other sink: nothing personal is sent.
   */
  readonly personal: ReadonlyMap<number, JsonValue | null> | null;
  readonly categories: readonly string[] | null;
  readonly types: readonly string[] | null;
  /** The signed checkpoint (note text) that covers the batch. */
  readonly checkpoint: string;
  /** The sink's secret (HMAC key or HEC token); '' when it has none. */
  readonly secret: string;
  /** Unix seconds, for the NDJSON signature's timestamp. */
  readonly now: number;
  /** The log origin prefix: the HEC `host` and the syslog HOSTNAME. */
  readonly host: string;
}

/** What goes on the wire for a batch, by transport. */
export type DeliveryPayload =
  | { readonly transport: 'http'; readonly batch: HttpBatch }
  | { readonly transport: 'relp'; readonly messages: Buffer[] }
  | { readonly transport: 'syslog'; readonly frames: Buffer };

export interface FormattedDelivery {
  /** The indices of the entries the sink's filters let through, in order: what the payload carries. */
  readonly indices: number[];
  readonly payload: DeliveryPayload;
}

/**
 * A batch in its sink's format: the leaves parsed, the sink's category and type filters applied,
 * personal data added only for a sink that carries it. Pure and self-contained (no I/O, no
 * service state), so it runs on the delivery's worker thread (sink-format-worker.ts).
 *
 * A plain parse, not decodeLeaf: the leaves are bytes this service wrote after encodeLeaf's checks,
 * and what a receiver can check is the leaf hash sent with each against the signed checkpoint,
 * which no parse here adds to (decodeLeaf's canonical re-encoding of every entry was 6% of the
 * service's CPU while a sink streamed beside batch ingestion).
 */
export function formatDelivery(batch: DeliveryBatch): FormattedDelivery {
  const entries: StreamedEntry[] = [];
  batch.leaves.forEach((leaf, i) => {
    const entry = JSON.parse(leaf) as LedgerEntry;
    if (batch.categories !== null && !batch.categories.includes(entry.category)) return;
    if (batch.types !== null && !batch.types.includes(entry.type)) return;
    const leafHash = batch.leafHashes[i];
    entries.push(
      batch.personal === null || entry.personal === undefined
        ? { entry, leafHash }
        : { entry, leafHash, personal: batch.personal.get(entry.index) ?? null },
    );
  });
  const indices = entries.map((e) => e.entry.index);
  if (batch.kind === 'syslog')
    return batch.relp
      ? { indices, payload: { transport: 'relp', messages: syslogMessages(entries, batch.host) } }
      : { indices, payload: { transport: 'syslog', frames: syslogFrames(entries, batch.host) } };
  return {
    indices,
    payload: {
      transport: 'http',
      batch:
        batch.kind === 'ndjson'
          ? ndjsonBatch(entries, batch.checkpoint, batch.secret, batch.now)
          : hecBatch(entries, batch.checkpoint, batch.secret, batch.host),
    },
  };
}
