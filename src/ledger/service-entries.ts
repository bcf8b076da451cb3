import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { LedgerEntry, decodeLeaf } from '@audit/ledger';
import { DataSource, EntityManager } from 'typeorm';
import { SERVICE_SOURCE } from './append-plan';
import type { Sql } from './log-store';

/** A rebuild's transaction, as TypeORM's manager and as plain SQL (stores take one or the other). */
export interface RebuildTransaction {
  readonly manager: EntityManager;
  readonly sql: Sql;
}

/**
 * The ledger's port for projections rebuilt from the ledger alone (holds, keys, retention policies,
 * deletion requests): the service's own entries of a category, decoded, in log and index order.
 * It runs on the caller's transaction, so that a projection that locks its table first sees every
 * change either in this scan or after its rebuild.
 */
@Injectable()
export class ServiceEntries {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  async ofCategory(sql: Sql, category: string): Promise<LedgerEntry[]> {
    // A scan of every leaf: a rebuild is rare (a lost or suspect projection), and correct first.
    const rows = await sql(
      `SELECT leaf FROM entries WHERE convert_from(leaf, 'UTF8')::jsonb @> jsonb_build_object('category', $1::text, 'source', $2::text) ORDER BY log, idx`,
      [category, SERVICE_SOURCE],
    );
    return rows.map((row) => decodeLeaf(row.leaf as Buffer));
  }

  /**
   * Rebuild a projection in one transaction: `lock` its table, scan `category`, and `fold` the
   * entries into the table. Changes write the table in the transaction of their entries: with the
   * table locked first, every change is either in the scan or waits for the rebuild.
   */
  async rebuild<T>(
    lock: (tx: RebuildTransaction) => Promise<void>,
    category: string,
    fold: (entries: LedgerEntry[], tx: RebuildTransaction) => Promise<T>,
  ): Promise<T> {
    return this.db.transaction(async (manager) => {
      const tx: RebuildTransaction = { manager, sql: (text, params) => manager.query(text, params) };
      await lock(tx);
      return fold(await this.ofCategory(tx.sql, category), tx);
    });
  }
}

/**
 * A rebuild's fold: `events` one key at a time, in their order. A key's state is `evolve` of its
 * state so far (undefined before its first event) and the event; the states by key, in the order
 * the keys first appear.
 */
export function foldBy<E, S>(
  events: Iterable<E>,
  keyOf: (event: E) => string,
  evolve: (state: S | undefined, event: E) => S,
): Map<string, S> {
  const states = new Map<string, S>();
  for (const event of events) {
    const key = keyOf(event);
    states.set(key, evolve(states.get(key), event));
  }
  return states;
}
