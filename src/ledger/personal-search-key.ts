import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { randomBytes } from 'node:crypto';
import { DataSource } from 'typeorm';
import { APP_CONFIG, AppConfig } from '../platform';
import { PersonalSearchTerm, SEARCH_KEY_BYTES, searchDigest, searchKeyCheck, searchTermsOf } from './personal-search';
import { SigningKeyFileError, createKeyFile, readSecretFile } from './signing-key-file';

/** The search key cannot be used: the message says why, never quoting it. */
export class PersonalSearchKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PersonalSearchKeyError';
  }
}

/** One row of the personal search index, as the append writes it. */
export interface PersonalSearchRow {
  readonly field: PersonalSearchTerm['field'];
  readonly hmac: Buffer;
}

/**
 * The key of the personal-data search index (`personal_search`, published as the view
 * `ledger_personal_search`): AUDIT_PERSONAL_SEARCH_KEY, or the file AUDIT_PERSONAL_SEARCH_KEY_FILE
 * (generated once, mode 0600), never in the database, like the signing key. The database keeps
 * only the key's digest of a fixed text (`personal_search_key_check`), so a start with another key
 * is refused: its digests would silently find nothing that was indexed before.
 *
 * The port other contexts use: `digest` gives the HMAC a search filter looks up; the sequencer
 * asks `rowsFor` for the rows it writes with an entry's personal data.
 */
@Injectable()
export class PersonalSearch implements OnModuleInit {
  private readonly logger = new Logger(PersonalSearch.name);
  private key?: Buffer;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @InjectDataSource() private readonly db: DataSource,
  ) {}

  async onModuleInit(): Promise<void> {
    const key = this.config.personalSearchKey ?? (await this.fileKey());
    const check = searchKeyCheck(key);
    const rows: { mac: Buffer }[] = await this.db.query(
      `WITH created AS (
         INSERT INTO personal_search_key_check (only_row, mac) VALUES (true, $1) ON CONFLICT DO NOTHING RETURNING mac
       ) SELECT mac FROM created UNION ALL SELECT mac FROM personal_search_key_check`,
      [check],
    );
    if (!rows.every((row) => row.mac.equals(check)))
      throw new PersonalSearchKeyError(
        `the personal search key (${this.config.personalSearchKey ? 'AUDIT_PERSONAL_SEARCH_KEY' : this.config.personalSearchKeyFile}) ` +
          'is not the one this database was indexed with: start with the key this deployment used',
      );
    this.key = key;
  }

  private async fileKey(): Promise<Buffer> {
    const file = this.config.personalSearchKeyFile;
    const label = 'personal search key file';
    const check = (text: string) =>
      Buffer.from(text, 'base64').length === SEARCH_KEY_BYTES ? null : 'does not hold base64 of 32 bytes';
    const existing = await readSecretFile(file, label, check);
    if (existing !== null) return Buffer.from(existing, 'base64');
    const fresh = randomBytes(SEARCH_KEY_BYTES).toString('base64');
    try {
      if (await createKeyFile(file, fresh)) {
        this.logger.warn(
          `generated the personal search key into ${file} (mode 0600), as AUDIT_PERSONAL_SEARCH_KEY is not set. ` +
            'Back it up apart from the database: without it no personal data can be searched',
        );
        return Buffer.from(fresh, 'base64');
      }
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
      throw new SigningKeyFileError(
        `cannot create the personal search key file ${file} (${code}): let this user write its directory, ` +
          'or set AUDIT_PERSONAL_SEARCH_KEY_FILE (or AUDIT_PERSONAL_SEARCH_KEY)',
      );
    }
    // Another process wrote it first: that one is the deployment's.
    return Buffer.from((await readSecretFile(file, label, check)) as string, 'base64');
  }

  private get searchKey(): Buffer {
    if (!this.key) throw new Error('PersonalSearch used before the module initialised');
    return this.key;
  }

  /** The digest the index holds for a normalised term (personal-search.ts normaliseEmail, normaliseIp). */
  digest(term: PersonalSearchTerm): Buffer {
    return searchDigest(this.searchKey, term);
  }

  /** The index rows of an entry whose personal data is `data` (in clear). */
  rowsFor(data: unknown): PersonalSearchRow[] {
    return searchTermsOf(data).map((term) => ({ field: term.field, hmac: this.digest(term) }));
  }
}
