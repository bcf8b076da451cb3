import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
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

  it('moves the checkpoints of superseded logs aside, keeping every file, and lists only logs afterwards', async () => {
    const mirror = new CheckpointMirror({ checkpointDir: dir } as AppConfig);
    for (const size of [10, 20]) await mirror.write('acme', size, note(size));
    await mirror.write('globex', 5, note(5));
    const record = { acknowledgedBy: { log: 'platform', index: 3 } };
    const moved = await mirror.supersede(['acme', 'gone'], '2025-01-02T03-04-05.678Z', record);
    expect(moved).toBe(join('_superseded', '2025-01-02T03-04-05.678Z'));
    // The superseded state is kept whole, beside what superseded it; the other log stays.
    for (const file of ['10', '20', 'latest']) expect(existsSync(join(dir, moved, 'acme', file))).toBe(true);
    expect(JSON.parse(readFileSync(join(dir, moved, 'acknowledgement.json'), 'utf8'))).toEqual(record);
    expect(await mirror.latest('acme')).toBeNull();
    expect(await mirror.logs()).toEqual(['globex']);
    // The next checkpoint of the log starts a mirror of its own again.
    await mirror.write('acme', 12, note(12));
    expect(await mirror.latest('acme')).toEqual({ size: 12, note: note(12) });
    expect(readFileSync(join(dir, moved, 'acme', 'latest'), 'utf8')).toBe(note(20));
  });

  it('never writes over a superseded state: the same stamp twice is refused', async () => {
    const mirror = new CheckpointMirror({ checkpointDir: dir } as AppConfig);
    await mirror.write('acme', 10, note(10));
    await mirror.supersede(['acme'], 'stamp', { first: true });
    await expect(mirror.supersede(['acme'], 'stamp', { second: true })).rejects.toThrow(/EEXIST/);
    expect(JSON.parse(readFileSync(join(dir, '_superseded', 'stamp', 'acknowledgement.json'), 'utf8'))).toEqual({
      first: true,
    });
  });
});
