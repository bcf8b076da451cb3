import { Inject } from '@nestjs/common';
import { Command, CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { Principal } from '../access';
import { APP_CONFIG, AppConfig, CLOCK, Clock } from '../platform';
import { HoldState, ReleaseRules, decideRelease, liveApprovals } from './hold.decider';
import { HoldChanges } from './hold-changes';

export interface ReleaseOutcome {
  readonly hold: HoldState;
  /** Distinct live approvals, this one included. */
  readonly approvals: number;
  readonly required: number;
}

/** Ask to release a hold: released once enough distinct legal keys asked. */
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
    @Inject(APP_CONFIG) config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {
    this.rules = {
      required: config.holdReleaseApprovals,
      approvalTtlMs: config.holdReleaseApprovalTtlHours * 3_600_000,
    };
  }

  async execute({ by, id, reason }: ReleaseHold): Promise<ReleaseOutcome> {
    const now = this.clock.now();
    const { state } = await this.changes.apply(id, (current) => decideRelease(by, current, reason, this.rules, now));
    const hold = state as HoldState;
    const approvals = hold.status === 'released' ? this.rules.required : liveApprovals(hold, this.rules, now).length;
    return { hold, approvals, required: this.rules.required };
  }
}
