import { AlarmHandler, receiptProblems, stderrAlarm } from './receipts';
import { BackoffPolicy, DEFAULT_BACKOFF, backoffDelay, decide, parseRetryAfter } from './retry-policy';
import { Acknowledgement, HttpTransport, Outgoing } from './transport';

/** A refusal for good (a 4xx other than 408 and 429): resending the same events changes nothing. */
export class PermanentRefusal extends Error {
  constructor(
    readonly status: number,
    readonly answer: unknown,
  ) {
    super(`the audit service refused the events for good (${status})`);
  }
}

export interface SenderOptions {
  readonly backoff?: BackoffPolicy;
  /** Give up after this many attempts (Infinity: until `stop`). Default Infinity. */
  readonly maxAttempts?: number;
  readonly onAlarm?: AlarmHandler;
  /** The emitter's principal name, to check each leaf's `source`; unchecked when absent. */
  readonly source?: string;
  readonly random?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Sends one batch until it is acknowledged: retries network errors, 408, 429 (after its
 * Retry-After), 503 and other 5xx with exponential backoff and full jitter, under the same
 * idempotency keys; throws PermanentRefusal for any other 4xx. Each acknowledgement's leaf is
 * checked against what was sent; a mismatch raises the alarm (the events are in the log all the
 * same, so they are not sent again).
 */
export class Sender {
  private readonly alarm: AlarmHandler;

  constructor(
    private readonly transport: HttpTransport,
    private readonly options: SenderOptions = {},
  ) {
    this.alarm = options.onAlarm ?? stderrAlarm;
  }

  async send(items: readonly Outgoing[], stopped: () => boolean = () => false): Promise<Acknowledgement[]> {
    const max = this.options.maxAttempts ?? Infinity;
    for (let attempt = 1; ; attempt++) {
      const result = await this.transport.send(items);
      if (result.kind === 'acknowledged') {
        this.checkReceipts(items, result.results);
        return [...result.results];
      }
      const outcome =
        result.kind === 'network' ? { kind: 'network' as const } : { kind: 'http' as const, status: result.status };
      if (decide(outcome) === 'permanent' && result.kind === 'http')
        throw new PermanentRefusal(result.status, result.body);
      if (attempt >= max || stopped())
        throw new Error(
          `audit service unavailable after ${attempt} attempts (${result.kind === 'http' ? result.status : result.error.message})`,
        );
      const retryAfter = result.kind === 'http' ? parseRetryAfter(result.retryAfter, Date.now()) : undefined;
      await (this.options.sleep ?? sleep)(
        backoffDelay(attempt, this.options.backoff ?? DEFAULT_BACKOFF, this.options.random, retryAfter),
      );
    }
  }

  private checkReceipts(items: readonly Outgoing[], acks: readonly Acknowledgement[]): void {
    items.forEach((item, i) => {
      const problems = receiptProblems(item.event, acks[i], this.options.source);
      if (problems.length > 0)
        this.alarm({ kind: 'receipt_mismatch', log: acks[i]?.log, index: acks[i]?.index, reason: problems.join('; ') });
    });
  }
}
