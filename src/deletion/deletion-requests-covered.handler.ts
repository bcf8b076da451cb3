import { IQueryHandler, QueryHandler } from '@nestjs/cqrs';
import { CoveredDeletionRequest, CoveredEntries, DeletionRequestsCovered, EVERY_TENANT } from '../holds';
import { DeletionRequest, DeletionStore } from './deletion.store';

/**
 * How many of the `covered` entries an unfinished request would erase, were nothing held: a
 * subject erasure reaches its subject's entries in its tenant, a closure every entry of its
 * tenant, a retention purge any entry of any tenant whose maximum has run out (so its count is
 * every covered entry: an upper bound).
 */
export function entriesWithinReach(
  request: Pick<DeletionRequest, 'kind' | 'tenant' | 'subject'>,
  covered: readonly CoveredEntries[],
): number {
  let entries = 0;
  for (const c of covered) {
    const reached =
      request.kind === 'retention_purge' ||
      (c.log === request.tenant && (request.kind === 'tenant_closure' || c.subject === request.subject));
    if (reached) entries += c.entries;
  }
  return entries;
}

/** Answers the holds context's preview: the unfinished requests a hold would hold back (src/holds/hold-preview.ts). */
@QueryHandler(DeletionRequestsCovered)
export class DeletionRequestsCoveredHandler implements IQueryHandler<DeletionRequestsCovered> {
  constructor(private readonly store: DeletionStore) {}

  async execute({ tenants, covered }: DeletionRequestsCovered): Promise<CoveredDeletionRequest[]> {
    const logs = [...new Set(covered.map((c) => c.log)), EVERY_TENANT];
    const found: CoveredDeletionRequest[] = [];
    for (const request of await this.store.unfinishedFor(tenants, logs)) {
      const entries = entriesWithinReach(request, covered);
      if (entries > 0)
        found.push({
          id: request.id,
          kind: request.kind,
          tenant: request.tenant,
          subject: request.subject,
          status: request.status,
          blockedBy: request.blockedBy,
          entries,
        });
    }
    return found;
  }
}
