import { personalDigest, verifyPersonalDigest, type JsonValue } from '@audit/ledger';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { createTestDatabase, dropTestDatabase, superuserClient } from '../../test/support/test-database';
import { TestModule, billingEvent, startTestModule } from '../../test/support/test-module';
import { DataSource } from 'typeorm';
import { EventToAppend } from './append-plan';
import { LedgerErasure } from './ledger-erasure';
import { LegacyPersonalData } from './legacy-personal-data';
import { LedgerModule } from './ledger.module';
import { LogStore } from './log-store';
import { PersonalDataReader, PersonalDataUnreadableError, StoredPersonalData } from './personal-data-reader';
import { Sequencer } from './sequencer';
import { KeyEncryptionKeyError, SubjectKeys } from './subject-keys';

/**
 * Personal data at rest, through the ledger's own ports against the real PostgreSQL: sealed under
 * a key per (log, subject), opened by PersonalDataReader, shredded by erasure; and no process
 * seals new data under a key an erasure destroyed while it had it cached.
 */
describe('personal data at rest', () => {
  let db: string;
  let m: TestModule;
  let owner: Client;
  let sequencer: Sequencer;
  let reader: PersonalDataReader;
  let erasure: LedgerErasure;
  let dataSource: DataSource;

  const event = (log: string, subject: string, data: Record<string, JsonValue>): EventToAppend => {
    const salt = randomBytes(32);
    return { ...billingEvent(log, subject), personal: { subject, data, salt, digest: personalDigest(salt, data) } };
  };

  /** The stored rows of `log` as the view publishes them. */
  const stored = async (log: string): Promise<StoredPersonalData[]> => {
    const { rows } = await owner.query(
      'SELECT log, idx::int, subject, data, salt, sealed FROM ledger_personal_data WHERE log = $1 ORDER BY idx',
      [log],
    );
    return rows as StoredPersonalData[];
  };

  const erase = (log: string, indices: number[]) =>
    dataSource.transaction('READ COMMITTED', (tx) =>
      erasure.erase(
        (text, params) => tx.query(text, params),
        log,
        indices,
        new Date(),
        '00000000-0000-7000-8000-000000000001',
      ),
    );

  const keysOf = async (log: string) =>
    (await owner.query('SELECT subject FROM subject_keys WHERE log = $1 ORDER BY subject', [log])).rows.map(
      (r: { subject: string }) => r.subject,
    );

  beforeAll(async () => {
    db = await createTestDatabase();
    owner = await superuserClient(db);
    m = await startTestModule(db, LedgerModule);
    sequencer = m.moduleRef.get(Sequencer);
    reader = m.moduleRef.get(PersonalDataReader);
    erasure = m.moduleRef.get(LedgerErasure);
    dataSource = m.moduleRef.get(DataSource);
  });

  afterAll(async () => {
    await owner.end();
    await m?.close();
    await dropTestDatabase(db);
  });

  it('stores data and salt sealed, opens them with the subject key, and the digest checks', async () => {
    const appended = await sequencer.append([
      event('acme', 'ada', { email: 'ada@example.com' }),
      event('acme', 'bob', { email: 'bob@example.com' }),
      event('acme', 'ada', { name: 'Ada' }),
    ]);
    const rows = await stored('acme');
    expect(rows.map((r) => [r.subject, r.sealed])).toEqual([
      ['ada', true],
      ['bob', true],
      ['ada', true],
    ]);
    for (const row of rows) expect(row.data?.includes(Buffer.from('@example.com'))).toBe(false);
    expect(await keysOf('acme')).toEqual(['ada', 'bob']);
    const wrapped = await owner.query("SELECT key FROM subject_keys WHERE log = 'acme'");
    for (const { key } of wrapped.rows as { key: Buffer }[]) expect(key.length).toBe(12 + 32 + 16);

    const opened = await reader.open(undefined, rows);
    expect(opened.map((o) => o?.data)).toEqual([
      { email: 'ada@example.com' },
      { email: 'bob@example.com' },
      { name: 'Ada' },
    ]);
    const leaves = await m.moduleRef.get(LogStore).leaves('acme', 0, 3);
    leaves.forEach((leaf, i) => {
      const digest = (JSON.parse(leaf.toString()) as { personal: { digest: string } }).personal.digest;
      const o = opened[i] as { data: JsonValue; salt: Buffer };
      expect(verifyPersonalDigest(o.salt, o.data, digest)).toBe(true);
    });
    expect(appended.map((a) => a.index)).toEqual([0, 1, 2]);
  });

  it('a tenant-scoped reader opens its tenants’ data only', async () => {
    await sequencer.append([event('globex', 'gina', { email: 'gina@example.com' })]);
    const rows = await stored('globex');
    const store = m.moduleRef.get(LogStore);
    // A fresh reader process would not have the key cached: ask with the scoped Sql, bypassing the cache.
    const keys = (reader as unknown as { keys: { forRead: (...a: unknown[]) => Promise<Map<string, Buffer>> } }).keys;
    const seenByAcme = await store.tenantScoped(['acme'], (sql) => keys.forRead(sql, rows, true));
    expect(seenByAcme.size).toBe(0);
    const seenByGlobex = await store.tenantScoped(['globex'], (sql) => keys.forRead(sql, rows, true));
    expect(seenByGlobex.size).toBe(1);
  });

  it('erasing some of a subject’s entries keeps its key; erasing the last destroys it and moves the key epoch', async () => {
    await erase('acme', [0]);
    expect(await keysOf('acme')).toEqual(['ada', 'bob']);
    const epoch = async () =>
      Number((await owner.query("SELECT key_epoch FROM logs WHERE log = 'acme'")).rows[0].key_epoch);
    expect(await epoch()).toBe(0);

    await erase('acme', [2]);
    expect(await keysOf('acme')).toEqual(['bob']);
    expect(await epoch()).toBe(1);
    const opened = await reader.open(undefined, await stored('acme'));
    expect(opened.map((o) => o?.data ?? null)).toEqual([null, { email: 'bob@example.com' }, null]);
  });

  it('seals a subject’s new data under a fresh key after its key was destroyed, though this process had it cached', async () => {
    // The sequencer caches ada's globex key; an erasure (here, as another process would) destroys it.
    await sequencer.append([event('globex', 'ada', { email: 'ada@globex.example' })]);
    const before = await stored('globex');
    await erase('globex', [before[before.length - 1].idx]);
    expect(await keysOf('globex')).toEqual(['gina']);

    await sequencer.append([event('globex', 'ada', { email: 'ada-again@globex.example' })]);
    expect(await keysOf('globex')).toEqual(['ada', 'gina']);
    const rows = await stored('globex');
    const opened = await reader.open(undefined, rows);
    expect(opened.map((o) => o?.data ?? null)).toEqual([
      { email: 'gina@example.com' },
      null,
      { email: 'ada-again@globex.example' },
    ]);
  });

  it('reads rows written before encryption in clear, and seals them at start, the same data and salt', async () => {
    const salt = randomBytes(32);
    await owner.query(
      `INSERT INTO personal_data (log, idx, subject, salt, data, sealed)
       VALUES ('legacy', 0, 'old', $1, convert_to('{"email": "old@example.com"}', 'UTF8'), false)`,
      [salt],
    );
    await owner.query(
      "INSERT INTO personal_data (log, idx, subject, salt, data, sealed, erased_at) VALUES ('legacy', 1, 'old', NULL, NULL, false, now())",
    );
    const before = await stored('legacy');
    expect(await reader.open(undefined, before)).toEqual([{ data: { email: 'old@example.com' }, salt }, null]);

    expect(await m.moduleRef.get(LegacyPersonalData).sealAll()).toBe(1);
    const after = await stored('legacy');
    expect(after.map((r) => r.sealed)).toEqual([true, false]);
    expect(after[0].data?.includes(Buffer.from('old@example.com'))).toBe(false);
    expect(await reader.open(undefined, after)).toEqual([{ data: { email: 'old@example.com' }, salt }, null]);
    expect(await m.moduleRef.get(LegacyPersonalData).sealAll()).toBe(0);
  });

  it('refuses to start with a key-encryption key that does not unwrap the stored keys; generates its file once, mode 0600', async () => {
    const other = new SubjectKeys(
      { ...m.config, keyEncryptionKey: randomBytes(32) },
      dataSource,
      m.moduleRef.get(LogStore),
    );
    await expect(other.onModuleInit()).rejects.toBeInstanceOf(KeyEncryptionKeyError);

    // On an empty key table, a process without AUDIT_KEY_ENCRYPTION_KEY generates the file; the next reads it.
    await owner.query('CREATE TABLE saved_keys AS SELECT * FROM subject_keys');
    await owner.query('DELETE FROM subject_keys');
    const dir = mkdtempSync(join(tmpdir(), 'audit-kek-'));
    try {
      const file = join(dir, 'state', 'key-encryption-key');
      const config = { ...m.config, keyEncryptionKey: undefined, keyEncryptionKeyFile: file };
      const first = new SubjectKeys(config, dataSource, m.moduleRef.get(LogStore));
      await first.onModuleInit();
      expect(statSync(file).mode & 0o777).toBe(0o600);
      const generated = readFileSync(file, 'utf8').trim();
      expect(Buffer.from(generated, 'base64')).toHaveLength(32);
      await first.forAppend(new Map([['kek-test', new Set(['someone'])]]));
      const second = new SubjectKeys(config, dataSource, m.moduleRef.get(LogStore));
      await second.onModuleInit();
      expect(readFileSync(file, 'utf8').trim()).toBe(generated);
      expect((await second.forRead(undefined, [{ log: 'kek-test', subject: 'someone' }])).size).toBe(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await owner.query('DELETE FROM subject_keys');
      await owner.query('INSERT INTO subject_keys SELECT * FROM saved_keys');
      await owner.query('DROP TABLE saved_keys');
    }
  });

  it('refuses to open a row whose key is gone while the row is not erased', async () => {
    const rows = await stored('acme');
    await owner.query("DELETE FROM subject_keys WHERE log = 'acme' AND subject = 'bob'");
    // Another process: nothing cached.
    const keys = new SubjectKeys(m.config, dataSource, m.moduleRef.get(LogStore));
    await keys.onModuleInit();
    await expect(new PersonalDataReader(keys).open(undefined, rows)).rejects.toBeInstanceOf(
      PersonalDataUnreadableError,
    );
  });
});
