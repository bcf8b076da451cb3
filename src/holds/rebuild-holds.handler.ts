import { Command, CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { ServiceEntries, foldBy } from '../ledger';
import { evolve } from './hold.decider';
import { fromHoldEntry } from './hold.entries';
import { HoldStore } from './hold.store';

/** Rebuild the `holds` projection from the ledger alone. */
export class RebuildHolds extends Command<{ holds: number; events: number }> {}

@CommandHandler(RebuildHolds)
export class RebuildHoldsHandler implements ICommandHandler<RebuildHolds> {
  constructor(
    private readonly store: HoldStore,
    private readonly entries: ServiceEntries,
  ) {}

  async execute(): Promise<{ holds: number; events: number }> {
    return this.entries.rebuild(
      ({ sql }) => this.store.lockForRebuild(sql),
      'holds',
      async (entries, { sql }) => {
        const holds = foldBy(entries.map(fromHoldEntry), (event) => event.id, evolve);
        await this.store.replaceAll(sql, [...holds.values()]);
        return { holds: holds.size, events: entries.length };
      },
    );
  }
}
