import { Injectable, Logger } from '@nestjs/common';
import {
  formatAddCheckpointRequest,
  LedgerError,
  parseCheckpoint,
  verifyCosignatureLine,
  type PolicyWitness,
} from '@audit/ledger';
import { LogReader, LogStore } from '../ledger';
import { MetricsService } from '../platform';
import { CosignatureStore } from './cosignature.store';
import { SubmissionPolicy } from './submission-policy';

/** How long one add-checkpoint call may take. */
const SUBMIT_TIMEOUT_MS = 10_000;
const SIZE_ANSWER = /^(0|[1-9][0-9]{0,15})\n$/;

/** What one submission did, for the job's result and the tests. */
export interface SubmissionOutcome {
  readonly log: string;
  readonly witness: string;
  readonly size: number;
  readonly result: 'cosigned' | 'already' | 'refused' | 'unreachable';
  readonly status?: number;
}

/** The text of a signed note before its signatures (checkpoint bodies hold no blank line). */
function noteText(note: string): string {
  return note.slice(0, note.indexOf('\n\n') + 1);
}

/**
 * Asks every witness of the policy that has a URL to cosign the latest checkpoint of every log
 * (C2SP tlog-witness), with a consistency proof from the size that witness is known to hold:
 * 200 — each cosignature line is verified against the witness's key in the policy and stored
 * beside the checkpoint; 409 — the size the witness answers is recorded and the call made once
 * more from it; 422, 404, 403 and anything else — recorded as the witness's last failure (a 422
 * logged as an error: the witness says the log forked). Runs in a BullMQ job, never in the signer.
 */
@Injectable()
export class WitnessSubmitter {
  private readonly logger = new Logger(WitnessSubmitter.name);

  constructor(
    private readonly policy: SubmissionPolicy,
    private readonly logs: LogStore,
    private readonly reader: LogReader,
    private readonly store: CosignatureStore,
    private readonly metrics: MetricsService,
  ) {}

  async sweep(): Promise<SubmissionOutcome[]> {
    const policy = this.policy.policy;
    if (policy === null) return [];
    const witnesses = policy.witnesses.filter((w) => w.url !== undefined);
    const outcomes: SubmissionOutcome[] = [];
    for (const { log, note } of await this.logs.latestCheckpointNotes()) {
      const { size } = parseCheckpoint(noteText(note));
      for (const witness of witnesses) outcomes.push(await this.submit(log, note, size, witness));
    }
    return outcomes;
  }

  private async submit(log: string, note: string, size: number, witness: PolicyWitness): Promise<SubmissionOutcome> {
    const key = witness.verifier.verifierKey;
    const outcome = (result: SubmissionOutcome['result'], status?: number): SubmissionOutcome => ({
      log,
      witness: witness.name,
      size,
      result,
      ...(status === undefined ? {} : { status }),
    });
    if (await this.store.hasCosignature(log, size, key)) return outcome('already');
    let known = await this.store.knownSize(log, key);
    for (let attempt = 0; attempt < 2; attempt++) {
      if (known > size) {
        await this.store.recordFailure(log, key, 409, `the witness holds size ${known}, beyond this log's ${size}`);
        this.failed(witness, '409');
        this.logger.error(
          `witness ${witness.name} holds size ${known} of log ${log}, beyond its latest checkpoint ${size}`,
        );
        return outcome('refused', 409);
      }
      const proof =
        known === 0 || known === size
          ? []
          : (await this.reader.consistencyProof(log, known, size, ['*'])).proof.map((h) => Buffer.from(h, 'base64'));
      let response: Response;
      try {
        response = await fetch(`${(witness.url as string).replace(/\/$/, '')}/add-checkpoint`, {
          method: 'POST',
          headers: { 'content-type': 'text/plain' },
          body: formatAddCheckpointRequest({ oldSize: known, proof, checkpoint: note }),
          signal: AbortSignal.timeout(SUBMIT_TIMEOUT_MS),
        });
      } catch (error) {
        await this.store.recordFailure(log, key, null, `unreachable: ${(error as Error).message}`.slice(0, 500));
        this.failed(witness, 'unreachable');
        return outcome('unreachable');
      }
      const body = (await response.text()).slice(0, 64 * 1024);
      if (response.status === 200) return this.accept(log, note, size, witness, body, outcome);
      if (response.status === 409 && SIZE_ANSWER.test(body) && attempt === 0) {
        known = Number(body.trim());
        await this.store.recordSize(log, key, known, 409, null);
        continue;
      }
      const why = `the witness answered ${response.status}`;
      await this.store.recordFailure(log, key, response.status, why);
      this.failed(witness, String(response.status));
      if (response.status === 422) {
        this.logger.error(
          `witness ${witness.name} refused log ${log} at size ${size} as inconsistent (422): possible split view`,
        );
      } else {
        this.logger.warn(`witness ${witness.name} refused log ${log} at size ${size}: ${why}`);
      }
      return outcome('refused', response.status);
    }
    return outcome('refused', 409);
  }

  /** Counted per process (`audit_witness_submission_failures_total`); the store keeps the last one. */
  private failed(witness: PolicyWitness, status: string): void {
    this.metrics.witnessSubmissionFailures.inc({ witness: witness.name, status });
  }

  private async accept(
    log: string,
    note: string,
    size: number,
    witness: PolicyWitness,
    body: string,
    outcome: (result: SubmissionOutcome['result'], status?: number) => SubmissionOutcome,
  ): Promise<SubmissionOutcome> {
    const key = witness.verifier.verifierKey;
    const text = noteText(note);
    const lines = body.split('\n').filter((line) => line.length > 0);
    let accepted: { line: string; timestamp: number } | undefined;
    for (const line of lines) {
      try {
        const verified = verifyCosignatureLine(line, text, witness.verifier);
        if (verified !== undefined && accepted === undefined)
          accepted = { line: `${line}\n`, timestamp: verified.timestamp };
      } catch (error) {
        if (!(error instanceof LedgerError)) throw error;
        accepted = undefined;
        break;
      }
    }
    if (accepted === undefined) {
      await this.store.recordFailure(log, key, 200, 'no valid cosignature by the policy key in the answer');
      this.failed(witness, 'invalid_cosignature');
      this.logger.error(`witness ${witness.name} answered log ${log} at size ${size} without a valid cosignature`);
      return outcome('refused', 200);
    }
    await this.store.addCosignature(log, size, key, accepted.line, new Date(accepted.timestamp * 1000));
    await this.store.recordSize(log, key, size, 200, null);
    return outcome('cosigned', 200);
  }
}
