import { RequestListener, Server, createServer } from 'node:http';
import { AddressInfo } from 'node:net';
import { NotificationPayload } from './notification';
import { WebhookUnreachableError, postDelivery } from './webhook-delivery';

describe('postDelivery', () => {
  const payload: NotificationPayload = {
    v: 1,
    type: 'hold.placed',
    id: 'n-1',
    tenant: 'acme',
    at: '2025-01-01T00:00:00Z',
    subjectRef: { type: 'hold', id: 'h-1' },
  };
  const webhook = (url: string) => ({ url, secret: 'x'.repeat(32) });

  async function listen(handler: RequestListener = () => undefined): Promise<{ server: Server; url: string }> {
    const server = createServer(handler);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook` };
  }

  async function close(server: Server): Promise<void> {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }

  it('gives up on a receiver that does not answer in time', async () => {
    const { server, url } = await listen();
    try {
      await expect(postDelivery(webhook(url), 'n-1', payload, 1, 200)).rejects.toThrow(
        new WebhookUnreachableError('webhook did not answer within 200 ms'),
      );
    } finally {
      await close(server);
    }
  });

  it('names the network error of an unreachable receiver, not its URL', async () => {
    const { server, url } = await listen();
    await close(server);
    await expect(postDelivery(webhook(`${url}?token=url-token`), 'n-1', payload, 1, 2000)).rejects.toThrow(
      'webhook unreachable (ECONNREFUSED)',
    );
  });

  it('does not follow redirects', async () => {
    let hits = 0;
    const { server, url } = await listen((_req, res) => {
      hits += 1;
      res.writeHead(307, { location: '/elsewhere' }).end();
    });
    try {
      expect(await postDelivery(webhook(url), 'n-1', payload, 1, 2000)).toBe(307);
      expect(hits).toBe(1);
    } finally {
      await close(server);
    }
  });
});
