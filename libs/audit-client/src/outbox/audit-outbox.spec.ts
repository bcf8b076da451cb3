import { AuditEvent } from '../audit-event';
import { Queryable, writeToOutbox } from './audit-outbox';

// The statements the outbox sends inside the caller's transaction. What they do is proven
// against PostgreSQL in outbox-relay.int-spec.ts; here, that the usual case stays cheap.
function recording(): Queryable & { readonly calls: { text: string; params?: unknown[] }[] } {
  const calls: { text: string; params?: unknown[] }[] = [];
  return { calls, query: async (text, params) => void calls.push({ text, params }) };
}

const paid = (id: string): AuditEvent => ({
  tenant: 'acme',
  type: 'billing.invoice.paid',
  actor: { type: 'user', id: 'u1' },
  target: { type: 'invoice', id },
  occurredAt: '2026-12-04T12:00:00.000Z',
});

describe('writing to the outbox', () => {
  it('writes one event with a one-row INSERT of its key and its wire form, no arrays', async () => {
    const tx = recording();
    const [key] = await writeToOutbox(tx, [paid('inv-1')]);
    expect(tx.calls).toHaveLength(1);
    expect(tx.calls[0].text).toBe('INSERT INTO audit_outbox (idempotency_key, event) VALUES ($1, $2)');
    expect(tx.calls[0].params).toEqual([key, JSON.stringify({ ...paid('inv-1') })]);
  });

  it('writes several events in one statement, each under its own key', async () => {
    const tx = recording();
    const keys = await writeToOutbox(tx, [paid('inv-1'), paid('inv-2'), paid('inv-3')]);
    expect(tx.calls).toHaveLength(1);
    expect(tx.calls[0].text).toContain('unnest($1::uuid[], $2::jsonb[])');
    expect(tx.calls[0].params?.[0]).toEqual(keys);
    expect(new Set(keys).size).toBe(3);
    expect((tx.calls[0].params?.[1] as string[]).map((e) => JSON.parse(e).target.id)).toEqual([
      'inv-1',
      'inv-2',
      'inv-3',
    ]);
  });

  it('sends nothing for no events', async () => {
    const tx = recording();
    expect(await writeToOutbox(tx, [])).toEqual([]);
    expect(tx.calls).toEqual([]);
  });
});
