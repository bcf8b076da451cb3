import { Command, CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { InjectDataSource } from '@nestjs/typeorm';
import { decodeLeaf } from '@audit/ledger';
import { DataSource } from 'typeorm';
import { SERVICE_SOURCE } from '../ledger/append-plan';
import { HoldState, evolve } from './hold.decider';
import { fromHoldEntry } from './hold.entries';
import { HoldStore } from './hold.store';

/** Rebuild the `holds` projection from the ledger alone. */
export class RebuildHolds extends Command<{ holds: number; events: number }> {}

@CommandHandler(RebuildHolds)
export class RebuildHoldsHandler implements ICommandHandler<RebuildHolds> {
  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly store: HoldStore,
  ) {}

  async execute(): Promise<{ holds: number; events: number }> {
    return this.db.transaction(async (tx) => {
      const sql = (text: string, params?: unknown[]) => tx.query(text, params);
      // Hold changes write the projection in the transaction of their entries: with the table
      // locked first, every change is either in the scan below or waits for the rebuild.
      await this.store.lockForRebuild(sql);
      // A scan of every leaf: a rebuild is rare (a lost or suspect projection), and correct first.
      const rows: { leaf: Buffer }[] = await sql(
        `SELECT leaf FROM entries WHERE convert_from(leaf, 'UTF8')::jsonb @> jsonb_build_object('category', 'holds', 'source', $1::text) ORDER BY log, idx`,
        [SERVICE_SOURCE],
      );
      const holds = new Map<string, HoldState>();
      for (const row of rows) {
        const event = fromHoldEntry(decodeLeaf(row.leaf));
        holds.set(event.id, evolve(holds.get(event.id), event));
      }
      await this.store.replaceAll(sql, [...holds.values()]);
      return { holds: holds.size, events: rows.length };
    });
  }
}
