import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { MetricsService } from '../platform';
import { CheckpointMirror } from './checkpoint-mirror';
import { LogStore } from './log-store';

/** One disagreement between the database and the checkpoint mirror. */
export interface MirrorDisagreement {
  readonly log: string;
  readonly problem: 'database_behind' | 'database_forked';
  readonly mirroredSize: number;
}

/**
 * Compares the database with the checkpoints mirrored outside it, at start and on demand. A
 * chain inside the database cannot see its own missing tail or a restore from an old backup;
 * this can, and says so loudly (error log, metric audit_checkpoint_mirror_mismatch).
 */
@Injectable()
export class MirrorCheck implements OnApplicationBootstrap {
  private readonly logger = new Logger(MirrorCheck.name);

  constructor(
    private readonly mirror: CheckpointMirror,
    private readonly store: LogStore,
    private readonly metrics: MetricsService,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.check();
  }

  async check(): Promise<MirrorDisagreement[]> {
    const found: MirrorDisagreement[] = [];
    for (const log of await this.mirror.logs()) {
      const mirrored = await this.mirror.latest(log);
      if (!mirrored) continue;
      const recorded = (await this.store.checkpoints(log)).find((c) => c.size === mirrored.size);
      if (!recorded) found.push({ log, problem: 'database_behind', mirroredSize: mirrored.size });
      else if (recorded.note !== mirrored.note)
        found.push({ log, problem: 'database_forked', mirroredSize: mirrored.size });
    }
    for (const d of found) {
      this.logger.error(
        d.problem === 'database_behind'
          ? `DATABASE BEHIND THE CHECKPOINT MIRROR: log ${d.log} was signed at size ${d.mirroredSize}, which the database does not hold (lost tail or old backup)`
          : `DATABASE FORKED FROM THE CHECKPOINT MIRROR: log ${d.log} at size ${d.mirroredSize} has another root in the database`,
      );
    }
    this.metrics.mirrorMismatch.set(found.length > 0 ? 1 : 0);
    return found;
  }
}
