import { Inject, Injectable } from '@nestjs/common';
import { mkdir, open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { APP_CONFIG, AppConfig } from '../platform';
import { HoldState } from './hold.decider';
import { HoldScope } from './hold-scope';

/** The journal's directory beside the checkpoint mirror (a name no log can have). */
export const HOLD_JOURNAL_DIR = '_holds';
const FILE = 'holds.ndjson';

/** A hold as journaled after a change: enough to place it again. No personal data: a hold carries none. */
export interface JournaledHold {
  readonly id: string;
  readonly tenant: string;
  readonly matter: string;
  readonly description: string;
  readonly scope: HoldScope;
  readonly status: 'active' | 'released';
  readonly at: string;
}

/**
 * Every hold's state after each change, written outside the database beside the checkpoint
 * mirror (`<AUDIT_CHECKPOINT_DIR>/_holds/holds.ndjson`), as soon as the change commits (a
 * refused change is never journaled). A database restored from a backup taken before a hold was
 * placed has forgotten it; acknowledging the rollback places again every hold the journal holds
 * active and the database lacks (`RestoreJournaledHolds`, docs/operations.md "Restoring a
 * backup"). A process that dies between the commit and the journal line leaves that one change
 * out of the journal; its entry is still in the ledger and in the next signed checkpoint.
 */
@Injectable()
export class HoldJournal {
  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  private get dir(): string {
    return join(this.config.checkpointDir, HOLD_JOURNAL_DIR);
  }

  async record(hold: HoldState): Promise<void> {
    const { id, tenant, matter, description, scope, status } = hold;
    const line: JournaledHold = { id, tenant, matter, description, scope, status, at: hold.history.at(-1)!.at };
    await mkdir(this.dir, { recursive: true });
    const file = await open(join(this.dir, FILE), 'a', 0o600);
    try {
      await file.appendFile(`${JSON.stringify(line)}\n`);
      await file.sync();
    } finally {
      await file.close();
    }
  }

  /** Each hold's latest journaled state, by id. A torn last line (a crash mid-write) is skipped. */
  async latest(): Promise<Map<string, JournaledHold>> {
    let text: string;
    try {
      text = await readFile(join(this.dir, FILE), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
      throw e;
    }
    const holds = new Map<string, JournaledHold>();
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      try {
        const hold = JSON.parse(line) as JournaledHold;
        holds.set(hold.id, hold);
      } catch {
        // The last line of a write cut short: the change it stood for did not commit either.
      }
    }
    return holds;
  }
}
