import { Command, CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { ServiceEntries, foldBy } from '../ledger';
import { SubjectRequestState, evolve } from './subject-request.decider';
import { CORRECTION_TYPE, PRIVACY_CATEGORY, fromSubjectRequestEntry } from './subject-request.entries';
import { SubjectRequestStore } from './subject-request.store';

/** Rebuild the `subject_requests` projection from the ledger alone. */
export class RebuildSubjectRequests extends Command<{ requests: number; events: number }> {}

@CommandHandler(RebuildSubjectRequests)
export class RebuildSubjectRequestsHandler implements ICommandHandler<RebuildSubjectRequests> {
  constructor(
    private readonly store: SubjectRequestStore,
    private readonly entries: ServiceEntries,
  ) {}

  async execute(): Promise<{ requests: number; events: number }> {
    return this.entries.rebuild(
      ({ sql }) => this.store.lockForRebuild(sql),
      PRIVACY_CATEGORY,
      async (entries, { sql }) => {
        const events = entries.filter((entry) => entry.type !== CORRECTION_TYPE).map(fromSubjectRequestEntry);
        const requests = foldBy<ReturnType<typeof fromSubjectRequestEntry>, SubjectRequestState>(
          events,
          (event) => event.id,
          evolve,
        );
        // Where each correction went: the correction entry names its request.
        for (const entry of entries) {
          if (entry.type !== CORRECTION_TYPE) continue;
          const id = (entry.context as { request?: string } | undefined)?.request;
          const request = id === undefined ? undefined : requests.get(id);
          if (request) requests.set(request.id, { ...request, correction: { log: entry.log, index: entry.index } });
        }
        await this.store.replaceAll(sql, [...requests.values()]);
        return { requests: requests.size, events: events.length };
      },
    );
  }
}
