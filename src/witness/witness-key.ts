import { Inject, Injectable } from '@nestjs/common';
import { parseCosignerKey, type Cosigner } from '@audit/ledger';
import { readFileSync } from 'node:fs';
import { APP_CONFIG, AppConfig } from '../platform';

/**
 * The witness's cosigning key (cosignature/v1, Ed25519): `AUDIT_WITNESS_KEY`, or the file named by
 * `AUDIT_WITNESS_KEY_FILE`, read once at start. A key that does not parse stops the start; its
 * text is never logged.
 */
@Injectable()
export class WitnessKey {
  readonly cosigner: Cosigner;

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    const setting = config.witness;
    if (setting === null) throw new Error('the witness component is not configured');
    const text = setting.key ?? readFileSync(setting.keyFile as string, 'utf8').trim();
    try {
      this.cosigner = parseCosignerKey(text);
    } catch {
      throw new Error('the witness key (AUDIT_WITNESS_KEY or AUDIT_WITNESS_KEY_FILE) is not a cosigner key');
    }
  }
}
