import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { EntityManager, Repository } from 'typeorm';
import { CATEGORIES } from '../events';
import type { Sql } from '../ledger';
import { defaultPolicy, isCategory } from './retention-defaults';
import { RetentionPolicyRow } from './retention-policy.entity';
import { RetentionPolicy } from './retention-policy.decider';
import { RetentionRebuildRefusedError, UnknownCategoryError } from './retention.errors';

/** A policy in force, and where it comes from: the code's default, or a row an admin set. */
export interface RetentionPolicyRecord extends RetentionPolicy {
  readonly source: 'default' | 'set';
  /** When and by whom it was last set (rows only). */
  readonly updatedAt?: string;
  readonly updatedBy?: { readonly type: string; readonly id: string };
}

/** `updated_by` of a change by `by`: the actor of its ledger entry. */
export function updatedByOf(by: { readonly type: string; readonly id: string }): string {
  return `${by.type}:${by.id}`;
}

function recordOf(row: RetentionPolicyRow): RetentionPolicyRecord {
  const colon = row.updatedBy.indexOf(':');
  return {
    category: row.category,
    minDays: row.minDays,
    maxDays: row.maxDays,
    mode: row.mode,
    source: 'set',
    updatedAt: row.updatedAt.toISOString(),
    updatedBy:
      colon < 0
        ? { type: 'unknown', id: row.updatedBy }
        : { type: row.updatedBy.slice(0, colon), id: row.updatedBy.slice(colon + 1) },
  };
}

/**
 * The retention policy of every category: the `retention_policies` row when an admin set one, the
 * default of retention-defaults.ts otherwise. Read fresh on every call (a purge reads once per run).
 */
@Injectable()
export class RetentionPolicies {
  constructor(@InjectRepository(RetentionPolicyRow) private readonly rows: Repository<RetentionPolicyRow>) {}

  /** Every declared category's policy, in catalogue order. Rows of undeclared categories are ignored. */
  async all(): Promise<Map<string, RetentionPolicyRecord>> {
    const set = new Map((await this.rows.find()).map((row) => [row.category, row]));
    const policies = new Map<string, RetentionPolicyRecord>();
    for (const category of CATEGORIES) {
      const row = set.get(category);
      policies.set(category, row ? recordOf(row) : { ...defaultPolicy(category), source: 'default' });
    }
    return policies;
  }

  /** The policy of `category`; UnknownCategoryError when the catalogue does not declare it. */
  async get(category: string): Promise<RetentionPolicyRecord> {
    if (!isCategory(category)) throw new UnknownCategoryError(category);
    const row = await this.rows.findOneBy({ category });
    return row ? recordOf(row) : { ...defaultPolicy(category), source: 'default' };
  }

  /**
   * Writes `next` inside the caller's transaction, only over the terms `current` had (no row, for
   * a default). Returns false when another change committed first: the caller decides again.
   */
  async save(
    sql: Sql,
    current: RetentionPolicyRecord,
    next: RetentionPolicy,
    by: { type: string; id: string },
    at: Date,
  ): Promise<boolean> {
    // Raw SQL: the sequencer's transaction hands its effect an `Sql` function, not an
    // EntityManager, and the compare-and-set must commit with the entry or not at all.
    const params = [next.category, next.minDays, next.maxDays, next.mode, at, updatedByOf(by)];
    const rows =
      current.source === 'default'
        ? await sql(
            `INSERT INTO retention_policies (category, min_days, max_days, mode, updated_at, updated_by)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (category) DO NOTHING RETURNING category`,
            params,
          )
        : await sql(
            `WITH changed AS (
               UPDATE retention_policies SET min_days = $2, max_days = $3, mode = $4, updated_at = $5, updated_by = $6
               WHERE category = $1 AND min_days = $7 AND max_days IS NOT DISTINCT FROM $8::int AND mode = $9 RETURNING category)
             SELECT category FROM changed`,
            [...params, current.minDays, current.maxDays, current.mode],
          );
    return rows.length === 1;
  }

  /** Keeps every policy change out until the caller's transaction ends (the rebuild). */
  async lockForRebuild(tx: EntityManager): Promise<void> {
    // Raw SQL: TypeORM locks rows, not tables. A change inserts or updates in its entry's
    // transaction; EXCLUSIVE makes it wait, so it is either in the rebuild's scan or after it.
    await tx.query('LOCK TABLE retention_policies IN EXCLUSIVE MODE');
  }

  /**
   * Makes the table exactly `rows` inside the caller's transaction (the rebuild), writing every
   * row: a row read back is compared to the millisecond only, PostgreSQL keeps microseconds. The runtime role may not delete a row, and PostgreSQL refuses to shorten a
   * compliance minimum or leave compliance: a table that only such a change would repair (a row
   * the ledger does not back, a compliance row stricter than its entries) is refused whole,
   * RetentionRebuildRefusedError naming the categories, and nothing is written.
   */
  async replaceAll(tx: EntityManager, rows: readonly RetentionPolicyRow[]): Promise<void> {
    const repository = tx.getRepository(RetentionPolicyRow);
    const live = new Map((await repository.find()).map((row) => [row.category, row]));
    const refused: string[] = [];
    for (const [category, row] of live) {
      const next = rows.find((r) => r.category === category);
      if (!next) refused.push(`${category}: a row no entry records`);
      else if (row.mode === 'compliance' && (next.mode !== 'compliance' || next.minDays < row.minDays))
        refused.push(
          `${category}: compliance minimum ${row.minDays} days, the ledger says ${next.minDays} (${next.mode})`,
        );
    }
    if (refused.length > 0) throw new RetentionRebuildRefusedError(refused);
    if (rows.length > 0) await repository.upsert([...rows], ['category']);
  }
}
