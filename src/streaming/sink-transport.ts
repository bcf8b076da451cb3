import { connect as connectTcp } from 'node:net';
import { connect as connectTls } from 'node:tls';
import { DeliveryRefusedError } from './delivery-backoff';
import { HttpBatch } from './sink-formats';

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

/**
 * Writes octet-counted syslog frames over one TCP (`tcp://`) or TLS (`tls://`) connection and
 * closes it; resolves once the bytes were handed to the kernel and the connection ended cleanly.
 * Syslog has no acknowledgement: resolving is not proof the receiver stored them.
 */
export function sendSyslog(url: string, frames: Buffer, timeoutMs: number): Promise<void> {
  const { protocol, hostname, port } = new URL(url);
  const host = hostname.replace(/^\[|\]$/g, '');
  return new Promise<void>((resolve, reject) => {
    const socket =
      protocol === 'tls:'
        ? connectTls({ host, port: Number(port), servername: /^[\d.:]+$/.test(host) ? undefined : host })
        : connectTcp({ host, port: Number(port) });
    const timer = setTimeout(
      () => socket.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })),
      timeoutMs,
    );
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.once(protocol === 'tls:' ? 'secureConnect' : 'connect', () => {
      socket.end(frames, () => {
        clearTimeout(timer);
        resolve();
      });
    });
  });
}
