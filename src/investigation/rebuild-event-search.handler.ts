import { Command, CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { LogStore } from '../ledger';
import { EventSearchStore } from './event-search.store';

/** Rebuild the search read model of the named logs (every log when none) from their leaves. */
export class RebuildEventSearch extends Command<{ logs: number; entries: number }> {
  constructor(readonly logs: readonly string[] = []) {
    super();
  }
}

@CommandHandler(RebuildEventSearch)
export class RebuildEventSearchHandler implements ICommandHandler<RebuildEventSearch> {
  constructor(
    private readonly logStore: LogStore,
    private readonly search: EventSearchStore,
  ) {}

  async execute(command: RebuildEventSearch): Promise<{ logs: number; entries: number }> {
    const logs = command.logs.length > 0 ? command.logs : await this.logStore.logNames();
    let entries = 0;
    // A log at a time: each waits only for its own appends, never the whole service.
    for (const log of logs) entries += await this.search.rebuild(log);
    return { logs: logs.length, entries };
  }
}
