import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LedgerEntry } from '@audit/ledger';
import { EVENT_CATALOGUE } from '../events';
import { OCSF_ACTIVITIES, OCSF_CLASSES, OCSF_TYPE_MAP, activityOfVerb, ocsfMappingOf, toOcsf } from './ocsf';

const entry = (over: Partial<LedgerEntry> = {}): LedgerEntry => ({
  v: 1,
  log: 'acme',
  index: 42,
  prev: '0'.repeat(64),
  id: '0190f7a0-1234-7abc-8def-0123456789ab',
  recordedAt: '2026-01-02T03:04:05.678Z',
  source: 'identity-service',
  type: 'auth.login.succeeded',
  category: 'auth',
  actor: { type: 'user', id: 'u1' },
  outcome: 'success',
  occurredAt: '2026-01-02T03:04:05.000Z',
  ...over,
});
const LEAF_HASH = 'ab'.repeat(32);

describe('OCSF mapping', () => {
  it('maps every catalogued type of the IAM-like categories by the table, the rest as API Activity', () => {
    for (const [type, { category }] of Object.entries(EVENT_CATALOGUE)) {
      const { classUid, activityId } = ocsfMappingOf(type);
      expect(OCSF_ACTIVITIES[classUid][activityId]).toBeDefined();
      if (['billing', 'deployment', 'marketplace'].includes(category)) expect([type, classUid]).toEqual([type, 6003]);
      else expect([type, Object.hasOwn(OCSF_TYPE_MAP, type)]).toEqual([type, true]);
    }
    for (const type of Object.keys(OCSF_TYPE_MAP)) expect(EVENT_CATALOGUE[type]).toBeDefined();
  });

  it('takes API Activity from the verb', () => {
    expect(activityOfVerb('issued')).toBe(1);
    expect(activityOfVerb('paid')).toBe(3);
    expect(activityOfVerb('cancelled')).toBe(4);
    expect(activityOfVerb('failed')).toBe(99);
    expect(ocsfMappingOf('billing.invoice.issued')).toEqual({ classUid: 6003, activityId: 1 });
    expect(ocsfMappingOf('hold.placed')).toEqual({ classUid: 6003, activityId: 1 });
  });

  it('a login is Authentication: Logon, type_uid 300201, with the ids in metadata and the leaf hash in unmapped', () => {
    const event = toOcsf({ entry: entry(), leafHash: LEAF_HASH });
    expect(event).toMatchObject({
      class_uid: 3002,
      class_name: 'Authentication',
      category_uid: 3,
      activity_id: 1,
      activity_name: 'Logon',
      type_uid: 300201,
      status_id: 1,
      time: Date.parse('2026-01-02T03:04:05.000Z'),
      actor: { user: { type: 'user', uid: 'u1' } },
      metadata: {
        version: '1.3.0',
        uid: '0190f7a0-1234-7abc-8def-0123456789ab',
        sequence: 42,
        tenant_uid: 'acme',
        logged_time: Date.parse('2026-01-02T03:04:05.678Z'),
      },
      unmapped: { leaf_hash: LEAF_HASH, category: 'auth', source: 'identity-service' },
    });
    expect(event.unmapped).not.toHaveProperty('personal');
    expect(
      toOcsf({ entry: entry({ type: 'auth.login.failed', outcome: 'failure' }), leafHash: LEAF_HASH }),
    ).toMatchObject({
      type_uid: 300201,
      status_id: 2,
      status: 'Failure',
    });
  });

  it('carries personal data only when given, and says when it was erased', () => {
    expect(
      toOcsf({ entry: entry(), leafHash: LEAF_HASH, personal: { email: 'a@example.test' } }).unmapped,
    ).toMatchObject({
      personal: { email: 'a@example.test' },
    });
    expect(toOcsf({ entry: entry(), leafHash: LEAF_HASH, personal: null }).unmapped).toMatchObject({
      personal_erased: true,
    });
  });

  it('names the entity of Entity Management and the user of a role grant', () => {
    const target = { type: 'api_key', id: 'k1' };
    expect(
      toOcsf({ entry: entry({ type: 'api_key.created', category: 'api_keys', target }), leafHash: LEAF_HASH }),
    ).toMatchObject({
      type_uid: 300401,
      entity: { type: 'api_key', uid: 'k1' },
    });
    const granted = toOcsf({
      entry: entry({ type: 'admin.role.granted', category: 'admin', target: { type: 'user', id: 'u2' } }),
      leafHash: LEAF_HASH,
    });
    expect(granted).toMatchObject({ type_uid: 300501, activity_name: 'Assign Privileges', user: { uid: 'u2' } });
  });
});

/** The table of docs/events.md "OCSF". */
function ocsfMarkdown(): string {
  const rows = Object.entries(OCSF_TYPE_MAP).map(([type, { classUid, activityId }]) => {
    const name = OCSF_CLASSES[classUid].name;
    return `| \`${type}\` | ${name} (${classUid}) | ${OCSF_ACTIVITIES[classUid][activityId]} (${activityId}) | ${classUid * 100 + activityId} |`;
  });
  return ['| type | class | activity | `type_uid` |', '| --- | --- | --- | --- |', ...rows].join('\n');
}

describe('the OCSF table', () => {
  // UPDATE_EVENTS_DOC=1 npx jest src/streaming/ocsf.spec.ts rewrites it.
  it('is documented in docs/events.md exactly', () => {
    const DOC = join(__dirname, '../../docs/events.md');
    const START = '<!-- ocsf:start (generated from src/streaming/ocsf.ts by its spec) -->';
    const END = '<!-- ocsf:end -->';
    const doc = readFileSync(DOC, 'utf8');
    const [before, rest] = doc.split(START);
    const after = rest?.split(END)[1];
    expect(after).toBeDefined();
    const expected = `${before}${START}\n${ocsfMarkdown()}\n${END}${after}`;
    if (process.env.UPDATE_EVENTS_DOC === '1') writeFileSync(DOC, expected);
    expect(doc).toBe(expected);
  });
});
