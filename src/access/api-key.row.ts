import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { Role } from './roles';

/**
 * A row of `api_keys` (migrations Ledger, ApiKeyRotation and Principals). Every column but `secret_hash` is
 * the fold of the key's `api_keys` entries in the `platform` log (RebuildApiKeys).
 */
@Entity({ name: 'api_keys' })
export class ApiKeyRow {
  @PrimaryColumn('uuid')
  id: string;

  @Column('text')
  name: string;

  @Column('text')
  prefix: string;

  /** SHA-256 of the secret: the one column the ledger never sees. */
  @Column('bytea', { name: 'secret_hash', unique: true })
  secretHash: Buffer;

  @Column('text', { array: true })
  roles: Role[];

  @Column('text', { array: true })
  tenants: string[];

  @Column('timestamptz', { name: 'created_at' })
  createdAt: Date;

  @Column('uuid', { name: 'created_by', nullable: true })
  createdBy: string | null;

  @Column('timestamptz', { name: 'rotated_at', nullable: true })
  rotatedAt: Date | null;

  @Column('timestamptz', { name: 'expires_at', nullable: true })
  expiresAt: Date | null;

  @Column('timestamptz', { name: 'revoked_at', nullable: true })
  revokedAt: Date | null;

  /** Null only for a key older than principals, until the service adopts it at start. */
  @Column('uuid', { name: 'principal_id', nullable: true })
  principalId: string | null;

  @Column('uuid', { name: 'known_to', array: true })
  knownTo: string[];
}
