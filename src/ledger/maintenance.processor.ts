import { InjectQueue, Processor, WorkerHost } from '@nestjs/bullmq';
import { Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { Job, Queue, UnrecoverableError } from 'bullmq';
import { MAINTENANCE_QUEUE, MIRROR_CHECK_EVERY_MS, MIRROR_CHECK_JOB } from '../platform';
import { MirrorCheck } from './mirror-check';

/** Runs the ledger's periodic maintenance jobs. Jobs carry no data: everything is in PostgreSQL. */
@Processor(MAINTENANCE_QUEUE)
export class MaintenanceProcessor extends WorkerHost {
  constructor(private readonly mirrorCheck: MirrorCheck) {
    super();
  }

  async process(job: Job): Promise<{ disagreements: number }> {
    if (job.name !== MIRROR_CHECK_JOB) throw new UnrecoverableError(`no handler for job ${job.name}`);
    return { disagreements: (await this.mirrorCheck.check()).length };
  }
}

/** Schedules the repeatable maintenance jobs (idempotent: one schedule per queue, whoever starts first). */
@Injectable()
export class MaintenanceSchedule implements OnApplicationBootstrap {
  constructor(@InjectQueue(MAINTENANCE_QUEUE) private readonly queue: Queue) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.queue.upsertJobScheduler(
      MIRROR_CHECK_JOB,
      { every: MIRROR_CHECK_EVERY_MS },
      { name: MIRROR_CHECK_JOB, opts: { removeOnComplete: 100, removeOnFail: 100 } },
    );
  }
}
