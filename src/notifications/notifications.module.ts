import { BullModule } from '@nestjs/bullmq';
import { DynamicModule, Module } from '@nestjs/common';
import { oncePerConfig, type AppConfig } from '../platform';
import { NOTIFICATIONS_QUEUE } from './notifications.queue';
import { Notifier } from './notifier';
import { WebhookDeliveryProcessor } from './webhook-delivery.processor';

/** Notifications: signed webhooks to legal staff's systems, delivered by BullMQ with retries. */
@Module({})
export class NotificationsModule {
  static forRoot(config: AppConfig): DynamicModule {
    return oncePerConfig(NotificationsModule, config, () => {
      // Only a worker that knows the webhook delivers; jobs wait for one otherwise.
      const delivers = config.components.has('worker') && config.webhook !== null;
      return {
        module: NotificationsModule,
        imports: [BullModule.registerQueue({ name: NOTIFICATIONS_QUEUE })],
        providers: [Notifier, ...(delivers ? [WebhookDeliveryProcessor] : [])],
        exports: [Notifier],
      };
    });
  }
}
