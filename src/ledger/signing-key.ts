import { Injectable, Logger, OnModuleInit, Inject } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { NoteSigner, NoteVerifier, generateNoteKey, parsePrivateKey, parseVerifierKey } from '@audit/ledger';
import { randomBytes } from 'node:crypto';
import { DataSource } from 'typeorm';
import { APP_CONFIG, AppConfig } from '../platform';

const GENERATED_KEY_ROW = 'checkpoint-signing-key';

/**
 * The checkpoint signing key: AUDIT_SIGNING_KEY, or else one generated on first start and kept
 * in the database (so every process of a deployment signs with the same key), with a warning.
 */
@Injectable()
export class SigningKey implements OnModuleInit {
  private readonly logger = new Logger(SigningKey.name);
  private key?: { signer: NoteSigner; verifier: NoteVerifier; verifierKey: string };

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @InjectDataSource() private readonly db: DataSource,
  ) {}

  async onModuleInit(): Promise<void> {
    let privateKey = this.config.signingKey;
    if (!privateKey) {
      const generated = generateNoteKey(this.config.logOriginPrefix, randomBytes(32)).privateKey;
      await this.db.query('INSERT INTO service_keys (name, private_key) VALUES ($1, $2) ON CONFLICT DO NOTHING', [
        GENERATED_KEY_ROW,
        generated,
      ]);
      const rows: { private_key: string }[] = await this.db.query(
        'SELECT private_key FROM service_keys WHERE name = $1',
        [GENERATED_KEY_ROW],
      );
      privateKey = rows[0].private_key;
      this.logger.warn(
        'AUDIT_SIGNING_KEY is not set: checkpoints are signed with a key generated once and kept in the database. ' +
          'Set AUDIT_SIGNING_KEY to a key kept outside the database for production.',
      );
    }
    const signer = parsePrivateKey(privateKey);
    this.key = { signer, verifier: parseVerifierKey(signer.verifierKey), verifierKey: signer.verifierKey };
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

  private loaded() {
    if (!this.key) throw new Error('signing key used before module init');
    return this.key;
  }
}
