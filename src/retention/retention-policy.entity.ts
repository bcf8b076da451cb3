import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { RetentionMode } from './retention-policy.decider';

/**
 * A row of `retention_policies` (migrations/1764547200000-retention.ts), the projection of the
 * category's `retention.policy_changed` entries: the terms of the last one, its `occurredAt` and
 * actor. A category without a row has its default. The schema is the migration's; TypeORM only maps it.
 */
@Entity({ name: 'retention_policies' })
export class RetentionPolicyRow {
  @PrimaryColumn({ type: 'text' })
  category: string;

  @Column({ name: 'min_days', type: 'integer' })
  minDays: number;

  @Column({ name: 'max_days', type: 'integer', nullable: true })
  maxDays: number | null;

  @Column({ type: 'text' })
  mode: RetentionMode;

  @Column({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;

  /** `<actor type>:<actor id>` of the entry, e.g. `api_key:0192…`. */
  @Column({ name: 'updated_by', type: 'text' })
  updatedBy: string;
}
