/** Raised by `within` when the work did not settle in time. */
export class DeadlineExceededError extends Error {
  constructor(readonly ms: number) {
    super(`no answer within ${ms} ms`);
  }
}

/**
 * `work`, or a DeadlineExceededError once `ms` have passed without it settling. The work itself
 * goes on (a promise cannot be cancelled): this bounds how long the caller waits for a dependency
 * that may hang (Redis holding commands while it reconnects, a database that does not answer).
 */
export function within<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>(
    (_, reject) => (timer = setTimeout(() => reject(new DeadlineExceededError(ms)), ms)),
  );
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}
