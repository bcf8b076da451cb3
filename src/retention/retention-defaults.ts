import { CATEGORIES, Category } from '../events';
import { RetentionPolicy, RetentionTerms } from './retention-policy.decider';

/**
 * The policy of every category that has no row in `retention_policies` (docs/api.md "Retention
 * policies"). Typed by `Category`, so a category added to the catalogue does not compile without
 * one. A default is part of the release: lowering a compliance default here would shorten a
 * minimum nobody may shorten, which retention-policy.decider.spec.ts refuses to let pass silently.
 *
 * Days are UTC days after the entry's `recordedAt`. Ten years is 3,653 days (with the leap days
 * ten years can hold), so a "ten years" minimum is never a day short.
 */
export const RETENTION_DEFAULTS: Readonly<Record<Category, RetentionTerms>> = {
  // Logins and sessions: security investigations look back a year; older traces help nobody.
  auth: { minDays: 365, maxDays: 730, mode: 'governance' },
  // A leaked key is often found long after it was made: three years to trace its life.
  api_keys: { minDays: 365, maxDays: 1095, mode: 'governance' },
  // Administrator actions: two years for investigations and certification audits, then five at most.
  admin: { minDays: 730, maxDays: 1825, mode: 'governance' },
  // Tax and accounting records: ten years (e.g. German AO §147, French LPF), kept one more for audits under way.
  billing: { minDays: 3653, maxDays: 4018, mode: 'compliance' },
  // Operational changes: six months for incidents, two years at most.
  deployment: { minDays: 180, maxDays: 730, mode: 'governance' },
  // Orders, disputes and payouts: six years (limitation periods of contract claims), ten at most.
  marketplace: { minDays: 2192, maxDays: 3653, mode: 'compliance' },
  // Support tickets: short; what matters in a dispute is placed under a hold.
  support: { minDays: 90, maxDays: 365, mode: 'governance' },
  // Who read the audit trail: nobody may shorten it, so no reader can hide a read.
  access: { minDays: 365, maxDays: 730, mode: 'compliance' },
  // The service's own records of holds, erasures and policy changes prove what it did: kept, never purged.
  holds: { minDays: 3653, maxDays: null, mode: 'compliance' },
  deletion: { minDays: 3653, maxDays: null, mode: 'compliance' },
  retention: { minDays: 3653, maxDays: null, mode: 'compliance' },
  // Who was given which role by whom: the provenance of every key and every two-person approval.
  principals: { minDays: 3653, maxDays: null, mode: 'compliance' },
  // The ledger's own integrity facts (a rollback an operator acknowledged): kept, never purged.
  ledger: { minDays: 3653, maxDays: null, mode: 'compliance' },
  // Data-subject requests and corrections prove how each right was honoured (GDPR Art. 5(2), 30): ten years.
  privacy: { minDays: 3653, maxDays: null, mode: 'compliance' },
  // Who sent which logs where, and who approved personal data leaving: kept, never purged.
  streaming: { minDays: 3653, maxDays: null, mode: 'compliance' },
};

/** Whether `category` is one the catalogue declares (and so has a policy). */
export function isCategory(category: string): category is Category {
  return (CATEGORIES as readonly string[]).includes(category);
}

/** The default policy of a declared category. */
export function defaultPolicy(category: Category): RetentionPolicy {
  return { category, ...RETENTION_DEFAULTS[category] };
}
