import type { JobsOptions } from 'bullmq';

/** The BullMQ queue of deletion work: one job per request, its id the request id, its data that id only. */
export const DELETION_QUEUE = 'deletion';
export const RUN_DELETION_JOB = 'run';
/** The scheduled jobs of the queue: reconciling PostgreSQL with Redis, and the retention purge. */
export const RECONCILE_JOB = 'reconcile';
export const RETENTION_PURGE_JOB = 'retention-purge';

/**
 * A run of request `id`. Removed when done, so the request can be queued again (after a hold is
 * released, say); while it is queued or running, queuing it again is a no-op.
 */
export function runJobOptions(id: string): JobsOptions {
  return {
    jobId: id,
    attempts: 5,
    backoff: { type: 'exponential', delay: 1000 },
    removeOnComplete: true,
    removeOnFail: { age: 30 * 24 * 3600 },
  };
}
