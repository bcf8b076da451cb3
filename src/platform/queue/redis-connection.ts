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
