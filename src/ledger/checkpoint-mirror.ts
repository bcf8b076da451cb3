import { Inject, Injectable } from '@nestjs/common';
import { mkdir, readFile, readdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { APP_CONFIG, AppConfig } from '../platform';

/**
 * Signed checkpoints written outside PostgreSQL (a directory: `<dir>/<log>/<size>` and
 * `<dir>/<log>/latest`), so a database restored from an old backup or forked can be told apart
 * from the record of what was signed.
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
      const tmp = join(dir, `.latest.${process.pid}.${size}`);
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
        .filter((e) => e.isDirectory())
        .map((e) => e.name)
        .sort();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
  }
}
