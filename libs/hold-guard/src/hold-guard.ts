import { DelayedError, type Job, type Processor } from 'bullmq';
import type { HoldCheckAnswer, HoldCheckCallOptions, HoldQuestion, HoldRef } from './hold-check.client';
import { HoldCheckError } from './hold-check.errors';

/** What the guard needs of a client; {@link HoldCheckClient} is one. */
export interface HoldChecker {
  check(question: HoldQuestion, options?: HoldCheckCallOptions): Promise<HoldCheckAnswer>;
}

export interface HoldGuardOptions<T = unknown, R = unknown, N extends string = string> {
  client: HoldChecker;
  /** What the job would delete. Throwing, or naming nothing, stops the job like a failed check. */
  question: (job: Job<T, R, N>) => HoldQuestion | HoldQuestion[];
  /** How long a held job waits before it is checked again. Default one hour. */
  retryHeldAfterMs?: number;
  /** Called once per held attempt, after the hold is recorded and before the job is delayed. */
  onHeld?: (job: Job<T, R, N>, holds: HoldRef[]) => void | Promise<void>;
}

/** What a held job carries as its progress: hold ids and times, never the hold's matter. */
export interface HoldRecord {
  heldBy: string[];
  /** RFC 3339. */
  heldAt: string;
  /** RFC 3339: when the job is due to be checked again. */
  retryAt: string;
}

export const DEFAULT_RETRY_HELD_AFTER_MS = 60 * 60 * 1000;

/**
 * Wraps a BullMQ deletion processor so it runs only when the audit service says no hold covers
 * any of the job's questions.
 *
 * - Not held: runs `processor` and returns its result.
 * - Held: does not run it; logs the hold ids on the job, sets its progress to a
 *   {@link HoldRecord}, calls `onHeld`, moves the job to delayed until `retryHeldAfterMs` from
 *   now (which costs no attempt) and throws BullMQ's `DelayedError`.
 * - The check failed (or `question` threw or named nothing): does not run it and rethrows, so
 *   the job's attempts and backoff apply and it ends up failed, never completed. Fail closed.
 *
 * Questions are asked one after the other; when any is held the job is delayed even if another
 * check failed. Requires `retryHeldAfterMs` to be a finite number >= 0.
 */
export function withHoldGuard<T, R, N extends string = string>(
  processor: Processor<T, R, N>,
  options: HoldGuardOptions<T, R, N>,
): Processor<T, R, N> {
  const retryHeldAfterMs = options.retryHeldAfterMs ?? DEFAULT_RETRY_HELD_AFTER_MS;
  if (!Number.isFinite(retryHeldAfterMs) || retryHeldAfterMs < 0) {
    throw new RangeError('withHoldGuard: retryHeldAfterMs must be a finite number >= 0');
  }

  return async (job, token, signal) => {
    const asked = options.question(job);
    const questions = Array.isArray(asked) ? asked : [asked];
    if (questions.length === 0) {
      throw new HoldCheckError('invalid_question', 'the job names nothing to check, so it may not delete');
    }

    const holds = new Map<string, HoldRef>();
    let failed = false;
    let failure: unknown;
    for (const question of questions) {
      try {
        const answer = await options.client.check(question, signal ? { signal } : {});
        for (const hold of answer.holds) if (!holds.has(hold.id)) holds.set(hold.id, hold);
      } catch (error) {
        if (!failed) [failed, failure] = [true, error];
      }
    }

    if (holds.size > 0) {
      const now = Date.now();
      const retryAt = now + retryHeldAfterMs;
      const record: HoldRecord = {
        heldBy: [...holds.keys()],
        heldAt: new Date(now).toISOString(),
        retryAt: new Date(retryAt).toISOString(),
      };
      await job.log(`held by ${record.heldBy.join(', ')}: not run, checked again at ${record.retryAt}`);
      await job.updateProgress(record);
      await options.onHeld?.(job, [...holds.values()]);
      await job.moveToDelayed(retryAt, token);
      throw new DelayedError();
    }
    if (failed) throw failure;
    return processor(job, token, signal);
  };
}
