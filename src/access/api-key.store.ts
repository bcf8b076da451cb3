import { Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { EntityManager, Like, Repository } from 'typeorm';
import type { Sql } from '../ledger';
import { DatabasePool } from '../platform';
import { ApiKeyRow } from './api-key.row';
import { hashKeySecret, sameSecretHash } from './api-key-secret';
import { ApiKeyState } from './keys/api-key.decider';
import { Principal } from './roles';

/** An API key as listed: never its secret or hash. */
export type ApiKeyRecord = ApiKeyState;

// How long an authenticated key is trusted without asking the database again. Only while this
// process listens for key changes: every rotation and revocation notifies, and a notification
// empties the cache, so a dead key stops working everywhere as soon as PostgreSQL delivers it.
const CACHE_MS = 1000;
const CHANNEL = 'audit_api_keys';
const RELISTEN_MS = 1000;

function toRecord(row: ApiKeyRow): ApiKeyRecord {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    roles: row.roles,
    tenants: row.tenants,
    createdAt: row.createdAt.toISOString(),
    createdBy: row.createdBy,
    rotatedAt: row.rotatedAt?.toISOString() ?? null,
    expiresAt: row.expiresAt?.toISOString() ?? null,
    revokedAt: row.revokedAt?.toISOString() ?? null,
  };
}

/** The row of `key` with `secretHash`; every column but the hash is the key's state. */
function toRow(key: ApiKeyState, secretHash: Buffer): ApiKeyRow {
  const date = (iso: string | null) => (iso === null ? null : new Date(iso));
  return Object.assign(new ApiKeyRow(), {
    id: key.id,
    name: key.name,
    prefix: key.prefix,
    secretHash,
    roles: [...key.roles],
    tenants: [...key.tenants],
    createdAt: new Date(key.createdAt),
    createdBy: key.createdBy,
    rotatedAt: date(key.rotatedAt),
    expiresAt: date(key.expiresAt),
    revokedAt: date(key.revokedAt),
  });
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
    @InjectRepository(ApiKeyRow) private readonly rows: Repository<ApiKeyRow>,
    private readonly pool: DatabasePool,
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
    const client = this.pool.dedicatedClient();
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

  /**
   * The principal of a live (not revoked, not expired at `now`, the caller's clock) key with this
   * secret, or null.
   */
  async authenticate(secret: string, now: Date): Promise<Principal | null> {
    const at = now.getTime();
    const hash = hashKeySecret(secret);
    const cacheKey = hash.toString('base64');
    const cached = this.cache.get(cacheKey);
    if (cached && cached.until > at) return cached.principal;
    const generation = this.generation;
    const row = await this.rows.findOneBy({ secretHash: hash });
    const live =
      row !== null &&
      sameSecretHash(row.secretHash, hash) &&
      row.revokedAt === null &&
      (row.expiresAt === null || row.expiresAt.getTime() > at);
    const principal: Principal | null = live
      ? {
          keyId: row.id,
          name: row.name,
          roles: row.roles,
          tenants: row.tenants,
          expiresAt: row.expiresAt?.toISOString() ?? null,
        }
      : null;
    if (this.listener !== null && generation === this.generation) {
      if (this.cache.size > 10_000) this.cache.clear();
      const until = Math.min(at + CACHE_MS, row?.expiresAt?.getTime() ?? Infinity);
      this.cache.set(cacheKey, { principal, until });
    }
    return principal;
  }

  async find(id: string): Promise<ApiKeyRecord | undefined> {
    const row = await this.rows.findOneBy({ id });
    return row === null ? undefined : toRecord(row);
  }

  /** Every key, or those whose public prefix starts with `prefix` (filtered in the database). */
  async list(prefix?: string): Promise<ApiKeyRecord[]> {
    const rows = await this.rows.find({
      // LIKE's escape character is the backslash: a prefix matches itself, not a pattern.
      where: prefix === undefined ? {} : { prefix: Like(`${prefix.replace(/[\\%_]/g, '\\$&')}%`) },
      order: { createdAt: 'ASC', id: 'ASC' },
    });
    return rows.map(toRecord);
  }

  // The three changes below run inside the Sequencer's append transaction, which hands its effect
  // a `Sql` function and no EntityManager: they stay SQL, and say in the statement what they guard.

  /**
   * Stores a key (its hash only) inside the caller's transaction. Returns false when a key with
   * this secret already exists.
   */
  async insert(sql: Sql, key: ApiKeyState, secret: string): Promise<boolean> {
    const rows = await sql(
      `INSERT INTO api_keys (id, name, prefix, secret_hash, roles, tenants, created_at, created_by, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (secret_hash) DO NOTHING RETURNING id`,
      [
        key.id,
        key.name,
        key.prefix,
        hashKeySecret(secret),
        key.roles,
        key.tenants,
        key.createdAt,
        key.createdBy,
        key.expiresAt,
      ],
    );
    return rows.length === 1;
  }

  /**
   * Replaces the secret of a live key inside the caller's transaction; every process forgets the
   * old one at commit. Returns false when the key was revoked meanwhile.
   */
  async rotate(sql: Sql, id: string, prefix: string, secret: string, at: string): Promise<boolean> {
    const rows = await sql(
      `WITH changed AS (UPDATE api_keys SET secret_hash = $2, prefix = $3, rotated_at = $4
       WHERE id = $1 AND revoked_at IS NULL RETURNING id) SELECT id FROM changed`,
      [id, hashKeySecret(secret), prefix, at],
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

  /** Keeps every key change out until the caller's transaction ends (the rebuild); reads go on. */
  async lockForRebuild(manager: EntityManager): Promise<void> {
    await manager.query('LOCK TABLE api_keys IN EXCLUSIVE MODE');
  }

  /**
   * Makes the table exactly `keys` inside the caller's transaction (the rebuild): a row without a
   * key is deleted, and every key's columns are its state. Each key keeps the secret hash its row
   * has; a key without a row gets the hash of no secret anyone holds (32 random bytes, never shown),
   * so it is listed and may be revoked, and works again only once rotated. Returns the ids of
   * those keys. Every process forgets its cached keys at commit.
   */
  async replaceAll(manager: EntityManager, keys: readonly ApiKeyState[]): Promise<string[]> {
    const repository = manager.getRepository(ApiKeyRow);
    const hashes = new Map(
      (await repository.find({ select: { id: true, secretHash: true } })).map((row) => [row.id, row.secretHash]),
    );
    const ids = keys.map((key) => key.id);
    // Rows of keys the ledger never created.
    await repository
      .createQueryBuilder()
      .delete()
      .where(ids.length === 0 ? 'true' : 'id NOT IN (:...ids)', { ids })
      .execute();
    const withoutSecret = ids.filter((id) => !hashes.has(id));
    if (keys.length > 0)
      await repository.upsert(
        keys.map((key) => toRow(key, hashes.get(key.id) ?? randomBytes(32))),
        ['id'],
      );
    await this.notify((text, params) => manager.query(text, params));
    return withoutSecret;
  }

  // Updates are wrapped in `SELECT ... FROM changed` because TypeORM answers a bare UPDATE with
  // [rows, count], a SELECT with rows.
  private async notify(sql: Sql): Promise<void> {
    // Delivered to every listening process when the transaction commits, never before.
    await sql(`SELECT pg_notify('${CHANNEL}', '')`);
  }
}
