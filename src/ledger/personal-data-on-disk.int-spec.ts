import { personalDigest } from '@audit/ledger';
import { randomBytes } from 'node:crypto';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { PrivateCluster, startPrivateCluster } from '../../test/support/private-cluster';
import { TestModule, billingEvent, startTestModule } from '../../test/support/test-module';
import { ensureDatabase, runMigrations } from '../platform/database/database-bootstrap';
import { EventToAppend } from './append-plan';
import { LedgerErasure } from './ledger-erasure';
import { LedgerModule } from './ledger.module';
import { LogStore } from './log-store';
import { SealedValueError, open, personalAad, subjectKeyAad } from './personal-data-cipher';
import { PersonalDataReader, StoredPersonalData } from './personal-data-reader';
import { Sequencer } from './sequencer';
import { SubjectKeyCompaction } from './subject-key-compaction';
import { SubjectKeys } from './subject-keys';

/** Every regular file under `dir`. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    const stat = statSync(path);
    return stat.isDirectory() ? filesUnder(path) : stat.isFile() ? [path] : [];
  });
}

/** The files under `dir` that hold `needle`, relative to `dir`. */
function holding(dir: string, needle: Buffer): string[] {
  return filesUnder(dir)
    .filter((path) => readFileSync(path).includes(needle))
    .map((path) => path.slice(dir.length + 1));
}

/**
 * What erasure leaves on the server's disk, on a cluster of this test's own (the shared one mixes
 * every test's WAL): personal data never reaches a table file or the WAL in clear, and once a
 * subject is erased and the key table compacted, its key is in no table file, so its sealed values
 * (still in old row versions) open for no one, while another subject's still do.
 */
describe('personal data on disk (a private PostgreSQL cluster)', () => {
  let cluster: PrivateCluster;
  let db: string;
  let owner: Client;
  let m: TestModule;

  const canary = (who: string) => `zq-${who}-${randomBytes(6).toString('hex')}@example.com`;
  const shredded = canary('shredded');
  const kept = canary('kept');

  const event = (subject: string, email: string, i: number): EventToAppend => {
    const data = { email, note: `visit ${i}` };
    const salt = randomBytes(32);
    return {
      ...billingEvent('acme', `${subject}-${i}`),
      personal: { subject, data, salt, digest: personalDigest(salt, data) },
    };
  };

  beforeAll(async () => {
    cluster = await startPrivateCluster();
    db = `${cluster.server}/audit_test_disk`;
    await ensureDatabase(db);
    await runMigrations(db);
    owner = new Client({ connectionString: db });
    await owner.connect();
    m = await startTestModule(db, LedgerModule);
  }, 60_000);

  afterAll(async () => {
    await owner?.end();
    await m?.close();
    cluster?.stop();
  });

  const stored = async (subject: string): Promise<StoredPersonalData[]> =>
    (
      await owner.query(
        "SELECT log, idx::int, subject, data, salt, sealed FROM personal_data WHERE log = 'acme' AND subject = $1 ORDER BY idx",
        [subject],
      )
    ).rows as StoredPersonalData[];

  it('keeps no personal value in clear in any table file or WAL segment; erasure and compaction leave no key to open it', async () => {
    const sequencer = m.moduleRef.get(Sequencer);
    // The kept subject's key row is written first, the shredded one's after it, so the shredded
    // key's bytes sit below the kept one's in the page, where a plain VACUUM would leave them.
    await sequencer.append([event('kept', kept, 0)]);
    for (let i = 0; i < 3; i++) await sequencer.append([event('shredded', shredded, i)]);
    for (let i = 1; i < 3; i++) await sequencer.append([event('kept', kept, i)]);
    await owner.query('CHECKPOINT');
    // A control: the same search finds what is there (the subject id is in clear, in the leaf and beside it).
    expect(holding(join(cluster.dataDir, 'base'), Buffer.from('shredded-2')).length).toBeGreaterThan(0);
    for (const value of [shredded, kept]) {
      expect(holding(cluster.dataDir, Buffer.from(value))).toEqual([]);
    }

    const before = await stored('shredded');
    expect(before).toHaveLength(3);
    const wrapped = (await owner.query("SELECT key FROM subject_keys WHERE subject = 'shredded'")).rows[0]
      .key as Buffer;
    const keysFile = async () =>
      join(
        cluster.dataDir,
        (await owner.query("SELECT pg_relation_filepath('subject_keys') AS p")).rows[0].p as string,
      );
    expect(readFileSync(await keysFile()).includes(wrapped)).toBe(true);

    const erasure = m.moduleRef.get(LedgerErasure);
    await m.moduleRef.get(DataSource).transaction('READ COMMITTED', (tx) =>
      erasure.erase(
        (text, params) => tx.query(text, params),
        'acme',
        before.map((row) => row.idx),
        new Date(),
        '00000000-0000-7000-8000-000000000002',
      ),
    );
    expect(await m.moduleRef.get(SubjectKeyCompaction).compact(true)).toBe(true);
    await owner.query('CHECKPOINT');

    // The key row is in no table file (the compacted one, nor the old one, dropped at the checkpoint).
    expect(readFileSync(await keysFile()).includes(wrapped)).toBe(false);
    expect(holding(join(cluster.dataDir, 'base'), wrapped)).toEqual([]);

    // The sealed values a dump of old row versions could still show open under no key there is.
    const kek = Buffer.from(m.config.keyEncryptionKey as Buffer);
    const keys = (await owner.query("SELECT log, subject, key FROM subject_keys WHERE log = 'acme'")).rows as {
      log: string;
      subject: string;
      key: Buffer;
    }[];
    expect(keys.map((k) => k.subject)).toEqual(['kept']);
    for (const row of before)
      for (const k of keys) {
        const dataKey = open(kek, subjectKeyAad(k.log, k.subject), k.key);
        expect(() =>
          open(
            dataKey,
            personalAad({ log: 'acme', idx: row.idx, subject: row.subject, field: 'data' }),
            row.data as Buffer,
          ),
        ).toThrow(SealedValueError);
      }

    // The subject not erased still opens, in a process that had nothing cached.
    const fresh = new SubjectKeys(m.config, m.moduleRef.get(DataSource), m.moduleRef.get(LogStore));
    await fresh.onModuleInit();
    const opened = await new PersonalDataReader(fresh).open(undefined, await stored('kept'));
    expect(opened.map((o) => (o?.data as { email: string }).email)).toEqual([kept, kept, kept]);
    expect((await stored('shredded')).every((row) => row.data === null && row.salt === null)).toBe(true);
  }, 60_000);
});
