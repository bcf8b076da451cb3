import { Inject } from '@nestjs/common';
import { Command, CommandHandler, EventBus, ICommandHandler } from '@nestjs/cqrs';
import { Principal } from '../access';
import { Sequencer } from '../ledger';
import { CLOCK, Clock } from '../platform';
import { RetentionPolicies, RetentionPolicyRecord } from './retention-policies';
import { RetentionPolicyChangedEvent } from './retention-policy-changed.event';
import { PolicyChange, RetentionPolicy, decideChange, evolve } from './retention-policy.decider';
import { retentionEventEntry } from './retention-policy.entries';
import { RetentionPolicyChangedError } from './retention.errors';

// Two admins changing one policy at once is rare; a few re-decisions are plenty.
const ATTEMPTS = 5;

/** Change the retention policy of a category; recorded as `retention.policy_changed` in the `platform` log. */
export class ChangeRetentionPolicy extends Command<RetentionPolicyRecord> {
  constructor(
    readonly by: Principal,
    readonly category: string,
    readonly change: PolicyChange,
  ) {
    super();
  }
}

/**
 * Decides on the policy in force, then commits the ledger entry with the projected row in one
 * transaction, the row written only over the terms decided on (else decided again). No change,
 * no entry. The row holds nothing its entry does not (RebuildRetentionPolicies relies on it).
 */
@CommandHandler(ChangeRetentionPolicy)
export class ChangeRetentionPolicyHandler implements ICommandHandler<ChangeRetentionPolicy> {
  constructor(
    private readonly policies: RetentionPolicies,
    private readonly sequencer: Sequencer,
    private readonly events: EventBus,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async execute({ by, category, change }: ChangeRetentionPolicy): Promise<RetentionPolicyRecord> {
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const current = await this.policies.get(category);
      // One instant for the decision, the entry's occurredAt and the row's updated_at, so a
      // rebuilt row has exactly the live one's time.
      const now = this.clock.now();
      const decided = decideChange(by, current, change, now);
      if (decided.length === 0) return current;
      const next = decided.reduce<RetentionPolicy>(evolve, current);
      const [event] = decided;
      try {
        await this.sequencer.append(decided.map(retentionEventEntry), async (sql) => {
          if (!(await this.policies.save(sql, current, next, event.by, now))) throw new RetentionPolicyChangedError();
        });
      } catch (e) {
        if (e instanceof RetentionPolicyChangedError) continue;
        throw e;
      }
      this.events.publish(new RetentionPolicyChangedEvent(category, current.minDays, next.minDays));
      return { ...next, source: 'set', updatedAt: now.toISOString(), updatedBy: event.by };
    }
    throw new RetentionPolicyChangedError();
  }
}
