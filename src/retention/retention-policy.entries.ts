import { JsonValue, LedgerEntry, PLATFORM_LOG } from '@audit/ledger';
import { EventToAppend, SERVICE_SOURCE } from '../ledger';
import { RetentionEvent, RetentionTerms } from './retention-policy.decider';

function termsJson(terms: RetentionTerms): { [member: string]: JsonValue } {
  return { minDays: terms.minDays, maxDays: terms.maxDays, mode: terms.mode };
}

/**
 * The ledger entry of a policy change: `platform` log (a policy belongs to no tenant), category
 * `retention`, the acting key as actor, the policy as target, before, after and reason in context.
 * The entry is the policy's event store: `fromRetentionEntry` gives the event back, and every
 * column of `retention_policies` comes from it (terms from `after`, `updated_at` from `occurredAt`,
 * `updated_by` from the actor), so the table can be rebuilt from the ledger alone.
 */
export function retentionEventEntry(event: RetentionEvent): EventToAppend {
  return {
    log: PLATFORM_LOG,
    source: SERVICE_SOURCE,
    type: event.type,
    category: 'retention',
    actor: event.by,
    target: { type: 'retention_policy', id: event.category },
    outcome: 'success',
    occurredAt: event.at,
    context: {
      category: event.category,
      before: termsJson(event.before),
      after: termsJson(event.after),
      reason: event.reason,
    },
  };
}

function termsOf(value: unknown, member: string, entry: LedgerEntry): RetentionTerms {
  const terms = value as Partial<RetentionTerms> | null;
  if (
    typeof terms !== 'object' ||
    terms === null ||
    typeof terms.minDays !== 'number' ||
    !(terms.maxDays === null || typeof terms.maxDays === 'number') ||
    (terms.mode !== 'compliance' && terms.mode !== 'governance')
  )
    throw new Error(`entry ${entry.log}/${entry.index}: context.${member} is not retention terms`);
  return { minDays: terms.minDays, maxDays: terms.maxDays, mode: terms.mode };
}

/**
 * The event a `retention` entry of the service records. Throws on anything else: a rebuild must
 * stop on an entry it cannot read rather than project a table the ledger does not say.
 */
export function fromRetentionEntry(entry: LedgerEntry): RetentionEvent {
  if (entry.type !== 'retention.policy_changed')
    throw new Error(`entry ${entry.log}/${entry.index} is not a retention event (${entry.type})`);
  const context = (entry.context ?? {}) as Record<string, unknown>;
  if (typeof context.category !== 'string')
    throw new Error(`entry ${entry.log}/${entry.index}: context.category is not a category`);
  return {
    type: entry.type,
    category: context.category,
    before: termsOf(context.before, 'before', entry),
    after: termsOf(context.after, 'after', entry),
    reason: typeof context.reason === 'string' ? context.reason : null,
    by: { type: entry.actor.type, id: entry.actor.id },
    at: entry.occurredAt,
  };
}
