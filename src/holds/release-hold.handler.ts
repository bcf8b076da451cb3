import { Inject, Injectable } from '@nestjs/common';
import { Command, CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { ApproverStanding, Principal } from '../access';
import { APP_CONFIG, AppConfig, CLOCK, Clock } from '../platform';
import {
  HoldState,
  PendingRelease,
  ReleaseRules,
  Standing,
  countingApprovals,
  decideRelease,
  keysToStand,
  pendingRelease,
} from './hold.decider';
import { HoldChanges } from './hold-changes';
import { HoldChangedError } from './holds.errors';

/** Whether two standings say the same of every key. */
function sameStanding(a: Standing, b: Standing): boolean {
  if (a.size !== b.size) return false;
  return [...a].every(([key, principal]) => JSON.stringify(b.get(key) ?? null) === JSON.stringify(principal));
}

export interface ReleaseOutcome {
  readonly hold: HoldState;
  /** Distinct persons whose requests count, this one included. */
  readonly approvals: number;
  readonly required: number;
}

/** The release rule of this install (HOLD_RELEASE_APPROVALS, HOLD_RELEASE_APPROVAL_TTL_HOURS). */
function releaseRules(config: AppConfig): ReleaseRules {
  return { required: config.holdReleaseApprovals, approvalTtlMs: config.holdReleaseApprovalTtlHours * 3_600_000 };
}

/** Ask to release a hold: released once enough distinct legal persons asked. */
export class ReleaseHold extends Command<ReleaseOutcome> {
  constructor(
    readonly by: Principal,
    readonly id: string,
    readonly reason: string,
  ) {
    super();
  }
}

@CommandHandler(ReleaseHold)
export class ReleaseHoldHandler implements ICommandHandler<ReleaseHold> {
  private readonly rules: ReleaseRules;

  constructor(
    private readonly changes: HoldChanges,
    private readonly standing: ApproverStanding,
    @Inject(APP_CONFIG) config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {
    this.rules = releaseRules(config);
  }

  async execute({ by, id, reason }: ReleaseHold): Promise<ReleaseOutcome> {
    const now = this.clock.now();
    let decidedWith: Standing = new Map();
    const { state } = await this.changes.apply(
      id,
      async (current) => {
        decidedWith = await this.standing.of(keysToStand(current, by), now);
        return decideRelease(by, current, reason, this.rules, now, decidedWith);
      },
      // The keys counted are locked until commit and read again: a key, person or grant revoked
      // since the decision makes it decide again, never counts.
      async (sql) => {
        if (!sameStanding(await this.standing.of([...decidedWith.keys()], now, sql), decidedWith))
          throw new HoldChangedError();
      },
    );
    const hold = state as HoldState;
    const approvals =
      hold.status === 'released'
        ? this.rules.required
        : countingApprovals(hold, this.rules, now, await this.standing.of(keysToStand(hold, by), now)).length;
    return { hold, approvals, required: this.rules.required };
  }
}

/**
 * The state of an active hold's release rule now (who asked, how many more must, when requests
 * expire), counted by the same rule and standing of keys as a release request is decided by.
 */
@Injectable()
export class PendingReleases {
  private readonly rules: ReleaseRules;

  constructor(
    private readonly standing: ApproverStanding,
    @Inject(APP_CONFIG) config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {
    this.rules = releaseRules(config);
  }

  async of(hold: HoldState): Promise<PendingRelease | null> {
    if (hold.status !== 'active') return null;
    const now = this.clock.now();
    const keys = [...new Set(hold.approvals.map((a) => a.by.keyId).filter((key): key is string => key !== null))];
    return pendingRelease(hold, this.rules, now, await this.standing.of(keys, now));
  }
}
