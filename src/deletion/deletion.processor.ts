import { InjectQueue, Processor, WorkerHost } from '@nestjs/bullmq';
import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { Job, Queue, UnrecoverableError } from 'bullmq';
import { operator } from '../access';
import { LedgerBehindMirrorError } from '../ledger';
import { APP_CONFIG, AppConfig } from '../platform';
import { CLOCK, Clock } from '../platform';
import { DELETION_QUEUE, RECONCILE_JOB, RETENTION_PURGE_JOB, RUN_DELETION_JOB } from './deletion.queue';
import { DeletionQueueing } from './deletion-queueing';
import { DeletionStore } from './deletion.store';
import { ErasureRunner } from './erasure-runner';
import { RequestDeletion } from './request-deletion.handler';

/**
 * The deletion worker. Jobs carry a request id and nothing else; everything else is read from
 * PostgreSQL, so a job run twice, or after Redis lost it and the reconciler queued it again, ends
 * in the same state. A blocked request is an outcome, not a failure: its job completes.
 */
@Processor(DELETION_QUEUE)
export class DeletionProcessor extends WorkerHost {
  private readonly logger = new Logger(DeletionProcessor.name);

  constructor(
    private readonly store: DeletionStore,
    private readonly runner: ErasureRunner,
    private readonly queueing: DeletionQueueing,
    private readonly commands: CommandBus,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {
    super();
  }

  async process(job: Job<{ requestId?: string }>): Promise<unknown> {
    switch (job.name) {
      case RUN_DELETION_JOB:
        return this.runRequest(job);
      case RECONCILE_JOB:
        return { queued: await this.queueing.reconcile() };
      case RETENTION_PURGE_JOB:
        return this.commands.execute(
          new RequestDeletion(operator('scheduler'), 'retention_purge', '*', null, 'scheduled retention purge'),
        );
      default:
        throw new UnrecoverableError(`no handler for job ${job.name}`);
    }
  }

  private async runRequest(job: Job<{ requestId?: string }>): Promise<{ status: string }> {
    const id = job.data.requestId;
    if (typeof id !== 'string') throw new UnrecoverableError('a deletion job names its request');
    if (!(await this.store.start(id, this.clock.now()))) return { status: 'finished already' };
    try {
      await this.runner.run((await this.store.find(id))!);
    } catch (e) {
      // A run that finished the request and failed after (a notification) leaves it finished. A
      // ledger that refuses appends until an operator acknowledges a rollback fails no request:
      // it stays running, and the reconciler queues it again until the ledger takes its outcome.
      if (
        !(e instanceof LedgerBehindMirrorError) &&
        job.attemptsMade + 1 >= (job.opts.attempts ?? 1) &&
        (await this.store.fail(id, this.clock.now()))
      ) {
        this.logger.error(`deletion request ${id} failed for good: ${(e as Error).name}`);
      }
      throw e;
    }
    return { status: (await this.store.find(id))!.status };
  }
}

/** Schedules reconciliation and the retention purge, and reconciles once at start. */
@Injectable()
export class DeletionSchedule implements OnApplicationBootstrap {
  constructor(
    @InjectQueue(DELETION_QUEUE) private readonly queue: Queue,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly queueing: DeletionQueueing,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.queue.upsertJobScheduler(
      RECONCILE_JOB,
      { every: this.config.deletionReconcileMs },
      { name: RECONCILE_JOB, opts: { removeOnComplete: 100, removeOnFail: 100 } },
    );
    // A cron pattern, not an interval: an interval would also purge at every start.
    await this.queue.upsertJobScheduler(
      RETENTION_PURGE_JOB,
      { pattern: this.config.retentionPurgeCron, tz: 'UTC' },
      { name: RETENTION_PURGE_JOB, opts: { removeOnComplete: 100, removeOnFail: 100 } },
    );
    await this.queueing.reconcile();
  }
}
