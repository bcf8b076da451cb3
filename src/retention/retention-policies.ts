import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { CATEGORIES } from '../events/event-catalogue';
import type { Sql } from '../ledger/log-store';
import { defaultPolicy, isCategory } from './retention-defaults';
import { RetentionMode, RetentionPolicy } from './retention-policy.decider';
import { UnknownCategoryError } from './retention.errors';

/** A policy in force, and where it comes from: the code's default, or a row an admin set. */
export interface RetentionPolicyRecord extends RetentionPolicy {
  readonly source: 'default' | 'set';
  /** When and by whom it was last set (rows only). */
  readonly updatedAt?: string;
  readonly updatedBy?: { readonly type: string; readonly id: string };
}

interface PolicyRow {
  category: string;
  min_days: number;
  max_days: number | null;
  mode: RetentionMode;
  updated_at: Date;
  updated_by: string;
}

function recordOf(row: PolicyRow): RetentionPolicyRecord {
  const colon = row.updated_by.indexOf(':');
  return {
    category: row.category,
    minDays: row.min_days,
    maxDays: row.max_days,
    mode: row.mode,
    source: 'set',
    updatedAt: row.updated_at.toISOString(),
    updatedBy:
      colon < 0
        ? { type: 'unknown', id: row.updated_by }
        : { type: row.updated_by.slice(0, colon), id: row.updated_by.slice(colon + 1) },
  };
}

const COLUMNS = 'category, min_days, max_days, mode, updated_at, updated_by';

/**
 * The retention policy of every category: the `retention_policies` row when an admin set one, the
 * default of retention-defaults.ts otherwise. Read fresh on every call (a purge reads once per run).
 */
@Injectable()
export class RetentionPolicies {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /** Every declared category's policy, in catalogue order. Rows of undeclared categories are ignored. */
  async all(sql: Sql = (text, params) => this.db.query(text, params)): Promise<Map<string, RetentionPolicyRecord>> {
    const rows = (await sql(`SELECT ${COLUMNS} FROM retention_policies`)) as unknown as PolicyRow[];
    const set = new Map(rows.map((row) => [row.category, row]));
    const policies = new Map<string, RetentionPolicyRecord>();
    for (const category of CATEGORIES) {
      const row = set.get(category);
      policies.set(category, row ? recordOf(row) : { ...defaultPolicy(category), source: 'default' });
    }
    return policies;
  }

  /** The policy of `category`; UnknownCategoryError when the catalogue does not declare it. */
  async get(
    category: string,
    sql: Sql = (text, params) => this.db.query(text, params),
  ): Promise<RetentionPolicyRecord> {
    if (!isCategory(category)) throw new UnknownCategoryError(category);
    const rows = (await sql(`SELECT ${COLUMNS} FROM retention_policies WHERE category = $1`, [
      category,
    ])) as unknown as PolicyRow[];
    return rows[0] ? recordOf(rows[0]) : { ...defaultPolicy(category), source: 'default' };
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
    const params = [next.category, next.minDays, next.maxDays, next.mode, at, `${by.type}:${by.id}`];
    const rows =
      current.source === 'default'
        ? await sql(
            `INSERT INTO retention_policies (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (category) DO NOTHING RETURNING category`,
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
}
