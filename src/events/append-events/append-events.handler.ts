import { Inject } from '@nestjs/common';
import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { AppendedEntry, Sequencer } from '../../ledger';
import { INGESTION_GATE, IngestionGate } from '../ingestion-gate';
import { AppendEvents } from './append-events.command';

@CommandHandler(AppendEvents)
export class AppendEventsHandler implements ICommandHandler<AppendEvents> {
  constructor(
    private readonly sequencer: Sequencer,
    @Inject(INGESTION_GATE) private readonly gate: IngestionGate,
  ) {}

  async execute(command: AppendEvents): Promise<AppendedEntry[]> {
    await this.gate.refuseClosed(new Set(command.events.map((event) => event.log)));
    return this.sequencer.append(command.events);
  }
}
