/**
 * When to try a failing sink again, and when to stop. Pure: the caller draws the random number.
 * The wait doubles per consecutive failure from `baseMs` up to `maxMs`, and is drawn uniformly
 * in [½, 1] of that ("equal jitter"), so sinks that failed together do not retry together.
 */
export function retryDelayMs(failures: number, baseMs: number, maxMs: number, draw: number): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(Math.max(failures - 1, 0), 40));
  return Math.round(ceiling / 2 + (ceiling / 2) * Math.min(Math.max(draw, 0), 1));
}

/** Whether `failures` consecutive failures put the sink in `error`. */
export function givesUp(failures: number, maxFailures: number): boolean {
  return failures >= maxFailures;
}

/** A failure as recorded on the sink and in logs: the HTTP status or the error's code, never a URL, header or body. */
export function failureMessage(error: unknown): string {
  if (error instanceof DeliveryRefusedError) return `the receiver answered ${error.status}`;
  const code =
    (error as { code?: unknown; cause?: { code?: unknown } } | null)?.cause?.code ??
    (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && /^[A-Z0-9_]{2,40}$/.test(code)) return `delivery failed: ${code}`;
  if (error instanceof Error && error.name === 'TimeoutError') return 'delivery failed: timed out';
  return 'delivery failed';
}

/** A receiver's answer other than 2xx. */
export class DeliveryRefusedError extends Error {
  constructor(readonly status: number) {
    super(`the receiver answered ${status}`);
  }
}
