import { Inject, Injectable } from '@nestjs/common';
import { Sequencer, type Sql } from '../../ledger';
import { CLOCK, Clock } from '../../platform';
import { PrincipalChangedError } from '../access.errors';
import { ApiKeyStore } from '../api-key.store';
import { Principal } from '../roles';
import { PrincipalEvent, PrincipalState, applyPrincipalEvents } from './principal.decider';
import { principalEventEntry } from './principal.entries';
import { PrincipalStore } from './principal.store';

/** Raised inside the transaction when the principal changed since the decision: decide again. */
class PrincipalChanged extends Error {}

// Concurrent changes to one principal are rare (people clicking); a few re-decisions are plenty.
const ATTEMPTS = 5;

/**
 * Applies a decision to a principal: its entries go to the `platform` log and its new state to
 * the projection in one transaction, written only over the state the decision saw. Every process
 * forgets its cached keys at commit, so a revoked grant or principal stops its keys at once.
 */
@Injectable()
export class PrincipalChanges {
  constructor(
    private readonly store: PrincipalStore,
    private readonly keys: ApiKeyStore,
    private readonly sequencer: Sequencer,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /**
   * A new principal from a decision's events. In the same transaction: `check` before it is
   * stored (it may refuse), then more `entries` and their `effect` (a key made with it).
   */
  async create(
    by: Principal,
    events: readonly PrincipalEvent[],
    more: {
      check?: (sql: Sql) => Promise<void>;
      entries?: Parameters<Sequencer['append']>[0];
      effect?: (sql: Sql) => Promise<void>;
    } = {},
  ): Promise<PrincipalState> {
    const state = applyPrincipalEvents(undefined, events) as PrincipalState;
    await this.sequencer.append(
      [...events.map((event) => principalEventEntry(event, by)), ...(more.entries ?? [])],
      async (sql) => {
        await more.check?.(sql);
        await this.store.insert(sql, state);
        await more.effect?.(sql);
        await this.keys.principalsChanged(sql);
      },
    );
    this.keys.changed();
    return state;
  }

  /** Decides on the stored principal `id` and records the outcome; answers the state after it. */
  async apply(
    by: Principal,
    id: string,
    decide: (current: PrincipalState | undefined, now: Date) => PrincipalEvent[],
  ): Promise<PrincipalState> {
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const current = await this.store.find(id);
      const events = decide(current, this.clock.now());
      if (events.length === 0) return current as PrincipalState;
      const next = applyPrincipalEvents(current, events) as PrincipalState;
      try {
        await this.sequencer.append(
          events.map((event) => principalEventEntry(event, by)),
          async (sql) => {
            if (!(await this.store.save(sql, current as PrincipalState, next))) throw new PrincipalChanged();
            await this.keys.principalsChanged(sql);
          },
        );
        this.keys.changed();
        return next;
      } catch (e) {
        if (!(e instanceof PrincipalChanged)) throw e;
      }
    }
    throw new PrincipalChangedError();
  }
}
