import { LedgerEntry } from '@audit/ledger';
import { EventToAppend } from '../../ledger';
import { PrincipalState } from '../principals/principal.decider';
import { Principal, operator } from '../roles';
import { ApiKeyEvent, ApiKeyState, applyEvents, decideCreate, decideRevoke, decideRotate } from './api-key.decider';
import { fromKeyEntry, keyEventEntry } from './api-key.entries';

const admin: Principal = {
  keyId: 'k-admin',
  keyName: 'ops-laptop',
  principalId: 'p-ops',
  name: 'ops',
  kind: 'person',
  roles: ['admin'],
  tenants: ['*'],
  expiresAt: null,
  knownTo: ['p-ops'],
};
const at = (minute: number) => new Date(Date.UTC(2026, 10, 27, 12, minute));

/** The service the key is for: `emitter` over both of the key's tenants. */
const billing: PrincipalState = {
  id: 'p-billing',
  name: 'billing',
  kind: 'service',
  email: null,
  oidcSubject: null,
  createdAt: at(0).toISOString(),
  createdBy: 'p-ops',
  revokedAt: null,
  grants: [
    {
      id: 'g-billing',
      role: 'emitter',
      tenants: ['acme', 'globex'],
      status: 'active',
      requestedBy: 'p-ops',
      requestedAt: at(0).toISOString(),
      approvedBy: null,
      approvedAt: at(0).toISOString(),
      revokedAt: null,
    },
  ],
};

/** The leaf the ledger would make of `event`, recorded `lateMs` after the decision. */
function leaf(event: EventToAppend, index: number, lateMs = 3): LedgerEntry {
  const recordedAt = new Date(Date.parse(event.occurredAt as string) + lateMs).toISOString();
  return {
    v: 1,
    log: event.log,
    index,
    prev: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=',
    id: `e${index}`,
    recordedAt,
    source: event.source,
    type: event.type,
    category: event.category,
    actor: event.actor,
    target: event.target,
    outcome: 'success',
    occurredAt: event.occurredAt ?? recordedAt,
    context: event.context,
  } as LedgerEntry;
}

/** The events of a key's life, decided one after the other, as entries and as the live state. */
function life(by: Principal): { entries: LedgerEntry[]; state: ApiKeyState } {
  const request = {
    id: 'k1',
    name: 'billing',
    prefix: 'atk_AAAAAAAA',
    roles: ['emitter'] as const,
    tenants: ['acme', 'globex'],
    expiresAt: '2027-01-01T00:00:00.000Z',
    principal: billing.id,
  };
  const entries: LedgerEntry[] = [];
  let state: ApiKeyState | undefined;
  const record = (events: ApiKeyEvent[]) => {
    state = applyEvents(state, events);
    for (const event of events) entries.push(leaf(keyEventEntry(event, state as ApiKeyState, by), entries.length));
  };
  record(decideCreate(by, { ...request, roles: [...request.roles] }, billing, at(0)));
  record(decideRotate(by, state, 'atk_BBBBBBBB', at(1)));
  record(decideRevoke(by, state, at(2)));
  return { entries, state: state as ApiKeyState };
}

describe('API key entries', () => {
  it('fold back to exactly the live state: every listed field, times and creator included', () => {
    for (const by of [admin, operator('cli')]) {
      const { entries, state } = life(by);
      expect(applyEvents(undefined, entries.map(fromKeyEntry))).toEqual(state);
      expect(state).toMatchObject({ createdBy: by === admin ? 'k-admin' : null, rotatedAt: at(1).toISOString() });
    }
  });

  it('fold entries written before the decision time was recorded, with the time of recording', () => {
    const { entries } = life(admin);
    const old = entries.map((entry) => ({ ...entry, occurredAt: entry.recordedAt }));
    expect(applyEvents(undefined, old.map(fromKeyEntry))).toMatchObject({
      createdAt: old[0].recordedAt,
      rotatedAt: old[1].recordedAt,
      revokedAt: old[2].recordedAt,
    });
  });

  it('refuses an entry that is not a key event', () => {
    const { entries } = life(admin);
    expect(() => fromKeyEntry({ ...entries[0], type: 'api_key.used_after_revocation' })).toThrow(/not a key event/);
  });
});
