import { Inject } from '@nestjs/common';
import { CLOCK, Clock } from '../platform';
import { Command, CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { Principal } from '../access';
import { HoldState, decideAmend } from './hold.decider';
import { HoldChanges } from './hold-changes';
import { HoldScope } from './hold-scope';

/** Widen a hold's scope (or reword its description); recorded as `hold.amended`. */
export class AmendHold extends Command<HoldState> {
  constructor(
    readonly by: Principal,
    readonly id: string,
    readonly scope: HoldScope,
    readonly description: string | undefined,
    readonly reason: string,
  ) {
    super();
  }
}

@CommandHandler(AmendHold)
export class AmendHoldHandler implements ICommandHandler<AmendHold> {
  constructor(
    private readonly changes: HoldChanges,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async execute({ by, id, scope, description, reason }: AmendHold): Promise<HoldState> {
    return (
      await this.changes.apply(id, (current) =>
        decideAmend(by, current, { scope, description, reason }, this.clock.now()),
      )
    ).state as HoldState;
  }
}
