import { decodeLeaf } from '@audit/ledger';
import { leafTemplateOf } from '../ledger';
import { Principal, operator } from '../access';
import { HoldEvent, decideAmend, decidePlace, decideRelease, applyHoldEvents, HoldState } from './hold.decider';
import { fromHoldEntry, holdEventEntry, holdLog } from './hold.entries';

const T0 = new Date('2026-11-27T10:00:00.000Z');
const key = (name: string, tenants = ['*']): Principal => ({
  keyId: `k-${name}`,
  keyName: `${name}-laptop`,
  principalId: `p-${name}`,
  name,
  kind: 'person',
  roles: ['legal'],
  tenants,
  expiresAt: null,
  knownTo: [`p-${name}`],
});

/** Through the ledger and back: what a rebuild reads. */
function roundTrip(event: HoldEvent, tenant: string, index: number): HoldEvent {
  const append = holdEventEntry(event, { tenant, matter: 'MAT' });
  const leaf = leafTemplateOf(append).leafAt({
    index,
    prev: 'A'.repeat(43) + '=',
    id: `e${index}`,
    recordedAt: '2026-11-27T10:00:01.000Z',
  });
  return fromHoldEntry(decodeLeaf(leaf));
}

describe('hold entries', () => {
  it('every hold event survives the ledger unchanged, including its decision time', () => {
    const placed = decidePlace(
      key('alice'),
      {
        id: 'h1',
        tenant: 'acme',
        matter: 'MAT',
        description: 'd',
        scope: { subjects: ['u1'], from: '2026-01-01T00:00:00.000Z' },
      },
      T0,
    );
    // The operator (no key) amends: an actor without a key id survives too.
    const amended = decideAmend(
      operator('cli'),
      applyHoldEvents(undefined, placed),
      { scope: {}, reason: 'all' },
      new Date(T0.getTime() + 1000),
    );
    const state = applyHoldEvents(undefined, [...placed, ...amended]) as HoldState;
    const released = decideRelease(
      key('bob'),
      state,
      'done',
      { required: 1, approvalTtlMs: 1000 },
      new Date(T0.getTime() + 2000),
      new Map([['k-bob', key('bob')]]),
    );
    const events = [...placed, ...amended, ...released];
    expect(events.map((e) => e.type)).toEqual([
      'hold.placed',
      'hold.amended',
      'hold.release_requested',
      'hold.released',
    ]);
    events.forEach((event, i) => expect(roundTrip(event, 'acme', i)).toEqual(event));
  });

  it('records a hold on every tenant in the platform log, others in their tenant log', () => {
    expect(holdLog('*')).toBe('platform');
    expect(holdLog('acme')).toBe('acme');
    const [placed] = decidePlace(key('root'), { id: 'h2', tenant: '*', matter: 'M', description: '', scope: {} }, T0);
    expect(holdEventEntry(placed, { tenant: '*', matter: 'M' })).toMatchObject({
      context: { matter: 'M' },
      log: 'platform',
      category: 'holds',
      type: 'hold.placed',
      target: { type: 'hold', id: 'h2' },
      actor: { type: 'api_key', id: 'k-root' },
    });
  });
});
