import { Injectable } from '@nestjs/common';
import type { Sql } from '../ledger';
import type { HoldState } from './hold.decider';
import { HoldStore, lockHoldsOf } from './hold.store';

/**
 * The holds context's port for work that a hold may block (deletion): which holds stand, and the
 * lock that hold placement takes too. Taken in the worker's transaction before it reads, the lock
 * makes a hold committed meanwhile either block the work or come after it. Nothing here changes a
 * hold.
 */
@Injectable()
export class HoldsReader {
  constructor(private readonly store: HoldStore) {}

  /** Holds in force on `tenant`, its own and those on every tenant (`*`), on `sql` when given. */
  activeFor(tenant: string, sql?: Sql): Promise<HoldState[]> {
    return this.store.activeFor(tenant, sql);
  }

  /** Which of `ids` are holds still in force. */
  activeIds(ids: readonly string[]): Promise<Set<string>> {
    return this.store.activeIds(ids);
  }

  /** Waits, in the transaction of `sql`, for changes to the holds of `tenant` to commit, and holds them off until it ends. */
  lock(sql: Sql, tenant: string): Promise<void> {
    return lockHoldsOf(sql, tenant);
  }
}
