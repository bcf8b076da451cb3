import { v7 as uuidv7 } from 'uuid';
import { AuditEvent, toWire } from './audit-event';
import { AlarmHandler, stderrAlarm } from './receipts';
import { BackoffPolicy } from './retry-policy';
import { PermanentRefusal, Sender } from './sender';
import { Acknowledgement, HttpTransport, Outgoing } from './transport';

export interface AuditClientOptions {
  /** The service's base URL, such as `https://audit.internal`. */
  readonly baseUrl: string;
  /** The emitter's API key (role `emitter`). */
  readonly apiKey: string;
  /** Events per request, at most 1,000. Default 100. */
  readonly batchSize?: number;
  /** How long an event may wait for others to share its request, ms. Default 20. */
  readonly lingerMs?: number;
  readonly backoff?: BackoffPolicy;
  /** Attempts per batch before `emit` rejects. Default 8. */
  readonly maxAttempts?: number;
  /** Alarms: receipts that do not check, events refused for good. stderr by default. */
  readonly onAlarm?: AlarmHandler;
  /** The emitter's principal name, to check each leaf's `source`. */
  readonly source?: string;
  readonly timeoutMs?: number;
  readonly fetch?: typeof fetch;
}

interface Pending {
  readonly item: Outgoing;
  readonly resolve: (ack: Acknowledgement) => void;
  readonly reject: (error: Error) => void;
}

/**
 * The in-memory client: `emit` resolves with the event's verified acknowledgement once the
 * service has committed it. LOSSY: events waiting in memory (linger, retries) are lost when the
 * process dies. For events that must survive a crash, write them to the outbox in the business
 * transaction (`AuditOutbox`) and run an `OutboxRelay`.
 */
export class AuditClient {
  private readonly sender: Sender;
  private readonly batchSize: number;
  private readonly lingerMs: number;
  private readonly alarm: AlarmHandler;
  private queue: Pending[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(options: AuditClientOptions) {
    this.batchSize = options.batchSize ?? 100;
    if (this.batchSize < 1 || this.batchSize > 1000) throw new RangeError('batchSize is 1 to 1,000');
    this.lingerMs = options.lingerMs ?? 20;
    this.alarm = options.onAlarm ?? stderrAlarm;
    this.sender = new Sender(new HttpTransport(options), {
      backoff: options.backoff,
      maxAttempts: options.maxAttempts ?? 8,
      onAlarm: this.alarm,
      source: options.source,
    });
  }

  /** Records one event; resolves with its acknowledgement (a checked receipt). */
  emit(event: AuditEvent): Promise<Acknowledgement> {
    const item: Outgoing = { idempotencyKey: uuidv7(), event: toWire(event) };
    return new Promise<Acknowledgement>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (this.queue.length >= this.batchSize) this.flushNow();
      else this.timer ??= setTimeout(() => this.flushNow(), this.lingerMs);
    });
  }

  /** Records several events; all resolve or each rejects on its own. */
  emitBatch(events: readonly AuditEvent[]): Promise<Acknowledgement[]> {
    return Promise.all(events.map((event) => this.emit(event)));
  }

  /** Sends what waits and resolves when every request in flight has ended. */
  async flush(): Promise<void> {
    this.flushNow();
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  private flushNow(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.batchSize);
      const sending = this.sendBatch(batch).finally(() => this.inFlight.delete(sending));
      this.inFlight.add(sending);
    }
  }

  private async sendBatch(batch: Pending[]): Promise<void> {
    try {
      const acks = await this.sender.send(batch.map((p) => p.item));
      batch.forEach((p, i) => p.resolve(acks[i]));
    } catch (error) {
      if (error instanceof PermanentRefusal)
        this.alarm({ kind: 'dead_letter', reason: `${batch.length} event(s) refused with ${error.status}` });
      batch.forEach((p) => p.reject(error as Error));
    }
  }
}
