import { Principal } from '../access';
import { PrivacyError } from './privacy.errors';
import {
  SubjectRequestEvent,
  SubjectRequestState,
  applySubjectRequestEvents,
  caseStatus,
  decideCorrected,
  decideDelivered,
  decideOpenParts,
  decideReceive,
} from './subject-request.decider';

const T0 = new Date('2026-01-31T10:00:00.000Z');
const later = new Date('2026-02-01T10:00:00.000Z');

function legal(tenants: string[]): Principal {
  return {
    keyId: 'key-alice',
    keyName: 'alice-laptop',
    principalId: 'p-alice',
    name: 'alice',
    kind: 'person',
    roles: ['legal'],
    tenants,
    expiresAt: null,
    knownTo: ['p-alice'],
  };
}

const given = (events: SubjectRequestEvent[]) => applySubjectRequestEvents(undefined, events) as SubjectRequestState;
const codeOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    return (e as PrivacyError).code;
  }
  return undefined;
};

describe('subject request decider', () => {
  const receive = (kind: 'access' | 'rectification' | 'erasure', tenants: string[], by = legal(['acme', 'globex'])) =>
    decideReceive(
      by,
      {
        id: 'r1',
        kind,
        subject: 'u-42',
        tenants,
        reason: 'ticket 7',
        ...(kind === 'rectification' ? { corrects: { log: 'acme', index: 3 } } : {}),
      },
      T0,
    );

  it('receives a request due one calendar month later, naming who asked', () => {
    const events = receive('erasure', ['acme', 'globex']);
    expect(events).toEqual([
      {
        type: 'privacy.request.received',
        id: 'r1',
        kind: 'erasure',
        subject: 'u-42',
        tenants: ['acme', 'globex'],
        reason: 'ticket 7',
        dueAt: '2026-02-28T10:00:00.000Z',
        corrects: null,
        by: { keyId: 'key-alice', name: 'alice' },
        at: T0.toISOString(),
      },
    ]);
    expect(given(events)).toMatchObject({ status: 'received', version: 1, parts: [] });
  });

  it('refuses tenants outside the key, and `*` without a `*` scope', () => {
    expect(codeOf(() => receive('access', ['acme', 'initech']))).toBe('tenant_out_of_scope');
    expect(codeOf(() => receive('access', ['*']))).toBe('tenant_out_of_scope');
    expect(receive('access', ['*'], legal(['*']))).toHaveLength(1);
  });

  it('a rectification names the entry it corrects, inside its tenants; nothing else does', () => {
    expect(codeOf(() => receive('rectification', ['globex']))).toBe('subject_request_invalid');
    expect(
      codeOf(() =>
        decideReceive(
          legal(['acme']),
          {
            id: 'r',
            kind: 'access',
            subject: 's',
            tenants: ['acme'],
            reason: 'x',
            corrects: { log: 'acme', index: 1 },
          },
          T0,
        ),
      ),
    ).toBe('subject_request_invalid');
  });

  it('an erasure opens its parts once; its status comes from them', () => {
    const received = given(receive('erasure', ['acme', 'globex']));
    const parts = [
      { tenant: 'acme', deletionId: 'd1' },
      { tenant: 'globex', deletionId: 'd2' },
    ];
    const opened = decideOpenParts(received, parts, later);
    expect(opened).toEqual([{ type: 'privacy.erasure.parts_opened', id: 'r1', parts, at: later.toISOString() }]);
    const state = applySubjectRequestEvents(received, opened) as SubjectRequestState;
    expect(state).toMatchObject({ status: 'in_progress', version: 2, parts });
    expect(decideOpenParts(state, parts, later)).toEqual([]);
    const status = (...s: string[]) =>
      caseStatus(
        state,
        s.map((st, i) => ({ tenant: parts[i].tenant, status: st })),
      );
    expect(status('queued', 'running')).toBe('in_progress');
    expect(status('completed', 'blocked')).toBe('partially_blocked');
    expect(status('completed', 'partially_blocked')).toBe('partially_blocked');
    expect(status('blocked', 'blocked')).toBe('blocked');
    expect(status('completed', 'completed')).toBe('completed');
    expect(codeOf(() => decideOpenParts(given(receive('access', ['acme'])), parts, later))).toBe(
      'subject_request_invalid',
    );
  });

  it('a rectification completes with its correction, once', () => {
    const received = given(receive('rectification', ['acme']));
    const corrected = decideCorrected(received, 'acme', later);
    const state = applySubjectRequestEvents(received, corrected) as SubjectRequestState;
    expect(state).toMatchObject({ status: 'completed', completedAt: later.toISOString(), correction: { log: 'acme' } });
    expect(codeOf(() => decideCorrected(state, 'acme', later))).toBe('subject_request_finished');
  });

  it('an access request completes when its bundle is first delivered', () => {
    const received = given(receive('access', ['acme']));
    const delivered = decideDelivered(received, later);
    expect(delivered.map((e) => e.type)).toEqual(['privacy.access.delivered']);
    const state = applySubjectRequestEvents(received, delivered) as SubjectRequestState;
    expect(caseStatus(state, [])).toBe('completed');
    expect(decideDelivered(state, later)).toEqual([]);
  });
});
