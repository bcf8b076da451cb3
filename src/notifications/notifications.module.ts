import { BullModule } from '@nestjs/bullmq';
import { DynamicModule, Module } from '@nestjs/common';
import { contextModule, type AppConfig } from '../platform';
import { NOTIFICATIONS_QUEUE } from './notifications.queue';
import { Notifier } from './notifier';
import { WebhookDeliveryProcessor } from './webhook-delivery.processor';

/** Notifications: signed webhooks to legal staff's systems, delivered by BullMQ with retries. */
@Module({})
export class NotificationsModule {
  static forRoot(config: AppConfig): DynamicModule {
    return contextModule(NotificationsModule, config, () => ({
      imports: [BullModule.registerQueue({ name: NOTIFICATIONS_QUEUE })],
      providers: [Notifier],
      // Only a worker that knows the webhook delivers; jobs wait for one otherwise.
      workers: config.webhook !== null ? [WebhookDeliveryProcessor] : [],
      exports: [Notifier],
    }));
  }
}
