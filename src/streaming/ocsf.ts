/**
 * Ledger entries as OCSF events (Open Cybersecurity Schema Framework, version OCSF_VERSION), for
 * the sinks' formats. Pure and framework-free: no I/O, no Nest; the same entry always maps to the
 * same event. The table of every catalogued type is docs/events.md "OCSF".
 */
import type { JsonValue, LedgerEntry } from '@audit/ledger';

export const OCSF_VERSION = '1.3.0';

/** The OCSF classes this service maps to, with their category. */
export const OCSF_CLASSES = {
  3001: { name: 'Account Change', category: 3 },
  3002: { name: 'Authentication', category: 3 },
  3004: { name: 'Entity Management', category: 3 },
  3005: { name: 'User Access Management', category: 3 },
  6003: { name: 'API Activity', category: 6 },
} as const;
export type OcsfClass = keyof typeof OCSF_CLASSES;

const CATEGORY_NAMES: Record<number, string> = { 3: 'Identity & Access Management', 6: 'Application Activity' };

/** Activity ids and names of each class (OCSF 1.3.0); 99 is Other in every class. */
export const OCSF_ACTIVITIES: Record<OcsfClass, Record<number, string>> = {
  3001: {
    1: 'Create',
    2: 'Enable',
    3: 'Password Change',
    4: 'Password Reset',
    5: 'Disable',
    6: 'Delete',
    10: 'MFA Factor Enable',
    11: 'MFA Factor Disable',
    99: 'Other',
  },
  3002: { 1: 'Logon', 2: 'Logoff', 99: 'Other' },
  3004: { 1: 'Create', 2: 'Read', 3: 'Update', 4: 'Delete', 99: 'Other' },
  3005: { 1: 'Assign Privileges', 2: 'Revoke Privileges', 99: 'Other' },
  6003: { 1: 'Create', 2: 'Read', 3: 'Update', 4: 'Delete', 99: 'Other' },
};

export interface OcsfMapping {
  readonly classUid: OcsfClass;
  readonly activityId: number;
}

const m = (classUid: OcsfClass, activityId: number): OcsfMapping => ({ classUid, activityId });

/**
 * The class and activity of every type of the event catalogue (src/events/event-catalogue.ts;
 * event-catalogue.spec.ts-like check in ocsf.spec.ts: a catalogued type without a row fails).
 */
export const OCSF_TYPE_MAP: Readonly<Record<string, OcsfMapping>> = {
  'auth.login.succeeded': m(3002, 1),
  'auth.login.failed': m(3002, 1),
  'auth.logout': m(3002, 2),
  'auth.mfa.enabled': m(3001, 10),
  'auth.mfa.disabled': m(3001, 11),
  'auth.password.changed': m(3001, 3),
  'auth.password.reset_requested': m(3001, 4),
  'auth.session.revoked': m(3002, 2),
  'api_key.created': m(3004, 1),
  'api_key.rotated': m(3004, 3),
  'api_key.revoked': m(3004, 4),
  'api_key.used_after_revocation': m(3002, 99),
  'admin.user.created': m(3001, 1),
  'admin.user.suspended': m(3001, 5),
  'admin.user.reinstated': m(3001, 2),
  'admin.user.deleted': m(3001, 6),
  'admin.role.granted': m(3005, 1),
  'admin.role.revoked': m(3005, 2),
  'admin.setting.changed': m(3004, 3),
  'admin.impersonation.started': m(3002, 99),
  'admin.impersonation.ended': m(3002, 99),
  'support.ticket.opened': m(3004, 1),
  'support.ticket.closed': m(3004, 3),
  'support.ticket.escalated': m(3004, 3),
  'support.data_access.granted': m(3005, 1),
};

/** API Activity's activity from a type's last segment (its verb): billing, deployment, marketplace, anything else. */
export function activityOfVerb(verb: string): number {
  if (/^(created|issued|added|placed|opened|granted|deployed|sent)$/.test(verb)) return 1;
  if (/^(read|viewed|exported|searched)$/.test(verb)) return 2;
  if (/^(updated|changed|paid|scaled|started|stopped|resolved|evidence_added|amended|renamed)$/.test(verb)) return 3;
  if (/^(deleted|removed|cancelled|revoked)$/.test(verb)) return 4;
  return 99;
}

/** The class and activity of any type: the table, else API Activity with the activity from the verb. */
export function ocsfMappingOf(type: string): OcsfMapping {
  if (Object.hasOwn(OCSF_TYPE_MAP, type)) return OCSF_TYPE_MAP[type];
  return m(6003, activityOfVerb(type.slice(type.lastIndexOf('.') + 1)));
}

const STATUS: Record<LedgerEntry['outcome'], { id: number; name: string }> = {
  success: { id: 1, name: 'Success' },
  failure: { id: 2, name: 'Failure' },
  unknown: { id: 0, name: 'Unknown' },
};

/** One entry as a sink receives it: the decoded leaf, its leaf hash, and its personal data only when the sink carries it. */
export interface StreamedEntry {
  readonly entry: LedgerEntry;
  /** Lowercase hex SHA-256(0x00 ‖ leaf). */
  readonly leafHash: string;
  /** The personal data in clear, null when erased; absent when the sink does not carry personal data. */
  readonly personal?: JsonValue | null;
}

/**
 * The OCSF event of an entry: `metadata.uid` the entry id, `metadata.sequence` its index,
 * `metadata.tenant_uid` its log; what OCSF has no attribute for (the leaf hash, category, source,
 * target, context, personal data) in `unmapped`.
 */
export function toOcsf({ entry, leafHash, personal }: StreamedEntry): Record<string, JsonValue> {
  const { classUid, activityId } = ocsfMappingOf(entry.type);
  const cls = OCSF_CLASSES[classUid];
  const activityName = OCSF_ACTIVITIES[classUid][activityId] ?? 'Other';
  const status = STATUS[entry.outcome] ?? STATUS.unknown;
  const actor = { type: entry.actor.type, uid: entry.actor.id };
  const unmapped: Record<string, JsonValue> = {
    leaf_hash: leafHash,
    category: entry.category,
    source: entry.source,
    ...(entry.target === undefined ? {} : { target: { type: entry.target.type, id: entry.target.id } }),
    ...(entry.context === undefined ? {} : { context: entry.context as JsonValue }),
    ...(personal === undefined ? {} : personal === null ? { personal_erased: true } : { personal }),
  };
  return {
    class_uid: classUid,
    class_name: cls.name,
    category_uid: cls.category,
    category_name: CATEGORY_NAMES[cls.category],
    activity_id: activityId,
    activity_name: activityName,
    type_uid: classUid * 100 + activityId,
    type_name: `${cls.name}: ${activityName}`,
    severity_id: 1,
    severity: 'Informational',
    status_id: status.id,
    status: status.name,
    time: Date.parse(entry.occurredAt),
    message: entry.type,
    actor: { user: actor },
    ...(classUid === 3004 && entry.target !== undefined
      ? { entity: { type: entry.target.type, uid: entry.target.id } }
      : {}),
    ...((classUid === 3001 || classUid === 3002 || classUid === 3005) && entry.target !== undefined
      ? { user: { type: entry.target.type, uid: entry.target.id } }
      : classUid === 3001 || classUid === 3002 || classUid === 3005
        ? { user: actor }
        : {}),
    ...(classUid === 6003 ? { api: { operation: entry.type }, src_endpoint: { name: entry.source } } : {}),
    metadata: {
      version: OCSF_VERSION,
      uid: entry.id,
      sequence: entry.index,
      tenant_uid: entry.log,
      log_name: entry.log,
      event_code: entry.type,
      logged_time: Date.parse(entry.recordedAt),
      product: { name: 'audit-trail', vendor_name: 'audit-trail' },
    },
    unmapped,
  };
}
