// Framework-free: the verification worker thread loads it (verification-worker.ts).

/** True while `appends` (AppendPressure.shared) counts appends in flight. */
export function appendsInFlight(appends: Int32Array | undefined): boolean {
  return appends !== undefined && Atomics.load(appends, 0) > 0;
}

/** How many appends have begun (AppendPressure.shared[1]; wraps): unchanged between two looks means none began between them. */
export function appendsBegun(appends: Int32Array | undefined): number {
  return appends === undefined ? 0 : Atomics.load(appends, 1);
}

/**
 * Waits while `appends` (AppendPressure.shared) counts appends in flight, polling every
 * millisecond, at most `maxWaitMs`: a steady stream of appends slows background work down but
 * never stops it. Answers the milliseconds waited.
 */
export async function yieldToAppends(appends: Int32Array | undefined, maxWaitMs: number): Promise<number> {
  if (!appendsInFlight(appends)) return 0;
  const started = performance.now();
  while (appendsInFlight(appends) && performance.now() - started < maxWaitMs)
    await new Promise((resolve) => setTimeout(resolve, 1));
  return performance.now() - started;
}
