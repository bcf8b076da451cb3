import { Inject, Injectable, Logger } from '@nestjs/common';
import { open, mkdir, readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { APP_CONFIG, AppConfig } from '../platform';

/** The directory of the journal, beside the checkpoints (a name no log can have). */
export const ERASURE_JOURNAL_DIR = '_erasures';

/** One erasure as journaled: which entries of a log, when, for which request. No personal data. */
export interface JournaledErasure {
  readonly log: string;
  /** Inclusive index ranges `[first, last]`. */
  readonly ranges: readonly (readonly [number, number])[];
  readonly at: string;
  readonly by: string;
}

/** Sorted indices as inclusive ranges: `[1,2,3,7]` → `[[1,3],[7,7]]`. */
export function toRanges(indices: readonly number[]): [number, number][] {
  const sorted = [...new Set(indices)].sort((a, b) => a - b);
  const ranges: [number, number][] = [];
  for (const index of sorted) {
    const last = ranges[ranges.length - 1];
    if (last !== undefined && last[1] === index - 1) last[1] = index;
    else ranges.push([index, index]);
  }
  return ranges;
}

/** The indices of inclusive ranges. */
export function fromRanges(ranges: readonly (readonly [number, number])[]): number[] {
  return ranges.flatMap(([first, last]) => Array.from({ length: last - first + 1 }, (_, i) => first + i));
}

/**
 * Every erasure, written outside the database beside the checkpoint mirror (one NDJSON file per
 * log under `<AUDIT_CHECKPOINT_DIR>/_erasures/`), before the erasing transaction commits. A
 * database restored from a backup taken before an erasure holds the erased personal data again;
 * at start, before the service answers, `replay` erases again what the journal names and the
 * database still holds (docs/operations.md "Restoring a backup"). The journal names entries
 * (log, index ranges) and the request, never a subject or a value. An erasure journaled whose
 * transaction then failed is erased by the replay too: it was decided, under the hold locks, by a
 * request that runs again and finds those entries erased in its name.
 */
@Injectable()
export class ErasureJournal {
  private readonly logger = new Logger(ErasureJournal.name);

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  private get dir(): string {
    return join(this.config.checkpointDir, ERASURE_JOURNAL_DIR);
  }

  /** Appends an erasure to its log's journal and waits until it is on disk. */
  async record(erasure: JournaledErasure): Promise<void> {
    if (erasure.ranges.length === 0) return;
    await mkdir(this.dir, { recursive: true });
    const file = await open(join(this.dir, `${erasure.log}.ndjson`), 'a', 0o600);
    try {
      await file.appendFile(`${JSON.stringify(erasure)}\n`);
      await file.sync();
    } finally {
      await file.close();
    }
  }

  /** Every journaled erasure, log by log, in the order written. A torn last line (a crash mid-write) is skipped. */
  async read(): Promise<JournaledErasure[]> {
    let files: string[];
    try {
      files = (await readdir(this.dir)).filter((name) => name.endsWith('.ndjson')).sort();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    const erasures: JournaledErasure[] = [];
    for (const name of files) {
      for (const line of (await readFile(join(this.dir, name), 'utf8')).split('\n')) {
        if (line.trim() === '') continue;
        try {
          erasures.push(JSON.parse(line) as JournaledErasure);
        } catch {
          this.logger.warn(`skipped a torn line of the erasure journal ${name}`);
        }
      }
    }
    return erasures;
  }
}
