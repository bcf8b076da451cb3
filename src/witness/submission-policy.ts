import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { parseWitnessPolicy, type WitnessPolicy } from '@audit/ledger';
import { readFileSync } from 'node:fs';
import { APP_CONFIG, AppConfig } from '../platform';

/**
 * The witnesses that cosign this deployment's checkpoints and the quorum: the tlog-policy file
 * `AUDIT_WITNESS_POLICY`, read once at start (a file that does not parse stops the start). Null
 * when the variable is unset: checkpoints are then not witnessed.
 */
@Injectable()
export class SubmissionPolicy implements OnModuleInit {
  private readonly logger = new Logger(SubmissionPolicy.name);
  private current: WitnessPolicy | null = null;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  onModuleInit(): void {
    const file = this.config.witnessPolicyFile;
    if (file === null) return;
    try {
      this.current = parseWitnessPolicy(readFileSync(file, 'utf8'));
    } catch (error) {
      throw new Error(`AUDIT_WITNESS_POLICY ${file} is unusable: ${(error as Error).message}`, { cause: error });
    }
    const submitted = this.current.witnesses.filter((w) => w.url !== undefined).length;
    this.logger.log(`witness policy: ${this.current.witnesses.length} witness(es), ${submitted} with a URL`);
  }

  get policy(): WitnessPolicy | null {
    return this.current;
  }
}
