import { Inject, Injectable, Logger } from '@nestjs/common';
import {
  EMPTY_ROOT,
  LedgerError,
  NoteFormatError,
  NoteVerificationError,
  openNote,
  parseAddCheckpointRequest,
  parseCheckpoint,
  verifyConsistency,
} from '@audit/ledger';
import { CLOCK, Clock } from '../platform';
import {
  InconsistentCheckpointError,
  OldSizeMismatchError,
  OldSizeTooLargeError,
  RootHashMismatchError,
  UnknownLogError,
  UntrustedCheckpointError,
} from './witness.errors';
import { WitnessKey } from './witness-key';
import { WitnessStateStore } from './witness-state.store';
import { WitnessedLogs } from './witnessed-logs';

/**
 * The witness (C2SP tlog-witness add-checkpoint): checks a log's checkpoint against the keys it
 * trusts for that origin and against the last checkpoint it cosigned, advances its state, and
 * cosigns. The order of the checks follows the spec: malformed body 400, unknown origin 404, no
 * trusted signature 403, old size above the size 400, old size not the cosigned size 409 (with that
 * size), same size and another root 409, consistency proof failing 422.
 */
@Injectable()
export class Witness {
  private readonly logger = new Logger(Witness.name);

  constructor(
    private readonly key: WitnessKey,
    private readonly logs: WitnessedLogs,
    private readonly state: WitnessStateStore,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /** The cosignature line(s) for the request body `body`, or a refusal (WitnessError, LedgerError). */
  async addCheckpoint(body: Buffer): Promise<string> {
    const request = parseAddCheckpointRequest(body);
    // Checkpoint bodies hold no blank line: the first one ends the text (openNote checks the rest).
    const split = request.checkpoint.indexOf('\n\n');
    if (split < 0) throw new NoteFormatError('checkpoint has no blank line before its signatures');
    const text = request.checkpoint.slice(0, split + 1);
    const { origin } = parseCheckpoint(text);
    const logs = await this.logs.logsFor(origin);
    if (logs.length === 0) throw new UnknownLogError();
    try {
      openNote(
        request.checkpoint,
        logs.map((log) => log.verifier),
      );
    } catch (error) {
      if (error instanceof NoteVerificationError) throw new UntrustedCheckpointError();
      throw error;
    }
    const checkpoint = parseCheckpoint(text);
    if (request.oldSize > checkpoint.size) throw new OldSizeTooLargeError();
    await this.state.advance(
      origin,
      (current) => {
        if (current.size !== request.oldSize) throw new OldSizeMismatchError(current.size);
        const cosignedRoot = current.rootHash ?? EMPTY_ROOT;
        if (request.oldSize === checkpoint.size) {
          if (request.proof.length > 0 || !cosignedRoot.equals(checkpoint.rootHash)) {
            this.refuse(origin, current.size, checkpoint.size, 'same size, another root hash or a proof');
            throw new RootHashMismatchError();
          }
          return;
        }
        try {
          verifyConsistency(request.oldSize, checkpoint.size, request.proof, cosignedRoot, checkpoint.rootHash);
        } catch (error) {
          if (!(error instanceof LedgerError)) throw error;
          this.refuse(origin, current.size, checkpoint.size, 'the consistency proof does not verify');
          throw new InconsistentCheckpointError();
        }
      },
      { size: checkpoint.size, rootHash: checkpoint.rootHash },
    );
    const timestamp = Math.floor(this.clock.now().getTime() / 1000);
    return this.key.cosigner.cosign(text, timestamp);
  }

  /** A refused checkpoint from a trusted log may be evidence of a split view: logged as an error. */
  private refuse(origin: string, cosignedSize: number, size: number, why: string): void {
    this.logger.error(
      `witness refused a checkpoint signed by the log: possible split view (${why}); origin=${origin} cosignedSize=${cosignedSize} checkpointSize=${size}`,
    );
  }
}
