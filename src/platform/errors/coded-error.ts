/**
 * An error with a stable `code`, which platform/http/error.filter.ts maps to an HTTP answer
 * (its table lists every code). Each context derives its own abstract base from it, so a
 * context's errors are one type; nothing HTTP lives in the domain.
 */
export abstract class CodedError extends Error {
  abstract readonly code: string;

  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}
