import { Injectable, Logger, OnModuleInit, Inject } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import {
  NoteFormatError,
  NoteKeyError,
  NoteSigner,
  NoteVerifier,
  generateNoteKey,
  noteSignatures,
  parsePrivateKey,
  parseVerifierKey,
} from '@audit/ledger';
import { randomBytes } from 'node:crypto';
import { DataSource } from 'typeorm';
import { APP_CONFIG, AppConfig } from '../platform';
import { LogStore } from './log-store';
import { SigningKeyFileError, createKeyFile, readKeyFile } from './signing-key-file';

// The row in which versions before key custody kept the key they generated.
const GENERATED_KEY_ROW = 'checkpoint-signing-key';

/** A key as signature lines and messages name it: `<name>+<key hash as 8 hex digits>`. */
function keyId(key: { name: string; keyHash: number }): string {
  return `${key.name}+${key.keyHash.toString(16).padStart(8, '0')}`;
}

/** The keys that claim to have signed `note` (not verified); none when the note is malformed. */
export function signersOf(note: string): string[] {
  try {
    return noteSignatures(note).map(keyId);
  } catch (e) {
    // A malformed stored note is for verification to report, not a reason to refuse a key.
    if (e instanceof NoteFormatError) return [];
    throw e;
  }
}

/**
 * This process holds another key than the one the deployment's latest checkpoints were signed
 * with: it must not sign (a second key would split the log's history) nor serve a verifier key.
 */
export class SigningKeyMismatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SigningKeyMismatchError';
  }
}

/** Where the key in use came from, for messages. */
type Source = 'AUDIT_SIGNING_KEY' | 'file' | 'moved' | 'generated';

/**
 * The checkpoint signing key, one per deployment, never kept in the database it signs for:
 * AUDIT_SIGNING_KEY, or else the file AUDIT_SIGNING_KEY_FILE, generated there on first start
 * (mode 0600). A key that versions before this one kept in `service_keys` is moved into that
 * file, and the row deleted. At start the key must be the one that signed the latest checkpoint of
 * every log (any key on a fresh install): otherwise the process refuses to start
 * (SigningKeyMismatchError), and it writes no key file before it knows it will not refuse.
 */
@Injectable()
export class SigningKey implements OnModuleInit {
  private readonly logger = new Logger(SigningKey.name);
  private key?: { signer: NoteSigner; verifier: NoteVerifier; verifierKey: string; id: string };

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @InjectDataSource() private readonly db: DataSource,
    private readonly store: LogStore,
  ) {}

  async onModuleInit(): Promise<void> {
    const rows: { private_key: string }[] = await this.db.query(
      'SELECT private_key FROM service_keys WHERE name = $1',
      [GENERATED_KEY_ROW],
    );
    const stored = rows[0]?.private_key ?? null;
    const { signer, source } = await this.settle(stored);
    this.key = {
      signer,
      verifier: parseVerifierKey(signer.verifierKey),
      verifierKey: signer.verifierKey,
      id: keyId(signer),
    };
    const file = this.config.signingKeyFile;
    if (source === 'generated') {
      this.logger.warn(
        `generated the checkpoint signing key ${keyId(signer)} into ${file} (mode 0600), as AUDIT_SIGNING_KEY is not set. ` +
          'Back that file up: every process of this deployment must sign with this key (the same file, or AUDIT_SIGNING_KEY)',
      );
    } else if (source === 'moved') {
      this.logger.warn(
        `moved the checkpoint signing key ${keyId(signer)} out of the database (table service_keys) into ${file} (mode 0600). ` +
          'Back that file up: every process of this deployment must sign with this key (the same file, or AUDIT_SIGNING_KEY)',
      );
    }
    if (stored !== null) {
      // The key in use is settled (it signed the latest checkpoints, or there are none), so the
      // copy an earlier version kept beside the data it signs goes, whichever key it was.
      await this.db.query('DELETE FROM service_keys WHERE name = $1', [GENERATED_KEY_ROW]);
      if (source !== 'moved') {
        this.logger.warn(
          `deleted the checkpoint signing key an earlier version kept in the database (table service_keys); ` +
            `this process signs with key ${keyId(signer)} (${source === 'file' ? file : source})`,
        );
      }
    }
  }

  /** The key this process signs with, checked against the latest checkpoints, its file written if new. */
  private async settle(stored: string | null): Promise<{ signer: NoteSigner; source: Source }> {
    if (this.config.signingKey) {
      const signer = parseKey(this.config.signingKey, 'AUDIT_SIGNING_KEY');
      await this.refuseUnlessLatestSigner(signer, 'from AUDIT_SIGNING_KEY');
      return { signer, source: 'AUDIT_SIGNING_KEY' };
    }
    const file = this.config.signingKeyFile;
    const existing = await readKeyFile(file);
    if (existing !== null) {
      const signer = parsePrivateKey(existing);
      await this.refuseUnlessLatestSigner(signer, `from the file ${file}`);
      return { signer, source: 'file' };
    }
    // No file yet: the key the database kept, else a new one. Checked before it is written, so a
    // process that must refuse leaves no file behind.
    const privateKey = stored ?? generateNoteKey(this.config.logOriginPrefix, randomBytes(32)).privateKey;
    const signer = parseKey(privateKey, 'the key kept in the database (table service_keys)');
    await this.refuseUnlessLatestSigner(
      signer,
      stored !== null
        ? 'kept in the database by an earlier version (table service_keys)'
        : `made now: AUDIT_SIGNING_KEY is unset and ${file} does not exist`,
    );
    let created: boolean;
    try {
      created = await createKeyFile(file, privateKey);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
      throw new SigningKeyFileError(
        `cannot create the signing key file ${file} (${code}): let this user write its directory, ` +
          'or set AUDIT_SIGNING_KEY_FILE (or AUDIT_SIGNING_KEY)',
        { cause: e },
      );
    }
    if (created) return { signer, source: stored !== null ? 'moved' : 'generated' };
    // Another process of the deployment, starting at the same time, wrote the file first: its key is the one.
    const winner = await readKeyFile(file);
    if (winner === null) throw new SigningKeyFileError(`the signing key file ${file} disappeared while starting`);
    const chosen = parsePrivateKey(winner);
    await this.refuseUnlessLatestSigner(chosen, `from the file ${file}`);
    return { signer: chosen, source: 'file' };
  }

  /**
   * Refuses `signer` unless it signed the latest checkpoint of every log that has one: a process
   * with another key would start a second history (or serve a verifier key no checkpoint fits).
   */
  private async refuseUnlessLatestSigner(signer: NoteSigner, from: string): Promise<void> {
    const mine = keyId(signer);
    const others = new Map<string, string[]>();
    for (const { log, note } of await this.store.latestCheckpointNotes()) {
      const signers = signersOf(note);
      if (signers.length === 0 || signers.includes(mine)) continue;
      const other = signers.join(', ');
      const logs = others.get(other) ?? [];
      logs.push(log);
      others.set(other, logs);
    }
    if (others.size === 0) return;
    const described = [...others].map(([other, logs]) => {
      const shown = logs.slice(0, 3).join(', ') + (logs.length > 3 ? ` and ${logs.length - 3} more` : '');
      return `${other} (the latest checkpoint of ${shown})`;
    });
    throw new SigningKeyMismatchError(
      `refusing to start: this process would sign checkpoints with key ${mine} (${from}), ` +
        `but the latest checkpoints were signed by key ${described.join('; ')}. ` +
        "One deployment signs with one key: set AUDIT_SIGNING_KEY to the deployment's key, or " +
        'AUDIT_SIGNING_KEY_FILE to the file that holds it, and start again',
    );
  }

  get signer(): NoteSigner {
    return this.loaded().signer;
  }

  get verifier(): NoteVerifier {
    return this.loaded().verifier;
  }

  /** The verifier key in note format: `<name>+<hex key hash>+<base64(0x01 ‖ public key)>`. */
  get verifierKey(): string {
    return this.loaded().verifierKey;
  }

  /** The key as signature lines name it: `<name>+<hex key hash>`. */
  get id(): string {
    return this.loaded().id;
  }

  private loaded() {
    if (!this.key) throw new Error('signing key used before module init');
    return this.key;
  }
}

/** `text` as a signer; a clear message (never the text) when it is not a note private key. */
function parseKey(text: string, what: string): NoteSigner {
  try {
    return parsePrivateKey(text);
  } catch (e) {
    if (e instanceof NoteKeyError)
      throw new Error(`${what} is not a usable note private key: ${e.message}`, { cause: e });
    throw e;
  }
}
