import { LedgerError } from '../ledger.errors';

// Messages never quote the input beyond short names: policy files and proofs can be large.

/**
 * A policy file does not follow c2sp.org/tlog-policy: an unknown keyword, a malformed or
 * duplicate key, a name used before it is defined or defined twice, a bad threshold, a control
 * character other than tab, or not exactly one quorum line. `line` is the 1-based line number.
 */
export class PolicyFormatError extends LedgerError {
  readonly code = 'malformed_policy';

  constructor(
    message: string,
    readonly line?: number,
  ) {
    super(line === undefined ? message : `policy line ${line}: ${message}`);
  }
}

/** A proof does not follow c2sp.org/tlog-proof (header, index line, proof lines, checkpoint). */
export class TlogProofFormatError extends LedgerError {
  readonly code = 'malformed_tlog_proof';
}

/** A checkpoint is validly signed by the log but not cosigned by a quorum of the policy's witnesses. */
export class QuorumNotMetError extends LedgerError {
  readonly code = 'quorum_not_met';

  constructor(readonly cosigners: readonly string[]) {
    super(`the checkpoint's cosignatures (${cosigners.length}) do not meet the policy's quorum`);
  }
}

/** A tlog-witness add-checkpoint request body is malformed (old size line, proof lines, blank line, checkpoint). */
export class WitnessRequestFormatError extends LedgerError {
  readonly code = 'malformed_witness_request';
}
