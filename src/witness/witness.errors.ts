import { erringWith } from '../platform';

/** Statuses of the witness's refusals, as C2SP tlog-witness prescribes them. */
const WITNESS_STATUS = {
  unknown_log: 404,
  untrusted_checkpoint: 403,
  old_size_mismatch: 409,
  root_hash_mismatch: 409,
  inconsistent_checkpoint: 422,
  old_size_too_large: 400,
  not_text: 400,
} as const satisfies Record<string, number>;

type WitnessCode = keyof typeof WITNESS_STATUS;

/** A refusal of an add-checkpoint request. */
export abstract class WitnessError extends erringWith<WitnessCode>(WITNESS_STATUS) {}

/** No `log` line of the witnessed-logs policy covers the checkpoint's origin. */
export class UnknownLogError extends WitnessError {
  readonly code = 'unknown_log';
  constructor() {
    super('this witness does not witness that log');
  }
}

/** No signature on the checkpoint verifies against a key this witness trusts for its origin. */
export class UntrustedCheckpointError extends WitnessError {
  readonly code = 'untrusted_checkpoint';
  constructor() {
    super('the checkpoint carries no valid signature by the log');
  }
}

/** The request's old size is not the size this witness last cosigned: answered with that size. */
export class OldSizeMismatchError extends WitnessError {
  readonly code = 'old_size_mismatch';
  constructor(readonly witnessSize: number) {
    super(`the witness last cosigned size ${witnessSize}`);
  }
}

/** Same size as the last cosigned checkpoint, another root hash: a fork. */
export class RootHashMismatchError extends WitnessError {
  readonly code = 'root_hash_mismatch';
  constructor() {
    super('the checkpoint has the size of the last cosigned one but another root hash');
  }
}

/** The consistency proof does not prove the checkpoint extends the last cosigned one. */
export class InconsistentCheckpointError extends WitnessError {
  readonly code = 'inconsistent_checkpoint';
  constructor() {
    super('the consistency proof does not verify against the last cosigned checkpoint');
  }
}

export class OldSizeTooLargeError extends WitnessError {
  readonly code = 'old_size_too_large';
  constructor() {
    super('the old size is larger than the checkpoint size');
  }
}

export class NotTextBodyError extends WitnessError {
  readonly code = 'not_text';
  constructor() {
    super('send the add-checkpoint body as Content-Type: text/plain');
  }
}

/** Statuses of the submitting side's refusals. */
const COSIGNED_STATUS = { no_quorum_checkpoint: 404 } as const satisfies Record<string, number>;

/** No checkpoint of the log has cosignatures meeting the witness policy's quorum (yet). */
export class NoQuorumCheckpointError extends erringWith<keyof typeof COSIGNED_STATUS>(COSIGNED_STATUS) {
  readonly code = 'no_quorum_checkpoint';
  constructor() {
    super("no checkpoint of this log has met the witness policy's quorum yet");
  }
}
