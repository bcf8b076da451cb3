/** Every code the ledger libraries throw; a new one must be added here, and the service's table then fails to type-check until it maps it. */
export type LedgerErrorCode =
  | 'export_verifier_finished'
  | 'invalid_proof'
  | 'leaf_too_large'
  | 'malformed_checkpoint'
  | 'malformed_entry'
  | 'malformed_entry_bundle'
  | 'malformed_key'
  | 'malformed_note'
  | 'malformed_policy'
  | 'malformed_tile_data'
  | 'malformed_tile_path'
  | 'malformed_tlog_proof'
  | 'malformed_witness_request'
  | 'not_canonicalizable'
  | 'quorum_not_met'
  | 'root_mismatch'
  | 'unverified_note';

/**
 * Base class of every error the ledger libraries throw. `code` is stable and meant for
 * programs (the service maps it to an HTTP status in one place); `message` is for people and
 * never contains personal data.
 */
export abstract class LedgerError extends Error {
  abstract readonly code: LedgerErrorCode;

  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}
