import { InjectQueue } from '@nestjs/bullmq';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { EventsHandler, IEventHandler } from '@nestjs/cqrs';
import { Queue } from 'bullmq';
import { HoldReleased, HoldsReader } from '../holds';
import { RetentionPolicyChangedEvent } from '../retention';
import { CLOCK, Clock } from '../platform';
import { Dependencies } from '../platform';
import { redisReady } from '../platform';
import { DELETION_QUEUE, RUN_DELETION_JOB, runJobOptions } from './deletion.queue';
import { DeletionStore } from './deletion.store';
import { within } from '../platform';

// Redis answers in milliseconds when it is up; longer, and the reconciler queues the request later.
const ENQUEUE_NOW_MS = 2_000;

/** Puts deletion requests (by id: jobs carry nothing else) on the BullMQ queue. */
@Injectable()
export class DeletionQueueing {
  private readonly logger = new Logger(DeletionQueueing.name);

  constructor(
    @InjectQueue(DELETION_QUEUE) private readonly queue: Queue,
    private readonly store: DeletionStore,
    private readonly holds: HoldsReader,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly dependencies: Dependencies,
  ) {}

  /**
   * Blocked requests worth running again: a retention minimum ran out, or a hold that blocked
   * them is no longer active. `tenant` narrows to one tenant's requests (and purges).
   */
  async unblocked(tenant?: string): Promise<string[]> {
    const now = this.clock.now().toISOString();
    const requests = await this.store.blockedRequests(tenant);
    const active = await this.holds.activeIds(requests.flatMap((request) => request.holdIds));
    return requests
      .filter(
        (request) =>
          (request.retryAt !== null && request.retryAt <= now) || request.holdIds.some((id) => !active.has(id)),
      )
      .map((request) => request.id);
  }

  /** Queues each request unless its job is queued or running already; a failed job is replaced. */
  async enqueue(ids: readonly string[]): Promise<void> {
    for (const id of ids) {
      const existing = await this.queue.getJob(id);
      if (existing && (await existing.isFailed())) await existing.remove();
      await this.queue.add(RUN_DELETION_JOB, { requestId: id }, runJobOptions(id));
    }
  }

  /**
   * For a request that just stored `ids`: queues them if Redis is up now, within ENQUEUE_NOW_MS,
   * and otherwise leaves them to reconcile() (the rows are the truth). Never rejects and never
   * holds the request for the length of a Redis outage.
   */
  async enqueueNow(ids: readonly string[]): Promise<void> {
    if (!(await redisReady(this.queue))) {
      this.dependencies.redis.refused();
      return;
    }
    await within(this.enqueue(ids), ENQUEUE_NOW_MS).catch(() => undefined);
  }

  /**
   * Makes Redis agree with PostgreSQL: every queued or running request has a job (Redis may have
   * lost it), and every blocked request whose hold is gone or whose retention minimum ran out
   * runs again.
   */
  async reconcile(): Promise<number> {
    const ids = [...new Set([...(await this.store.unfinishedRuns()), ...(await this.unblocked())])];
    await this.enqueue(ids);
    if (ids.length > 0) this.logger.log(`reconciled ${ids.length} deletion request(s) with the queue`);
    return ids.length;
  }
}

/** A released hold may unblock deletion work of its tenant (or of every tenant): run it again. */
@EventsHandler(HoldReleased)
export class RequeueOnHoldRelease implements IEventHandler<HoldReleased> {
  private readonly logger = new Logger(RequeueOnHoldRelease.name);

  constructor(private readonly queueing: DeletionQueueing) {}

  async handle(event: HoldReleased): Promise<void> {
    // The periodic reconciliation catches what is lost here (a crash, Redis away).
    try {
      await this.queueing.enqueue(await this.queueing.unblocked(event.tenant === '*' ? undefined : event.tenant));
    } catch (e) {
      this.logger.warn(`could not queue deletion work after a hold release: ${(e as Error).name}`);
    }
  }
}

/**
 * A shorter retention minimum may free work blocked until the old one ran out: run every blocked
 * request again (their stored retry time is the old minimum's).
 */
@EventsHandler(RetentionPolicyChangedEvent)
export class RequeueOnShorterMinimum implements IEventHandler<RetentionPolicyChangedEvent> {
  private readonly logger = new Logger(RequeueOnShorterMinimum.name);

  constructor(
    private readonly queueing: DeletionQueueing,
    private readonly store: DeletionStore,
  ) {}

  async handle(event: RetentionPolicyChangedEvent): Promise<void> {
    if (event.minDaysAfter >= event.minDaysBefore) return;
    try {
      await this.queueing.enqueue(await this.store.blocked());
    } catch (e) {
      this.logger.warn(`could not queue deletion work after a retention change: ${(e as Error).name}`);
    }
  }
}
