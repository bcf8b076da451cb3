import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { AppendedEntry } from '../../ledger/append-plan';
import { Sequencer } from '../../ledger/sequencer';
import { AppendEvents } from './append-events.command';

@CommandHandler(AppendEvents)
export class AppendEventsHandler implements ICommandHandler<AppendEvents> {
  constructor(private readonly sequencer: Sequencer) {}

  execute(command: AppendEvents): Promise<AppendedEntry[]> {
    return this.sequencer.append(command.events);
  }
}
