import { Inject, Injectable, Logger } from '@nestjs/common';
import { EMPTY_ROOT, EntityRef, PLATFORM_LOG } from '@audit/ledger';
import { CLOCK, Clock } from '../platform';
import { AppendedEntry, SERVICE_SOURCE } from './append-plan';
import { CheckpointMirror } from './checkpoint-mirror';
import { LogStore } from './log-store';
import { MirrorCheck } from './mirror-check';
import { MirrorDisagreement } from './mirror-agreement';
import { Sequencer } from './sequencer';

/** The type of the `platform` entry that records an acknowledgement (permanent record: never renamed). */
export const ROLLBACK_ACKNOWLEDGED = 'ledger.rollback_acknowledged';

/** The category of the ledger's own facts about itself. */
export const LEDGER_CATEGORY = 'ledger';

/** One log whose mirrored history the acknowledgement set aside: what the mirror held, what the database holds. */
export interface AcknowledgedLog {
  readonly log: string;
  readonly problem: MirrorDisagreement['problem'];
  /** The latest mirrored checkpoint: its size and root (standard base64). */
  readonly mirrored: { readonly size: number; readonly root: string };
  /** The database's head (size 0 and the empty tree's root for a log it does not have). */
  readonly database: { readonly size: number; readonly root: string };
}

/** A recorded acknowledgement. */
export interface RollbackAcknowledged {
  /** The `platform` entry recording it. */
  readonly entry: AppendedEntry;
  readonly logs: readonly AcknowledgedLog[];
  /** Where the superseded checkpoints now are, relative to AUDIT_CHECKPOINT_DIR (`_superseded/<time>`). */
  readonly superseded: string;
  /** Disagreements found after the move: another log went wrong meanwhile (appends stay refused). */
  readonly remaining: readonly MirrorDisagreement[];
}

/**
 * The operator's acknowledgement that the database's history, behind or forked from the
 * checkpoint mirror, is the one to go on with. In this order, so that no fork is ever accepted
 * without a record: the acknowledgement is appended to the `platform` log (type
 * `ledger.rollback_acknowledged`, with the reason, each log, and its mirrored and database sizes
 * and roots), announced (the caller's webhook notification), and only then are the contradicting
 * checkpoints moved aside (kept under `_superseded/<time>/`, never deleted) and the database's
 * latest checkpoint of each log mirrored afresh, so later checks compare with the new history.
 * Every process takes appends again at its next check (MIRROR_RECHECK_MS). A failure before the
 * move leaves appends refused; acknowledging again records a second entry.
 */
@Injectable()
export class RollbackAcknowledgement {
  private readonly logger = new Logger(RollbackAcknowledgement.name);

  constructor(
    private readonly mirrorCheck: MirrorCheck,
    private readonly mirror: CheckpointMirror,
    private readonly store: LogStore,
    private readonly sequencer: Sequencer,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /**
   * Acknowledges what disagrees now, by `actor` for `reason` (non-empty: it is permanent record,
   * so a reference, not personal data); `announce` runs once the entry is committed, before the
   * move. Null, recording nothing, when the database agrees with the mirror.
   */
  async acknowledge(
    reason: string,
    actor: EntityRef,
    announce: (acknowledged: Omit<RollbackAcknowledged, 'remaining'>) => Promise<void>,
  ): Promise<RollbackAcknowledged | null> {
    const found = await this.mirrorCheck.check();
    if (found.length === 0) return null;
    const logs: AcknowledgedLog[] = [];
    for (const d of found) logs.push(await this.describe(d));
    // A file name on every system: no colons.
    const stamp = this.clock.now().toISOString().replace(/:/g, '-');
    const superseded = `_superseded/${stamp}`;
    const [entry] = await this.sequencer.appendRollbackAcknowledgement({
      log: PLATFORM_LOG,
      source: SERVICE_SOURCE,
      type: ROLLBACK_ACKNOWLEDGED,
      category: LEDGER_CATEGORY,
      actor,
      target: { type: 'checkpoint_mirror', id: superseded },
      outcome: 'success',
      context: {
        reason,
        superseded,
        logs: logs.map((l) => ({ log: l.log, problem: l.problem, mirrored: l.mirrored, database: l.database })),
      },
    });
    await announce({ entry, logs, superseded });
    await this.mirror.supersede(
      logs.map((l) => l.log),
      stamp,
      { acknowledgedBy: { log: entry.log, index: entry.index, id: entry.id, recordedAt: entry.recordedAt }, logs },
    );
    for (const { log } of logs) {
      const latest = await this.store.latestCheckpoint(log);
      if (latest) await this.mirror.write(log, latest.size, latest.note);
    }
    const remaining = await this.mirrorCheck.check();
    this.logger.warn(
      `rollback acknowledged (platform entry ${entry.index}): the database's history of ${logs.length} log(s) supersedes ` +
        `the mirrored one, whose checkpoints are kept under ${superseded} in AUDIT_CHECKPOINT_DIR`,
    );
    return { entry, logs, superseded, remaining };
  }

  private async describe(d: MirrorDisagreement): Promise<AcknowledgedLog> {
    const mirrored = await this.mirror.latest(d.log);
    const head = await this.store.head(d.log);
    return {
      log: d.log,
      problem: d.problem,
      // A checkpoint note's third line is its root hash.
      mirrored: { size: d.mirroredSize, root: mirrored?.note.split('\n')[2] ?? '' },
      database: head
        ? { size: head.size, root: head.root.toString('base64') }
        : { size: 0, root: EMPTY_ROOT.toString('base64') },
    };
  }
}
