import { Command, CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { Inject } from '@nestjs/common';
import { Principal } from '../access';
import { HoldState, decidePlace } from './hold.decider';
import { HoldChanges } from './hold-changes';
import { EVERY_TENANT, HoldScope } from './hold-scope';
import { LogStore } from '../ledger';
import { CLOCK, Clock, IDS, Ids } from '../platform';
import { UnknownTenantError } from './holds.errors';

/** Place a legal hold; recorded as `hold.placed` in the tenant's log. */
export class PlaceHold extends Command<HoldState> {
  constructor(
    readonly by: Principal,
    readonly tenant: string,
    readonly matter: string,
    readonly description: string,
    readonly scope: HoldScope,
  ) {
    super();
  }
}

@CommandHandler(PlaceHold)
export class PlaceHoldHandler implements ICommandHandler<PlaceHold> {
  constructor(
    private readonly changes: HoldChanges,
    private readonly logs: LogStore,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(IDS) private readonly ids: Ids,
  ) {}

  async execute({ by, tenant, matter, description, scope }: PlaceHold): Promise<HoldState> {
    const id = this.ids.next();
    const now = this.clock.now();
    // Scope before existence: a key learns nothing about tenants it cannot reach.
    const decide = () => decidePlace(by, { id, tenant, matter, description, scope }, now);
    decide();
    if (tenant !== EVERY_TENANT && !(await this.logs.exists(tenant))) throw new UnknownTenantError(tenant);
    return (await this.changes.apply(undefined, decide)).state as HoldState;
  }
}
