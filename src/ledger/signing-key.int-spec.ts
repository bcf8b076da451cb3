import { generateNoteKey, openCheckpoint, parsePrivateKey } from '@audit/ledger';
import { Test } from '@nestjs/testing';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { clearQueues } from '../../test/support/redis-keys';
import { testEnv } from '../../test/support/test-app';
import { createTestDatabase, dropTestDatabase, superuserClient } from '../../test/support/test-database';
import { billingEvent } from '../../test/support/test-module';
import { PlatformModule } from '../platform';
import { loadConfig } from '../platform/config/app-config';
import { PinoLogger } from '../platform/logging/pino-logger';
import { CheckpointSigner } from './checkpoint-signer';
import { LedgerModule } from './ledger.module';
import { Sequencer } from './sequencer';
import { SigningKey } from './signing-key';
import { createKeyFile } from './signing-key-file';

/** One service process as far as the ledger goes, with its own key settings. */
interface LedgerProcess {
  readonly key: SigningKey;
  readonly sequencer: Sequencer;
  readonly signer: CheckpointSigner;
  close(): Promise<void>;
}

/** Starts the ledger on `db` with `env` (AUDIT_SIGNING_KEY...); its log lines go to `logs`. */
async function startLedger(db: string, env: Record<string, string>, logs: string[] = []): Promise<LedgerProcess> {
  const config = loadConfig(testEnv(db, { AUDIT_COMPONENTS: 'sequencer', ...env }));
  const moduleRef = await Test.createTestingModule({
    imports: [PlatformModule.forRoot(config), LedgerModule.forRoot(config)],
  }).compile();
  moduleRef.useLogger(new PinoLogger('trace', { write: (line: string) => void logs.push(line) }));
  const close = async () => {
    await moduleRef.close();
    await clearQueues(config.queuePrefix);
    rmSync(config.checkpointDir, { recursive: true, force: true });
  };
  try {
    await moduleRef.init();
  } catch (e) {
    await close();
    throw e;
  }
  return {
    key: moduleRef.get(SigningKey),
    sequencer: moduleRef.get(Sequencer),
    signer: moduleRef.get(CheckpointSigner),
    close,
  };
}

/** A fresh note private key, as AUDIT_SIGNING_KEY or a key file holds it. */
const newKey = (name = 'audit-trail.localhost') => generateNoteKey(name, randomBytes(32));

/** `<name>+<hash>`, as messages and signature lines name a key. */
const idOf = (privateKey: string) => {
  const signer = parsePrivateKey(privateKey);
  return `${signer.name}+${signer.keyHash.toString(16).padStart(8, '0')}`;
};

/** The secret part of a private key text: base64(0x01 ‖ seed), which may itself hold `+`. */
const secretOf = (privateKey: string) => {
  const secret = privateKey.split('+').slice(4).join('+');
  expect(secret).toHaveLength(44);
  return secret;
};

/** Without AUDIT_SIGNING_KEY, keeping the key in `file`. */
const inFile = (file: string) => ({ AUDIT_SIGNING_KEY: '', AUDIT_SIGNING_KEY_FILE: file });

/**
 * Key custody against the real PostgreSQL and real files: the checkpoint signing key lives in a
 * file outside the database (or AUDIT_SIGNING_KEY), one per deployment, and a process holding
 * another key than the one that signed the latest checkpoints refuses to start or to sign.
 */
describe('SigningKey: custody', () => {
  let db: string;
  let owner: Client;
  let dir: string;

  beforeEach(async () => {
    db = await createTestDatabase();
    owner = await superuserClient(db);
    dir = mkdtempSync(join(tmpdir(), 'audit-key-'));
  });

  afterEach(async () => {
    await owner.end();
    await dropTestDatabase(db);
    rmSync(dir, { recursive: true, force: true });
  });

  const serviceKeyRows = async () => (await owner.query('SELECT name FROM service_keys')).rows;

  /** Appends one event to `log` and signs it now; the signed note. */
  async function appendAndSign(p: LedgerProcess, log: string): Promise<string | null> {
    await p.sequencer.append([billingEvent(log, randomBytes(4).toString('hex'))]);
    return p.signer.signNow(log);
  }

  it('generates the key into a file of mode 0600 (its directory created), never into a table; a second start reuses it', async () => {
    const file = join(dir, 'state', 'signing-key');
    const logs: string[] = [];
    const first = await startLedger(db, inFile(file), logs);
    let verifierKey: string;
    try {
      verifierKey = first.key.verifierKey;
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(parsePrivateKey(readFileSync(file, 'utf8').trim()).verifierKey).toBe(verifierKey);
      expect(await serviceKeyRows()).toEqual([]);
      expect(readdirSync(join(dir, 'state'))).toEqual(['signing-key']);
      await appendAndSign(first, 'acme');
    } finally {
      await first.close();
    }
    const text = readFileSync(file, 'utf8');
    // The warning says that a key was generated and where, never the key.
    expect(logs.filter((l) => l.includes('generated the checkpoint signing key') && l.includes(file))).toHaveLength(1);
    expect(logs.join('\n')).not.toContain(text.trim());
    expect(logs.join('\n')).not.toContain(secretOf(text.trim()));

    const again: string[] = [];
    const second = await startLedger(db, inFile(file), again);
    try {
      expect(second.key.verifierKey).toBe(verifierKey);
      expect(openCheckpoint((await appendAndSign(second, 'acme')) as string, second.key.verifier).size).toBe(2);
    } finally {
      await second.close();
    }
    expect(readFileSync(file, 'utf8')).toBe(text);
    expect(again.join('\n')).not.toContain('generated');
    expect(await serviceKeyRows()).toEqual([]);
  });

  it('lets the runtime role delete from service_keys but never add a key to it', async () => {
    await owner.query('BEGIN');
    try {
      await owner.query('SET LOCAL ROLE audit_runtime');
      await owner.query('DELETE FROM service_keys');
      await expect(
        owner.query("INSERT INTO service_keys (name, private_key) VALUES ('checkpoint-signing-key', 'x')"),
      ).rejects.toThrow(/permission denied/);
    } finally {
      await owner.query('ROLLBACK');
    }
  });

  it('ends with one key when several processes start at once on a fresh install', async () => {
    const file = join(dir, 'signing-key');
    const logs: string[] = [];
    const started = await Promise.allSettled([0, 1, 2, 3].map(() => startLedger(db, inFile(file), logs)));
    try {
      for (const s of started) if (s.status === 'rejected') throw s.reason;
      const keys = started.map((s) => (s as PromiseFulfilledResult<LedgerProcess>).value.key.verifierKey);
      expect(new Set(keys).size).toBe(1);
      expect(logs.filter((l) => l.includes('generated the checkpoint signing key'))).toHaveLength(1);
      expect(parsePrivateKey(readFileSync(file, 'utf8').trim()).verifierKey).toBe(keys[0]);
      expect(readdirSync(dir)).toEqual(['signing-key']);
    } finally {
      for (const s of started) if (s.status === 'fulfilled') await s.value.close();
    }
  });

  it('creates the key file once however many write it at the same moment: the others are told to read it', async () => {
    const file = join(dir, 'signing-key');
    const candidates = Array.from({ length: 8 }, () => newKey().privateKey);
    const created = await Promise.all(candidates.map((k) => createKeyFile(file, k)));
    expect(created.filter(Boolean)).toHaveLength(1);
    expect(readFileSync(file, 'utf8')).toBe(`${candidates[created.indexOf(true)]}\n`);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir)).toEqual(['signing-key']);
  });

  it('moves the key an earlier version kept in service_keys into the file, then deletes the row; the verifier key stays', async () => {
    // As an earlier version left it: the key in the table, checkpoints signed with it.
    const old = newKey();
    const before = await startLedger(db, { AUDIT_SIGNING_KEY: old.privateKey });
    try {
      await appendAndSign(before, 'acme');
    } finally {
      await before.close();
    }
    await owner.query('INSERT INTO service_keys (name, private_key) VALUES ($1, $2)', [
      'checkpoint-signing-key',
      old.privateKey,
    ]);

    const file = join(dir, 'signing-key');
    const logs: string[] = [];
    const after = await startLedger(db, inFile(file), logs);
    try {
      expect(after.key.verifierKey).toBe(old.verifierKey);
      expect(readFileSync(file, 'utf8').trim()).toBe(old.privateKey);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(await serviceKeyRows()).toEqual([]);
      expect(openCheckpoint((await appendAndSign(after, 'acme')) as string, after.key.verifier).size).toBe(2);
    } finally {
      await after.close();
    }
    expect(logs.filter((l) => l.includes('moved the checkpoint signing key') && l.includes(file))).toHaveLength(1);
    expect(logs.join('\n')).not.toContain(secretOf(old.privateKey));
  });

  it('refuses to start with another key than the one that signed the latest checkpoints, naming both, writing no file', async () => {
    const deployment = newKey();
    const first = await startLedger(db, { AUDIT_SIGNING_KEY: deployment.privateKey });
    try {
      await appendAndSign(first, 'acme');
    } finally {
      await first.close();
    }
    const other = newKey();
    const refusal = async (env: Record<string, string>): Promise<string> => {
      const logs: string[] = [];
      const error = await startLedger(db, env, logs).then(
        async (p) => {
          await p.close();
          return new Error('started');
        },
        (e: Error) => e,
      );
      expect(error.name).toBe('SigningKeyMismatchError');
      for (const text of [error.message, ...logs]) {
        expect(text).not.toContain(secretOf(other.privateKey));
        expect(text).not.toContain(secretOf(deployment.privateKey));
      }
      return error.message;
    };

    // AUDIT_SIGNING_KEY set to another key.
    const message = await refusal({ AUDIT_SIGNING_KEY: other.privateKey });
    expect(message).toContain(idOf(other.privateKey));
    expect(message).toContain(idOf(deployment.privateKey));
    expect(message).toMatch(/AUDIT_SIGNING_KEY\b.*AUDIT_SIGNING_KEY_FILE/);

    // A key file holding another key.
    const otherFile = join(dir, 'other-key');
    writeFileSync(otherFile, `${other.privateKey}\n`, { mode: 0o600 });
    expect(await refusal(inFile(otherFile))).toContain(idOf(other.privateKey));

    // No key anywhere: the new key would be a second one, so none is written.
    const missing = join(dir, 'state', 'signing-key');
    expect(await refusal(inFile(missing))).toContain(idOf(deployment.privateKey));
    expect(() => statSync(join(dir, 'state'))).toThrow(/ENOENT/);

    // Another key left in service_keys is not moved, and the row stays until the key is settled.
    await owner.query('INSERT INTO service_keys (name, private_key) VALUES ($1, $2)', [
      'checkpoint-signing-key',
      other.privateKey,
    ]);
    expect(await refusal(inFile(missing))).toContain(idOf(other.privateKey));
    expect(await serviceKeyRows()).toHaveLength(1);
    const settled = await startLedger(db, { AUDIT_SIGNING_KEY: deployment.privateKey });
    await settled.close();
    expect(await serviceKeyRows()).toEqual([]);

    // The deployment's key in a file starts.
    const right = join(dir, 'right-key');
    writeFileSync(right, `${deployment.privateKey}\n`, { mode: 0o600 });
    const fine = await startLedger(db, inFile(right));
    try {
      expect(fine.key.verifierKey).toBe(deployment.verifierKey);
    } finally {
      await fine.close();
    }
  });

  it('never signs after a checkpoint of another key, even when both started before any checkpoint', async () => {
    const a = await startLedger(db, { AUDIT_SIGNING_KEY: newKey().privateKey });
    const logs: string[] = [];
    const b = await startLedger(db, { AUDIT_SIGNING_KEY: newKey().privateKey }, logs);
    try {
      const signed = (await appendAndSign(a, 'acme')) as string;
      expect(await appendAndSign(b, 'acme')).toBe(signed);
      expect(await appendAndSign(b, 'acme')).toBe(signed);
      const { rows } = await owner.query("SELECT note FROM checkpoints WHERE log = 'acme'");
      expect(rows.map((r: { note: string }) => r.note)).toEqual([signed]);
      expect(logs.filter((l) => l.includes('NOT signing log acme') && l.includes(b.key.id))).toHaveLength(1);
      // The other logs are still signed by whoever signs them first.
      expect(openCheckpoint((await appendAndSign(b, 'globex')) as string, b.key.verifier).size).toBe(1);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('refuses a key file its group or others may read, and one that holds no key, never quoting it', async () => {
    const file = join(dir, 'signing-key');
    const key = newKey().privateKey;
    writeFileSync(file, `${key}\n`, { mode: 0o600 });
    chmodSync(file, 0o640);
    await expect(startLedger(db, inFile(file))).rejects.toThrow(/mode 0640.*chmod 600/);
    chmodSync(file, 0o600);
    writeFileSync(file, 'PRIVATE+KEY+not-a-key+00000000+c2VjcmV0LWdhcmJhZ2U=\n');
    const error = await startLedger(db, inFile(file)).then(
      () => new Error('started'),
      (e: Error) => e,
    );
    expect(error.message).toContain(`the signing key file ${file} does not hold a note private key`);
    expect(error.message).not.toContain('c2VjcmV0LWdhcmJhZ2U');
    expect(await serviceKeyRows()).toEqual([]);
  });
});
