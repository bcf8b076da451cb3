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
  'privacy',
  'streaming',
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
  'privacy',
  'streaming',
];

/** Type prefixes only the service itself writes. */
const SERVICE_TYPE_PREFIXES = [
  'access.',
  'hold.',
  'deletion.',
  'retention.',
  'audit.',
  'principal.',
  'ledger.',
  'privacy.',
  'sink.',
];

/**
 * What a catalogued type carries (docs/events.md). `context` names the fields the type expects
 * (others may be sent); `personal` the fields that are personal data and travel in
 * `personal.data`, never in `context` (the guard refuses them there, whatever they hold);
 * `notPersonal` the `context` fields that look like personal data but are not (an `ipRange`, a
 * service's hostname): the guard does not scan them.
 */
export interface EventTypeSchema {
  readonly category: Category;
  readonly description: string;
  /** Expected `context` fields and what they hold. */
  readonly context: Readonly<Record<string, string>>;
  /** Personal fields: in `personal.data` only. */
  readonly personal: readonly string[];
  /** `context` fields declared not personal: not scanned by the personal-data guard. */
  readonly notPersonal: readonly string[];
}

type Fields = Readonly<Record<string, string>>;

function type(
  category: Category,
  description: string,
  context: Fields = {},
  personal: readonly string[] = [],
  notPersonal: readonly string[] = [],
): EventTypeSchema {
  return { category, description, context, personal, notPersonal };
}

// Shared field sets: the personal data of a sign-in, and a customer user named by id.
const SIGN_IN_PERSONAL = ['ip', 'userAgent', 'email'];
const SESSION: Fields = { sessionId: 'the session (opaque id)', method: 'password, sso, passkey, ...' };
const USER_CHANGE: Fields = {
  userId: 'the user changed (pseudonymous id)',
  reason: 'why, free text without personal data',
};

export const EVENT_CATALOGUE: Readonly<Record<string, EventTypeSchema>> = {
  'auth.login.succeeded': type('auth', 'A user signed in.', SESSION, SIGN_IN_PERSONAL),
  'auth.login.failed': type(
    'auth',
    'A sign-in was refused.',
    { method: SESSION.method, failureReason: 'bad_password, locked, mfa_failed, ...', attempts: 'failures in a row' },
    SIGN_IN_PERSONAL,
  ),
  'auth.logout': type('auth', 'A user signed out.', { sessionId: SESSION.sessionId }),
  'auth.mfa.enabled': type('auth', 'A user turned on a second factor.', { factor: 'totp, webauthn, sms' }, ['phone']),
  'auth.mfa.disabled': type('auth', 'A user turned off a second factor.', { factor: 'totp, webauthn, sms' }, ['phone']),
  'auth.password.changed': type('auth', "A user's password was changed.", { byAdmin: 'true when an admin set it' }, [
    'ip',
    'userAgent',
  ]),
  'auth.password.reset_requested': type('auth', 'A password reset was asked for.', {}, ['email', 'ip', 'userAgent']),
  'auth.session.revoked': type('auth', 'A session was ended by someone else or by policy.', {
    sessionId: SESSION.sessionId,
    reason: 'admin, policy, compromised, ...',
  }),
  'api_key.created': type(
    'api_keys',
    "A customer's API key was created.",
    {
      keyId: 'the key (id, never the secret)',
      scopes: 'what it may do',
      allowedIpRange: 'CIDR the key may be used from (a network, not a person)',
    },
    [],
    ['allowedIpRange'],
  ),
  'api_key.rotated': type('api_keys', "A customer's API key got a new secret.", { keyId: 'the key (id)' }),
  'api_key.revoked': type('api_keys', "A customer's API key was revoked.", { keyId: 'the key (id)', reason: 'why' }),
  'api_key.used_after_revocation': type(
    'api_keys',
    'A revoked key was presented.',
    { keyId: 'the key (id)', endpoint: 'the route it called' },
    ['ip', 'userAgent'],
  ),
  'admin.user.created': type(
    'admin',
    'A user account was created.',
    { userId: USER_CHANGE.userId, role: 'initial role' },
    ['email', 'name'],
  ),
  'admin.user.suspended': type('admin', 'A user account was suspended.', USER_CHANGE),
  'admin.user.reinstated': type('admin', 'A suspended user account was reinstated.', USER_CHANGE),
  'admin.user.deleted': type('admin', 'A user account was deleted.', USER_CHANGE),
  'admin.role.granted': type('admin', 'A role was granted to a user.', {
    userId: USER_CHANGE.userId,
    role: 'the role',
  }),
  'admin.role.revoked': type('admin', "A user's role was revoked.", { userId: USER_CHANGE.userId, role: 'the role' }),
  'admin.setting.changed': type('admin', 'An organisation setting changed.', {
    setting: 'its name',
    before: 'old value (no personal data)',
    after: 'new value (no personal data)',
  }),
  'admin.impersonation.started': type(
    'admin',
    'Staff began acting as a customer user.',
    { userId: 'the user impersonated (pseudonymous id)', ticketId: 'the support ticket that allowed it' },
    ['ip'],
  ),
  'admin.impersonation.ended': type('admin', 'Staff stopped acting as a customer user.', {
    userId: 'the user impersonated (pseudonymous id)',
  }),
  'billing.invoice.issued': type(
    'billing',
    'An invoice was issued.',
    {
      invoiceId: 'the invoice',
      amountCents: 'total in the smallest unit',
      currency: 'ISO 4217',
    },
    ['billingAddress', 'email'],
  ),
  'billing.invoice.paid': type('billing', 'An invoice was paid.', {
    invoiceId: 'the invoice',
    amountCents: 'amount paid',
    currency: 'ISO 4217',
  }),
  'billing.payment.failed': type(
    'billing',
    'A payment attempt failed.',
    { invoiceId: 'the invoice', declineCode: "the processor's code", cardLast4: 'last four digits only' },
    ['cardholderName'],
  ),
  'billing.refund.issued': type('billing', 'A refund was issued.', {
    refundId: 'the refund',
    amountCents: 'amount refunded',
    currency: 'ISO 4217',
    reason: 'why',
  }),
  'billing.credit.granted': type('billing', 'Account credit was granted.', {
    amountCents: 'credit',
    currency: 'ISO 4217',
    reason: 'why',
  }),
  'billing.plan.changed': type('billing', 'The subscription plan changed.', { from: 'old plan', to: 'new plan' }),
  'billing.payment_method.added': type(
    'billing',
    'A payment method was added.',
    { methodId: "the processor's id", brand: 'visa, mastercard, ...', cardLast4: 'last four digits only' },
    ['cardholderName', 'billingAddress'],
  ),
  'billing.payment_method.removed': type('billing', 'A payment method was removed.', {
    methodId: "the processor's id",
  }),
  'deployment.created': type(
    'deployment',
    'A deployment was created.',
    {
      deploymentId: 'the deployment',
      region: 'where',
      host: 'the service host name it runs on (a machine, not a person)',
    },
    [],
    ['host'],
  ),
  'deployment.updated': type('deployment', 'A deployment was changed.', {
    deploymentId: 'the deployment',
    version: 'new version',
  }),
  'deployment.scaled': type('deployment', 'A deployment was scaled.', {
    deploymentId: 'the deployment',
    from: 'replicas before',
    to: 'replicas after',
  }),
  'deployment.deleted': type('deployment', 'A deployment was deleted.', { deploymentId: 'the deployment' }),
  'deployment.instance.started': type(
    'deployment',
    'An instance of a deployment started.',
    {
      deploymentId: 'the deployment',
      instanceId: 'the instance',
      host: 'the host name it runs on',
      ipAddress: "the instance's address on the platform's network (a machine, not a person)",
    },
    [],
    ['host', 'ipAddress'],
  ),
  'deployment.instance.stopped': type(
    'deployment',
    'An instance of a deployment stopped.',
    { deploymentId: 'the deployment', instanceId: 'the instance', exitCode: 'how it ended', host: 'the host name' },
    [],
    ['host'],
  ),
  'deployment.model.deployed': type('deployment', 'A model version went live on a deployment.', {
    deploymentId: 'the deployment',
    model: 'model name',
    version: 'model version',
  }),
  'marketplace.listing.created': type('marketplace', 'A listing was published.', { listingId: 'the listing' }),
  'marketplace.listing.removed': type('marketplace', 'A listing was taken down.', {
    listingId: 'the listing',
    reason: 'why',
  }),
  'marketplace.order.placed': type(
    'marketplace',
    'An order was placed.',
    { orderId: 'the order', listingId: 'the listing', amountCents: 'total', currency: 'ISO 4217' },
    ['shippingAddress', 'email'],
  ),
  'marketplace.order.cancelled': type('marketplace', 'An order was cancelled.', {
    orderId: 'the order',
    reason: 'why',
  }),
  'marketplace.dispute.opened': type('marketplace', 'A buyer opened a dispute.', {
    disputeId: 'the dispute',
    orderId: 'the order',
  }),
  'marketplace.dispute.evidence_added': type(
    'marketplace',
    'Evidence was added to a dispute.',
    { disputeId: 'the dispute', documentId: 'the stored document' },
    ['statement'],
  ),
  'marketplace.dispute.resolved': type('marketplace', 'A dispute was decided.', {
    disputeId: 'the dispute',
    resolution: 'refunded, rejected, ...',
  }),
  'marketplace.payout.sent': type(
    'marketplace',
    'A payout was sent to a seller.',
    { payoutId: 'the payout', amountCents: 'amount', currency: 'ISO 4217' },
    ['bankAccount'],
  ),
  'support.ticket.opened': type(
    'support',
    'A support ticket was opened.',
    { ticketId: 'the ticket', priority: 'low to urgent' },
    ['email', 'message'],
  ),
  'support.ticket.closed': type('support', 'A support ticket was closed.', {
    ticketId: 'the ticket',
    resolution: 'how',
  }),
  'support.ticket.escalated': type('support', 'A support ticket was escalated.', {
    ticketId: 'the ticket',
    to: 'team',
  }),
  'support.data_access.granted': type('support', 'A customer let support staff see their data.', {
    ticketId: 'the ticket',
    until: 'when the access ends (RFC 3339)',
    scope: 'what may be seen',
  }),
};

/** The schema of a catalogued type, or undefined for a type outside the catalogue. */
export function eventTypeSchema(type: string): EventTypeSchema | undefined {
  return Object.hasOwn(EVENT_CATALOGUE, type) ? EVENT_CATALOGUE[type] : undefined;
}

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
  const known = eventTypeSchema(type)?.category;
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
