/**
 * The audit service's event catalogue as the client sees it: for each catalogued type its category,
 * the `context` fields it expects and the fields that are personal data (they travel in
 * `personal.data`, never in `context`). Written from the service's catalogue; a unit test
 * (event-types.spec.ts) compares the two, so a type added there fails here until it is added.
 */
export const EVENT_TYPES = {
  'auth.login.succeeded': {
    category: 'auth',
    context: ['sessionId', 'method'],
    personal: ['ip', 'userAgent', 'email'],
  },
  'auth.login.failed': {
    category: 'auth',
    context: ['method', 'failureReason', 'attempts'],
    personal: ['ip', 'userAgent', 'email'],
  },
  'auth.logout': { category: 'auth', context: ['sessionId'], personal: [] },
  'auth.mfa.enabled': { category: 'auth', context: ['factor'], personal: ['phone'] },
  'auth.mfa.disabled': { category: 'auth', context: ['factor'], personal: ['phone'] },
  'auth.password.changed': { category: 'auth', context: ['byAdmin'], personal: ['ip', 'userAgent'] },
  'auth.password.reset_requested': { category: 'auth', context: [], personal: ['email', 'ip', 'userAgent'] },
  'auth.session.revoked': { category: 'auth', context: ['sessionId', 'reason'], personal: [] },
  'api_key.created': { category: 'api_keys', context: ['keyId', 'scopes', 'allowedIpRange'], personal: [] },
  'api_key.rotated': { category: 'api_keys', context: ['keyId'], personal: [] },
  'api_key.revoked': { category: 'api_keys', context: ['keyId', 'reason'], personal: [] },
  'api_key.used_after_revocation': {
    category: 'api_keys',
    context: ['keyId', 'endpoint'],
    personal: ['ip', 'userAgent'],
  },
  'admin.user.created': { category: 'admin', context: ['userId', 'role'], personal: ['email', 'name'] },
  'admin.user.suspended': { category: 'admin', context: ['userId', 'reason'], personal: [] },
  'admin.user.reinstated': { category: 'admin', context: ['userId', 'reason'], personal: [] },
  'admin.user.deleted': { category: 'admin', context: ['userId', 'reason'], personal: [] },
  'admin.role.granted': { category: 'admin', context: ['userId', 'role'], personal: [] },
  'admin.role.revoked': { category: 'admin', context: ['userId', 'role'], personal: [] },
  'admin.setting.changed': { category: 'admin', context: ['setting', 'before', 'after'], personal: [] },
  'admin.impersonation.started': { category: 'admin', context: ['userId', 'ticketId'], personal: ['ip'] },
  'admin.impersonation.ended': { category: 'admin', context: ['userId'], personal: [] },
  'billing.invoice.issued': {
    category: 'billing',
    context: ['invoiceId', 'amountCents', 'currency'],
    personal: ['billingAddress', 'email'],
  },
  'billing.invoice.paid': { category: 'billing', context: ['invoiceId', 'amountCents', 'currency'], personal: [] },
  'billing.payment.failed': {
    category: 'billing',
    context: ['invoiceId', 'declineCode', 'cardLast4'],
    personal: ['cardholderName'],
  },
  'billing.refund.issued': {
    category: 'billing',
    context: ['refundId', 'amountCents', 'currency', 'reason'],
    personal: [],
  },
  'billing.credit.granted': { category: 'billing', context: ['amountCents', 'currency', 'reason'], personal: [] },
  'billing.plan.changed': { category: 'billing', context: ['from', 'to'], personal: [] },
  'billing.payment_method.added': {
    category: 'billing',
    context: ['methodId', 'brand', 'cardLast4'],
    personal: ['cardholderName', 'billingAddress'],
  },
  'billing.payment_method.removed': { category: 'billing', context: ['methodId'], personal: [] },
  'deployment.created': { category: 'deployment', context: ['deploymentId', 'region', 'host'], personal: [] },
  'deployment.updated': { category: 'deployment', context: ['deploymentId', 'version'], personal: [] },
  'deployment.scaled': { category: 'deployment', context: ['deploymentId', 'from', 'to'], personal: [] },
  'deployment.deleted': { category: 'deployment', context: ['deploymentId'], personal: [] },
  'deployment.instance.started': {
    category: 'deployment',
    context: ['deploymentId', 'instanceId', 'host', 'ipAddress'],
    personal: [],
  },
  'deployment.instance.stopped': {
    category: 'deployment',
    context: ['deploymentId', 'instanceId', 'exitCode', 'host'],
    personal: [],
  },
  'deployment.model.deployed': { category: 'deployment', context: ['deploymentId', 'model', 'version'], personal: [] },
  'marketplace.listing.created': { category: 'marketplace', context: ['listingId'], personal: [] },
  'marketplace.listing.removed': { category: 'marketplace', context: ['listingId', 'reason'], personal: [] },
  'marketplace.order.placed': {
    category: 'marketplace',
    context: ['orderId', 'listingId', 'amountCents', 'currency'],
    personal: ['shippingAddress', 'email'],
  },
  'marketplace.order.cancelled': { category: 'marketplace', context: ['orderId', 'reason'], personal: [] },
  'marketplace.dispute.opened': { category: 'marketplace', context: ['disputeId', 'orderId'], personal: [] },
  'marketplace.dispute.evidence_added': {
    category: 'marketplace',
    context: ['disputeId', 'documentId'],
    personal: ['statement'],
  },
  'marketplace.dispute.resolved': { category: 'marketplace', context: ['disputeId', 'resolution'], personal: [] },
  'marketplace.payout.sent': {
    category: 'marketplace',
    context: ['payoutId', 'amountCents', 'currency'],
    personal: ['bankAccount'],
  },
  'support.ticket.opened': { category: 'support', context: ['ticketId', 'priority'], personal: ['email', 'message'] },
  'support.ticket.closed': { category: 'support', context: ['ticketId', 'resolution'], personal: [] },
  'support.ticket.escalated': { category: 'support', context: ['ticketId', 'to'], personal: [] },
  'support.data_access.granted': { category: 'support', context: ['ticketId', 'until', 'scope'], personal: [] },
} as const;

/** A type of the catalogue. */
export type CataloguedType = keyof typeof EVENT_TYPES;
