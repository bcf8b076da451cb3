import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { ClosedTenants } from '../../deletion/closed-tenants';
import { AppendedEntry } from '../../ledger/append-plan';
import { Sequencer } from '../../ledger/sequencer';
import { AppendEvents } from './append-events.command';

@CommandHandler(AppendEvents)
export class AppendEventsHandler implements ICommandHandler<AppendEvents> {
  constructor(
    private readonly sequencer: Sequencer,
    private readonly closed: ClosedTenants,
  ) {}

  async execute(command: AppendEvents): Promise<AppendedEntry[]> {
    await this.closed.refuseClosed(new Set(command.events.map((event) => event.log)));
    return this.sequencer.append(command.events);
  }
}
