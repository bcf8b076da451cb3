import { Client } from 'pg';
import { open, personalAad, subjectKeyAad } from '../../src/ledger/personal-data-cipher';
import { testKeyEncryptionKey } from './test-app';

/** A row of `personal_data` as a test sees it: the data in clear, or null once erased. */
export interface ClearPersonalData {
  readonly idx: number;
  readonly subject: string;
  readonly data: unknown;
  readonly salt: Buffer | null;
}

/**
 * The personal data of `log` in index order, opened from outside the service with the
 * key-encryption key (`kek`, base64; by default the test instances' of `databaseUrl`), as an
 * operator holding both the database and that key could. Throws when a row does not open.
 */
export async function readPersonalData(
  client: Client,
  databaseUrl: string,
  log: string,
  kek = testKeyEncryptionKey(databaseUrl),
): Promise<ClearPersonalData[]> {
  const { rows } = await client.query<{
    idx: string;
    subject: string;
    data: Buffer | null;
    salt: Buffer | null;
    sealed: boolean;
    key: Buffer | null;
  }>(
    `SELECT p.idx, p.subject, p.data, p.salt, p.sealed, k.key
     FROM personal_data p LEFT JOIN subject_keys k USING (log, subject) WHERE p.log = $1 ORDER BY p.idx`,
    [log],
  );
  return rows.map((row) => {
    const idx = Number(row.idx);
    if (row.data === null || row.salt === null) return { idx, subject: row.subject, data: null, salt: null };
    if (!row.sealed) return { idx, subject: row.subject, data: JSON.parse(row.data.toString('utf8')), salt: row.salt };
    if (row.key === null) throw new Error(`${log}/${idx} is not erased and its subject has no key`);
    const key = open(Buffer.from(kek, 'base64'), subjectKeyAad(log, row.subject), row.key);
    const place = { log, idx, subject: row.subject };
    return {
      idx,
      subject: row.subject,
      data: JSON.parse(open(key, personalAad({ ...place, field: 'data' }), row.data).toString('utf8')),
      salt: open(key, personalAad({ ...place, field: 'salt' }), row.salt),
    };
  });
}
