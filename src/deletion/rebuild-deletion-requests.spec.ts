import { LEAF_FORMAT_VERSION, LedgerEntry, PLATFORM_LOG } from '@audit/ledger';
import { SERVICE_SOURCE } from '../ledger';
import { DeletionEvent } from './deletion-request.decider';
import { outcomeEntry, requestedEntry } from './deletion.entries';
import { factsOf, foldDeletionEntries, rebuiltStatus } from './rebuild-deletion-requests.handler';

const T0 = '2026-11-27T10:00:00.000Z';
let index = 0;

/** The entry the sequencer would store for `toAppend`, as ServiceEntries decodes it. */
function stored(toAppend: ReturnType<typeof requestedEntry>, recordedAt = T0): LedgerEntry {
  return {
    v: LEAF_FORMAT_VERSION,
    index: index++,
    prev: '',
    id: `e${index}`,
    recordedAt,
    occurredAt: recordedAt,
    ...toAppend,
  } as unknown as LedgerEntry;
}

const requested = (id: string, subject: string | null, kind = 'subject_erasure', tenant = 'acme') =>
  stored(
    requestedEntry(
      {
        type: 'deletion.requested',
        id,
        tenant,
        kind,
        subject,
        reason: 'asked',
        requestedBy: { keyId: 'k1', name: 'alice' },
        at: T0,
      } as Extract<DeletionEvent, { type: 'deletion.requested' }>,
      { type: 'api_key', id: 'k1' },
    ),
  );
const outcome = (id: string, status: 'completed' | 'blocked', tenant = 'acme') =>
  stored(
    outcomeEntry(
      {
        type: `deletion.${status}`,
        id,
        erased: status === 'completed' ? 2 : 0,
        blocked: status === 'completed' ? 0 : 2,
        blockedBy: status === 'completed' ? [] : [{ kind: 'hold', id: 'h1' }],
        receiptDigest: 'd',
        at: T0,
      },
      tenant,
      'subject_erasure',
    ),
    '2026-11-27T11:00:00.000Z',
  );

describe('rebuilding deletion requests: the fold', () => {
  it('gives the facts of the entries, the outcome and its reasons included', () => {
    const { views, events } = foldDeletionEntries([requested('d1', 'u1'), outcome('d1', 'blocked')]);
    expect(events).toBe(2);
    expect(factsOf(views.get('d1')!, 'blocked')).toEqual({
      id: 'd1',
      tenant: 'acme',
      kind: 'subject_erasure',
      subject: 'u1',
      reason: 'asked',
      requestedBy: { keyId: 'k1', name: 'alice' },
      requestedAt: T0,
      status: 'blocked',
      erased: 0,
      blocked: 2,
      blockedBy: [{ kind: 'hold', id: 'h1' }],
      receiptDigest: 'd',
      recorded: {
        status: 'blocked',
        erased: 0,
        blocked: 2,
        blockedBy: [{ kind: 'hold', id: 'h1' }],
        receiptDigest: 'd',
      },
    });
    expect(views.get('d1')!.lastAt).toBe('2026-11-27T11:00:00.000Z');
  });

  it('a request followed by another of the same target failed, unless it completed', () => {
    const { views } = foldDeletionEntries([
      requested('failed', 'u1'),
      outcome('failed', 'blocked'),
      requested('done', 'u1'),
      outcome('done', 'completed'),
      requested('last', 'u1'),
      requested('other', 'u2'),
      requested('closure', null, 'tenant_closure'),
    ]);
    expect(Object.fromEntries([...views].map(([id, view]) => [id, view.failed]))).toEqual({
      failed: true,
      done: false,
      last: false,
      other: false,
      closure: false,
    });
    expect(rebuiltStatus(views.get('failed')!, undefined)).toBe('failed');
  });

  it('reads entries written before requestedBy/requestedAt were recorded: the actor and the entry time', () => {
    const old = requested('d1', null, 'retention_purge', '*');
    const { requestedBy: _by, requestedAt: _at, ...context } = old.context as Record<string, never>;
    const legacy = {
      ...old,
      context,
      actor: { type: 'operator', id: 'scheduler' },
      recordedAt: '2026-01-01T00:00:00.000Z',
    };
    expect(old.log).toBe(PLATFORM_LOG);
    expect(old.source).toBe(SERVICE_SOURCE);
    const state = foldDeletionEntries([legacy]).views.get('d1')!.state;
    expect(state).toMatchObject({
      tenant: '*',
      requestedBy: { keyId: null, name: 'scheduler' },
      requestedAt: '2026-01-01T00:00:00.000Z',
    });
  });
});

describe('rebuilding deletion requests: the status written', () => {
  const only = foldDeletionEntries([requested('d1', 'u1')]).views.get('d1')!;
  const blocked = foldDeletionEntries([requested('d1', 'u1'), outcome('d1', 'blocked')]).views.get('d1')!;
  const completed = foldDeletionEntries([requested('d1', 'u1'), outcome('d1', 'completed')]).views.get('d1')!;

  it.each([
    // ledger says only "requested": the row's operational status stands; an outcome it claims does not
    ['requested', 'queued', 'queued', only],
    ['requested', 'running', 'running', only],
    ['requested', 'failed', 'failed', only],
    ['requested', 'completed', 'queued', only],
    ['requested', undefined, 'queued', only],
    // ledger says blocked: a run again in progress or a failure is the row's; a wrong outcome is not
    ['blocked', 'running', 'running', blocked],
    ['blocked', 'failed', 'failed', blocked],
    ['blocked', 'completed', 'blocked', blocked],
    ['blocked', 'partially_blocked', 'blocked', blocked],
    ['blocked', undefined, 'blocked', blocked],
    // completed is final
    ['completed', 'running', 'completed', completed],
    ['completed', 'failed', 'completed', completed],
    ['completed', undefined, 'completed', completed],
  ] as const)('ledger %s, row %s: %s', (_ledger, row, expected, view) => {
    expect(rebuiltStatus(view, row)).toBe(expected);
  });
});
