import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import type { Sql } from '../ledger/log-store';
import { APP_CONFIG, AppConfig } from '../platform/config/app-config';
import { runtimeConnection } from '../platform/database/database-bootstrap';
import { hashKeySecret, sameSecretHash } from './api-key-secret';
import { ApiKeyState } from './keys/api-key.decider';
import { Principal, Role } from './roles';

/** An API key as listed: never its secret or hash. */
export interface ApiKeyRecord extends ApiKeyState {
  readonly createdAt: string;
  readonly createdBy: string | null;
  readonly rotatedAt: string | null;
}

interface KeyRow {
  id: string;
  name: string;
  prefix: string;
  secret_hash: Buffer;
  roles: Role[];
  tenants: string[];
  created_at: Date;
  created_by: string | null;
  rotated_at: Date | null;
  expires_at: Date | null;
  revoked_at: Date | null;
}

// How long an authenticated key is trusted without asking the database again. Only while this
// process listens for key changes: every rotation and revocation notifies, and a notification
// empties the cache, so a dead key stops working everywhere as soon as PostgreSQL delivers it.
const CACHE_MS = 1000;
const CHANNEL = 'audit_api_keys';
const RELISTEN_MS = 1000;

function toRecord(row: KeyRow): ApiKeyRecord {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    roles: row.roles,
    tenants: row.tenants,
    createdAt: row.created_at.toISOString(),
    createdBy: row.created_by,
    rotatedAt: row.rotated_at?.toISOString() ?? null,
    expiresAt: row.expires_at?.toISOString() ?? null,
    revokedAt: row.revoked_at?.toISOString() ?? null,
  };
}

/** Stored API keys (hashes only), authentication, and the cache of authenticated keys. */
@Injectable()
export class ApiKeyStore implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(ApiKeyStore.name);
  private readonly cache = new Map<string, { principal: Principal | null; until: number }>();
  // Bumped by every key change this process hears of; a lookup that raced one is not cached.
  private generation = 0;
  private listener: Client | null = null;
  private relisten: NodeJS.Timeout | null = null;
  private stopped = false;
  private listenWarned = false;

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async onModuleInit(): Promise<void> {
    await this.listen();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    if (this.relisten) clearTimeout(this.relisten);
    await this.listener?.end().catch(() => undefined);
  }

  private async listen(): Promise<void> {
    const connection = runtimeConnection(this.config.databaseUrl, this.config.runtimeDatabaseUrl);
    // Bounded: a connect that hangs (PostgreSQL unreachable) must not stop the retries.
    const client = new Client({
      connectionString: connection.url,
      connectionTimeoutMillis: 5_000,
      keepAlive: true,
      ...connection.extra,
    });
    const lost = () => {
      if (this.listener !== client) return;
      this.listener = null;
      this.forget();
      client.end().catch(() => undefined);
      if (!this.stopped) this.relisten = setTimeout(() => void this.listen(), RELISTEN_MS);
    };
    client.on('error', lost);
    client.on('end', lost);
    client.on('notification', () => this.forget());
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANNEL}`);
      this.listener = client;
      this.listenWarned = false;
      // Changes made before LISTEN took effect may be cached already.
      this.forget();
    } catch {
      // Said once per loss, not on every retry while PostgreSQL is away.
      if (!this.listenWarned)
        this.logger.warn(
          'cannot listen for API key changes; authenticating every request against the database until it can',
        );
      this.listenWarned = true;
      await client.end().catch(() => undefined);
      if (!this.stopped) this.relisten = setTimeout(() => void this.listen(), RELISTEN_MS);
    }
  }

  private forget(): void {
    this.generation++;
    this.cache.clear();
  }

  /**
   * Called once a key change has committed: this process forgets what it cached without waiting
   * for its own notification, so the next request here already sees the change.
   */
  changed(): void {
    this.forget();
  }

  /** The principal of a live (not revoked, not expired) key with this secret, or null. */
  async authenticate(secret: string, now = Date.now()): Promise<Principal | null> {
    const hash = hashKeySecret(secret);
    const cacheKey = hash.toString('base64');
    const cached = this.cache.get(cacheKey);
    if (cached && cached.until > now) return cached.principal;
    const generation = this.generation;
    const rows: KeyRow[] = await this.db.query('SELECT * FROM api_keys WHERE secret_hash = $1', [hash]);
    const row = rows[0];
    const live =
      row !== undefined &&
      sameSecretHash(row.secret_hash, hash) &&
      row.revoked_at === null &&
      (row.expires_at === null || row.expires_at.getTime() > now);
    const principal: Principal | null = live
      ? {
          keyId: row.id,
          name: row.name,
          roles: row.roles,
          tenants: row.tenants,
          expiresAt: row.expires_at?.toISOString() ?? null,
        }
      : null;
    if (this.listener !== null && generation === this.generation) {
      if (this.cache.size > 10_000) this.cache.clear();
      const until = Math.min(now + CACHE_MS, row?.expires_at?.getTime() ?? Infinity);
      this.cache.set(cacheKey, { principal, until });
    }
    return principal;
  }

  async find(id: string): Promise<ApiKeyRecord | undefined> {
    const rows: KeyRow[] = await this.db.query('SELECT * FROM api_keys WHERE id = $1', [id]);
    return rows[0] && toRecord(rows[0]);
  }

  /** Every key, or those whose public prefix starts with `prefix` (filtered in the database). */
  async list(prefix?: string): Promise<ApiKeyRecord[]> {
    const rows: KeyRow[] =
      prefix === undefined
        ? await this.db.query('SELECT * FROM api_keys ORDER BY created_at, id')
        : await this.db.query(`SELECT * FROM api_keys WHERE prefix LIKE $1 || '%' ORDER BY created_at, id`, [
            prefix.replace(/[\\%_]/g, '\\$&'),
          ]);
    return rows.map(toRecord);
  }

  /**
   * Stores a key (its hash only) inside the caller's transaction. Returns false when a key with
   * this secret already exists.
   */
  async insert(sql: Sql, key: ApiKeyState, secret: string, createdBy: string | null): Promise<boolean> {
    const rows = await sql(
      `INSERT INTO api_keys (id, name, prefix, secret_hash, roles, tenants, created_by, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (secret_hash) DO NOTHING RETURNING id`,
      [key.id, key.name, key.prefix, hashKeySecret(secret), key.roles, key.tenants, createdBy, key.expiresAt],
    );
    return rows.length === 1;
  }

  /**
   * Replaces the secret of a live key inside the caller's transaction; every process forgets the
   * old one at commit. Returns false when the key was revoked meanwhile.
   */
  async rotate(sql: Sql, id: string, prefix: string, secret: string): Promise<boolean> {
    const rows = await sql(
      `WITH changed AS (UPDATE api_keys SET secret_hash = $2, prefix = $3, rotated_at = now()
       WHERE id = $1 AND revoked_at IS NULL RETURNING id) SELECT id FROM changed`,
      [id, hashKeySecret(secret), prefix],
    );
    await this.notify(sql);
    return rows.length === 1;
  }

  /**
   * Revokes a key inside the caller's transaction; every process forgets it at commit. Returns
   * false when it was revoked already.
   */
  async revoke(sql: Sql, id: string, at: string): Promise<boolean> {
    const rows = await sql(
      'WITH changed AS (UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL RETURNING id) SELECT id FROM changed',
      [id, at],
    );
    await this.notify(sql);
    return rows.length === 1;
  }

  // Updates are wrapped in `SELECT ... FROM changed` because TypeORM answers a bare UPDATE with
  // [rows, count], a SELECT with rows.
  private async notify(sql: Sql): Promise<void> {
    // Delivered to every listening process when the transaction commits, never before.
    await sql(`SELECT pg_notify('${CHANNEL}', '')`);
  }
}
