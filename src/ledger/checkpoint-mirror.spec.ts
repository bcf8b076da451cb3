import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppConfig } from '../platform';
import { CheckpointMirror } from './checkpoint-mirror';

const note = (size: number) => `audit/acme\n${size}\nroot=\n\n— sig\n`;

describe('CheckpointMirror', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'audit-mirror-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('takes concurrent writes of one log, the same size twice and smaller sizes late, and keeps latest at the largest', async () => {
    const mirror = new CheckpointMirror({ checkpointDir: dir } as AppConfig);
    // The background signer and an on-demand signature mirroring at once, in any order.
    await Promise.all([35, 35, 25, 40, 30, 40].map((size) => mirror.write('acme', size, note(size))));
    expect(readFileSync(join(dir, 'acme', 'latest'), 'utf8')).toBe(note(40));
    expect(await mirror.latest('acme')).toEqual({ size: 40, note: note(40) });
    for (const size of [25, 30, 35, 40]) expect(readFileSync(join(dir, 'acme', String(size)), 'utf8')).toBe(note(size));
  });

  it('lets a failed write fail alone: the next write of the log still happens', async () => {
    const mirror = new CheckpointMirror({ checkpointDir: dir } as AppConfig);
    mkdirSync(join(dir, 'acme', '7'), { recursive: true }); // the file for size 7 cannot be written
    const [failed, next] = await Promise.allSettled([
      mirror.write('acme', 7, note(7)),
      mirror.write('acme', 8, note(8)),
    ]);
    expect(failed.status).toBe('rejected');
    expect(next.status).toBe('fulfilled');
    expect(await mirror.latest('acme')).toEqual({ size: 8, note: note(8) });
  });
});
