import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  platformEntries,
  startTestApp,
  testKeyEncryptionKey,
  testPersonalSearchKey,
  testSigningKey,
} from '../test/support/test-app';
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
    // The deployment's key, as the service instances on this database have it.
    const env = {
      DATABASE_URL: db,
      AUDIT_CHECKPOINT_DIR: checkpointDir,
      AUDIT_SIGNING_KEY: testSigningKey(db),
      AUDIT_KEY_ENCRYPTION_KEY: testKeyEncryptionKey(db),
      AUDIT_PERSONAL_SEARCH_KEY: testPersonalSearchKey(db),
      LOG_LEVEL: 'silent',
    };
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

  it('creates the first legal person once, with a key for every tenant; then refuses', async () => {
    const { code, out } = await run('principals', 'first-legal', '--name', 'gwen', '--email', 'gwen@example.test');
    expect(code).toBe(0);
    const made = JSON.parse(out);
    expect(made.principal).toMatchObject({ name: 'gwen', kind: 'person', email: 'gwen@example.test' });
    expect(made.principal.grants).toEqual([
      expect.objectContaining({ role: 'legal', tenants: ['*'], status: 'active' }),
    ]);
    expect(made.key).toMatchObject({ roles: ['legal'], tenants: ['*'], principal: made.principal.id });
    const app = await startTestApp(db, { AUDIT_BOOTSTRAP_ADMIN_KEY: '' });
    try {
      await app.http().get('/v1/holds').set('authorization', `Bearer ${made.key.key}`).expect(200);
    } finally {
      await app.close();
    }
    // The email is personal data: beside the leaf, never in it.
    const entries = await platformEntries(db);
    expect(JSON.stringify(entries)).not.toContain('gwen@example.test');
    const before = entries.length;
    const again = await run('principals', 'first-legal', '--name', 'mallory', '--email', 'mallory@example.test');
    expect(again.code).toBe(1);
    expect(again.err).toContain('legal_person_exists');
    expect((await platformEntries(db)).length).toBe(before);
    const legalKey = await run('keys', 'create', '--name', 'robo', '--roles', 'legal', '--tenants', '*');
    expect(legalKey.code).toBe(1);
    expect(legalKey.err).toContain('grant_needs_person');
  });

  it('verifies logs and prints one report per log', async () => {
    const { code, out, err } = await run('verify', 'platform');
    expect(code).toBe(0);
    const size = (await platformEntries(db)).length;
    expect(size).toBeGreaterThan(0);
    expect(JSON.parse(out)).toMatchObject({ ok: true, log: 'platform', size });
    expect(err).toContain('1 of 1 logs verified');
  });
});
