import { Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { EntityManager, IsNull, Like, Repository } from 'typeorm';
import type { Sql } from '../ledger';
import { DatabasePool } from '../platform';
import { ApiKeyRow } from './api-key.row';
import { hashKeySecret, sameSecretHash } from './api-key-secret';
import { ApiKeyState } from './keys/api-key.decider';
import { GrantState, rolesOver } from './principals/principal.decider';
import { Principal, PrincipalKind, Role } from './roles';

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
    principal: row.principalId,
    knownTo: row.knownTo,
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
    principalId: key.principal,
    knownTo: [...key.knownTo],
  });
}

// A key with what its principal is and holds now: authentication and `standing` read the same.
const KEY_WITH_PRINCIPAL = `
  SELECT k.id, k.name, k.secret_hash, k.roles, k.tenants, k.expires_at, k.revoked_at, k.known_to,
         p.id AS principal_id, p.name AS principal_name, p.kind AS principal_kind,
         p.revoked_at AS principal_revoked_at,
         COALESCE((SELECT json_agg(json_build_object('role', g.role, 'tenants', g.tenants))
                   FROM grants g WHERE g.principal_id = p.id AND g.status = 'active'), '[]') AS grants
  FROM api_keys k JOIN principals p ON p.id = k.principal_id`;

interface KeyWithPrincipal {
  id: string;
  name: string;
  secret_hash: Buffer;
  roles: Role[];
  tenants: string[];
  expires_at: Date | null;
  revoked_at: Date | null;
  known_to: string[];
  principal_id: string;
  principal_name: string;
  principal_kind: PrincipalKind;
  principal_revoked_at: Date | null;
  grants: { role: Role; tenants: string[] }[];
}

/** How a stored key acts at `at` (ms), or null when it cannot act at all. */
function actingPrincipal(row: KeyWithPrincipal, at: number): Principal | null {
  const live =
    row.revoked_at === null &&
    row.principal_revoked_at === null &&
    (row.expires_at === null || row.expires_at.getTime() > at);
  if (!live) return null;
  const grants = row.grants.map((grant) => ({ ...grant, status: 'active' as const }));
  const held = rolesOver(grants as unknown as GrantState[], row.tenants);
  return {
    keyId: row.id,
    keyName: row.name,
    principalId: row.principal_id,
    name: row.principal_name,
    kind: row.principal_kind,
    roles: row.roles.filter((role) => held.includes(role)),
    tenants: row.tenants,
    expiresAt: row.expires_at?.toISOString() ?? null,
    knownTo: row.known_to,
  };
}

/** Stored API keys (hashes only), authentication, and the cache of authenticated keys. */
@Injectable()
export class ApiKeyStore implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(ApiKeyStore.name);
  private readonly cache = new Map<string, { principal: Principal | null; until: number }>();
  // Bumped by every key change this process hears of; a lookup that raced one is not cached.
  private generation = 0;
  // Lookups in flight, by secret hash. Requests that arrive together while a key's cache entry has
  // expired share one query rather than each sending its own (under load, hundreds a second for one
  // emitter's key, each on the path before its append). Emptied with the cache on every key change,
  // so no request joins a lookup that started before a change it has heard of.
  private readonly lookups = new Map<string, Promise<KeyWithPrincipal | undefined>>();
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
    this.lookups.clear();
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
   * secret, acting with what the key carries and its principal's active grants still cover; null
   * for an unknown or dead key, or one whose principal is revoked.
   */
  async authenticate(secret: string, now: Date): Promise<Principal | null> {
    const at = now.getTime();
    const hash = hashKeySecret(secret);
    const cacheKey = hash.toString('base64');
    const cached = this.cache.get(cacheKey);
    if (cached && cached.until > at) return cached.principal;
    const generation = this.generation;
    const row = await this.lookup(cacheKey, hash);
    // Each caller judges the shared row at its own `now` (expiry).
    const principal = row !== undefined && sameSecretHash(row.secret_hash, hash) ? actingPrincipal(row, at) : null;
    if (this.listener !== null && generation === this.generation) {
      if (this.cache.size > 10_000) this.cache.clear();
      const until = Math.min(at + CACHE_MS, row?.expires_at?.getTime() ?? Infinity);
      this.cache.set(cacheKey, { principal, until });
    }
    return principal;
  }

  /** The key row with this secret hash and its principal, from the lookup in flight if there is one. */
  private lookup(cacheKey: string, hash: Buffer): Promise<KeyWithPrincipal | undefined> {
    const pending = this.lookups.get(cacheKey);
    if (pending !== undefined) return pending;
    const query = this.rows
      .query(`${KEY_WITH_PRINCIPAL} WHERE k.secret_hash = $1`, [hash])
      .then((rows: KeyWithPrincipal[]) => rows[0]);
    this.lookups.set(cacheKey, query);
    const done = () => {
      if (this.lookups.get(cacheKey) === query) this.lookups.delete(cacheKey);
    };
    query.then(done, done);
    return query;
  }

  /**
   * How each of these keys would act at `now`: its principal as `authenticate` would answer, or
   * null when the key, its principal or everything it carried is gone. With `sql` (inside a
   * transaction), the rows read are locked against revocation until it ends, so a decision that
   * counted a key cannot race the key's or its principal's revocation.
   */
  async standing(keyIds: readonly string[], now: Date, sql?: Sql): Promise<Map<string, Principal | null>> {
    const answer = new Map<string, Principal | null>(keyIds.map((id) => [id, null]));
    if (keyIds.length === 0) return answer;
    const text = `${KEY_WITH_PRINCIPAL} WHERE k.id = ANY($1::uuid[])`;
    const rows: KeyWithPrincipal[] =
      sql === undefined
        ? await this.rows.query(text, [keyIds])
        : await (async () => {
            await sql(
              `SELECT 1 FROM api_keys k JOIN principals p ON p.id = k.principal_id
               WHERE k.id = ANY($1::uuid[]) FOR SHARE OF k, p`,
              [keyIds],
            );
            await sql(
              `SELECT 1 FROM grants WHERE principal_id IN (SELECT principal_id FROM api_keys WHERE id = ANY($1::uuid[])) FOR SHARE`,
              [keyIds],
            );
            return (await sql(text, [keyIds])) as unknown as KeyWithPrincipal[];
          })();
    for (const row of rows) answer.set(row.id, actingPrincipal(row, now.getTime()));
    return answer;
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
      `INSERT INTO api_keys (id, name, prefix, secret_hash, roles, tenants, created_at, created_by, expires_at,
         principal_id, known_to)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (secret_hash) DO NOTHING RETURNING id`,
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
        key.principal,
        key.knownTo,
      ],
    );
    return rows.length === 1;
  }

  /**
   * Whether a key named `name` (without regard to case) exists, asked inside the caller's
   * transaction after taking the name's lock: two creations of one name queue, and the second sees
   * the first. Key names are unique and never reused.
   */
  async nameTaken(sql: Sql, name: string): Promise<boolean> {
    await sql(`SELECT pg_advisory_xact_lock(hashtext('api_key_name:' || lower($1)))`, [name]);
    const rows = await sql('SELECT 1 FROM api_keys WHERE lower(name) = lower($1)', [name]);
    return rows.length > 0;
  }

  /** Gives a key older than principals its principal, inside the caller's transaction; false when it has one. */
  async adopt(sql: Sql, id: string, principal: string, knownTo: readonly string[]): Promise<boolean> {
    const rows = await sql(
      `WITH changed AS (UPDATE api_keys SET principal_id = $2, known_to = $3
       WHERE id = $1 AND principal_id IS NULL RETURNING id) SELECT id FROM changed`,
      [id, principal, knownTo],
    );
    await this.notify(sql);
    return rows.length === 1;
  }

  /** Keys that have no principal yet (made before principals), oldest first. */
  async unadopted(): Promise<ApiKeyRecord[]> {
    const rows = await this.rows.find({ where: { principalId: IsNull() }, order: { createdAt: 'ASC', id: 'ASC' } });
    return rows.map(toRecord);
  }

  /** Every process forgets its cached keys when the caller's transaction commits (a principal or grant changed). */
  async principalsChanged(sql: Sql): Promise<void> {
    await this.notify(sql);
  }

  /**
   * Replaces the secret of a live key inside the caller's transaction; every process forgets the
   * old one at commit. Returns false when the key was revoked meanwhile.
   */
  async rotate(
    sql: Sql,
    id: string,
    prefix: string,
    secret: string,
    at: string,
    knownTo: readonly string[],
  ): Promise<boolean> {
    const rows = await sql(
      `WITH changed AS (UPDATE api_keys SET secret_hash = $2, prefix = $3, rotated_at = $4, known_to = $5
       WHERE id = $1 AND revoked_at IS NULL RETURNING id) SELECT id FROM changed`,
      [id, hashKeySecret(secret), prefix, at, knownTo],
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
