import { Injectable } from '@nestjs/common';
import { openCheckpointWithPolicy, parseVerifierKey, type WitnessPolicy } from '@audit/ledger';
import { LogStore, SigningKey } from '../ledger';
import { CosignatureStore } from './cosignature.store';
import { NoQuorumCheckpointError } from './witness.errors';
import { SubmissionPolicy } from './submission-policy';

/** A checkpoint note with the cosignatures stored for it, and whether they meet the quorum. */
export interface CosignedCheckpoint {
  readonly note: string;
  readonly size: number;
  readonly cosigners: readonly string[];
  /** Null when no witness policy is configured. */
  readonly quorumMet: boolean | null;
}

/**
 * This deployment's checkpoints with the witnesses' cosignatures appended (each a verified note
 * signature line, in witness-key order), and the latest one that meets the policy's quorum.
 * The caller checks that the log is readable by its caller.
 */
@Injectable()
export class CosignedCheckpoints {
  constructor(
    private readonly store: CosignatureStore,
    private readonly logs: LogStore,
    private readonly key: SigningKey,
    private readonly submission: SubmissionPolicy,
  ) {}

  /** `note` (a signed checkpoint of `log` of `size` leaves) with its stored cosignatures. */
  async withCosignatures(log: string, note: string, size: number): Promise<CosignedCheckpoint> {
    const lines = (await this.store.cosignaturesOf(log)).get(size) ?? [];
    return this.evaluate(note + lines.map((c) => c.line).join(''), size);
  }

  /** The largest checkpoint of `log` whose cosignatures meet the quorum; NoQuorumCheckpointError if none. */
  async latestWithQuorum(log: string): Promise<CosignedCheckpoint> {
    const cosignatures = await this.store.cosignaturesOf(log);
    const policy = this.submission.policy;
    const checkpoints = (await this.logs.checkpoints(log)).reverse();
    for (const checkpoint of checkpoints) {
      const lines = cosignatures.get(checkpoint.size) ?? [];
      if (policy !== null && policy.quorum.kind !== 'none' && lines.length === 0) continue;
      const cosigned = this.evaluate(checkpoint.note + lines.map((c) => c.line).join(''), checkpoint.size);
      if (cosigned.quorumMet === true) return cosigned;
    }
    throw new NoQuorumCheckpointError();
  }

  private evaluate(note: string, size: number): CosignedCheckpoint {
    const policy = this.submission.policy;
    if (policy === null) return { note, size, cosigners: [], quorumMet: null };
    // The witnesses' policy with this deployment's own key as its log.
    const own: WitnessPolicy = {
      logs: [{ verifier: parseVerifierKey(this.key.verifierKey), verifierKey: this.key.verifierKey }],
      witnesses: policy.witnesses,
      quorum: policy.quorum,
    };
    const checked = openCheckpointWithPolicy(note, own);
    return { note, size, cosigners: checked.cosigners, quorumMet: checked.quorumMet };
  }
}
