import type { DeliveryBatch, DeliveryPayload, FormattedDelivery } from './sink-formats';

/** What SinkFormatter posts to its thread. */
export interface FormatRequest {
  readonly id: number;
  readonly batch: DeliveryBatch;
}

/** What the thread posts back: the formatted batch, or why it could not be formatted. */
export type FormatReply =
  { readonly id: number; readonly delivery: FormattedDelivery } | { readonly id: number; readonly failure: string };

/**
 * A formatting failure as a message to record and log: the error's name only. JSON.parse's own
 * messages quote the text they failed on, and a leaf's text is not for logs or `last_error`.
 */
export function formatFailure(error: unknown): string {
  return `a batch could not be formatted (${error instanceof Error ? error.name : 'unknown error'})`;
}

const asBuffer = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

/** A batch as it arrives from the thread, with its bytes as Buffers again (a message carries them as Uint8Array). */
export function withBuffers(delivery: FormattedDelivery): FormattedDelivery {
  const payload = delivery.payload;
  const rebuilt: DeliveryPayload =
    payload.transport === 'http'
      ? { transport: 'http', batch: { ...payload.batch, body: asBuffer(payload.batch.body) } }
      : payload.transport === 'relp'
        ? { transport: 'relp', messages: payload.messages.map(asBuffer) }
        : { transport: 'syslog', frames: asBuffer(payload.frames) };
  return { indices: delivery.indices, payload: rebuilt };
}
