import { Injectable } from '@nestjs/common';
import { EventBus } from '@nestjs/cqrs';
import { Sequencer, type Sql } from '../ledger';
import { Notifier } from '../notifications';
import { NOTIFICATION_TYPES, NotificationType } from '../notifications';
import { HoldEvent, HoldState, applyHoldEvents } from './hold.decider';
import { holdEventEntry } from './hold.entries';
import { HoldReleased } from './hold-released.event';
import { HoldJournal } from './hold-journal';
import { HoldStore, lockHoldsOf } from './hold.store';
import { HoldChangedError } from './holds.errors';

// Concurrent changes to one hold are rare (people clicking); a few re-decisions are plenty.
const ATTEMPTS = 5;

/**
 * Applies a decision to a hold: the events go to the ledger and the new state to the projection
 * in one transaction, written only over the state the decision saw (else it is decided again).
 */
@Injectable()
export class HoldChanges {
  constructor(
    private readonly store: HoldStore,
    private readonly sequencer: Sequencer,
    private readonly notifier: Notifier,
    private readonly events: EventBus,
    private readonly journal: HoldJournal,
  ) {}

  /**
   * `id`: the hold to change, or undefined for a new one. `decide` gets the current state (if
   * any) and returns the events; none means nothing changes. `confirm`, inside the transaction,
   * may find that what the decision relied on outside the hold changed (HoldChangedError): it is
   * then decided again.
   */
  async apply(
    id: string | undefined,
    decide: (current: HoldState | undefined) => HoldEvent[] | Promise<HoldEvent[]>,
    confirm?: (sql: Sql) => Promise<void>,
  ): Promise<{ state: HoldState | undefined; events: HoldEvent[] }> {
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const current = id === undefined ? undefined : await this.store.find(id);
      const events = await decide(current);
      if (events.length === 0) return { state: current, events };
      const next = applyHoldEvents(current, events) as HoldState;
      try {
        const appended = await this.sequencer.append(
          events.map((event) => holdEventEntry(event, next)),
          async (sql) => {
            await lockHoldsOf(sql, next.tenant);
            if (!(await this.store.save(sql, next, current?.history.length ?? 0))) throw new HoldChangedError();
            await confirm?.(sql);
          },
        );
        // Outside the database, once committed: a restore of an older backup cannot forget it.
        await this.journal.record(next);
        // After commit, so a tool never hears of a change that did not happen.
        for (const [i, event] of events.entries()) {
          if (!(NOTIFICATION_TYPES as readonly string[]).includes(event.type)) continue;
          const { id, log, index } = appended[i];
          await this.notifier.notify({
            type: event.type as NotificationType,
            id,
            tenant: next.tenant,
            at: event.at,
            subjectRef: { type: 'hold', id: next.id },
            ledger: { log, index },
          });
        }
        if (next.status === 'released' && current?.status === 'active')
          this.events.publish(new HoldReleased(next.id, next.tenant));
        return { state: next, events };
      } catch (e) {
        if (!(e instanceof HoldChangedError)) throw e;
      }
    }
    throw new HoldChangedError();
  }
}
