import { Command, CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { v7 as uuidv7 } from 'uuid';
import { Principal } from '../access/roles';
import { HoldState, decidePlace } from './hold.decider';
import { HoldChanges } from './hold-changes';
import { EVERY_TENANT, HoldScope } from './hold-scope';
import { HoldStore } from './hold.store';
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
    private readonly store: HoldStore,
  ) {}

  async execute({ by, tenant, matter, description, scope }: PlaceHold): Promise<HoldState> {
    const id = uuidv7();
    // Scope before existence: a key learns nothing about tenants it cannot reach.
    const decide = () => decidePlace(by, { id, tenant, matter, description, scope }, new Date());
    decide();
    if (tenant !== EVERY_TENANT && !(await this.store.tenantKnown(tenant))) throw new UnknownTenantError(tenant);
    return (await this.changes.apply(undefined, decide)).state as HoldState;
  }
}
