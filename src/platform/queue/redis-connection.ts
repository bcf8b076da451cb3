import type { Queue, RedisOptions } from 'bullmq';

/** ioredis options from a redis:// or rediss:// URL, as BullMQ wants them. */
export function redisOptions(url: string): RedisOptions {
  const u = new URL(url);
  const db = u.pathname.length > 1 ? Number(u.pathname.slice(1)) : 0;
  return {
    host: u.hostname,
    port: u.port ? Number(u.port) : 6379,
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    db: Number.isInteger(db) ? db : 0,
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
    // BullMQ workers block on Redis; they must not give up on a slow reply.
    maxRetriesPerRequest: null,
  };
}

/**
 * Whether `queue`'s Redis connection is up at this moment, without waiting for it: BullMQ holds
 * commands while it reconnects (maxRetriesPerRequest: null), so work that can be done later by a
 * reconciler asks this first instead of holding a request for the length of a Redis outage.
 */
export async function redisReady(queue: Queue): Promise<boolean> {
  // The client promise is settled once the first connection was made; before that, not ready.
  const client = await Promise.race([
    queue.getBackend().client,
    new Promise<null>((resolve) => setImmediate(() => resolve(null))),
  ]);
  return client?.status === 'ready';
}

/** The only `maxmemory-policy` BullMQ supports: under any other, Redis may evict a queue's keys. */
export const REQUIRED_EVICTION_POLICY = 'noeviction';

/**
 * What `evictionPolicy` asks of a Redis client: BullMQ's client (`queue.getBackend().client`)
 * declares `info` only, and forwards `config` to ioredis underneath.
 */
export interface RedisSettingsReader {
  config?: (subcommand: 'GET', parameter: string) => Promise<unknown>;
  info(section?: string): Promise<string>;
}

/**
 * Redis's `maxmemory-policy`: `CONFIG GET`, or the `maxmemory_policy` line of `INFO memory` where
 * CONFIG is refused (managed Redis services often rename or forbid it) or the client has no
 * `config`; `undefined` when neither says. Rejects only when Redis cannot be reached.
 */
export async function evictionPolicy(client: RedisSettingsReader): Promise<string | undefined> {
  try {
    const answer = typeof client.config === 'function' ? await client.config('GET', 'maxmemory-policy') : undefined;
    // ['maxmemory-policy', '<value>'] (RESP2) or {'maxmemory-policy': '<value>'} (RESP3).
    const value = Array.isArray(answer) ? answer[1] : (answer as Record<string, unknown> | null)?.['maxmemory-policy'];
    if (typeof value === 'string' && value !== '') return value;
  } catch (e) {
    if (!isRefusal(e)) throw e;
  }
  try {
    const line = (await client.info('memory')).split(/\r?\n/).find((l) => l.startsWith('maxmemory_policy:'));
    return line?.slice('maxmemory_policy:'.length).trim() || undefined;
  } catch (e) {
    if (!isRefusal(e)) throw e;
    return undefined;
  }
}

/** An error Redis answered with (unknown command, NOPERM), as opposed to a connection that failed. */
function isRefusal(e: unknown): boolean {
  return e instanceof Error && e.name === 'ReplyError';
}
