import type { JobsOptions } from 'bullmq';

/** The BullMQ queue of webhook deliveries; one job per notification, its id the notification's. */
export const NOTIFICATIONS_QUEUE = 'notifications';
export const DELIVER_JOB = 'deliver';

/** Attempts per notification; with the default 2 s backoff the last one is about 68 minutes after the first. */
export const DELIVERY_ATTEMPTS = 12;

/**
 * Job options of one delivery. The job id is the notification id, so queuing it again while the
 * job is kept (completed: 7 days; failed: 30 days, for inspection and manual retry) is a no-op.
 * Backoff doubles from `backoffMs`, with up to 20% jitter so retries of many jobs spread out.
 */
export function deliveryJobOptions(id: string, backoffMs: number): JobsOptions {
  return {
    jobId: id,
    attempts: DELIVERY_ATTEMPTS,
    backoff: { type: 'exponential', delay: backoffMs, jitter: 0.2 },
    removeOnComplete: { age: 7 * 24 * 3600, count: 10_000 },
    removeOnFail: { age: 30 * 24 * 3600, count: 10_000 },
  };
}
