import { InjectQueue, Processor, WorkerHost } from '@nestjs/bullmq';
import { Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { Job, Queue, UnrecoverableError } from 'bullmq';
import { MAINTENANCE_QUEUE, MIRROR_CHECK_EVERY_MS, MIRROR_CHECK_JOB } from '../platform';
import { MirrorCheck } from './mirror-check';
import { SubjectKeyCompaction } from './subject-key-compaction';

/** Compacts the subject key table when erasures destroyed keys (SubjectKeyCompaction). */
export const SUBJECT_KEYS_COMPACT_JOB = 'compact-subject-keys';
/** So a destroyed key's bytes leave the table's file within about this long of its erasure. */
export const SUBJECT_KEYS_COMPACT_EVERY_MS = 5 * 60_000;

/** Runs the ledger's periodic maintenance jobs. Jobs carry no data: everything is in PostgreSQL. */
@Processor(MAINTENANCE_QUEUE)
export class MaintenanceProcessor extends WorkerHost {
  constructor(
    private readonly mirrorCheck: MirrorCheck,
    private readonly compaction: SubjectKeyCompaction,
  ) {
    super();
  }

  async process(job: Job): Promise<{ disagreements: number } | { compacted: boolean }> {
    if (job.name === SUBJECT_KEYS_COMPACT_JOB) return { compacted: await this.compaction.compact() };
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
    await this.queue.upsertJobScheduler(
      SUBJECT_KEYS_COMPACT_JOB,
      { every: SUBJECT_KEYS_COMPACT_EVERY_MS },
      { name: SUBJECT_KEYS_COMPACT_JOB, opts: { removeOnComplete: 100, removeOnFail: 100 } },
    );
  }
}
