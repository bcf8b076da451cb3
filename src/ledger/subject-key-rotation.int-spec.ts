import { personalDigest, type JsonValue } from '@audit/ledger';
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { testKeyEncryptionKey } from '../../test/support/test-app';
import { createTestDatabase, dropTestDatabase, superuserClient } from '../../test/support/test-database';
import { TestModule, billingEvent, startTestModule } from '../../test/support/test-module';
import { EventToAppend } from './append-plan';
import { LedgerErasure } from './ledger-erasure';
import { LedgerModule } from './ledger.module';
import { LogStore } from './log-store';
import { PersonalDataReader, StoredPersonalData } from './personal-data-reader';
import { Sequencer } from './sequencer';
import { KEK_ROTATED, SubjectKeyRotation } from './subject-key-rotation';
import { KeyEncryptionKeyError, SubjectKeys, keyEncryptionKeyId } from './subject-keys';

/**
 * Key-encryption key rotation (docs/operations.md "Rotating the key-encryption key") against the
 * real PostgreSQL: every data key rewrapped under the new key and named by its id, the old key
 * removable afterwards, an erasure between batches never undone, a second run a no-op, and the
 * run recorded in the platform log without key material.
 */
describe('key-encryption key rotation', () => {
  let db: string;
  let owner: Client;
  const oldKek = () => Buffer.from(testKeyEncryptionKey(db), 'base64');
  const newKek = randomBytes(32);
  const operatorActor = { type: 'operator', id: 'cli' };

  const event = (log: string, subject: string, data: Record<string, JsonValue>): EventToAppend => {
    const salt = randomBytes(32);
    return { ...billingEvent(log, subject), personal: { subject, data, salt, digest: personalDigest(salt, data) } };
  };

  const stored = async (log: string): Promise<StoredPersonalData[]> =>
    (
      await owner.query(
        'SELECT log, idx::int, subject, data, salt, sealed FROM personal_data WHERE log = $1 ORDER BY idx',
        [log],
      )
    ).rows as StoredPersonalData[];

  const keyRows = async () =>
    (await owner.query('SELECT log, subject, key, kek_id FROM subject_keys ORDER BY log, subject')).rows as {
      log: string;
      subject: string;
      key: Buffer;
      kek_id: string | null;
    }[];

  /** A service process with `current` as its key-encryption key and `previous` beside it. */
  const start = (current: Buffer, previous: Buffer[] = []) =>
    startTestModule(db, LedgerModule, {
      AUDIT_KEY_ENCRYPTION_KEY: current.toString('base64'),
      AUDIT_KEY_ENCRYPTION_KEYS_PREVIOUS: previous.map((k) => k.toString('base64')).join(','),
    });

  const erase = (m: TestModule, log: string, indices: number[]) =>
    m.moduleRef
      .get(DataSource)
      .transaction('READ COMMITTED', (tx) =>
        m.moduleRef
          .get(LedgerErasure)
          .erase(
            (text, params) => tx.query(text, params),
            log,
            indices,
            new Date(),
            '00000000-0000-7000-8000-0000000000e1',
          ),
      );

  const rotationEntries = async () =>
    (
      await owner.query(
        "SELECT convert_from(leaf, 'UTF8')::jsonb AS leaf FROM entries WHERE log = 'platform' ORDER BY idx",
      )
    ).rows
      .map((r: { leaf: Record<string, unknown> }) => r.leaf)
      .filter((leaf) => leaf.type === KEK_ROTATED);

  beforeAll(async () => {
    db = await createTestDatabase();
    owner = await superuserClient(db);
    const before = await start(oldKek());
    try {
      const sequencer = before.moduleRef.get(Sequencer);
      await sequencer.append([
        event('acme', 'ada', { email: 'ada@example.com' }),
        event('acme', 'bob', { email: 'bob@example.com' }),
        event('acme', 'cy', { email: 'cy@example.com' }),
        event('globex', 'dee', { email: 'dee@example.com' }),
        event('globex', 'eve', { email: 'eve@example.com' }),
      ]);
    } finally {
      await before.close();
    }
    // A key wrapped before key ids were kept (migration KeyEncryptionKeyRotation1796358500011).
    await owner.query("UPDATE subject_keys SET kek_id = NULL WHERE log = 'acme' AND subject = 'bob'");
  });

  afterAll(async () => {
    await owner.end();
    await dropTestDatabase(db);
  });

  it('names the key that wraps each data key', async () => {
    expect((await keyRows()).map((r) => r.kek_id)).toEqual([
      keyEncryptionKeyId(oldKek()),
      null,
      keyEncryptionKeyId(oldKek()),
      keyEncryptionKeyId(oldKek()),
      keyEncryptionKeyId(oldKek()),
    ]);
  });

  it('refuses to start without the key that wraps the stored keys', async () => {
    const m = await start(oldKek());
    try {
      const config = { ...m.config, keyEncryptionKey: newKek, previousKeyEncryptionKeys: [] };
      const keys = new SubjectKeys(config, m.moduleRef.get(DataSource), m.moduleRef.get(LogStore));
      await expect(keys.onModuleInit()).rejects.toBeInstanceOf(KeyEncryptionKeyError);
      const both = new SubjectKeys(
        { ...config, previousKeyEncryptionKeys: [oldKek()] },
        m.moduleRef.get(DataSource),
        m.moduleRef.get(LogStore),
      );
      await expect(both.onModuleInit()).resolves.toBeUndefined();
    } finally {
      await m.close();
    }
  });

  it('rewraps every key in batches; an erasure between batches stays erased; recorded without key material', async () => {
    const m = await start(newKek, [oldKek()]);
    try {
      const before = await keyRows();
      const seen: number[] = [];
      const rotation = await m.moduleRef.get(SubjectKeyRotation).rotate(operatorActor, {
        batch: 2,
        // After the first batch (acme's ada and bob), another process erases globex's dee.
        progress: async (rewrapped) => {
          seen.push(rewrapped);
          if (seen.length === 1) await erase(m, 'globex', [0]);
        },
      });
      expect(seen).toEqual([2, 4]);
      expect(rotation).toMatchObject({
        kekId: keyEncryptionKeyId(newKek),
        rewrapped: 4,
        from: { [keyEncryptionKeyId(oldKek())]: 3, unnamed: 1 },
        compacted: true,
      });
      const after = await keyRows();
      // dee's key was destroyed by the erasure, and the rotation did not bring it back.
      expect(after.map((r) => `${r.log}/${r.subject}`)).toEqual(['acme/ada', 'acme/bob', 'acme/cy', 'globex/eve']);
      expect(after.every((r) => r.kek_id === keyEncryptionKeyId(newKek))).toBe(true);
      for (const row of after) {
        const old = before.find((b) => b.log === row.log && b.subject === row.subject);
        expect(row.key.equals(old?.key as Buffer)).toBe(false);
      }

      const entries = await rotationEntries();
      expect(entries).toHaveLength(1);
      expect(entries[0]).toMatchObject({
        category: 'ledger',
        actor: operatorActor,
        target: { type: 'key_encryption_key', id: keyEncryptionKeyId(newKek) },
        context: { kekId: keyEncryptionKeyId(newKek), rewrapped: 4 },
      });
      const leafText = JSON.stringify(entries[0]);
      for (const key of [newKek, oldKek()]) {
        expect(leafText).not.toContain(key.toString('base64'));
        expect(leafText).not.toContain(key.toString('hex'));
      }
    } finally {
      await m.close();
    }
  });

  it('a second run changes nothing and records nothing', async () => {
    const m = await start(newKek, [oldKek()]);
    try {
      const before = await keyRows();
      const rotation = await m.moduleRef.get(SubjectKeyRotation).rotate(operatorActor);
      expect(rotation).toMatchObject({ rewrapped: 0, entry: null });
      expect(await keyRows()).toEqual(before);
      expect(await rotationEntries()).toHaveLength(1);
    } finally {
      await m.close();
    }
  });

  it('with the old key removed, every personal datum not erased still opens, and new ones seal under the new key', async () => {
    const m = await start(newKek);
    try {
      const reader = m.moduleRef.get(PersonalDataReader);
      expect((await reader.open(undefined, await stored('acme'))).map((o) => o?.data)).toEqual([
        { email: 'ada@example.com' },
        { email: 'bob@example.com' },
        { email: 'cy@example.com' },
      ]);
      expect((await reader.open(undefined, await stored('globex'))).map((o) => o?.data ?? null)).toEqual([
        null,
        { email: 'eve@example.com' },
      ]);
      await m.moduleRef.get(Sequencer).append([event('acme', 'fay', { email: 'fay@example.com' })]);
      expect((await keyRows()).find((r) => r.subject === 'fay')?.kek_id).toBe(keyEncryptionKeyId(newKek));
    } finally {
      await m.close();
    }
  });

  it('two rotations at once, beside appends, share the work: every key rewrapped once, each run recorded', async () => {
    const third = randomBytes(32);
    const [a, b] = [await start(third, [newKek]), await start(third, [newKek])];
    try {
      const keysBefore = (await keyRows()).length;
      const rotations = Promise.all(
        [a, b].map((m) => m.moduleRef.get(SubjectKeyRotation).rotate(operatorActor, { batch: 1 })),
      );
      for (let i = 0; i < 5; i++)
        await a.moduleRef.get(Sequencer).append([event('hooli', `new-${i}`, { email: `new-${i}@example.com` })]);
      const [first, second] = await rotations;
      expect(first.rewrapped + second.rewrapped).toBe(keysBefore);
      const after = await keyRows();
      expect(after).toHaveLength(keysBefore + 5);
      expect(after.every((r) => r.kek_id === keyEncryptionKeyId(third))).toBe(true);
      const recorded = (await rotationEntries()).slice(1);
      expect(recorded.map((e) => (e.context as { rewrapped: number }).rewrapped).sort()).toEqual(
        [first.rewrapped, second.rewrapped].filter((n) => n > 0).sort(),
      );
      const reader = a.moduleRef.get(PersonalDataReader);
      expect((await reader.open(undefined, await stored('acme'))).map((o) => o?.data)).toHaveLength(4);
    } finally {
      await a.close();
      await b.close();
    }
    // The rest of the file runs on the newest key.
    newKek.set(third);
  });

  it('refuses to run on when a key opens under none of the configured keys, rewrapping nothing', async () => {
    const stray = randomBytes(32);
    const m = await start(newKek);
    try {
      // A process still on a key nobody configured here (a wrong deployment) wrapped one key.
      const other = await start(stray, [newKek]);
      await other.moduleRef.get(Sequencer).append([event('initech', 'gus', { email: 'gus@example.com' })]);
      await other.close();
      const before = await keyRows();
      await expect(m.moduleRef.get(SubjectKeyRotation).rotate(operatorActor)).rejects.toBeInstanceOf(
        KeyEncryptionKeyError,
      );
      expect(await keyRows()).toEqual(before);
    } finally {
      await m.close();
    }
  });
});
