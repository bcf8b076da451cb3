import { generateCosignerKey } from '@audit/ledger';
import { ConfigError, loadConfig } from './app-config';

describe('loadConfig', () => {
  it('has working defaults for every variable', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 3000,
      databaseUrl: 'postgres://postgres@127.0.0.1:5432/audit_trail',
      redisUrl: 'redis://127.0.0.1:6379',
      holdReleaseApprovals: 2,
      logOriginPrefix: 'audit-trail.localhost',
      rateLimits: { emitter: { perSecond: 2000, burst: 4000 }, other: { perSecond: 50, burst: 100 } },
    });
    expect([...config.components].sort()).toEqual(['api', 'projector', 'sequencer', 'signer', 'worker']);
  });

  it('names every bad variable at once and never echoes a secret', () => {
    expect.assertions(3);
    try {
      loadConfig({
        PORT: 'eighty',
        DATABASE_URL: 'mysql://x',
        REDIS_URL: 'not a url',
        AUDIT_BOOTSTRAP_ADMIN_KEY: 'short-secret',
        AUDIT_SIGNING_KEY: 'garbage-key-material',
        HOLD_RELEASE_APPROVALS: '0',
        AUDIT_COMPONENTS: 'api,teleporter',
        AUDIT_RATE_LIMIT_EMITTER: '100',
        AUDIT_RATE_LIMIT_OTHER: '5/0',
      });
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      expect((e as ConfigError).problems.map((p) => p.split(' ')[0])).toEqual([
        'AUDIT_BOOTSTRAP_ADMIN_KEY',
        'AUDIT_SIGNING_KEY',
        'AUDIT_COMPONENTS',
        'PORT',
        'DATABASE_URL',
        'REDIS_URL',
        'HOLD_RELEASE_APPROVALS',
        'AUDIT_RATE_LIMIT_EMITTER',
        'AUDIT_RATE_LIMIT_OTHER',
      ]);
      expect((e as Error).message).not.toMatch(/short-secret|garbage-key-material/);
    }
  });

  it('keeps the signing key file beside the checkpoint mirror unless AUDIT_SIGNING_KEY_FILE names one', () => {
    expect(loadConfig({}).signingKeyFile).toBe('var/signing-key');
    expect(loadConfig({ AUDIT_CHECKPOINT_DIR: '/var/lib/audit-trail/checkpoints/' }).signingKeyFile).toBe(
      '/var/lib/audit-trail/signing-key',
    );
    expect(
      loadConfig({ AUDIT_CHECKPOINT_DIR: '/srv/cp', AUDIT_SIGNING_KEY_FILE: '/run/secrets/audit-key' }).signingKeyFile,
    ).toBe('/run/secrets/audit-key');
  });

  it('keeps the key-encryption key file beside the checkpoint mirror, and takes AUDIT_KEY_ENCRYPTION_KEY only as 32 bytes', () => {
    expect(loadConfig({}).keyEncryptionKeyFile).toBe('var/key-encryption-key');
    expect(loadConfig({ AUDIT_KEY_ENCRYPTION_KEY_FILE: '/run/secrets/kek' }).keyEncryptionKeyFile).toBe(
      '/run/secrets/kek',
    );
    const key = Buffer.alloc(32, 7);
    expect(loadConfig({ AUDIT_KEY_ENCRYPTION_KEY: key.toString('base64') }).keyEncryptionKey).toEqual(key);
    expect(loadConfig({}).keyEncryptionKey).toBeUndefined();
    expect(() => loadConfig({ AUDIT_KEY_ENCRYPTION_KEY: Buffer.alloc(16).toString('base64') })).toThrow(
      /AUDIT_KEY_ENCRYPTION_KEY must be base64 of 32 bytes/,
    );
  });

  it('takes previous key-encryption keys as a comma-separated list of 32-byte keys', () => {
    const [a, b] = [Buffer.alloc(32, 1), Buffer.alloc(32, 2)];
    expect(loadConfig({}).previousKeyEncryptionKeys).toEqual([]);
    expect(
      loadConfig({ AUDIT_KEY_ENCRYPTION_KEYS_PREVIOUS: ` ${a.toString('base64')},${b.toString('base64')} ` })
        .previousKeyEncryptionKeys,
    ).toEqual([a, b]);
    expect(() =>
      loadConfig({
        AUDIT_KEY_ENCRYPTION_KEYS_PREVIOUS: `${a.toString('base64')},${Buffer.alloc(8).toString('base64')}`,
      }),
    ).toThrow(/AUDIT_KEY_ENCRYPTION_KEYS_PREVIOUS must be base64 of 32 bytes each/);
  });

  it('reads from a standby only when DATABASE_REPLICA_URL names one of the same database', () => {
    expect(loadConfig({})).toMatchObject({ databaseReplicaUrl: undefined, replicaMaxWaitMs: 250 });
    expect(
      loadConfig({
        DATABASE_URL: 'postgres://a@primary:5432/audit',
        DATABASE_REPLICA_URL: 'postgres://a@standby:5432/audit',
        AUDIT_REPLICA_MAX_WAIT_MS: '0',
      }),
    ).toMatchObject({ databaseReplicaUrl: 'postgres://a@standby:5432/audit', replicaMaxWaitMs: 0 });
    expect.assertions(4);
    try {
      loadConfig({
        DATABASE_URL: 'postgres://a@primary:5432/audit',
        DATABASE_REPLICA_URL: 'postgres://a@standby:5432/other',
        AUDIT_REPLICA_MAX_WAIT_MS: '60000',
      });
    } catch (e) {
      expect((e as ConfigError).problems).toEqual([
        'DATABASE_REPLICA_URL must name the same database as DATABASE_URL (a streaming-replication standby of it)',
        'AUDIT_REPLICA_MAX_WAIT_MS must be an integer from 0 to 10000',
      ]);
    }
    expect(() => loadConfig({ DATABASE_REPLICA_URL: 'http://standby/audit_trail' })).toThrow(
      'DATABASE_REPLICA_URL must be a postgres: or postgresql: URL',
    );
  });

  it('reads the shutdown deadline, 30 s by default', () => {
    expect(loadConfig({}).shutdownDeadlineMs).toBe(30_000);
    expect(loadConfig({ AUDIT_SHUTDOWN_DEADLINE_MS: '3000' }).shutdownDeadlineMs).toBe(3000);
    for (const bad of ['0', '99', '600001', '1.5', 'soon']) {
      expect(() => loadConfig({ AUDIT_SHUTDOWN_DEADLINE_MS: bad })).toThrow(/AUDIT_SHUTDOWN_DEADLINE_MS/);
    }
  });

  it('reads rate limits as <perSecond>/<burst>, with 0 or off for none', () => {
    expect(loadConfig({ AUDIT_RATE_LIMIT_EMITTER: '0', AUDIT_RATE_LIMIT_OTHER: '0.5/3' }).rateLimits).toEqual({
      emitter: null,
      other: { perSecond: 0.5, burst: 3 },
    });
    expect(loadConfig({ AUDIT_RATE_LIMIT_OTHER: 'off' }).rateLimits.other).toBeNull();
    for (const bad of ['50', '/100', '0/10', '-1/10', '10/1.5', 'fast', '10/100/1']) {
      expect(() => loadConfig({ AUDIT_RATE_LIMIT_OTHER: bad })).toThrow(/AUDIT_RATE_LIMIT_OTHER/);
    }
  });

  it('turns webhook notifications on only with a URL and a secret of 32+ characters, never echoing either', () => {
    expect(loadConfig({}).webhook).toBeNull();
    const secret = 'w'.repeat(32);
    expect(
      loadConfig({ AUDIT_WEBHOOK_URL: 'https://hooks.example/audit', AUDIT_WEBHOOK_SECRET: secret }).webhook,
    ).toEqual({
      url: 'https://hooks.example/audit',
      secret,
      backoffMs: 2000,
    });
    expect(
      loadConfig({
        AUDIT_WEBHOOK_URL: 'http://127.0.0.1:9/h',
        AUDIT_WEBHOOK_SECRET: secret,
        AUDIT_WEBHOOK_BACKOFF_MS: '5',
      }).webhook?.backoffMs,
    ).toBe(5);
    expect(() => loadConfig({ AUDIT_WEBHOOK_URL: 'https://hooks.example/audit' })).toThrow(
      /AUDIT_WEBHOOK_SECRET is required/,
    );
    expect.assertions(6);
    try {
      loadConfig({
        AUDIT_WEBHOOK_URL: 'ftp://hooks.example/?token=url-token-xyz',
        AUDIT_WEBHOOK_SECRET: 'too-short-hook-secret',
        AUDIT_WEBHOOK_BACKOFF_MS: '0',
      });
    } catch (e) {
      expect((e as ConfigError).problems.map((p) => p.split(' ')[0])).toEqual([
        'AUDIT_WEBHOOK_URL',
        'AUDIT_WEBHOOK_SECRET',
        'AUDIT_WEBHOOK_BACKOFF_MS',
      ]);
      expect((e as Error).message).not.toMatch(/too-short-hook-secret|url-token-xyz/);
    }
  });

  it('reads the retention purge schedule as a cron pattern and the read-record switches', () => {
    expect(loadConfig({}).retentionPurgeCron).toBe('0 3 * * *');
    expect(loadConfig({ AUDIT_RETENTION_PURGE_CRON: '30 1 * * 0' }).retentionPurgeCron).toBe('30 1 * * 0');
    expect(() => loadConfig({ AUDIT_RETENTION_PURGE_CRON: 'daily' })).toThrow(/AUDIT_RETENTION_PURGE_CRON/);
    expect(loadConfig({ AUDIT_READ_RECORDS: 'logs.tile=off' }).readRecords.get('logs.tile')).toBe(0);
    expect(() => loadConfig({ AUDIT_READ_RECORDS: 'logs.everything=on' })).toThrow(/AUDIT_READ_RECORDS/);
  });

  it('reads how long the purge and a verification pause between batches (percent of the batch)', () => {
    expect(loadConfig({})).toMatchObject({ purgePausePercent: 100, verifyPausePercent: 0 });
    expect(loadConfig({ AUDIT_PURGE_PAUSE_PERCENT: '0', AUDIT_VERIFY_PAUSE_PERCENT: '300' })).toMatchObject({
      purgePausePercent: 0,
      verifyPausePercent: 300,
    });
    expect(() => loadConfig({ AUDIT_VERIFY_PAUSE_PERCENT: '-1' })).toThrow(/AUDIT_VERIFY_PAUSE_PERCENT/);
    expect(() => loadConfig({ AUDIT_PURGE_PAUSE_PERCENT: 'half' })).toThrow(/AUDIT_PURGE_PAUSE_PERCENT/);
  });

  it('bounds the full verifications running and waiting (AUDIT_VERIFY_CONCURRENCY 2, AUDIT_VERIFY_QUEUE 8)', () => {
    expect(loadConfig({})).toMatchObject({ verifyConcurrency: 2, verifyQueue: 8 });
    expect(loadConfig({ AUDIT_VERIFY_CONCURRENCY: '4', AUDIT_VERIFY_QUEUE: '0' })).toMatchObject({
      verifyConcurrency: 4,
      verifyQueue: 0,
    });
    expect(() => loadConfig({ AUDIT_VERIFY_CONCURRENCY: '0' })).toThrow(/AUDIT_VERIFY_CONCURRENCY/);
  });

  it('reads how many entries a purge erases per transaction (AUDIT_PURGE_BATCH, 250 by default)', () => {
    expect(loadConfig({}).purgeBatch).toBe(250);
    expect(loadConfig({ AUDIT_PURGE_BATCH: '1000' }).purgeBatch).toBe(1000);
    expect(() => loadConfig({ AUDIT_PURGE_BATCH: '0' })).toThrow(/AUDIT_PURGE_BATCH/);
    expect(() => loadConfig({ AUDIT_PURGE_BATCH: '100000' })).toThrow(/AUDIT_PURGE_BATCH/);
  });

  it('refuses a hold release by fewer than two persons (HOLD_RELEASE_APPROVALS below 2)', () => {
    expect(() => loadConfig({ HOLD_RELEASE_APPROVALS: '1' })).toThrow(/HOLD_RELEASE_APPROVALS/);
    expect(loadConfig({ HOLD_RELEASE_APPROVALS: '3' }).holdReleaseApprovals).toBe(3);
  });

  it('guards personal data by default (enforce, emails and IP addresses), and reads its switches', () => {
    const byDefault = loadConfig({}).personalData;
    expect(byDefault.mode).toBe('enforce');
    expect([...byDefault.kinds].sort()).toEqual(['email', 'ip']);
    const switched = loadConfig({
      AUDIT_PERSONAL_DATA_GUARD: 'report',
      AUDIT_PERSONAL_DATA_DETECT: 'email, card,phone',
    });
    expect(switched.personalData.mode).toBe('report');
    expect([...switched.personalData.kinds].sort()).toEqual(['card', 'email', 'phone']);
    expect(() => loadConfig({ AUDIT_PERSONAL_DATA_GUARD: 'off' })).toThrow(/AUDIT_PERSONAL_DATA_GUARD/);
    expect(() => loadConfig({ AUDIT_PERSONAL_DATA_DETECT: 'email,names' })).toThrow(/AUDIT_PERSONAL_DATA_DETECT/);
  });

  it('runs only the components asked for', () => {
    expect([...loadConfig({ AUDIT_COMPONENTS: 'worker' }).components]).toEqual(['worker']);
  });

  it('runs the witness only when named, with a valid key and a logs file', () => {
    expect(loadConfig({}).components.has('witness')).toBe(false);
    expect(loadConfig({}).witness).toBeNull();
    const key = generateCosignerKey('witness.example', Buffer.alloc(32, 1)).privateKey;
    const config = loadConfig({ AUDIT_COMPONENTS: 'all,witness', AUDIT_WITNESS_KEY: key, AUDIT_WITNESS_LOGS: '/x' });
    expect(config.components.has('witness')).toBe(true);
    expect(config.components.has('api')).toBe(true);
    expect(config.witness).toEqual({ key, logsFile: '/x' });
    expect(() => loadConfig({ AUDIT_COMPONENTS: 'witness', AUDIT_WITNESS_LOGS: '/x' })).toThrow(/AUDIT_WITNESS_KEY/);
    expect(() => loadConfig({ AUDIT_COMPONENTS: 'witness', AUDIT_WITNESS_KEY: key })).toThrow(/AUDIT_WITNESS_LOGS/);
    const bad = () =>
      loadConfig({
        AUDIT_COMPONENTS: 'witness',
        AUDIT_WITNESS_KEY: `${key.slice(0, -4)}AAA=`,
        AUDIT_WITNESS_LOGS: '/x',
      });
    expect(bad).toThrow(/AUDIT_WITNESS_KEY is not a cosigner key/);
    expect(() => bad()).not.toThrow(key.slice(-20));
  });

  it('takes the console’s OpenID Connect client from all four OIDC_ variables or none, https unless on loopback', () => {
    const oidc = {
      OIDC_ISSUER: 'https://login.example.com/tenant',
      OIDC_CLIENT_ID: 'audit-console',
      OIDC_CLIENT_SECRET: 'client-secret-never-echoed',
      OIDC_REDIRECT_URL: 'https://audit.example.com/console/sign-in/oidc/callback',
    };
    expect(loadConfig({}).oidc).toBeNull();
    expect(loadConfig(oidc).oidc).toEqual({
      issuer: 'https://login.example.com/tenant',
      clientId: 'audit-console',
      clientSecret: 'client-secret-never-echoed',
      redirectUrl: 'https://audit.example.com/console/sign-in/oidc/callback',
      providerName: 'login.example.com',
    });
    expect(loadConfig({ ...oidc, OIDC_PROVIDER_NAME: 'Example SSO' }).oidc?.providerName).toBe('Example SSO');
    expect(loadConfig({ ...oidc, OIDC_ISSUER: 'http://127.0.0.1:9000' }).oidc?.issuer).toBe('http://127.0.0.1:9000');
    const problems = (env: Record<string, string>) => {
      try {
        loadConfig(env);
        return [];
      } catch (e) {
        expect((e as Error).message).not.toContain('client-secret-never-echoed');
        return (e as ConfigError).problems;
      }
    };
    expect(problems({ ...oidc, OIDC_CLIENT_ID: '' })).toEqual([expect.stringMatching(/^OIDC_CLIENT_ID required/)]);
    expect(problems({ ...oidc, OIDC_ISSUER: 'http://login.example.com' })).toEqual([
      expect.stringMatching(/^OIDC_ISSUER must be an https URL/),
    ]);
    expect(problems({ ...oidc, OIDC_REDIRECT_URL: 'https://audit.example.com/elsewhere' })).toEqual([
      expect.stringMatching(/^OIDC_REDIRECT_URL must be <the console's origin>\/console\/sign-in\/oidc\/callback/),
    ]);
  });
});
