import { Command, CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { ServiceEntries, foldBy } from '../ledger';
import { defaultPolicy, isCategory } from './retention-defaults';
import { RetentionPolicies, updatedByOf } from './retention-policies';
import { RetentionPolicyRow } from './retention-policy.entity';
import { RetentionEvent, RetentionPolicy, evolve } from './retention-policy.decider';
import { fromRetentionEntry } from './retention-policy.entries';

/**
 * A category's row after `event`. A category never changed has no row and keeps its default; a
 * change folds onto the default (or, for a category the catalogue no longer declares, onto what the
 * entry says it was).
 */
function rowAfter(previous: RetentionPolicyRow | undefined, event: RetentionEvent): RetentionPolicyRow {
  const policy: RetentionPolicy = previous
    ? { category: previous.category, minDays: previous.minDays, maxDays: previous.maxDays, mode: previous.mode }
    : isCategory(event.category)
      ? defaultPolicy(event.category)
      : { category: event.category, ...event.before };
  return { ...evolve(policy, event), updatedAt: new Date(event.at), updatedBy: updatedByOf(event.by) };
}

/** Rebuild `retention_policies` from the ledger alone: `policies`, the rows the entries make; `events`, the entries folded. */
export class RebuildRetentionPolicies extends Command<{ policies: number; events: number }> {}

@CommandHandler(RebuildRetentionPolicies)
export class RebuildRetentionPoliciesHandler implements ICommandHandler<RebuildRetentionPolicies> {
  constructor(
    private readonly policies: RetentionPolicies,
    private readonly entries: ServiceEntries,
  ) {}

  async execute(): Promise<{ policies: number; events: number }> {
    return this.entries.rebuild(
      ({ manager }) => this.policies.lockForRebuild(manager),
      'retention',
      async (entries, { manager }) => {
        const rows = foldBy(entries.map(fromRetentionEntry), (event) => event.category, rowAfter);
        await this.policies.replaceAll(manager, [...rows.values()]);
        return { policies: rows.size, events: entries.length };
      },
    );
  }
}
