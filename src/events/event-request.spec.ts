import { Principal } from '../access';
import { PersonalDataGuard, RequestValidationError } from '../platform';
import { BATCH_PREPARE_CHUNK, prepareBatch } from './event-request';

// The guard's own behaviour has its tests (src/platform/personal-data); here it accepts everything.
const guard = { check: () => undefined } as unknown as PersonalDataGuard;
const principal = { name: 'billing', tenants: ['*'], roles: ['emitter'] } as unknown as Principal;

const event = (i: number) => ({
  tenant: 'acme',
  type: 'billing.invoice.paid',
  actor: { type: 'user', id: `usr_${i}` },
  context: { i },
});

describe('prepareBatch', () => {
  it('yields to the event loop between chunks and keeps the events in order', async () => {
    let turns = 0;
    const events = Array.from({ length: 2 * BATCH_PREPARE_CHUNK + 1 }, (_, i) => event(i));
    const prepared = await prepareBatch({ events }, principal, guard, async () => {
      turns++;
    });
    expect(turns).toBe(2);
    expect(prepared.map((e) => e.context?.i)).toEqual(events.map((_, i) => i));
  });

  it('refuses the whole batch for one bad event after the first chunk, naming it', async () => {
    const events: unknown[] = Array.from({ length: BATCH_PREPARE_CHUNK + 10 }, (_, i) => event(i));
    events[BATCH_PREPARE_CHUNK + 3] = { tenant: 'acme' };
    const refusal = await prepareBatch({ events }, principal, guard, async () => undefined).catch((e: unknown) => e);
    expect(refusal).toBeInstanceOf(RequestValidationError);
    expect(JSON.stringify((refusal as RequestValidationError).details)).toContain(`/events/${BATCH_PREPARE_CHUNK + 3}`);
  });

  it('gives every event with personal data a salt of its own, across the draws from the random source', async () => {
    const events = Array.from({ length: 300 }, (_, i) => ({
      ...event(i),
      personal: { subject: `p${i}`, data: { email: `p${i}@example.com` } },
    }));
    const prepared = await prepareBatch({ events }, principal, guard, async () => undefined);
    const salts = prepared.map((e) => e.personal?.salt.toString('hex'));
    expect(salts.every((salt) => salt?.length === 64)).toBe(true);
    expect(new Set(salts).size).toBe(events.length);
    // The digest in the leaf commits to that event's own salt.
    expect(new Set(prepared.map((e) => e.personal?.digest)).size).toBe(events.length);
  });

  it('lets a timer run while a large batch is prepared with the default turn', async () => {
    let fired = false;
    setTimeout(() => (fired = true), 0);
    const started = prepareBatch({ events: Array.from({ length: 1000 }, (_, i) => event(i)) }, principal, guard);
    const firedBeforeEnd = await started.then(() => fired);
    expect(firedBeforeEnd).toBe(true);
  });
});
