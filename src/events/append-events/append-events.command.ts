import { Command } from '@nestjs/cqrs';
import { AppendedEntry, EventToAppend } from '../../ledger';

/** Append validated events to their logs, all or none. */
export class AppendEvents extends Command<AppendedEntry[]> {
  constructor(readonly events: readonly EventToAppend[]) {
    super();
  }
}
