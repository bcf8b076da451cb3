/**
 * What each kind of sink sends for a batch of entries, as bytes and headers. Pure: the delivery
 * worker adds only the transport. The batch's signed checkpoint (C2SP signed note text) travels
 * with it, so a receiver can check every entry's leaf hash against a root it can verify.
 */
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, signWebhook } from '../notifications';
import { StreamedEntry, toOcsf } from './ocsf';
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
