import { Injectable } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import type { Sql } from './log-store';
import { IV_BYTES, SealedValueError, open, personalAad, seal } from './personal-data-cipher';
import { SubjectKeys } from './subject-keys';

/**
 * A row of personal data as stored (`personal_data`, or the published view `ledger_personal_data`):
 * `data` and `salt` sealed under the subject's key when `sealed`, else (rows written before
 * personal data was encrypted) the UTF-8 JSON text of the data and the raw salt; both null once
 * erased.
 */
export interface StoredPersonalData {
  readonly log: string;
  readonly idx: number;
  readonly subject: string;
  readonly data: Buffer | null;
  readonly salt: Buffer | null;
  readonly sealed: boolean;
}

/** Personal data in clear, as the emitter sent it, with the salt of the leaf's digest. */
export interface OpenPersonalData {
  readonly data: unknown;
  readonly salt: Buffer;
}

/** Personal data to store beside a new entry, sealed. */
export interface SealedPersonalData {
  readonly idx: number;
  readonly subject: string;
  readonly data: Buffer;
  readonly salt: Buffer;
}

/** A stored value that should open and does not: its key is gone while the row is not erased, or it was altered. */
export class PersonalDataUnreadableError extends Error {
  constructor(log: string, idx: number) {
    super(`the personal data of ${log}/${idx} cannot be opened (its subject key is missing or does not match)`);
    this.name = 'PersonalDataUnreadableError';
  }
}

/** Random bytes sealPersonal needs for one row: two IVs. */
export const PERSONAL_IV_BYTES = 2 * IV_BYTES;

/**
 * Seals `data` (JSON text) and `salt` of entry `idx` of `log` under `key`, each with a fresh IV:
 * `ivs`, PERSONAL_IV_BYTES of fresh random bytes (a batch draws them at once: one call per value
 * cost a third of the sealing).
 */
export function sealPersonal(
  key: Buffer,
  log: string,
  row: { idx: number; subject: string; data: unknown; salt: Buffer },
  ivs: Buffer = randomBytes(PERSONAL_IV_BYTES),
): SealedPersonalData {
  if (ivs.length !== PERSONAL_IV_BYTES) throw new RangeError(`ivs must be ${PERSONAL_IV_BYTES} bytes`);
  const place = { log, idx: row.idx, subject: row.subject };
  return {
    idx: row.idx,
    subject: row.subject,
    data: seal(
      key,
      ivs.subarray(0, IV_BYTES),
      personalAad({ ...place, field: 'data' }),
      Buffer.from(JSON.stringify(row.data), 'utf8'),
    ),
    salt: seal(key, ivs.subarray(IV_BYTES), personalAad({ ...place, field: 'salt' }), row.salt),
  };
}

/**
 * The ledger's port for reading personal data in clear: read models that select rows of the view
 * `ledger_personal_data` in their own statements (the search reads, the principals rebuild) hand
 * them here. The data is decrypted inside the ledger, with the subject keys the caller's `Sql` may
 * see (a tenant-scoped reader: its tenants' only).
 */
@Injectable()
export class PersonalDataReader {
  constructor(private readonly keys: SubjectKeys) {}

  /** `open` of rows as read from the `ledger_personal_data` view (its columns, as `pg` returns them). */
  openViewRows(sql: Sql | undefined, rows: readonly Record<string, unknown>[]): Promise<(OpenPersonalData | null)[]> {
    return this.open(
      sql,
      rows.map((row) => ({
        log: row.log as string,
        idx: Number(row.idx),
        subject: row.subject as string,
        data: (row.data as Buffer | null) ?? null,
        salt: (row.salt as Buffer | null) ?? null,
        sealed: row.sealed === true,
      })),
    );
  }

  /**
   * Each row in clear, in order; null for an erased row. Throws PersonalDataUnreadableError for a
   * row that is not erased and does not open (its key was destroyed or the bytes altered).
   */
  async open(sql: Sql | undefined, rows: readonly StoredPersonalData[]): Promise<(OpenPersonalData | null)[]> {
    const sealedRows = rows.filter((r) => r.sealed && r.data !== null && r.salt !== null);
    let keys = await this.keys.forRead(sql, sealedRows);
    let retried = false;
    const out: (OpenPersonalData | null)[] = [];
    for (const row of rows) {
      if (row.data === null || row.salt === null) {
        out.push(null);
        continue;
      }
      if (!row.sealed) {
        out.push({ data: JSON.parse(row.data.toString('utf8')), salt: row.salt });
        continue;
      }
      let opened = openRow(keys.get(`${row.log}\u0000${row.subject}`), row);
      if (opened === null && !retried) {
        // A key cached before its subject was erased and given a new one: read the keys again once.
        retried = true;
        keys = await this.keys.forRead(sql, sealedRows, true);
        opened = openRow(keys.get(`${row.log}\u0000${row.subject}`), row);
      }
      if (opened === null) throw new PersonalDataUnreadableError(row.log, row.idx);
      out.push(opened);
    }
    return out;
  }
}

function openRow(key: Buffer | undefined, row: StoredPersonalData): OpenPersonalData | null {
  if (key === undefined) return null;
  const place = { log: row.log, idx: row.idx, subject: row.subject };
  try {
    const data = open(key, personalAad({ ...place, field: 'data' }), row.data as Buffer);
    const salt = open(key, personalAad({ ...place, field: 'salt' }), row.salt as Buffer);
    return { data: JSON.parse(data.toString('utf8')), salt };
  } catch (e) {
    if (e instanceof SealedValueError) return null;
    throw e;
  }
}
