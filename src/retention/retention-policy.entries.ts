import { JsonValue, PLATFORM_LOG } from '@audit/ledger';
import { EventToAppend, SERVICE_SOURCE } from '../ledger/append-plan';
import { RetentionEvent, RetentionTerms } from './retention-policy.decider';

function termsJson(terms: RetentionTerms): { [member: string]: JsonValue } {
  return { minDays: terms.minDays, maxDays: terms.maxDays, mode: terms.mode };
}

/**
 * The ledger entry of a policy change: `platform` log (a policy belongs to no tenant), category
 * `retention`, the acting key as actor, the policy as target, before, after and reason in context.
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
