import { createServer } from 'node:http';
import { AddressInfo } from 'node:net';
import { verifyWebhookSignature } from '../../src/notifications/webhook-signature';

/** One delivery: its parsed and raw body, and whether its signature verified with the receiver's secret. */
export interface ReceivedWebhook {
  readonly body: Record<string, unknown>;
  readonly raw: string;
  readonly verified: boolean;
}

export interface WebhookReceiver {
  /** Where to point AUDIT_WEBHOOK_URL. */
  readonly url: string;
  /** Every delivery so far, in arrival order. */
  readonly received: ReceivedWebhook[];
  close(): Promise<void>;
}

/** A webhook endpoint on 127.0.0.1 that answers 204 and keeps every delivery, checked against `secret`. */
export async function startWebhookReceiver(secret: string): Promise<WebhookReceiver> {
  const received: ReceivedWebhook[] = [];
  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (chunk) => (raw += chunk));
    req.on('end', () => {
      const verified = verifyWebhookSignature(
        secret,
        req.headers['x-audit-timestamp'] as string,
        raw,
        req.headers['x-audit-signature'] as string,
        Date.now() / 1000,
        300,
      );
      received.push({ body: JSON.parse(raw) as Record<string, unknown>, raw, verified });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
