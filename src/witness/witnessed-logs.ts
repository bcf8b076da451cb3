import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { parseWitnessPolicy, policyLogsFor, type PolicyLog, type WitnessPolicy } from '@audit/ledger';
import { readFile, stat } from 'node:fs/promises';
import { APP_CONFIG, AppConfig } from '../platform';

/** Largest witnessed-logs file read. */
const MAX_FILE_BYTES = 1024 * 1024;

/**
 * The logs this witness witnesses: the `log` lines of the tlog-policy file `AUDIT_WITNESS_LOGS`.
 * The file's modification time and size are checked on each request (one stat) and the file read
 * again when they change. A file that fails to parse at start stops the start; a later bad edit is
 * logged as an error and the last good list kept, so a typo does not stop witnessing.
 */
@Injectable()
export class WitnessedLogs implements OnModuleInit {
  private readonly logger = new Logger(WitnessedLogs.name);
  private readonly file: string;
  private policy: WitnessPolicy | undefined;
  private stamp = '';

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    if (config.witness === null) throw new Error('the witness component is not configured');
    this.file = config.witness.logsFile;
  }

  async onModuleInit(): Promise<void> {
    await this.refresh(true);
  }

  /** The log lines whose key may sign checkpoints of `origin` (origin = key name or under it). */
  async logsFor(origin: string): Promise<PolicyLog[]> {
    await this.refresh(false);
    return policyLogsFor(this.policy as WitnessPolicy, origin);
  }

  private async refresh(atStart: boolean): Promise<void> {
    try {
      const info = await stat(this.file);
      const stamp = `${info.mtimeMs}:${info.size}:${info.ino}`;
      if (stamp === this.stamp) return;
      if (info.size > MAX_FILE_BYTES) throw new Error(`larger than ${MAX_FILE_BYTES} bytes`);
      const policy = parseWitnessPolicy(await readFile(this.file, 'utf8'));
      this.policy = policy;
      this.stamp = stamp;
      this.logger.log(`witnessed logs read from ${this.file}: ${policy.logs.length} log key(s)`);
    } catch (error) {
      const message = `witnessed logs file ${this.file} is unusable: ${(error as Error).message}`;
      if (atStart || this.policy === undefined) throw new Error(message, { cause: error });
      // Logged once per change of the file, not once per request.
      const failed = await stat(this.file).then(
        (info) => `${info.mtimeMs}:${info.size}:${info.ino}`,
        () => 'missing',
      );
      if (failed !== this.stamp) {
        this.logger.error(`${message}; keeping the previous list`);
        this.stamp = failed;
      }
    }
  }
}
