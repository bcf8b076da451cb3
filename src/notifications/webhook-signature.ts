import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Signatures of webhook deliveries. Pure (node:crypto only) so receivers can copy this file.
 *
 * What is signed: the bytes of `<timestamp>.<body>`, where `<timestamp>` is the
 * `x-audit-timestamp` header (unix seconds, decimal ASCII) and `<body>` the exact request body
 * bytes (UTF-8 JSON, not re-serialised). The `x-audit-signature` header is `sha256=` followed by
 * the lowercase hex HMAC-SHA256 of those bytes, keyed with the UTF-8 bytes of
 * AUDIT_WEBHOOK_SECRET. Signing the timestamp lets a receiver refuse a replayed old delivery.
 */

export const SIGNATURE_HEADER = 'x-audit-signature';
export const TIMESTAMP_HEADER = 'x-audit-timestamp';
export const DELIVERY_HEADER = 'x-audit-delivery';

/** HMAC-SHA256 of `data` keyed with `key`, lowercase hex; strings are taken as UTF-8 bytes. */
export function hmacSha256Hex(key: string | Uint8Array, data: string | Uint8Array): string {
  return createHmac('sha256', key).update(data).digest('hex');
}

/** The signed bytes: `<timestamp>.<body>`. Requires timestamp to be a non-negative safe integer. */
export function signedContent(timestamp: number, body: string | Uint8Array): Buffer {
  if (!Number.isSafeInteger(timestamp) || timestamp < 0)
    throw new RangeError('timestamp must be unix seconds, a non-negative integer');
  return Buffer.concat([
    Buffer.from(`${timestamp}.`, 'ascii'),
    typeof body === 'string' ? Buffer.from(body, 'utf8') : body,
  ]);
}

/** The `x-audit-signature` value: `sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`. */
export function signWebhook(secret: string, timestamp: number, body: string | Uint8Array): string {
  return `sha256=${hmacSha256Hex(secret, signedContent(timestamp, body))}`;
}

/**
 * Checks a delivery as a receiver should: `timestamp` and `signatureHeader` are the raw header
 * values, `body` the raw body bytes as received, `now` the receiver's clock in unix seconds.
 * True only when the timestamp is within `toleranceSeconds` of now (either side) and the
 * signature matches, compared in constant time. A receiver still dedupes on `x-audit-delivery`:
 * a genuine delivery can arrive more than once.
 */
export function verifyWebhookSignature(
  secret: string,
  timestamp: string | undefined,
  body: string | Uint8Array,
  signatureHeader: string | undefined,
  now: number,
  toleranceSeconds: number,
): boolean {
  if (timestamp === undefined || !/^\d{1,12}$/.test(timestamp)) return false;
  const ts = Number(timestamp);
  if (Math.abs(now - ts) > toleranceSeconds) return false;
  const match = /^sha256=([0-9a-f]{64})$/.exec(signatureHeader ?? '');
  if (!match) return false;
  const expected = Buffer.from(hmacSha256Hex(secret, signedContent(ts, body)), 'hex');
  return timingSafeEqual(expected, Buffer.from(match[1], 'hex'));
}
