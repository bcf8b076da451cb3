import { Inject, Injectable } from '@nestjs/common';
import { LOG_NAME_PATTERN } from '@audit/ledger';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { APP_CONFIG, AppConfig } from '../platform';

/**
 * Where superseded mirror states are kept, under the mirror directory: not a log name (a log's
 * name starts with a letter or digit), so no log's directory can collide with it.
 */
export const SUPERSEDED_DIR = '_superseded';

/**
 * Signed checkpoints written outside PostgreSQL (a directory: `<dir>/<log>/<size>` and
 * `<dir>/<log>/latest`), so a database restored from an old backup or forked can be told apart
 * from the record of what was signed. Nothing in it is ever deleted: the checkpoints of a history
 * an operator acknowledged as superseded move to `<dir>/_superseded/<time>/<log>/`.
 */
@Injectable()
export class CheckpointMirror {
  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  // The write under way per log. The background signer and an on-demand signature (an export,
  // an event read) can mirror the same log at once; one at a time, `latest` cannot be moved back
  // by a smaller size that read it first, and two writers never share a temporary file.
  private readonly writing = new Map<string, Promise<void>>();

  /** Writes a signed checkpoint; `latest` moves only forward. */
  write(log: string, size: number, note: string): Promise<void> {
    const previous = this.writing.get(log) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(() => this.writeNow(log, size, note));
    this.writing.set(log, next);
    void next
      .finally(() => {
        if (this.writing.get(log) === next) this.writing.delete(log);
      })
      .catch(() => undefined);
    return next;
  }

  private async writeNow(log: string, size: number, note: string): Promise<void> {
    const dir = join(this.config.checkpointDir, log);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, String(size)), note, { flag: 'w' });
    const current = await this.latest(log);
    if (current === null || current.size < size) {
      // Unique per write: processes sharing the mirror may have one pid (1, in containers).
      const tmp = join(dir, `.latest.${process.pid}.${size}.${randomBytes(6).toString('hex')}`);
      await writeFile(tmp, note);
      await rename(tmp, join(dir, 'latest'));
    }
  }

  /** The latest mirrored checkpoint of `log`, or null when none was mirrored here. */
  async latest(log: string): Promise<{ size: number; note: string } | null> {
    try {
      const note = await readFile(join(this.config.checkpointDir, log, 'latest'), 'utf8');
      const size = Number(note.split('\n')[1]);
      return Number.isSafeInteger(size) ? { size, note } : null;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
  }

  /** The logs this mirror holds checkpoints of. */
  async logs(): Promise<string[]> {
    try {
      const entries = await readdir(this.config.checkpointDir, { withFileTypes: true });
      return entries
        .filter((e) => e.isDirectory() && LOG_NAME_PATTERN.test(e.name))
        .map((e) => e.name)
        .sort();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
  }

  /**
   * Moves the checkpoints of `logs` aside, into `<dir>/_superseded/<stamp>/<log>/`, with `record`
   * (what superseded them) as `acknowledgement.json` beside them: kept, never deleted, and no
   * longer compared with the database. A log already moved (by a concurrent acknowledgement) is
   * skipped. Returns the directory, relative to the mirror's. `stamp` must be a file name.
   */
  async supersede(logs: readonly string[], stamp: string, record: unknown): Promise<string> {
    const relative = join(SUPERSEDED_DIR, stamp);
    const target = join(this.config.checkpointDir, relative);
    await mkdir(target, { recursive: true });
    await writeFile(join(target, 'acknowledgement.json'), `${JSON.stringify(record, null, 2)}\n`, { flag: 'wx' });
    for (const log of logs) {
      // A write of this log under way in this process lands in the directory that moves, not in a new one.
      await this.writing.get(log)?.catch(() => undefined);
      try {
        await rename(join(this.config.checkpointDir, log), join(target, log));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
    }
    return relative;
  }
}
