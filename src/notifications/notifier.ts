import { InjectQueue } from '@nestjs/bullmq';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { Queue } from 'bullmq';
import { APP_CONFIG, AppConfig } from '../platform';
import { Dependencies } from '../platform';
import { MetricsService } from '../platform';
import { redisReady } from '../platform';
import { Notification, notificationPayload } from './notification';
import { DELIVER_JOB, NOTIFICATIONS_QUEUE, deliveryJobOptions } from './notifications.queue';
import { DeadlineExceededError, within } from '../platform';

/** How long notify() waits for Redis to take the job before it gives up on it. */
const ENQUEUE_TIMEOUT_MS = 5_000;

/**
 * Queues notifications for the configured webhook (AUDIT_WEBHOOK_URL); the worker component
 * delivers them. Call it after the fact is committed in the ledger.
 */
@Injectable()
export class Notifier {
  private readonly logger = new Logger(Notifier.name);

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @InjectQueue(NOTIFICATIONS_QUEUE) private readonly queue: Queue,
    private readonly metrics: MetricsService,
    private readonly dependencies: Dependencies,
  ) {}

  /**
   * Queues one delivery of `notification`, once per notification id. Does nothing when no
   * webhook is configured. Rejects with InvalidNotificationError for a malformed notification (a bug of
   * the caller, whether or not a webhook is configured). Never rejects because Redis is down or
   * slow: what happened is already committed, so the failure is logged (type and id only) and
   * counted (`audit_notifications_total{outcome="not_queued"}`) instead, and notify() returns
   * within about 5 seconds.
   */
  async notify(notification: Notification): Promise<void> {
    const payload = notificationPayload(notification);
    const webhook = this.config.webhook;
    if (webhook === null) return;
    if (!(await redisReady(this.queue))) {
      // Redis away: not queued, counted, and told once per outage by the redis tracker rather
      // than a line per notification; the request that caused it does not wait.
      this.metrics.notifications.inc({ outcome: 'not_queued' });
      this.dependencies.redis.refused();
      return;
    }
    try {
      await within(
        this.queue.add(DELIVER_JOB, payload, deliveryJobOptions(payload.id, webhook.backoffMs)),
        ENQUEUE_TIMEOUT_MS,
      );
    } catch (e) {
      this.metrics.notifications.inc({ outcome: 'not_queued' });
      const why =
        e instanceof DeadlineExceededError
          ? `Redis did not take the job within ${ENQUEUE_TIMEOUT_MS} ms`
          : (e as Error).message;
      this.logger.warn(`notification ${payload.type} ${payload.id} was not queued: ${why}`);
    }
  }
}
