import { InjectQueue, Processor, WorkerHost } from '@nestjs/bullmq';
import { Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { Job, Queue, UnrecoverableError } from 'bullmq';
import { WitnessSubmitter, type SubmissionOutcome } from './witness-submitter';

/** The queue of witness submissions; its one job carries no data (everything is in PostgreSQL). */
export const WITNESS_SUBMISSION_QUEUE = 'witness-submission';
export const WITNESS_SWEEP_JOB = 'submit-checkpoints';
/** How often the latest checkpoints are offered to the witnesses. */
export const WITNESS_SWEEP_EVERY_MS = 1_000;

@Processor(WITNESS_SUBMISSION_QUEUE)
export class WitnessSubmissionProcessor extends WorkerHost {
  constructor(private readonly submitter: WitnessSubmitter) {
    super();
  }

  async process(job: Job): Promise<{ outcomes: SubmissionOutcome[] }> {
    if (job.name !== WITNESS_SWEEP_JOB) throw new UnrecoverableError(`no handler for job ${job.name}`);
    return { outcomes: await this.submitter.sweep() };
  }
}

/** Schedules the sweep (idempotent: one schedule per queue, whoever starts first). */
@Injectable()
export class WitnessSubmissionSchedule implements OnApplicationBootstrap {
  constructor(@InjectQueue(WITNESS_SUBMISSION_QUEUE) private readonly queue: Queue) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.queue.upsertJobScheduler(
      WITNESS_SWEEP_JOB,
      { every: WITNESS_SWEEP_EVERY_MS },
      { name: WITNESS_SWEEP_JOB, opts: { removeOnComplete: 10, removeOnFail: 100 } },
    );
  }
}
