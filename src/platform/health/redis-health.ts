import { HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus';
import type { Queue } from 'bullmq';
import { within } from '../clock/within';
import { REQUIRED_EVICTION_POLICY, evictionPolicy } from '../queue/redis-connection';

/**
 * The `redis` indicator: down (503) when Redis does not answer within 2 s; degraded (200), naming
 * `maxmemory-policy=<value>`, when Redis answers but may evict keys, which BullMQ does not support
 * (a job evicted is lost until a reconciler queues it again, a notification is lost for good). Not
 * down for that: appends, reads and searches do not use Redis at all, so a 503 would take every
 * instance out of its load balancer over a setting they do not need. Read on every call, so
 * `CONFIG SET maxmemory-policy noeviction` clears it without a restart.
 */
export async function redisIndicator(indicators: HealthIndicatorService, queue: Queue): Promise<HealthIndicatorResult> {
  const indicator = indicators.check('redis');
  try {
    // Any command answered proves Redis is there; this one is cheap and needs no extra client.
    await within(queue.getJobCounts('waiting'), 2000);
  } catch {
    return indicator.down({ message: 'unreachable' });
  }
  let policy: string | undefined;
  try {
    policy = await within(
      queue.getBackend().client.then((client) => evictionPolicy(client)),
      2000,
    );
  } catch {
    return indicator.up();
  }
  if (policy === undefined || policy === REQUIRED_EVICTION_POLICY) return indicator.up();
  return indicator.degraded({
    message: `maxmemory-policy=${policy}: Redis may evict queued jobs; BullMQ requires ${REQUIRED_EVICTION_POLICY}`,
    maxmemoryPolicy: policy,
  });
}
