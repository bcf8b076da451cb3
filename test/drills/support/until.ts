/** How long a wait may take, and how long it pauses between two looks. */
export interface Wait {
  /** Each drill passes its own: how much a loaded 2-core machine may need depends on what it runs. */
  readonly timeoutMs: number;
  readonly pauseMs?: number;
}

/**
 * Polls `probe` until it returns something other than undefined or false, and returns that (a
 * probe that says yes or no returns `true`); fails naming `what` once `timeoutMs` have passed. A
 * deadline only: the wait ends as soon as what it waits for is seen.
 */
export async function until<T>(
  what: string,
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  { timeoutMs, pauseMs = 100 }: Wait,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, pauseMs));
  }
}
