import { NotificationPayload } from './notification';
import { DELIVERY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, signWebhook } from './webhook-signature';

/** How long one delivery attempt may take before it counts as failed. */
export const DELIVERY_TIMEOUT_MS = 10_000;

/**
 * Answers that refuse this body for good (retrying the same bytes cannot change them). Every other
 * non-2xx answer, including 401, 403, 404 (a receiver being redeployed or misconfigured), 408
 * and 429, is retried.
 */
const PERMANENT_REFUSALS = new Set([400, 410, 413, 415, 422]);

export type DeliveryVerdict = 'delivered' | 'retry' | 'refused';

/** What an HTTP status means for a delivery: 2xx delivered, a permanent refusal, or retry. */
export function deliveryVerdict(status: number): DeliveryVerdict {
  if (status >= 200 && status < 300) return 'delivered';
  return PERMANENT_REFUSALS.has(status) ? 'refused' : 'retry';
}

/** An attempt that did not get an answer (unreachable, timed out); the message names no URL. */
export class WebhookUnreachableError extends Error {
  readonly code = 'webhook_unreachable';
}

/**
 * POSTs one signed delivery and returns the receiver's status. Redirects are not followed (a
 * 3xx is a failed attempt). Throws WebhookUnreachableError when no answer came in `timeoutMs`.
 */
export async function postDelivery(
  webhook: { readonly url: string; readonly secret: string },
  deliveryId: string,
  payload: NotificationPayload,
  nowSeconds: number,
  timeoutMs = DELIVERY_TIMEOUT_MS,
): Promise<number> {
  const body = JSON.stringify(payload);
  let response: Response;
  try {
    response = await fetch(webhook.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'audit-trail-webhook/1',
        [SIGNATURE_HEADER]: signWebhook(webhook.secret, nowSeconds, body),
        [TIMESTAMP_HEADER]: String(nowSeconds),
        [DELIVERY_HEADER]: deliveryId,
      },
      body,
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (e) {
    const err = e as Error & { cause?: { code?: string; message?: string } };
    if (err.name === 'TimeoutError' || err.name === 'AbortError')
      throw new WebhookUnreachableError(`webhook did not answer within ${timeoutMs} ms`);
    throw new WebhookUnreachableError(`webhook unreachable (${err.cause?.code ?? err.cause?.message ?? err.name})`);
  }
  // The answer's body means nothing to us; release the connection.
  await response.body?.cancel().catch(() => undefined);
  return response.status;
}
