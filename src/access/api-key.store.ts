import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { hashKeySecret, sameSecretHash } from './api-key-secret';
import { Principal, Role } from './roles';

/** An API key as listed: never its secret or hash. */
export interface ApiKeyRecord {
  readonly id: string;
  readonly name: string;
  readonly prefix: string;
  readonly roles: Role[];
  readonly tenants: string[];
  readonly createdAt: string;
  readonly expiresAt: string | null;
  readonly revokedAt: string | null;
}

interface KeyRow {
  id: string;
  name: string;
  prefix: string;
  secret_hash: Buffer;
  roles: Role[];
  tenants: string[];
  created_at: Date;
  expires_at: Date | null;
  revoked_at: Date | null;
}

// How long an authenticated key is trusted without asking the database again. Revocation in
// this process is immediate (the cache entry is dropped); other processes see it within this.
const CACHE_MS = 1000;

function toRecord(row: KeyRow): ApiKeyRecord {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    roles: row.roles,
    tenants: row.tenants,
    createdAt: row.created_at.toISOString(),
    expiresAt: row.expires_at?.toISOString() ?? null,
    revokedAt: row.revoked_at?.toISOString() ?? null,
  };
}

@Injectable()
export class ApiKeyStore {
  private readonly cache = new Map<string, { principal: Principal | null; until: number }>();

  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /** The principal of a live (not revoked, not expired) key with this secret, or null. */
  async authenticate(secret: string, now = Date.now()): Promise<Principal | null> {
    const hash = hashKeySecret(secret);
    const cacheKey = hash.toString('base64');
    const cached = this.cache.get(cacheKey);
    if (cached && cached.until > now) return cached.principal;
    const rows: KeyRow[] = await this.db.query('SELECT * FROM api_keys WHERE secret_hash = $1', [hash]);
    const row = rows[0];
    const live =
      row !== undefined &&
      sameSecretHash(row.secret_hash, hash) &&
      row.revoked_at === null &&
      (row.expires_at === null || row.expires_at.getTime() > now);
    const principal = live ? { keyId: row.id, name: row.name, roles: row.roles, tenants: row.tenants } : null;
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(cacheKey, { principal, until: now + CACHE_MS });
    return principal;
  }

  /** Stores a key (its hash only). Returns false when a key with this secret already exists. */
  async insert(key: { id: string; name: string; prefix: string; secret: string; roles: Role[]; tenants: string[]; createdBy: string | null; expiresAt: string | null }): Promise<boolean> {
    const rows: unknown[] = await this.db.query(
      `INSERT INTO api_keys (id, name, prefix, secret_hash, roles, tenants, created_by, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (secret_hash) DO NOTHING RETURNING id`,
      [key.id, key.name, key.prefix, hashKeySecret(key.secret), key.roles, key.tenants, key.createdBy, key.expiresAt],
    );
    this.cache.clear();
    return rows.length === 1;
  }

  async list(): Promise<ApiKeyRecord[]> {
    const rows: KeyRow[] = await this.db.query('SELECT * FROM api_keys ORDER BY created_at, id');
    return rows.map(toRecord);
  }
}
