import { Inject } from '@nestjs/common';
import { Command, CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { operator } from '../access';
import { CLOCK, Clock } from '../platform';
import { decidePlace } from './hold.decider';
import { HoldChanges } from './hold-changes';
import { HoldJournal } from './hold-journal';
import { HoldStore } from './hold.store';

/** The holds placed again, by id. */
export interface RestoredHolds {
  readonly placedAgain: string[];
}

/**
 * Places again every hold the journal holds active and the database does not know (a database
 * restored from a backup older than the hold), with its id, tenant, matter, description and scope,
 * as the operator. Run when a rollback is acknowledged. A hold the database holds is left as it
 * is, even one the journal says was released later: releasing stays a two-person act.
 */
export class RestoreJournaledHolds extends Command<RestoredHolds> {}

@CommandHandler(RestoreJournaledHolds)
export class RestoreJournaledHoldsHandler implements ICommandHandler<RestoreJournaledHolds> {
  constructor(
    private readonly journal: HoldJournal,
    private readonly store: HoldStore,
    private readonly changes: HoldChanges,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async execute(): Promise<RestoredHolds> {
    const by = operator('cli');
    const placedAgain: string[] = [];
    for (const hold of (await this.journal.latest()).values()) {
      if (hold.status !== 'active' || (await this.store.find(hold.id)) !== undefined) continue;
      const { id, tenant, matter, description, scope } = hold;
      await this.changes.apply(undefined, () =>
        decidePlace(by, { id, tenant, matter, description, scope }, this.clock.now()),
      );
      placedAgain.push(id);
    }
    return { placedAgain };
  }
}
