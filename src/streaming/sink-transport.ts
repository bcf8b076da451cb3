import { Socket, connect as connectTcp } from 'node:net';
import { connect as connectTls } from 'node:tls';
import { DeliveryRefusedError } from './delivery-backoff';
import { relpSession } from './relp';
import { DeliveryPayload, HttpBatch } from './sink-formats';

/** POSTs a batch; resolves on a 2xx only (the body is drained, never kept). */
export async function sendHttp(url: string, batch: HttpBatch, timeoutMs: number): Promise<void> {
  const res = await fetch(url, {
    method: 'POST',
    headers: batch.headers,
    body: batch.body,
    redirect: 'error',
    signal: AbortSignal.timeout(timeoutMs),
  });
  await res.arrayBuffer().catch(() => undefined);
  if (res.status < 200 || res.status > 299) throw new DeliveryRefusedError(res.status);
}

/** A connection to `host:port` of `url`, over TLS for `tls:` (the server name checked unless it is an address). */
function connectTo(url: string): { socket: Socket; ready: 'connect' | 'secureConnect' } {
  const { protocol, hostname, port } = new URL(url);
  const host = hostname.replace(/^\[|\]$/g, '');
  return protocol === 'tls:'
    ? {
        socket: connectTls({ host, port: Number(port), servername: /^[\d.:]+$/.test(host) ? undefined : host }),
        ready: 'secureConnect',
      }
    : { socket: connectTcp({ host, port: Number(port) }), ready: 'connect' };
}

/**
 * Writes octet-counted syslog frames over one TCP (`tcp://`) or TLS (`tls://`) connection and
 * closes it; resolves once the bytes were handed to the kernel and the connection ended cleanly.
 * Syslog has no acknowledgement: resolving is not proof the receiver stored them.
 */
export function sendSyslog(url: string, frames: Buffer, timeoutMs: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const { socket, ready } = connectTo(url);
    const timer = setTimeout(
      () => socket.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })),
      timeoutMs,
    );
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.once(ready, () => {
      socket.end(frames, () => {
        clearTimeout(timer);
        resolve();
      });
    });
  });
}

/**
 * Sends syslog messages in one RELP session over TCP (`relp://`). Resolves once
 * the receiver acknowledged every one; otherwise `RelpUnacknowledgedError` says how many, from
 * the first, it did acknowledge.
 */
export function sendRelp(url: string, messages: readonly Buffer[], timeoutMs: number): Promise<void> {
  return relpSession(connectTo(url).socket, messages, timeoutMs);
}

/** Sends a formatted batch by its transport; resolves once it was delivered as that transport can tell. */
export function sendDelivery(url: string, payload: DeliveryPayload, timeoutMs: number): Promise<void> {
  switch (payload.transport) {
    case 'http':
      return sendHttp(url, payload.batch, timeoutMs);
    case 'relp':
      return sendRelp(url, payload.messages, timeoutMs);
    case 'syslog':
      return sendSyslog(url, payload.frames, timeoutMs);
  }
}
