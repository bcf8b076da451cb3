import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { DeletionKind, DeletionStatus, RecordedOutcome } from './deletion-request.decider';
import type { BlockReason } from './erasure-plan';

/** A row of `deletion_requests` (migrations/1764633600000-deletion.ts): mapped for plain reads and transitions. */
@Entity('deletion_requests')
export class DeletionRequestRow {
  @PrimaryColumn('text')
  tenant!: string;

  @PrimaryColumn('uuid')
  id!: string;

  @Column('text')
  kind!: DeletionKind;

  @Column('text', { nullable: true })
  subject!: string | null;

  @Column('text')
  reason!: string;

  @Column('jsonb', { name: 'requested_by' })
  requestedBy!: { keyId: string | null; name: string };

  @Column('timestamptz', { name: 'requested_at' })
  requestedAt!: Date;

  @Column('text')
  status!: DeletionStatus;

  @Column('integer')
  erased!: number;

  @Column('integer')
  blocked!: number;

  @Column('jsonb', { name: 'blocked_by' })
  blockedBy!: BlockReason[];

  @Column('jsonb', { nullable: true })
  receipt!: unknown;

  @Column('text', { name: 'receipt_digest', nullable: true })
  receiptDigest!: string | null;

  @Column('timestamptz', { name: 'retry_at', nullable: true })
  retryAt!: Date | null;

  @Column('jsonb', { nullable: true })
  recorded!: RecordedOutcome | null;

  @Column('timestamptz', { name: 'updated_at' })
  updatedAt!: Date;
}

/** A row of `closed_tenants`. */
@Entity('closed_tenants')
export class ClosedTenantRow {
  @PrimaryColumn('text')
  tenant!: string;

  @Column('timestamptz', { name: 'closed_at' })
  closedAt!: Date;

  @Column('uuid', { name: 'request_id' })
  requestId!: string;
}
