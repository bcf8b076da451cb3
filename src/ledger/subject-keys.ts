import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { createHash, randomBytes } from 'node:crypto';
import { DataSource } from 'typeorm';
import { APP_CONFIG, AppConfig } from '../platform';
import { DATA_KEY_BYTES, IV_BYTES, SealedValueError, open, seal, subjectKeyAad } from './personal-data-cipher';
import { LogStore, Sql } from './log-store';
import { SigningKeyFileError, createKeyFile, readSecretFile } from './signing-key-file';

/** Subject keys this process keeps unwrapped, at most (least recently used go first). */
export const SUBJECT_KEY_CACHE_SIZE = 50_000;

/** The data keys one append uses for one log, and the log's key epoch they were read under. */
export interface LogKeys {
  readonly epoch: number;
  readonly keys: ReadonlyMap<string, Buffer>;
}

/** The key-encryption key cannot be used: the message says why, never quoting it. */
export class KeyEncryptionKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KeyEncryptionKeyError';
  }
}

interface Cached {
  readonly key: Buffer;
  readonly epoch: number;
}

const pairKey = (log: string, subject: string) => `${log}\u0000${subject}`;

/**
 * The id of a key-encryption key stored beside each data key it wraps (`subject_keys.kek_id`):
 * `kek-` and the first 16 hex digits of the key's SHA-256, which reveal nothing of the key.
 */
export function keyEncryptionKeyId(key: Buffer): string {
  return `kek-${createHash('sha256').update(key).digest('hex').slice(0, 16)}`;
}

/** A key-encryption key with its id. */
interface Kek {
  readonly id: string;
  readonly key: Buffer;
}

/** A data key as stored: wrapped, with the id of the key-encryption key that wraps it (null: wrapped before ids were kept). */
export interface WrappedKey {
  readonly log: string;
  readonly subject: string;
  readonly key: Buffer;
  readonly kek_id: string | null;
}

/**
 * The data key of each (log, subject) that has personal data: 32 random bytes in `subject_keys`,
 * wrapped (AES-256-GCM, bound to its log and subject) by the key-encryption key kept outside the
 * database (AUDIT_KEY_ENCRYPTION_KEY, or the file AUDIT_KEY_ENCRYPTION_KEY_FILE, generated once,
 * mode 0600), so a dump of the database alone opens nothing. Erasure deletes the row
 * (LedgerErasure), which shreds every value sealed under it. Each row names the key-encryption key
 * that wraps it (`kek_id`); keys a rotation moves away from (AUDIT_KEY_ENCRYPTION_KEYS_PREVIOUS)
 * still unwrap, only the current one wraps (SubjectKeyRotation rewraps the rest).
 *
 * Keys are cached unwrapped in a bounded LRU. An erasure that deletes keys of a log moves that
 * log's `key_epoch`; an append states the epoch its keys were read under and PostgreSQL refuses it
 * (40001, replanned) when the epoch moved, so no process seals new data under a destroyed key.
 */
@Injectable()
export class SubjectKeys implements OnModuleInit {
  private readonly logger = new Logger(SubjectKeys.name);
  /** The current key-encryption key first, then the previous ones. */
  private keks: readonly Kek[] = [];
  private readonly cache = new Map<string, Cached>();
  /** The newest key epoch this process read, per log: cached keys of an older one are not used to seal. */
  private readonly epochs = new Map<string, number>();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @InjectDataSource() private readonly db: DataSource,
    private readonly store: LogStore,
  ) {}

  async onModuleInit(): Promise<void> {
    const current = this.config.keyEncryptionKey ?? (await this.fileKey());
    const keks = [current, ...(this.config.previousKeyEncryptionKeys ?? [])].map((key) => ({
      id: keyEncryptionKeyId(key),
      key,
    }));
    // A key set that does not unwrap the keys already stored would make sealed values unreadable
    // and seal new ones under a second key: refuse to start instead. One row per key id in use
    // (a loose index scan over `subject_keys_kek_id`: as many steps as ids, not rows).
    const rows: WrappedKey[] = await this.db.query(
      `WITH RECURSIVE ids AS (
         SELECT min(kek_id) AS id FROM subject_keys
         UNION ALL
         SELECT (SELECT min(kek_id) FROM subject_keys WHERE kek_id > ids.id) FROM ids WHERE ids.id IS NOT NULL
       )
       SELECT r.log, r.subject, r.key, r.kek_id
       FROM ids, LATERAL (SELECT log, subject, key, kek_id FROM subject_keys k WHERE k.kek_id = ids.id LIMIT 1) r
       UNION ALL
       (SELECT log, subject, key, kek_id FROM subject_keys WHERE kek_id IS NULL LIMIT 1)`,
    );
    for (const row of rows) {
      if (this.unwrapWith(keks, row) === null)
        throw new KeyEncryptionKeyError(
          `the key-encryption keys (${this.config.keyEncryptionKey ? 'AUDIT_KEY_ENCRYPTION_KEY' : this.config.keyEncryptionKeyFile}` +
            `${keks.length > 1 ? ' and AUDIT_KEY_ENCRYPTION_KEYS_PREVIOUS' : ''}) do not unwrap the subject keys in the ` +
            `database wrapped by ${row.kek_id ?? 'the key used before key ids were kept'}: start with the keys this ` +
            'deployment used (a key leaves AUDIT_KEY_ENCRYPTION_KEYS_PREVIOUS only after "kek rotate" finished)',
        );
    }
    this.keks = keks;
  }

  private async fileKey(): Promise<Buffer> {
    const file = this.config.keyEncryptionKeyFile;
    const check = (text: string) =>
      Buffer.from(text, 'base64').length === DATA_KEY_BYTES ? null : 'does not hold base64 of 32 bytes';
    const existing = await readSecretFile(file, 'key-encryption key file', check);
    if (existing !== null) return Buffer.from(existing, 'base64');
    const fresh = randomBytes(DATA_KEY_BYTES).toString('base64');
    try {
      if (await createKeyFile(file, fresh)) {
        this.logger.warn(
          `generated the key-encryption key into ${file} (mode 0600), as AUDIT_KEY_ENCRYPTION_KEY is not set. ` +
            'Back it up apart from the database: without it no personal data can be read',
        );
        return Buffer.from(fresh, 'base64');
      }
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
      throw new SigningKeyFileError(
        `cannot create the key-encryption key file ${file} (${code}): let this user write its directory, ` +
          'or set AUDIT_KEY_ENCRYPTION_KEY_FILE (or AUDIT_KEY_ENCRYPTION_KEY)',
      );
    }
    // Another process wrote it first: that one is the deployment's.
    return Buffer.from((await readSecretFile(file, 'key-encryption key file', check)) as string, 'base64');
  }

  /** The key-encryption key, once loaded and checked; other secrets of the service are sealed under it too (SecretSealer). */
  get keyEncryptionKey(): Buffer {
    return this.currentKek.key;
  }

  /** The id of the key that wraps new data keys (and rewraps old ones). */
  get keyEncryptionKeyId(): string {
    return this.currentKek.id;
  }

  private get currentKek(): Kek {
    if (this.keks.length === 0) throw new Error('SubjectKeys used before the module initialised');
    return this.keks[0];
  }

  /**
   * `row`'s data key wrapped afresh under the current key-encryption key, or null when none of
   * the configured keys unwraps it (the key that wrapped it was removed too early, or the row was altered).
   */
  rewrap(row: WrappedKey, iv: Buffer = randomBytes(IV_BYTES)): Buffer | null {
    const key = this.unwrapWith(this.keks, row);
    return key === null ? null : seal(this.currentKek.key, iv, subjectKeyAad(row.log, row.subject), key);
  }

  /**
   * The data keys of `subjects` per log for sealing, creating the missing ones (committed on their
   * own, before the append that uses them: a key the append's rollback undid would stay cached).
   * One statement for all cache misses; none when every key is cached under its log's newest epoch.
   */
  async forAppend(subjects: ReadonlyMap<string, ReadonlySet<string>>): Promise<Map<string, LogKeys>> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const missing: { log: string; subject: string }[] = [];
      for (const [log, set] of subjects)
        for (const subject of set) if (!this.usable(log, subject)) missing.push({ log, subject });
      if (missing.length === 0) {
        const out = new Map<string, LogKeys>();
        for (const [log, set] of subjects) {
          const keys = new Map<string, Buffer>();
          for (const subject of set) keys.set(subject, (this.cached(log, subject) as Cached).key);
          out.set(log, { epoch: this.epochs.get(log) as number, keys });
        }
        return out;
      }
      await this.createOrRead(missing);
    }
    throw new Error('subject keys kept changing while an append read them');
  }

  /** Forgets what this process knows of these logs' keys: their epoch moved, or may have. */
  forget(logs: readonly string[]): void {
    for (const log of logs) this.epochs.delete(log);
  }

  /**
   * The data keys of `pairs` for reading, from the cache or one read on `sql` (a tenant-scoped
   * reader sees only its tenants' keys). A pair without a key is absent (erased, or never had one).
   * `fresh`: pairs whose cached key failed to open a value, read again.
   */
  async forRead(
    sql: Sql | undefined,
    pairs: readonly { log: string; subject: string }[],
    fresh = false,
  ): Promise<Map<string, Buffer>> {
    const out = new Map<string, Buffer>();
    const wanted = new Map<string, { log: string; subject: string }>();
    for (const pair of pairs) {
      const id = pairKey(pair.log, pair.subject);
      const hit = fresh ? undefined : this.cached(pair.log, pair.subject);
      if (hit) out.set(id, hit.key);
      else wanted.set(id, pair);
    }
    if (wanted.size === 0) return out;
    const list = [...wanted.values()];
    const text =
      'SELECT k.log, k.subject, k.key, k.kek_id FROM unnest($1::text[], $2::text[]) AS w(log, subject) JOIN subject_keys k USING (log, subject)';
    const params = [list.map((p) => p.log), list.map((p) => p.subject)];
    const rows = (sql ? await sql(text, params) : await this.db.query(text, params)) as WrappedKey[];
    for (const row of rows) {
      const key = this.unwrap(row);
      out.set(pairKey(row.log, row.subject), key);
      // Epoch -1: good for reading, never for sealing (read without its log's epoch).
      this.remember(row.log, row.subject, key, -1);
    }
    return out;
  }

  /** `row`'s data key; throws SealedValueError when no configured key-encryption key unwraps it. */
  private unwrap(row: WrappedKey): Buffer {
    const key = this.unwrapWith(this.keks, row);
    if (key === null)
      throw new SealedValueError(
        `subject key wrapped by ${row.kek_id ?? 'an unnamed key'} does not open with the configured key-encryption keys`,
      );
    return key;
  }

  /** `row`'s data key under the key its id names, else (no id, or a wrong one) under any of `keks`; null when none opens it. */
  private unwrapWith(keks: readonly Kek[], row: WrappedKey): Buffer | null {
    const named = keks.find((k) => k.id === row.kek_id);
    for (const kek of named ? [named, ...keks.filter((k) => k !== named)] : keks) {
      try {
        return open(kek.key, subjectKeyAad(row.log, row.subject), row.key);
      } catch (e) {
        if (!(e instanceof SealedValueError)) throw e;
      }
    }
    return null;
  }

  private cached(log: string, subject: string): Cached | undefined {
    const id = pairKey(log, subject);
    const hit = this.cache.get(id);
    if (hit) {
      // Map order is insertion order: re-inserting marks it most recently used.
      this.cache.delete(id);
      this.cache.set(id, hit);
    }
    return hit;
  }

  private usable(log: string, subject: string): boolean {
    const epoch = this.epochs.get(log);
    return epoch !== undefined && this.cached(log, subject)?.epoch === epoch;
  }

  private remember(log: string, subject: string, key: Buffer, epoch: number): void {
    const id = pairKey(log, subject);
    this.cache.delete(id);
    this.cache.set(id, { key, epoch });
    while (this.cache.size > SUBJECT_KEY_CACHE_SIZE) this.cache.delete(this.cache.keys().next().value as string);
  }

  /**
   * One autocommit statement: inserts a fresh key for each pair that has none (a concurrent
   * insert wins: ON CONFLICT DO NOTHING) and reads the pairs' keys with their logs' key epochs,
   * in one snapshot. A key another transaction committed after that snapshot began is neither
   * inserted nor seen; the caller asks again.
   */
  private async createOrRead(pairs: readonly { log: string; subject: string }[]): Promise<void> {
    const random = randomBytes(pairs.length * (DATA_KEY_BYTES + IV_BYTES));
    const raw = new Map<string, { key: Buffer; wrapped: Buffer }>();
    const fresh = pairs.map((p, i) => {
      const at = i * (DATA_KEY_BYTES + IV_BYTES);
      const key = random.subarray(at, at + DATA_KEY_BYTES);
      const iv = random.subarray(at + DATA_KEY_BYTES, at + DATA_KEY_BYTES + IV_BYTES);
      const wrapped = seal(this.keyEncryptionKey, iv, subjectKeyAad(p.log, p.subject), key);
      raw.set(pairKey(p.log, p.subject), { key: Buffer.from(key), wrapped });
      return wrapped;
    });
    const rows = (await this.store.sql()(
      `WITH wanted AS (
         SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[]) AS w(log, subject, key)
       ), created AS (
         INSERT INTO subject_keys (log, subject, key, kek_id) SELECT log, subject, key, $4 FROM wanted
         ON CONFLICT (log, subject) DO NOTHING RETURNING log, subject, key, kek_id
       ), found AS (
         SELECT log, subject, key, kek_id FROM created
         UNION ALL
         SELECT k.log, k.subject, k.key, k.kek_id FROM subject_keys k JOIN wanted w USING (log, subject)
       )
       SELECT f.log, f.subject, f.key, f.kek_id, coalesce(l.key_epoch, 0) AS epoch
       FROM found f LEFT JOIN logs l USING (log)`,
      [pairs.map((p) => p.log), pairs.map((p) => p.subject), fresh, this.keyEncryptionKeyId],
      'audit_subject_keys',
    )) as unknown as (WrappedKey & { epoch: string })[];
    const epochs = new Map<string, number>();
    for (const row of rows) epochs.set(row.log, Number(row.epoch));
    for (const [log, epoch] of epochs) if ((this.epochs.get(log) ?? -1) < epoch) this.epochs.set(log, epoch);
    for (const row of rows) {
      // A key this statement created is known already; one another process created is unwrapped.
      const made = raw.get(pairKey(row.log, row.subject));
      const key = made?.wrapped.equals(row.key) ? made.key : this.unwrap(row);
      this.remember(row.log, row.subject, key, Number(row.epoch));
    }
  }
}
