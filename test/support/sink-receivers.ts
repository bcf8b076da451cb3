import { IncomingHttpHeaders, Server, createServer } from 'node:http';
import { AddressInfo } from 'node:net';

/** One request a receiver took: headers and raw body. */
export interface ReceivedBatch {
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

/**
 * An HTTP receiver on 127.0.0.1 for sinks (NDJSON, or Splunk HEC at `/services/collector/event`):
 * keeps every request and answers `status()` (200 by default). `stop()` closes it (connections
 * refused) and `start()` listens again on the same port.
 */
export interface SinkReceiver {
  readonly url: (path: string) => string;
  readonly received: ReceivedBatch[];
  status: number;
  stop(): Promise<void>;
  start(): Promise<void>;
}

export async function startSinkReceiver(): Promise<SinkReceiver> {
  const received: ReceivedBatch[] = [];
  let port = 0;
  let server: Server | undefined;
  const receiver: SinkReceiver = {
    url: (path) => `http://127.0.0.1:${port}${path}`,
    received,
    status: 200,
    async start() {
      server = createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (chunk: Buffer) => chunks.push(chunk));
        req.on('end', () => {
          if (receiver.status >= 200 && receiver.status < 300)
            received.push({ headers: req.headers, body: Buffer.concat(chunks) });
          res.writeHead(receiver.status, { 'content-type': 'application/json' }).end('{"text":"Success","code":0}');
        });
      });
      await new Promise<void>((resolve) => (server as Server).listen(port, '127.0.0.1', resolve));
      port = (server.address() as AddressInfo).port;
    },
    async stop() {
      const s = server as Server;
      s.closeAllConnections();
      await new Promise<void>((resolve) => s.close(() => resolve()));
    },
  };
  await receiver.start();
  return receiver;
}
