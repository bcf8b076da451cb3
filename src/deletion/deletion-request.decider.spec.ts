import fc from 'fast-check';
import type {
  DeletionRequest,
  DeletionKind as StoreKind,
  DeletionStatus as StoreStatus,
  RecordedOutcome as StoreRecordedOutcome,
} from './deletion.store';
import {
  DeletionCommand,
  DeletionEvent,
  DeletionKind,
  DeletionRequestExistsError,
  DeletionRequestFinishedError,
  DeletionRequestNotBlockedError,
  DeletionRequestNotRunningError,
  DeletionRequestState,
  DeletionStatus,
  DeletionTransitionError,
  RequeueReason,
  RunOutcome,
  applyDeletionEvents,
  decide,
  evolve,
  isFinished,
} from './deletion-request.decider';
import { DeletionRequestNotFoundError } from './deletion.errors';
import { BlockReason, statusOf } from './erasure-plan';

const T0 = new Date('2026-11-27T10:00:00.000Z');
const at = (minutes: number) => new Date(T0.getTime() + minutes * 60_000);
const iso = (minutes: number) => at(minutes).toISOString();

const alice = { keyId: 'key-alice', name: 'alice' };
const HOLD: BlockReason = { kind: 'hold', id: 'h1' };
const BILLING: BlockReason = { kind: 'retention', category: 'billing', until: '2036-11-27T10:00:00.000Z' };

/** What the request asks, as deletion.requested records it. */
const asked = {
  id: 'd1',
  kind: 'subject_erasure',
  tenant: 'acme',
  subject: 'u1',
  reason: 'GDPR art. 17',
  requestedBy: alice,
} as const;
const request: DeletionCommand = { type: 'request', ...asked };
const start: DeletionCommand = { type: 'start' };
const fail: DeletionCommand = { type: 'fail' };
const requeue = (reason: RequeueReason): DeletionCommand => ({ type: 'requeue', reason });
const finish = (outcome: Partial<RunOutcome>): DeletionCommand => ({
  type: 'finish',
  outcome: { erased: 0, blocked: 0, blockedBy: [], receipt: {}, receiptDigest: 'digest', retryAt: null, ...outcome },
});
const allErased = finish({ erased: 3, receiptDigest: 'all' });
const someKept = finish({ erased: 2, blocked: 1, blockedBy: [HOLD], receiptDigest: 'some' });
const allKept = finish({ blocked: 3, blockedBy: [HOLD, BILLING], receiptDigest: 'none', retryAt: BILLING.until });

/** `before`, then the events of `commands`, one minute apart, each decided on the state the previous ones left. */
function after(before: DeletionEvent[], ...commands: DeletionCommand[]): DeletionEvent[] {
  const events = [...before];
  commands.forEach((command, minute) =>
    events.push(...decide(applyDeletionEvents(null, events), command, at(before.length + minute))),
  );
  return events;
}
const history = (...commands: DeletionCommand[]) => after([], ...commands);

/** given(events).when(command) → then: the events, the state after them, or the error thrown. */
function given(...events: DeletionEvent[]) {
  const state = applyDeletionEvents(null, events);
  return {
    when: (command: DeletionCommand, now = at(60)) => {
      const run = () => decide(state, command, now);
      return {
        then: (expected: DeletionEvent[]) => expect(run()).toEqual(expected),
        thenTypes: (...types: DeletionEvent['type'][]) => expect(run().map((e) => e.type)).toEqual(types),
        thenState: () => applyDeletionEvents(state, run()) as DeletionRequestState,
        /** The events, and the state they leave: the one before with `change`, nothing else. */
        thenMoves: (expected: DeletionEvent[], change: Partial<DeletionRequestState>) => {
          expect(run()).toEqual(expected);
          expect(applyDeletionEvents(state, run())).toEqual({ ...state, ...change });
        },
        thenRefused: (error: new (...args: never[]) => Error) => expect(run).toThrow(error),
      };
    },
  };
}

// One history per status, as the worker gets there.
const IN: Record<DeletionStatus, DeletionEvent[]> = {
  queued: history(request),
  running: history(request, start),
  blocked: history(request, start, allKept),
  partially_blocked: history(request, start, someKept),
  completed: history(request, start, allErased),
  failed: history(request, start, fail),
};
const STATUSES = Object.keys(IN) as DeletionStatus[];
const UNFINISHED = STATUSES.filter((status) => !isFinished(status));

describe('deletion request decider: request', () => {
  it('a new request is queued, with nothing erased, kept or recorded yet', () => {
    given()
      .when(request, T0)
      .then([{ type: 'deletion.requested', ...asked, at: T0.toISOString() }]);
    expect(given().when(request, T0).thenState()).toEqual({
      ...asked,
      requestedAt: T0.toISOString(),
      status: 'queued',
      erased: 0,
      blocked: 0,
      blockedBy: [],
      receipt: null,
      receiptDigest: null,
      retryAt: null,
      recorded: null,
      requeued: null,
      updatedAt: T0.toISOString(),
    });
  });

  it('a closure and a purge name no subject; the purge covers every tenant', () => {
    const closure: DeletionCommand = { ...request, kind: 'tenant_closure', subject: null };
    const purge: DeletionCommand = { ...request, kind: 'retention_purge', tenant: '*', subject: null };
    expect(given().when(closure).thenState()).toMatchObject({ kind: 'tenant_closure', subject: null });
    expect(given().when(purge).thenState()).toMatchObject({ kind: 'retention_purge', tenant: '*', subject: null });
  });

  it.each(STATUSES)('refuses a second request with the same id (%s)', (status) => {
    given(...IN[status])
      .when(request)
      .thenRefused(DeletionRequestExistsError);
  });

  it.each([start, finish({}), fail, requeue('reconcile')])('refuses $type before the request', (command) => {
    given().when(command).thenRefused(DeletionRequestNotFoundError);
  });
});

describe('deletion request decider: start', () => {
  it.each(UNFINISHED)('starts from %s; only the status moves', (status) => {
    given(...IN[status])
      .when(start)
      .thenMoves([{ type: 'deletion.started', id: 'd1', at: iso(60) }], { status: 'running', updatedAt: iso(60) });
  });

  it('clears a requeue: the run it was owed has started', () => {
    const state = given(...after(IN.blocked, requeue('hold_released')))
      .when(start)
      .thenState();
    expect(state).toMatchObject({ status: 'running', requeued: null });
  });

  it.each(['completed', 'failed'] as const)('refuses to start a %s request', (status) => {
    given(...IN[status])
      .when(start)
      .thenRefused(DeletionRequestFinishedError);
  });
});

describe('deletion request decider: finish', () => {
  it('nothing kept: completed, and the ledger is told', () => {
    given(...IN.running)
      .when(allErased)
      .then([
        {
          type: 'deletion.finished',
          id: 'd1',
          status: 'completed',
          erased: 3,
          blocked: 0,
          blockedBy: [],
          receipt: {},
          receiptDigest: 'all',
          retryAt: null,
          at: iso(60),
        },
        {
          type: 'deletion.completed',
          id: 'd1',
          erased: 3,
          blocked: 0,
          blockedBy: [],
          receiptDigest: 'all',
          at: iso(60),
        },
      ]);
    expect(
      given(...IN.running)
        .when(allErased)
        .thenState(),
    ).toMatchObject({
      status: 'completed',
      erased: 3,
      recorded: { status: 'completed', erased: 3, blocked: 0, receiptDigest: 'all' },
      updatedAt: iso(60),
    });
  });

  it('an unknown subject completes with nothing erased', () => {
    given(...IN.running)
      .when(finish({}))
      .thenTypes('deletion.finished', 'deletion.completed');
  });

  it('some kept: partially blocked; all kept: blocked; each with its reasons', () => {
    given(...IN.running)
      .when(someKept)
      .thenTypes('deletion.finished', 'deletion.partially_blocked');
    given(...IN.running)
      .when(allKept)
      .thenTypes('deletion.finished', 'deletion.blocked');
    expect(
      given(...IN.running)
        .when(allKept)
        .thenState(),
    ).toMatchObject({
      status: 'blocked',
      blocked: 3,
      blockedBy: [HOLD, BILLING],
      retryAt: BILLING.until,
      recorded: { status: 'blocked', erased: 0, blocked: 3, receiptDigest: 'none' },
    });
  });

  it('a run that changes nothing the ledger said records nothing, but the row moves on', () => {
    const rerun = history(request, start, allKept, requeue('hold_released'), start);
    const sameButLater = finish({
      blocked: 3,
      blockedBy: [HOLD, BILLING],
      receiptDigest: 'none',
      retryAt: '2037-01-01T00:00:00.000Z',
    });
    given(...rerun)
      .when(sameButLater)
      .thenTypes('deletion.finished');
    expect(
      given(...rerun)
        .when(sameButLater)
        .thenState(),
    ).toMatchObject({
      status: 'blocked',
      blockedBy: [HOLD, BILLING],
      retryAt: '2037-01-01T00:00:00.000Z',
      recorded: { status: 'blocked', erased: 0, blocked: 3, blockedBy: [HOLD, BILLING], receiptDigest: 'none' },
    });
  });

  it('new reasons with the same counts and receipt digest are recorded: the ledger keeps what blocks it', () => {
    const rerun = history(request, start, allKept, requeue('hold_released'), start);
    // The hold was released, but a retention minimum still keeps the same three entries.
    const otherReasons = finish({ blocked: 3, blockedBy: [BILLING], receiptDigest: 'none', retryAt: BILLING.until });
    given(...rerun)
      .when(otherReasons)
      .then([
        expect.objectContaining({ type: 'deletion.finished', blockedBy: [BILLING] }),
        {
          type: 'deletion.blocked',
          id: 'd1',
          erased: 0,
          blocked: 3,
          blockedBy: [BILLING],
          receiptDigest: 'none',
          at: iso(60),
        },
      ]);
    expect(
      given(...rerun)
        .when(otherReasons)
        .thenState().recorded,
    ).toEqual({
      status: 'blocked',
      erased: 0,
      blocked: 3,
      blockedBy: [BILLING],
      receiptDigest: 'none',
    });
    // The same reasons in another order are other reasons (the row keeps the order the run gave).
    given(...rerun)
      .when(finish({ blocked: 3, blockedBy: [BILLING, HOLD], receiptDigest: 'none' }))
      .thenTypes('deletion.finished', 'deletion.blocked');
  });

  it('reasons read back from jsonb (keys reordered) are the same reasons; a `recorded` without reasons is not', () => {
    const state = applyDeletionEvents(null, history(request, start, allKept, requeue('reconcile'), start))!;
    const reordered = (reasons: readonly BlockReason[]) =>
      reasons.map((r) => Object.fromEntries(Object.entries(r).reverse()) as unknown as BlockReason);
    const fromJsonb = { ...state, recorded: { ...state.recorded!, blockedBy: reordered(state.recorded!.blockedBy) } };
    expect(JSON.stringify(fromJsonb.recorded.blockedBy)).not.toBe(JSON.stringify(state.recorded!.blockedBy));
    expect(decide(fromJsonb, allKept, at(60)).map((e) => e.type)).toEqual(['deletion.finished']);
    const { blockedBy: _, ...withoutReasons } = state.recorded!;
    const older = { ...state, recorded: withoutReasons as DeletionRequestState['recorded'] };
    expect(decide(older, allKept, at(60)).map((e) => e.type)).toEqual(['deletion.finished', 'deletion.blocked']);
  });

  it('a changed outcome is recorded again: a released hold lets the rest go', () => {
    given(...after(IN.blocked, start))
      .when(finish({ erased: 3, receiptDigest: 'rest' }))
      .thenTypes('deletion.finished', 'deletion.completed');
    given(...after(IN.partially_blocked, start))
      .when(finish({ erased: 2, blocked: 1, blockedBy: [HOLD], receiptDigest: 'other receipt' }))
      .thenTypes('deletion.finished', 'deletion.partially_blocked');
  });

  it('compares with what the ledger last said, not with the row: a lost ledger write is made up', () => {
    const [requested, started, finished] = IN.blocked; // the outcome event never got written
    expect(applyDeletionEvents(null, [requested, started, finished])).toMatchObject({
      status: 'blocked',
      recorded: null,
    });
    given(...after([requested, started, finished], start))
      .when(allKept)
      .thenTypes('deletion.finished', 'deletion.blocked');
  });

  it.each(['queued', 'blocked', 'partially_blocked'] as const)('refuses an outcome for a %s request', (status) => {
    given(...IN[status])
      .when(allErased)
      .thenRefused(DeletionRequestNotRunningError);
  });

  it.each(['completed', 'failed'] as const)('refuses an outcome for a %s request', (status) => {
    given(...IN[status])
      .when(allErased)
      .thenRefused(DeletionRequestFinishedError);
  });
});

describe('deletion request decider: fail', () => {
  it.each(UNFINISHED)('fails from %s, keeping what earlier runs did', (status) => {
    given(...IN[status])
      .when(fail)
      .thenMoves([{ type: 'deletion.failed', id: 'd1', at: iso(60) }], { status: 'failed', updatedAt: iso(60) });
  });

  it.each(['completed', 'failed'] as const)('refuses to fail a %s request', (status) => {
    given(...IN[status])
      .when(fail)
      .thenRefused(DeletionRequestFinishedError);
  });
});

describe('deletion request decider: requeue', () => {
  it.each(['blocked', 'partially_blocked'] as const)('queues a %s request again; the row stays as it is', (status) => {
    given(...IN[status])
      .when(requeue('minimum_ran_out'))
      .thenMoves([{ type: 'deletion.requeued', id: 'd1', reason: 'minimum_ran_out', at: iso(60) }], {
        requeued: { reason: 'minimum_ran_out', at: iso(60) },
      });
  });

  it('asking again before the run starts changes nothing, whatever the reason', () => {
    const requeued = after(IN.blocked, requeue('reconcile'));
    given(...requeued)
      .when(requeue('hold_released'))
      .then([]);
    given(...requeued)
      .when(requeue('reconcile'))
      .then([]);
  });

  it('a request blocked again after its run may be queued again', () => {
    const again = history(request, start, allKept, requeue('hold_released'), start, allKept);
    given(...again)
      .when(requeue('minimum_shortened'))
      .thenTypes('deletion.requeued');
  });

  it.each(['queued', 'running'] as const)('refuses to queue a %s request again', (status) => {
    given(...IN[status])
      .when(requeue('reconcile'))
      .thenRefused(DeletionRequestNotBlockedError);
  });

  it.each(['completed', 'failed'] as const)('refuses to queue a %s request again', (status) => {
    given(...IN[status])
      .when(requeue('hold_released'))
      .thenRefused(DeletionRequestFinishedError);
  });
});

describe('deletion request decider: refusals', () => {
  it('each names its code, answers 409, and says what state refused it', () => {
    const refusals: [() => unknown, string, DeletionStatus][] = [
      [() => decide(applyDeletionEvents(null, IN.running), request, T0), 'deletion_request_exists', 'running'],
      [() => decide(applyDeletionEvents(null, IN.failed), start, T0), 'deletion_request_finished', 'failed'],
      [() => decide(applyDeletionEvents(null, IN.queued), allErased, T0), 'deletion_request_not_running', 'queued'],
      [
        () => decide(applyDeletionEvents(null, IN.running), requeue('reconcile'), T0),
        'deletion_request_not_blocked',
        'running',
      ],
    ];
    for (const [refused, code, from] of refusals) {
      let thrown: unknown;
      try {
        refused();
      } catch (e) {
        thrown = e;
      }
      expect(thrown).toBeInstanceOf(DeletionTransitionError);
      expect(thrown).toMatchObject({ code, from, status: 409 });
    }
  });
});

describe('deletion request decider: evolve', () => {
  it('refuses an event before the request, as a corrupt history', () => {
    expect(() => evolve(null, { type: 'deletion.started', id: 'd1', at: iso(0) })).toThrow(/before deletion.requested/);
  });

  it('the state is the store row plus `requeued`, and the types agree with the store', () => {
    const kinds: [DeletionKind, StoreKind] extends [StoreKind, DeletionKind] ? true : false = true;
    const statuses: [DeletionStatus, StoreStatus] extends [StoreStatus, DeletionStatus] ? true : false = true;
    const row = ({ requeued: _requeued, ...rest }: DeletionRequestState): DeletionRequest => rest;
    const recorded = (r: DeletionRequestState['recorded']): StoreRecordedOutcome | null => r;
    const state = applyDeletionEvents(null, IN.partially_blocked) as DeletionRequestState;
    expect([kinds, statuses]).toEqual([true, true]);
    expect(Object.keys(row(state)).sort()).toEqual(
      [
        ...['id', 'tenant', 'kind', 'subject', 'reason', 'requestedBy', 'requestedAt', 'status', 'erased', 'blocked'],
        ...['blockedBy', 'receipt', 'receiptDigest', 'retryAt', 'recorded', 'updatedAt'],
      ].sort(),
    );
    expect(recorded(state.recorded)).toEqual(state.recorded);
  });
});

// ---------------------------------------------------------------------------------------------
// Properties over random command sequences.

const reasons: RequeueReason[] = ['hold_released', 'minimum_ran_out', 'minimum_shortened', 'reconcile'];
// Few values, so that runs often repeat an outcome (the case that records nothing).
const outcomeArb: fc.Arbitrary<RunOutcome> = fc.record({
  erased: fc.integer({ min: 0, max: 1 }),
  blocked: fc.integer({ min: 0, max: 1 }),
  blockedBy: fc.constantFrom<BlockReason[]>([], [HOLD], [HOLD, BILLING]),
  receipt: fc.constant({}),
  receiptDigest: fc.constantFrom('a', 'b'),
  retryAt: fc.constantFrom(null, BILLING.until),
});
const commandArb: fc.Arbitrary<DeletionCommand> = fc.oneof(
  { weight: 4, arbitrary: fc.constant(start) },
  { weight: 4, arbitrary: outcomeArb.map((outcome): DeletionCommand => ({ type: 'finish', outcome })) },
  { weight: 3, arbitrary: fc.constantFrom(...reasons).map(requeue) },
  { weight: 1, arbitrary: fc.constant(fail) },
  { weight: 1, arbitrary: fc.constant(request) },
);
const commandsArb = fc.array(commandArb, { maxLength: 30 });

/** decide, or the error it threw. */
function attempt(state: DeletionRequestState | null, command: DeletionCommand, now: Date): DeletionEvent[] | Error {
  try {
    return decide(state, command, now);
  } catch (e) {
    return e as Error;
  }
}

type Row = DeletionRequest;
const UNFINISHED_SQL = (row: Row) => row.status !== 'completed' && row.status !== 'failed';

/**
 * deletion.store.ts's statements, and erasure-runner's record(), on a row in memory: what the
 * decider must agree with wherever it lets a command through.
 */
const store = {
  // UPDATE ... SET status = 'running' ... WHERE id = $1 AND status NOT IN ('completed', 'failed')
  start: (row: Row, now: Date): Row =>
    UNFINISHED_SQL(row) ? { ...row, status: 'running', updatedAt: now.toISOString() } : row,
  // UPDATE ... SET status, erased, blocked, blocked_by, receipt, receipt_digest, retry_at, updated_at WHERE id = $1
  // then record(): a ledger entry and `recorded` when (status, erased, blocked, blockedBy, receiptDigest) differ,
  // in a transaction of its own, which may be lost (a crash, the ledger unavailable).
  finish: (row: Row, o: RunOutcome, now: Date, ledgerWriteLost: boolean): Row => {
    const written: Row = { ...row, ...o, status: statusOf(o.erased, o.blocked), updatedAt: now.toISOString() };
    const outcome = {
      status: statusOf(o.erased, o.blocked),
      erased: o.erased,
      blocked: o.blocked,
      blockedBy: o.blockedBy,
      receiptDigest: o.receiptDigest,
    };
    if (ledgerWriteLost || JSON.stringify(row.recorded) === JSON.stringify(outcome)) return written;
    return { ...written, recorded: outcome };
  },
  // UPDATE ... SET status = 'failed', updated_at = $2 WHERE id = $1
  fail: (row: Row, now: Date): Row => ({ ...row, status: 'failed', updatedAt: now.toISOString() }),
  // Queuing again writes nothing: the job is the only trace.
  requeue: (row: Row): Row => row,
};

function rowOf(state: DeletionRequestState): Row {
  const { requeued: _requeued, ...row } = state;
  return row;
}

/** What each command may change; everything else must come out as it went in. */
const MAY_CHANGE: Record<Exclude<DeletionCommand['type'], 'request'>, (keyof DeletionRequestState)[]> = {
  start: ['status', 'requeued', 'updatedAt'],
  finish: ['status', 'erased', 'blocked', 'blockedBy', 'receipt', 'receiptDigest', 'retryAt', 'recorded', 'updatedAt'],
  fail: ['status', 'updatedAt'],
  requeue: ['requeued'],
};

describe('deletion request decider: properties', () => {
  it('no sequence of commands leaves a terminal state', () => {
    fc.assert(
      fc.property(commandsArb, (commands) => {
        let state = applyDeletionEvents(null, history(request));
        commands.forEach((command, i) => {
          const result = attempt(state, command, at(i + 1));
          if (state !== null && isFinished(state.status)) {
            expect(result).toBeInstanceOf(
              command.type === 'request' ? DeletionRequestExistsError : DeletionRequestFinishedError,
            );
            return;
          }
          if (!(result instanceof Error)) state = applyDeletionEvents(state, result);
        });
      }),
    );
  });

  it('folding the events decide emitted gives the state decide saw plus the change, as the store makes it', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(commandArb, fc.boolean()), { maxLength: 30 }), (steps) => {
        let state = applyDeletionEvents(null, history(request)) as DeletionRequestState;
        steps.forEach(([command, ledgerWriteLost], i) => {
          const now = at(i + 1);
          const lost = command.type === 'finish' && ledgerWriteLost;
          const decided = attempt(state, command, now);
          if (decided instanceof Error) {
            // A refused start is what store.start's `false` says: nothing written.
            if (command.type === 'start') expect(store.start(rowOf(state), now)).toEqual(rowOf(state));
            return;
          }
          // A lost ledger write: the row was written, the outcome event never was.
          const result = lost ? decided.filter((e) => e.type === 'deletion.finished') : decided;
          if (command.type === 'request') throw new Error('a second request was let through');
          const next = applyDeletionEvents(state, result) as DeletionRequestState;
          const changed = (Object.keys(next) as (keyof DeletionRequestState)[]).filter(
            (key) => JSON.stringify(next[key]) !== JSON.stringify(state[key]),
          );
          expect(MAY_CHANGE[command.type]).toEqual(expect.arrayContaining(changed));
          const expected =
            command.type === 'start'
              ? store.start(rowOf(state), now)
              : command.type === 'finish'
                ? store.finish(rowOf(state), command.outcome, now, lost)
                : command.type === 'fail'
                  ? store.fail(rowOf(state), now)
                  : store.requeue(rowOf(state));
          expect(rowOf(next)).toEqual(expected);
          if (command.type === 'finish') {
            // One ledger entry exactly when the outcome differs from the last one recorded.
            const outcome = {
              status: next.status,
              erased: next.erased,
              blocked: next.blocked,
              blockedBy: next.blockedBy,
              receiptDigest: next.receiptDigest,
            };
            const outcomes = decided.filter((e) => e.type !== 'deletion.finished');
            expect(outcomes.length).toBe(JSON.stringify(state.recorded) === JSON.stringify(outcome) ? 0 : 1);
            expect(next.recorded).toEqual(lost ? state.recorded : outcome);
          }
          state = next;
        });
      }),
      { numRuns: 500 },
    );
  });

  it('a ledger write lost after a run is made up by the next run with the same outcome', () => {
    fc.assert(
      fc.property(outcomeArb, (outcome) => {
        const [requested, started, finished] = history(request, start, { type: 'finish', outcome });
        fc.pre(!isFinished((finished as { status: DeletionStatus }).status));
        given(...after([requested, started, finished], start))
          .when({ type: 'finish', outcome })
          .thenTypes('deletion.finished', `deletion.${statusOf(outcome.erased, outcome.blocked)}`);
      }),
    );
  });

  it('running a finished run again records nothing twice', () => {
    fc.assert(
      fc.property(outcomeArb, fc.constantFrom(...reasons), (outcome, reason) => {
        const once = history(request, start, { type: 'finish', outcome });
        const state = applyDeletionEvents(null, once) as DeletionRequestState;
        fc.pre(!isFinished(state.status));
        const again = history(request, start, { type: 'finish', outcome }, requeue(reason), start);
        given(...again)
          .when({ type: 'finish', outcome })
          .thenTypes('deletion.finished');
      }),
    );
  });
});
