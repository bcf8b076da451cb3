import {
  EMPTY_ROOT,
  parseAddCheckpointRequest,
  parseCheckpoint,
  parseCosignerKey,
  verifyConsistency,
} from '@audit/ledger';
import { createServer, type Server } from 'node:http';
import { AddressInfo, createServer as createNetServer } from 'node:net';

/** A TCP port free on loopback right now. */
export async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** How a library witness misbehaves, changeable while it runs. */
export interface WitnessMode {
  /** Cosign with this private key instead of the witness's own (a cosignature the policy refuses). */
  liar?: string;
  /** Answer 503 to everything. */
  failing?: boolean;
}

/**
 * A minimal honest C2SP witness made from the library, with `key` (a cosigner private key): 409
 * on a wrong old size, 422 on a bad consistency proof, else cosigns. Each request is noted in
 * `requests` as `<origin> old <old size> size <size>`.
 */
export function libraryWitness(key: string, mode: WitnessMode = {}, requests: string[] = []): Server {
  const honestKey = parseCosignerKey(key);
  const state = new Map<string, { size: number; root: Buffer }>();
  return createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (mode.failing) {
        res.writeHead(503).end();
        return;
      }
      const request = parseAddCheckpointRequest(Buffer.concat(chunks));
      const text = request.checkpoint.slice(0, request.checkpoint.indexOf('\n\n') + 1);
      const checkpoint = parseCheckpoint(text);
      requests.push(`${checkpoint.origin} old ${request.oldSize} size ${checkpoint.size}`);
      const held = state.get(checkpoint.origin) ?? { size: 0, root: EMPTY_ROOT };
      if (held.size !== request.oldSize) {
        res.writeHead(409, { 'content-type': 'text/x.tlog.size' }).end(`${held.size}\n`);
        return;
      }
      try {
        if (request.oldSize < checkpoint.size)
          verifyConsistency(request.oldSize, checkpoint.size, request.proof, held.root, checkpoint.rootHash);
      } catch {
        res.writeHead(422).end();
        return;
      }
      state.set(checkpoint.origin, { size: checkpoint.size, root: checkpoint.rootHash });
      const cosigner = mode.liar === undefined ? honestKey : parseCosignerKey(mode.liar);
      res.writeHead(200, { 'content-type': 'text/plain' }).end(cosigner.cosign(text, Math.floor(Date.now() / 1000)));
    });
  });
}
