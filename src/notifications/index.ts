/** The public face of the notifications context: what other contexts may use. Nothing else is imported across contexts. */
export { NOTIFICATION_TYPES, NotificationType } from './notification';
export { Notifier } from './notifier';
export { SIGNATURE_HEADER, TIMESTAMP_HEADER, signWebhook, verifyWebhookSignature } from './webhook-signature';
export { NotificationsModule } from './notifications.module';
