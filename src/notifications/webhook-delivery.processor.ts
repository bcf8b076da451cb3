import { Processor, WorkerHost } from '@nestjs/bullmq';
import { Inject, Logger } from '@nestjs/common';
import { Job, UnrecoverableError } from 'bullmq';
import { APP_CONFIG, AppConfig } from '../platform';
import { MetricsService } from '../platform';
import { InvalidNotificationError, NotificationPayload, notificationPayload } from './notification';
import { DELIVER_JOB, NOTIFICATIONS_QUEUE } from './notifications.queue';
import { deliveryVerdict, postDelivery } from './webhook-delivery';

/**
 * Delivers queued notifications to the webhook. Registered only in a worker process that has a
 * webhook configured, so a worker without one leaves the jobs for one that has. A failed attempt
 * throws and BullMQ retries it with backoff; a permanent refusal (see deliveryVerdict) throws
 * UnrecoverableError and the job stays in the failed set for inspection.
 */
@Processor(NOTIFICATIONS_QUEUE, { concurrency: 8 })
export class WebhookDeliveryProcessor extends WorkerHost {
  private readonly logger = new Logger(WebhookDeliveryProcessor.name);

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly metrics: MetricsService,
  ) {
    super();
  }

  async process(job: Job<NotificationPayload>): Promise<{ status: number }> {
    try {
      return await this.deliver(job);
    } catch (e) {
      const final = e instanceof UnrecoverableError || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      this.metrics.notifications.inc({ outcome: final ? 'failed' : 'attempt_failed' });
      this.logger.warn(
        `notification ${job.id} attempt ${job.attemptsMade + 1} failed${final ? ', giving up' : ''}: ${(e as Error).message}`,
      );
      throw e;
    }
  }

  private async deliver(job: Job<NotificationPayload>): Promise<{ status: number }> {
    if (job.name !== DELIVER_JOB) throw new UnrecoverableError(`no handler for job ${job.name}`);
    const webhook = this.config.webhook;
    if (webhook === null) throw new Error('no webhook configured in this worker');
    let payload: NotificationPayload;
    try {
      payload = notificationPayload(job.data);
    } catch (e) {
      if (e instanceof InvalidNotificationError) throw new UnrecoverableError(e.message);
      throw e;
    }
    const status = await postDelivery(webhook, job.id ?? payload.id, payload, Math.floor(Date.now() / 1000));
    const verdict = deliveryVerdict(status);
    if (verdict === 'refused') throw new UnrecoverableError(`webhook refused the notification for good with ${status}`);
    if (verdict === 'retry') throw new Error(`webhook answered ${status}`);
    this.metrics.notifications.inc({ outcome: 'delivered' });
    return { status };
  }
}
