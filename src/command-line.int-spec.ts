import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { platformEntries, startTestApp } from '../test/support/test-app';
import { createTestDatabase, dropTestDatabase } from '../test/support/test-database';
import { runCommandLine } from './command-line';

describe('command line', () => {
  let db: string;
  let checkpointDir: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    checkpointDir = mkdtempSync(join(tmpdir(), 'audit-cli-'));
  });

  afterAll(async () => {
    rmSync(checkpointDir, { recursive: true, force: true });
    await dropTestDatabase(db);
  });

  async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
    let out = '';
    let err = '';
    const env = { DATABASE_URL: db, AUDIT_CHECKPOINT_DIR: checkpointDir, LOG_LEVEL: 'silent' };
    const code = await runCommandLine(argv, env, { out: (text) => (out += text), err: (text) => (err += text) });
    return { code, out, err };
  }

  it('creates the first admin key of a fresh install, recorded in the platform log, and the key works', async () => {
    const { code, out } = await run('keys', 'create', '--name', 'ops', '--roles', 'admin', '--tenants', '*');
    expect(code).toBe(0);
    const key = JSON.parse(out);
    expect(key).toMatchObject({
      name: 'ops',
      roles: ['admin'],
      tenants: ['*'],
      expiresAt: null,
      key: expect.stringMatching(/^atk_/),
    });
    const created = (await platformEntries(db)).filter((e) => e.type === 'api_key.created');
    expect(created).toEqual([
      expect.objectContaining({ actor: { type: 'operator', id: 'cli' }, target: { type: 'api_key', id: key.id } }),
    ]);
    const app = await startTestApp(db, { AUDIT_BOOTSTRAP_ADMIN_KEY: '' });
    try {
      await app.http().get('/v1/keys').set('authorization', `Bearer ${key.key}`).expect(200);
    } finally {
      await app.close();
    }
  });

  it('refuses bad arguments with exit code 2, the problem and the usage, creating nothing', async () => {
    const before = (await platformEntries(db)).length;
    for (const argv of [
      ['keys', 'create', '--name', 'x', '--roles', 'wizard', '--tenants', 'acme'],
      ['keys', 'create', '--name', 'x', '--roles', 'emitter', '--tenants', ''],
      ['keys', 'create', '--nme', 'x'],
      ['keys', 'delete'],
    ]) {
      const { code, out, err } = await run(...argv);
      expect(code).toBe(2);
      expect(out).toBe('');
      expect(err).toContain('usage:');
    }
    expect((await run('keys', 'create', '--name', 'x', '--roles', 'wizard', '--tenants', 'acme')).err).toContain(
      '--roles',
    );
    expect((await platformEntries(db)).length).toBe(before);
  });

  it('verifies logs and prints one report per log', async () => {
    const { code, out, err } = await run('verify', 'platform');
    expect(code).toBe(0);
    expect(JSON.parse(out)).toMatchObject({ ok: true, log: 'platform', size: 1 });
    expect(err).toContain('1 of 1 logs verified');
  });
});
