import { HoldCheckError } from './hold-check.errors';

/**
 * "May I delete this?": the data a deletion would remove, described as the audit service's hold
 * scopes see it. Only these fields are sent; anything else on the object stays here.
 */
export interface HoldQuestion {
  tenant: string;
  subject?: string;
  actor?: string;
  category?: string;
  type?: string;
  /** When the data is from (RFC 3339 string or Date); absent means now. */
  at?: string | Date;
}

/** A hold that covers the data. `matter` is absent for emitter keys. */
export interface HoldRef {
  id: string;
  matter?: string;
}

/** The service's answer; `held` is true exactly when `holds` is not empty. */
export interface HoldCheckAnswer {
  held: boolean;
  holds: HoldRef[];
}

export interface HoldCheckClientOptions {
  /** The audit service's root, such as `https://audit.internal`; `/v1/holds/check` is added. */
  baseUrl: string;
  apiKey: string;
  /** Defaults to the global fetch (Node 20); injectable for tests. */
  fetch?: typeof fetch;
  /** Per call, covering the answer's body too. Default {@link DEFAULT_HOLD_CHECK_TIMEOUT_MS}. */
  timeoutMs?: number;
}

export interface HoldCheckCallOptions {
  /** Aborts the call (for example BullMQ's processor signal); fails with `check_aborted`. */
  signal?: AbortSignal;
}

export const DEFAULT_HOLD_CHECK_TIMEOUT_MS = 5_000;

const QUESTION_FIELDS = ['subject', 'actor', 'category', 'type'] as const;
const SERVICE_CODE = /^[A-Za-z0-9_.-]{1,64}$/;
const MAX_HOLD_ID_LENGTH = 256;
const MAX_SERVICE_MESSAGE_LENGTH = 500;

/**
 * Client of the audit service's `POST /v1/holds/check`. Every failure (non-2xx, timeout,
 * unreachable service, malformed answer) is thrown as a {@link HoldCheckError}, and a caller
 * about to delete must then not delete.
 */
export class HoldCheckClient {
  private readonly url: string;
  private readonly apiKey: string;
  private readonly fetch: typeof fetch;
  private readonly timeoutMs: number;

  /** Requires an http(s) `baseUrl`, a non-empty `apiKey` and a positive `timeoutMs`. */
  constructor(options: HoldCheckClientOptions) {
    let base: URL;
    try {
      base = new URL(options.baseUrl);
    } catch {
      throw new TypeError('HoldCheckClient: baseUrl is not a URL');
    }
    if (base.protocol !== 'http:' && base.protocol !== 'https:') {
      throw new TypeError('HoldCheckClient: baseUrl must be http or https');
    }
    if (typeof options.apiKey !== 'string' || options.apiKey.length === 0) {
      throw new TypeError('HoldCheckClient: apiKey is required');
    }
    const timeoutMs = options.timeoutMs ?? DEFAULT_HOLD_CHECK_TIMEOUT_MS;
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
      throw new RangeError('HoldCheckClient: timeoutMs must be a positive number');
    }
    this.url = `${base.href.replace(/\/+$/, '')}/v1/holds/check`;
    this.apiKey = options.apiKey;
    this.fetch = options.fetch ?? globalThis.fetch;
    this.timeoutMs = timeoutMs;
  }

  /** Asks whether any active hold covers `question`. Throws {@link HoldCheckError}. */
  async check(question: HoldQuestion, options: HoldCheckCallOptions = {}): Promise<HoldCheckAnswer> {
    const body = JSON.stringify(requestBody(question));
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(), this.timeoutMs);
    const signal = options.signal ? AbortSignal.any([timeout.signal, options.signal]) : timeout.signal;
    try {
      let response: Response;
      let text: string;
      try {
        response = await this.fetch(this.url, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${this.apiKey}`,
            'content-type': 'application/json',
            accept: 'application/json',
          },
          body,
          // A redirect means a wrong baseUrl; following it could carry the key elsewhere.
          redirect: 'manual',
          signal,
        });
        text = await response.text();
      } catch (error) {
        throw this.transportError(error, timeout.signal, options.signal);
      }
      if (response.status < 200 || response.status > 299) {
        throw this.statusError(response, text, question);
      }
      return parseAnswer(text);
    } finally {
      clearTimeout(timer);
    }
  }

  private transportError(error: unknown, timeout: AbortSignal, caller?: AbortSignal): HoldCheckError {
    if (caller?.aborted) return new HoldCheckError('check_aborted', 'hold check aborted by the caller');
    if (timeout.aborted) {
      return new HoldCheckError('check_timeout', `hold check got no answer within ${this.timeoutMs} ms`);
    }
    // fetch's own errors name the host and the network cause; the key is only in a header.
    return new HoldCheckError('check_unreachable', 'hold check could not reach the audit service', {
      cause: error,
    });
  }

  private statusError(response: Response, text: string, question: HoldQuestion): HoldCheckError {
    const status = response.status;
    let code = 'unexpected_status';
    let serviceMessage: string | undefined;
    const parsed = parseJson(text);
    if (isObject(parsed)) {
      if (typeof parsed.code === 'string' && SERVICE_CODE.test(parsed.code)) code = parsed.code;
      if (typeof parsed.message === 'string') {
        serviceMessage = redact(parsed.message, [this.apiKey, question.subject, question.actor]);
      }
    }
    const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'));
    return new HoldCheckError(code, `hold check failed: HTTP ${status} (${code})`, {
      status,
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
      ...(serviceMessage === undefined ? {} : { serviceMessage }),
    });
  }
}

function requestBody(question: HoldQuestion): Record<string, string> {
  if (!isObject(question)) throw invalidQuestion('the question is not an object');
  if (typeof question.tenant !== 'string' || question.tenant.length === 0) {
    throw invalidQuestion('tenant must be a non-empty string');
  }
  const body: Record<string, string> = { tenant: question.tenant };
  for (const field of QUESTION_FIELDS) {
    const value = question[field];
    if (value === undefined) continue;
    if (typeof value !== 'string') throw invalidQuestion(`${field} must be a string`);
    body[field] = value;
  }
  if (question.at !== undefined) {
    if (question.at instanceof Date) {
      if (Number.isNaN(question.at.getTime())) throw invalidQuestion('at is an invalid Date');
      body.at = question.at.toISOString();
    } else if (typeof question.at === 'string') {
      body.at = question.at;
    } else {
      throw invalidQuestion('at must be an RFC 3339 string or a Date');
    }
  }
  return body;
}

function invalidQuestion(why: string): HoldCheckError {
  return new HoldCheckError('invalid_question', `hold check question: ${why}`);
}

function parseAnswer(text: string): HoldCheckAnswer {
  const parsed = parseJson(text);
  if (!isObject(parsed)) throw malformed('the body is not a JSON object');
  if (typeof parsed.held !== 'boolean') throw malformed('"held" is not a boolean');
  if (!Array.isArray(parsed.holds)) throw malformed('"holds" is not an array');
  const holds: HoldRef[] = [];
  for (const item of parsed.holds as unknown[]) {
    if (!isObject(item)) throw malformed('a hold is not an object');
    const { id, matter } = item;
    if (typeof id !== 'string' || id.length === 0 || id.length > MAX_HOLD_ID_LENGTH) {
      throw malformed('a hold has no usable "id"');
    }
    if (matter !== undefined && typeof matter !== 'string') throw malformed('a hold\'s "matter" is not a string');
    holds.push(matter === undefined ? { id } : { id, matter });
  }
  if (parsed.held !== holds.length > 0) throw malformed('"held" disagrees with "holds"');
  return { held: parsed.held, holds };
}

function malformed(why: string): HoldCheckError {
  return new HoldCheckError('malformed_answer', `hold check answer is malformed: ${why}`);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Retry-After is delay-seconds or an HTTP date (RFC 9110 §10.2.3). */
function parseRetryAfter(header: string | null): number | undefined {
  if (header === null) return undefined;
  const value = header.trim();
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

function redact(message: string, secrets: ReadonlyArray<string | undefined>): string {
  let out = message;
  for (const secret of secrets) {
    if (secret) out = out.split(secret).join('[redacted]');
  }
  return out.slice(0, MAX_SERVICE_MESSAGE_LENGTH);
}
