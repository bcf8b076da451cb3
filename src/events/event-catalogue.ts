/**
 * The platform's audit event types (docs/events.md). A type is `<category area>.<object>.<verb>`
 * in lower case. Types in this catalogue get their category from it; an emitter may also send a
 * type outside it, in a declared category, and must then name the category. Types of the service's
 * own facts (holds, deletion, access records, keys, retention) can only be written by the service.
 */
export const CATEGORIES = [
  'auth',
  'api_keys',
  'admin',
  'billing',
  'deployment',
  'marketplace',
  'support',
  'access',
  'holds',
  'deletion',
  'retention',
  'principals',
  'ledger',
] as const;
export type Category = (typeof CATEGORIES)[number];

/** Categories only the service itself writes into. */
export const SERVICE_CATEGORIES: readonly Category[] = [
  'access',
  'holds',
  'deletion',
  'retention',
  'principals',
  'ledger',
];

/** Type prefixes only the service itself writes. */
const SERVICE_TYPE_PREFIXES = ['access.', 'hold.', 'deletion.', 'retention.', 'audit.', 'principal.', 'ledger.'];

export const EVENT_CATALOGUE: Readonly<Record<string, Category>> = {
  'auth.login.succeeded': 'auth',
  'auth.login.failed': 'auth',
  'auth.logout': 'auth',
  'auth.mfa.enabled': 'auth',
  'auth.mfa.disabled': 'auth',
  'auth.password.changed': 'auth',
  'auth.password.reset_requested': 'auth',
  'auth.session.revoked': 'auth',
  'api_key.created': 'api_keys',
  'api_key.rotated': 'api_keys',
  'api_key.revoked': 'api_keys',
  'api_key.used_after_revocation': 'api_keys',
  'admin.user.created': 'admin',
  'admin.user.suspended': 'admin',
  'admin.user.reinstated': 'admin',
  'admin.user.deleted': 'admin',
  'admin.role.granted': 'admin',
  'admin.role.revoked': 'admin',
  'admin.setting.changed': 'admin',
  'admin.impersonation.started': 'admin',
  'admin.impersonation.ended': 'admin',
  'billing.invoice.issued': 'billing',
  'billing.invoice.paid': 'billing',
  'billing.payment.failed': 'billing',
  'billing.refund.issued': 'billing',
  'billing.credit.granted': 'billing',
  'billing.plan.changed': 'billing',
  'billing.payment_method.added': 'billing',
  'billing.payment_method.removed': 'billing',
  'deployment.created': 'deployment',
  'deployment.updated': 'deployment',
  'deployment.scaled': 'deployment',
  'deployment.deleted': 'deployment',
  'deployment.instance.started': 'deployment',
  'deployment.instance.stopped': 'deployment',
  'deployment.model.deployed': 'deployment',
  'marketplace.listing.created': 'marketplace',
  'marketplace.listing.removed': 'marketplace',
  'marketplace.order.placed': 'marketplace',
  'marketplace.order.cancelled': 'marketplace',
  'marketplace.dispute.opened': 'marketplace',
  'marketplace.dispute.evidence_added': 'marketplace',
  'marketplace.dispute.resolved': 'marketplace',
  'marketplace.payout.sent': 'marketplace',
  'support.ticket.opened': 'support',
  'support.ticket.closed': 'support',
  'support.ticket.escalated': 'support',
  'support.data_access.granted': 'support',
};

export const EVENT_TYPE_PATTERN = '^[a-z][a-z0-9_]*(\\.[a-z][a-z0-9_]*){1,5}$';

export type CategoryDecision =
  | { readonly ok: true; readonly category: Category }
  | { readonly ok: false; readonly field: 'type' | 'category'; readonly reason: string };

/**
 * The category of an event an emitter sends: the catalogue's for a known type (a different one
 * given is refused), the given one for a type outside it (which must then name one).
 */
export function categorize(type: string, given: string | undefined): CategoryDecision {
  if (SERVICE_TYPE_PREFIXES.some((p) => type.startsWith(p)))
    return { ok: false, field: 'type', reason: 'this type is written only by the audit service itself' };
  const known = EVENT_CATALOGUE[type];
  if (known !== undefined) {
    if (given !== undefined && given !== known)
      return { ok: false, field: 'category', reason: `type ${type} belongs to category ${known}` };
    return { ok: true, category: known };
  }
  if (given === undefined)
    return { ok: false, field: 'category', reason: 'a type outside the catalogue must name its category' };
  if (!(CATEGORIES as readonly string[]).includes(given))
    return { ok: false, field: 'category', reason: `unknown category (known: ${CATEGORIES.join(', ')})` };
  if (SERVICE_CATEGORIES.includes(given as Category))
    return { ok: false, field: 'category', reason: 'this category is written only by the audit service itself' };
  return { ok: true, category: given as Category };
}
