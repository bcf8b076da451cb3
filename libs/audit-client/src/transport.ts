import { WireEvent } from './audit-event';

/** The service's acknowledgement of one event: where it is, and the leaf bytes to check. */
export interface Acknowledgement {
  readonly id: string;
  readonly log: string;
  readonly index: number;
  readonly leafHash: string;
  readonly recordedAt: string;
  /** Standard base64 of the leaf bytes. */
  readonly leaf: string;
}

/** One event to send, with the key that makes a resend harmless (a UUIDv7 made by the client). */
export interface Outgoing {
  readonly idempotencyKey: string;
  readonly event: WireEvent;
}

/** How one request ended. `http`: any answer but 201, with its parsed body when it was JSON. */
export type SendResult =
  | { readonly kind: 'acknowledged'; readonly results: readonly Acknowledgement[] }
  | { readonly kind: 'network'; readonly error: Error }
  | { readonly kind: 'http'; readonly status: number; readonly retryAfter: string | null; readonly body: unknown };

export interface TransportOptions {
  /** The service's base URL, such as `https://audit.internal` (no trailing `/v1`). */
  readonly baseUrl: string;
  /** The emitter's API key (role `emitter`). */
  readonly apiKey: string;
  /** Per request, ms. Default 10 s. */
  readonly timeoutMs?: number;
  /** For tests and custom agents; the global fetch by default. */
  readonly fetch?: typeof fetch;
}

/** Sends events to `POST /v1/events/batch` (all or nothing) and reads the answer. Never throws. */
export class HttpTransport {
  private readonly fetch: typeof fetch;

  constructor(private readonly options: TransportOptions) {
    this.fetch = options.fetch ?? fetch;
  }

  async send(items: readonly Outgoing[]): Promise<SendResult> {
    const body = JSON.stringify({
      events: items.map((item) => ({ ...item.event, idempotencyKey: item.idempotencyKey })),
    });
    let res: Response;
    try {
      res = await this.fetch(`${this.options.baseUrl}/v1/events/batch`, {
        method: 'POST',
        headers: { authorization: `Bearer ${this.options.apiKey}`, 'content-type': 'application/json' },
        body,
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 10_000),
      });
    } catch (error) {
      return { kind: 'network', error: error instanceof Error ? error : new Error(String(error)) };
    }
    let parsed: unknown;
    try {
      parsed = await res.json();
    } catch {
      parsed = undefined;
    }
    if (res.status === 201) {
      const results = (parsed as { results?: unknown } | undefined)?.results;
      if (Array.isArray(results) && results.length === items.length) return { kind: 'acknowledged', results };
      // A 201 whose body cannot be read: the events may be in the log; a resend under the same keys is harmless.
      return { kind: 'network', error: new Error('unreadable acknowledgement') };
    }
    return { kind: 'http', status: res.status, retryAfter: res.headers.get('retry-after'), body: parsed };
  }
}
