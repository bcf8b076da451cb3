/**
 * An error with a stable `code` and the HTTP status it answers with. Each context derives its own
 * abstract base from it, with a union of its codes and a table from code to status typed
 * `satisfies Record<Code, number>`: a new code does not type-check until it is mapped. The
 * platform's error filter (platform/http/error.filter.ts) answers with `status`, `code`, `message`
 * and `details`, and knows no context.
 */
export abstract class CodedError extends Error {
  abstract readonly code: string;
  abstract readonly status: number;

  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }

  /** Field-level problems for the answer's `details` (`[{path, message}]`), where the error has them. */
  get details(): readonly { path: string; message: string }[] | undefined {
    return undefined;
  }

  /**
   * For a refusal the service expects (a rate limit; a 503 while the ledger disagrees with its
   * checkpoint mirror, reported where the cause was found): the `Retry-After` to answer with. The
   * error filter does not log a 5xx that carries one once per request.
   */
  declare readonly retryAfterSeconds?: number;
}

/**
 * The abstract base of one context's errors: its codes are the keys of `statusByCode`, so an error
 * class whose code the table lacks does not type-check, and each error answers with its code's
 * status. `class HoldsError extends erringWith(HOLDS_STATUS) {}`.
 */
export function erringWith<Code extends string>(statusByCode: Readonly<Record<Code, number>>) {
  abstract class ContextError extends CodedError {
    abstract override readonly code: Code;

    get status(): number {
      return statusByCode[this.code];
    }
  }
  return ContextError;
}
