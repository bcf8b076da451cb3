/**
 * Base class of every error the ledger libraries throw. `code` is stable and meant for
 * programs (the service maps it to an HTTP status in one place); `message` is for people and
 * never contains personal data.
 */
export abstract class LedgerError extends Error {
  abstract readonly code: string;

  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}
