import { LedgerError } from '../ledger.errors';

/** A proof that cannot be right whatever the hashes: wrong length, or arguments out of range. */
export class InvalidProofError extends LedgerError {
  readonly code = 'invalid_proof';
}

/** A proof of the right shape whose recomputed root differs from the expected one. */
export class RootMismatchError extends LedgerError {
  readonly code = 'root_mismatch';

  constructor(
    readonly expectedRoot: Buffer,
    readonly calculatedRoot: Buffer,
  ) {
    super(
      `calculated root ${calculatedRoot.toString('base64')} does not match expected root ${expectedRoot.toString('base64')}`,
    );
  }
}
