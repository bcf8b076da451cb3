import { LOG_NAME_PATTERN, parseCosignerKey } from '@audit/ledger';
import { dirname, join } from 'node:path';
import { PERSONAL_DATA_KINDS, PersonalDataKind } from '../personal-data/personal-data.detector';
import { ReadRecordSwitches, parseReadRecordSwitches } from './read-record-switches';

/**
 * Which parts of the service this process runs; `all` (the default) is every one but `witness`,
 * which is asked for by name (it needs a key and a list of logs).
 */
export type Component = 'api' | 'sequencer' | 'signer' | 'projector' | 'worker' | 'witness';
const COMPONENTS: readonly Component[] = ['api', 'sequencer', 'signer', 'projector', 'worker'];
const OPTIONAL_COMPONENTS: readonly Component[] = ['witness'];

/**
 * The witness component (src/witness): its cosigning key, either the text itself or a file that
 * holds it, and the tlog-policy file of the logs it witnesses (read again when it changes).
 */
export interface WitnessSetting {
  /** `PRIVATE+KEY+<name>+<key ID>+<base64(0x04 ‖ seed)>`; a secret, never logged. */
  readonly key?: string;
  readonly keyFile?: string;
  readonly logsFile: string;
}

/** A per-key request budget: a bucket of `burst` requests refilled at `perSecond`. */
export interface RateLimitSetting {
  readonly perSecond: number;
  readonly burst: number;
}

/** How sinks are delivered to (src/streaming). */
export interface SinkDeliverySetting {
  /** Consecutive failed deliveries after which a sink is put in `error` (an admin's PATCH resumes it). */
  readonly maxFailures: number;
  /** First retry delay; doubles per failure up to `maxBackoffMs`, each wait drawn in [½, 1] of it (jitter). */
  readonly backoffMs: number;
  readonly maxBackoffMs: number;
  /** How often a worker looks for entries to send. */
  readonly pollMs: number;
  /** Entries per delivery at most. */
  readonly batch: number;
  /** How long one delivery may take. */
  readonly timeoutMs: number;
}

/** The webhook that hears about holds and blocked deletions (`AUDIT_WEBHOOK_*`; src/notifications). */
export interface WebhookSetting {
  readonly url: string;
  /** HMAC-SHA256 key of the deliveries' signatures; never logged or echoed. */
  readonly secret: string;
  /** Delay before the first retry of a failed delivery, doubled for each further one. */
  readonly backoffMs: number;
}

/**
 * The guard that keeps personal data out of ledger leaves (`AUDIT_PERSONAL_DATA_*`, docs/api.md
 * "Personal data outside `personal`"): what it looks for, and whether it refuses (`enforce`) or
 * only counts and logs (`report`).
 */
export interface PersonalDataSetting {
  readonly mode: 'enforce' | 'report';
  readonly kinds: ReadonlySet<PersonalDataKind>;
}

/** The service's configuration, read once from the environment at start. */
export interface AppConfig {
  readonly port: number;
  readonly databaseUrl: string;
  /** When set, queries run over this login of the runtime role instead of SET ROLE on the owner's. */
  readonly runtimeDatabaseUrl?: string;
  /**
   * A streaming-replication standby of DATABASE_URL that investigation reads (search, event reads,
   * exports, proofs, tiles) may be served from when it has replayed what they need
   * (`DATABASE_REPLICA_URL`; docs/architecture.md "Read replicas"). Unset: every read on the primary.
   */
  readonly databaseReplicaUrl?: string;
  /** How long a read waits for the standby to replay what it needs before the primary answers it. */
  readonly replicaMaxWaitMs: number;
  readonly redisUrl: string;
  readonly bootstrapAdminKey?: string;
  /** The checkpoint signing key (a secret); when set, `signingKeyFile` is neither read nor written. */
  readonly signingKey?: string;
  /**
   * The key-encryption key that wraps every subject's data key (32 bytes; a secret, never in the
   * database: docs/ledger-format.md "Personal data at rest"). When set, `keyEncryptionKeyFile` is
   * neither read nor written.
   */
  readonly keyEncryptionKey?: Buffer;
  /** Where the key-encryption key is kept when AUDIT_KEY_ENCRYPTION_KEY is unset (generated on first start, mode 0600). */
  readonly keyEncryptionKeyFile: string;
  /**
   * Key-encryption keys a rotation moves away from (AUDIT_KEY_ENCRYPTION_KEYS_PREVIOUS, 32 bytes
   * each; secrets): they still unwrap the data keys wrapped under them, never wrap a new one
   * (docs/operations.md "Rotating the key-encryption key").
   */
  readonly previousKeyEncryptionKeys: readonly Buffer[];
  /**
   * The key of the personal-data search index's HMACs (32 bytes; a secret, never in the database:
   * docs/api.md "Search by personal data"). When set, `personalSearchKeyFile` is neither read nor written.
   */
  readonly personalSearchKey?: Buffer;
  /** Where the search key is kept when AUDIT_PERSONAL_SEARCH_KEY is unset (generated on first start, mode 0600). */
  readonly personalSearchKeyFile: string;
  /**
   * Where the signing key is kept when AUDIT_SIGNING_KEY is unset: read if it exists, generated
   * into it (mode 0600) on first start otherwise (src/ledger/signing-key.ts).
   */
  readonly signingKeyFile: string;
  readonly logOriginPrefix: string;
  readonly holdReleaseApprovals: number;
  /** How long a request to release a hold counts towards its release. */
  readonly holdReleaseApprovalTtlHours: number;
  /** How often deletion requests in PostgreSQL are reconciled with the BullMQ queue. */
  readonly deletionReconcileMs: number;
  /** When the retention purge runs: a cron pattern (UTC). */
  readonly retentionPurgeCron: string;
  /**
   * Long work paced beside the appends (docs/operations.md "Long work beside appends"): after each
   * batch of a purge, and each page of a full verification, the work pauses this percentage of the
   * time that batch or page took. 0: back to back (fastest, appends wait longest); 100: at most half
   * the time. Defaults: 100 for the purge, 0 for a verification.
   */
  readonly purgePausePercent: number;
  readonly verifyPausePercent: number;
  /** Full verifications running at once (AUDIT_VERIFY_CONCURRENCY) and waiting for a turn (AUDIT_VERIFY_QUEUE); more are refused (429). */
  readonly verifyConcurrency: number;
  readonly verifyQueue: number;
  /** Entries a purge erases per transaction (AUDIT_PURGE_BATCH): each commit's WAL flush is one that appends wait on. */
  readonly purgeBatch: number;
  readonly checkpointDir: string;
  readonly checkpointIntervalMs: number;
  readonly components: ReadonlySet<Component>;
  readonly logLevel: string;
  /** Prefix of BullMQ queue names, so test runs and deployments sharing a Redis stay apart. */
  readonly queuePrefix: string;
  /** Which reads are recorded in the `platform` log (`AUDIT_READ_RECORDS`); every read by default. */
  readonly readRecords: ReadRecordSwitches;
  /**
   * Request budgets per API key, in memory of this process (N API processes: up to N times as
   * much); keys with the `emitter` role get `emitter`, all others `other`; null is unlimited.
   */
  readonly rateLimits: { readonly emitter: RateLimitSetting | null; readonly other: RateLimitSetting | null };
  /** Where notifications are delivered; null (no `AUDIT_WEBHOOK_URL`): notifications are off. */
  readonly webhook: WebhookSetting | null;
  /** Delivery to sinks (src/streaming): `AUDIT_SINK_*`. */
  readonly sinks: SinkDeliverySetting;
  /**
   * How long the graceful close on SIGTERM/SIGINT may take before the process logs what it could
   * not finish and exits anyway (src/platform/shutdown/shutdown-deadline.ts).
   */
  readonly shutdownDeadlineMs: number;
  /** The personal-data guard at ingestion; by default `enforce`, looking for emails and IP addresses. */
  readonly personalData: PersonalDataSetting;
  /** Set when this process runs the `witness` component (`AUDIT_WITNESS_*`); null otherwise. */
  readonly witness: WitnessSetting | null;
  /**
   * The tlog-policy file naming the witnesses (with their URLs) that cosign this deployment's
   * checkpoints and the quorum (`AUDIT_WITNESS_POLICY`); null: checkpoints are not witnessed.
   */
  readonly witnessPolicyFile: string | null;
  /**
   * How long a log's newer signed checkpoint may wait for the witnesses' quorum before `/health`
   * reports `witnesses` degraded (`AUDIT_WITNESS_QUORUM_MAX_AGE_SECONDS`, default 3600).
   */
  readonly witnessQuorumMaxAgeSeconds: number;
  /** The console's sign-in through the company's identity provider (`OIDC_*`); null: API keys only. */
  readonly oidc: OidcSetting | null;
}

/** An OpenID Connect client of the console (docs/console.md "Sign-in with the identity provider"). */
export interface OidcSetting {
  /** The issuer URL: discovery is `<issuer>/.well-known/openid-configuration`, and ID tokens must name it. */
  readonly issuer: string;
  readonly clientId: string;
  /** A secret: never echoed, never logged. */
  readonly clientSecret: string;
  /** Where the provider sends the browser back: `<the console's origin>/console/sign-in/oidc/callback`. */
  readonly redirectUrl: string;
  /** Shown on the sign-in page's button: "Sign in with <name>". */
  readonly providerName: string;
}

/** Every bad variable at once, so an operator fixes them in one go. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

type Env = Readonly<Record<string, string | undefined>>;

function integer(env: Env, name: string, fallback: number, min: number, max: number, problems: string[]): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    problems.push(`${name} must be an integer from ${min} to ${max}`);
    return fallback;
  }
  return value;
}

function url(
  env: Env,
  name: string,
  fallback: string | undefined,
  protocols: string[],
  problems: string[],
): string | undefined {
  const raw = env[name] || fallback;
  if (raw === undefined) return undefined;
  try {
    const parsed = new URL(raw);
    if (!protocols.includes(parsed.protocol)) problems.push(`${name} must be a ${protocols.join(' or ')} URL`);
  } catch {
    problems.push(`${name} is not a URL`);
  }
  return raw;
}

const OIDC_VARIABLES = ['OIDC_ISSUER', 'OIDC_CLIENT_ID', 'OIDC_CLIENT_SECRET', 'OIDC_REDIRECT_URL'] as const;
const CALLBACK_PATH = '/console/sign-in/oidc/callback';

/**
 * The console's OpenID Connect client: all four variables or none. The issuer and the redirect
 * must be https, except on a loopback host (a provider on the same machine, as in the tests).
 */
function oidc(env: Env, problems: string[]): OidcSetting | null {
  const given = OIDC_VARIABLES.filter((name) => env[name]);
  if (given.length === 0) return null;
  if (given.length < OIDC_VARIABLES.length) {
    const missing = OIDC_VARIABLES.filter((name) => !env[name]);
    problems.push(`${missing.join(', ')} required with ${given.join(', ')} (OpenID Connect needs all four)`);
    return null;
  }
  const checked = (name: 'OIDC_ISSUER' | 'OIDC_REDIRECT_URL'): URL | null => {
    try {
      const parsed = new URL(env[name] as string);
      const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(parsed.hostname);
      if (parsed.protocol === 'https:' || (parsed.protocol === 'http:' && loopback)) return parsed;
      problems.push(`${name} must be an https URL (http only on a loopback host)`);
    } catch {
      problems.push(`${name} is not a URL`);
    }
    return null;
  };
  const issuer = checked('OIDC_ISSUER');
  const redirect = checked('OIDC_REDIRECT_URL');
  if (redirect !== null && (redirect.pathname !== CALLBACK_PATH || redirect.search !== '' || redirect.hash !== ''))
    problems.push(`OIDC_REDIRECT_URL must be <the console's origin>${CALLBACK_PATH}`);
  if (issuer === null || redirect === null) return null;
  return {
    issuer: env.OIDC_ISSUER as string,
    clientId: env.OIDC_CLIENT_ID as string,
    clientSecret: env.OIDC_CLIENT_SECRET as string,
    redirectUrl: redirect.href,
    providerName: env.OIDC_PROVIDER_NAME?.trim() || issuer.host,
  };
}

/** The witness component's settings; the key is checked here, its text never quoted. */
function witnessSetting(env: Env, problems: string[]): WitnessSetting | null {
  const key = env.AUDIT_WITNESS_KEY || undefined;
  const keyFile = env.AUDIT_WITNESS_KEY_FILE || undefined;
  const logsFile = env.AUDIT_WITNESS_LOGS || undefined;
  if ((key === undefined) === (keyFile === undefined)) {
    problems.push('the witness component needs exactly one of AUDIT_WITNESS_KEY and AUDIT_WITNESS_KEY_FILE');
  }
  if (key !== undefined) {
    try {
      parseCosignerKey(key);
    } catch {
      problems.push('AUDIT_WITNESS_KEY is not a cosigner key PRIVATE+KEY+<name>+<key ID>+<base64(0x04 ‖ seed)>');
    }
  }
  if (logsFile === undefined) problems.push('the witness component needs AUDIT_WITNESS_LOGS (a tlog-policy file)');
  if (logsFile === undefined) return null;
  return { ...(key !== undefined ? { key } : {}), ...(keyFile !== undefined ? { keyFile } : {}), logsFile };
}

/** A cron pattern of five or six fields (BullMQ's syntax); the value is checked for shape only. */
function cron(env: Env, name: string, fallback: string, problems: string[]): string {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  if (!/^[\d*,/?LW#A-Za-z-]+(\s+[\d*,/?LW#A-Za-z-]+){4,5}$/.test(raw)) {
    problems.push(`${name} must be a cron pattern of five or six fields, for example "0 3 * * *"`);
    return fallback;
  }
  return raw;
}

/** `<perSecond>/<burst>` (perSecond may have decimals), or `0` / `off` for no limit. */
function rateLimit(env: Env, name: string, fallback: RateLimitSetting, problems: string[]): RateLimitSetting | null {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  if (raw === '0' || raw === 'off') return null;
  const match = /^(\d+(?:\.\d+)?)\/(\d+)$/.exec(raw);
  const perSecond = match ? Number(match[1]) : NaN;
  const burst = match ? Number(match[2]) : NaN;
  if (!(perSecond > 0 && perSecond <= 1_000_000 && Number.isSafeInteger(burst) && burst >= 1 && burst <= 1_000_000)) {
    problems.push(
      `${name} must be <perSecond>/<burst> (for example 50/100; perSecond above 0, burst from 1 to 1000000) or 0 for no limit`,
    );
    return fallback;
  }
  return { perSecond, burst };
}

/** `AUDIT_PERSONAL_DATA_GUARD` (`enforce` or `report`) and `AUDIT_PERSONAL_DATA_DETECT` (kinds, comma-separated). */
function personalData(env: Env, problems: string[]): PersonalDataSetting {
  const mode = env.AUDIT_PERSONAL_DATA_GUARD?.trim() || 'enforce';
  if (mode !== 'enforce' && mode !== 'report') problems.push('AUDIT_PERSONAL_DATA_GUARD must be enforce or report');
  const kinds = new Set<PersonalDataKind>();
  for (const part of (env.AUDIT_PERSONAL_DATA_DETECT?.trim() || 'email,ip').split(',').map((s) => s.trim())) {
    if ((PERSONAL_DATA_KINDS as readonly string[]).includes(part)) kinds.add(part as PersonalDataKind);
    else
      problems.push(
        `AUDIT_PERSONAL_DATA_DETECT has an unknown kind "${part}" (known: ${PERSONAL_DATA_KINDS.join(', ')})`,
      );
  }
  return { mode: mode === 'report' ? 'report' : 'enforce', kinds };
}

/**
 * A physical standby holds every database of its primary: DATABASE_REPLICA_URL naming another
 * database than DATABASE_URL is a mistake (reads would find other data, or none).
 */
function replicaOfSameDatabase(env: Env, problems: string[]): void {
  if (!env.DATABASE_REPLICA_URL) return;
  const name = (raw: string) => {
    try {
      return decodeURIComponent(new URL(raw).pathname.replace(/^\//, ''));
    } catch {
      return null;
    }
  };
  const replica = name(env.DATABASE_REPLICA_URL);
  const primary = name(env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/audit_trail');
  if (replica !== null && primary !== null && replica !== primary)
    problems.push(
      'DATABASE_REPLICA_URL must name the same database as DATABASE_URL (a streaming-replication standby of it)',
    );
}

/**
 * Reads and validates the configuration. Names every bad variable in one ConfigError; secrets
 * are never echoed. Nothing else in the service reads process.env.
 */
export function loadConfig(env: Env = process.env): AppConfig {
  const problems: string[] = [];
  const bootstrapAdminKey = env.AUDIT_BOOTSTRAP_ADMIN_KEY || undefined;
  if (bootstrapAdminKey !== undefined && bootstrapAdminKey.length < 32) {
    problems.push('AUDIT_BOOTSTRAP_ADMIN_KEY must be at least 32 characters');
  }
  const signingKey = env.AUDIT_SIGNING_KEY || undefined;
  if (signingKey !== undefined && !signingKey.startsWith('PRIVATE+KEY+')) {
    problems.push('AUDIT_SIGNING_KEY must be a note private key (PRIVATE+KEY+<name>+<hash>+<base64>)');
  }
  const checkpointDir = env.AUDIT_CHECKPOINT_DIR || 'var/checkpoints';
  // Beside the checkpoint mirror, in the state directory that holds it (var/ by default).
  const signingKeyFile = env.AUDIT_SIGNING_KEY_FILE || join(dirname(checkpointDir), 'signing-key');
  const keyEncryptionKey = env.AUDIT_KEY_ENCRYPTION_KEY
    ? Buffer.from(env.AUDIT_KEY_ENCRYPTION_KEY, 'base64')
    : undefined;
  if (keyEncryptionKey !== undefined && keyEncryptionKey.length !== 32) {
    problems.push('AUDIT_KEY_ENCRYPTION_KEY must be base64 of 32 bytes');
  }
  const keyEncryptionKeyFile = env.AUDIT_KEY_ENCRYPTION_KEY_FILE || join(dirname(checkpointDir), 'key-encryption-key');
  const previousKeyEncryptionKeys = (env.AUDIT_KEY_ENCRYPTION_KEYS_PREVIOUS ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((s) => Buffer.from(s, 'base64'));
  if (previousKeyEncryptionKeys.some((key) => key.length !== 32)) {
    problems.push('AUDIT_KEY_ENCRYPTION_KEYS_PREVIOUS must be base64 of 32 bytes each, comma-separated');
  }
  const personalSearchKey = env.AUDIT_PERSONAL_SEARCH_KEY
    ? Buffer.from(env.AUDIT_PERSONAL_SEARCH_KEY, 'base64')
    : undefined;
  if (personalSearchKey !== undefined && personalSearchKey.length !== 32) {
    problems.push('AUDIT_PERSONAL_SEARCH_KEY must be base64 of 32 bytes');
  }
  const personalSearchKeyFile =
    env.AUDIT_PERSONAL_SEARCH_KEY_FILE || join(dirname(checkpointDir), 'personal-search-key');
  const logOriginPrefix = env.AUDIT_LOG_ORIGIN || 'audit-trail.localhost';
  if (/[\s+]/.test(logOriginPrefix) || logOriginPrefix.endsWith('/')) {
    problems.push('AUDIT_LOG_ORIGIN must have no spaces or "+" and must not end with "/"');
  }
  const components = new Set<Component>();
  for (const part of (env.AUDIT_COMPONENTS || 'all').split(',').map((s) => s.trim())) {
    if (part === 'all') COMPONENTS.forEach((c) => components.add(c));
    else if ([...COMPONENTS, ...OPTIONAL_COMPONENTS].includes(part as Component)) components.add(part as Component);
    else {
      const known = ['all', ...COMPONENTS, ...OPTIONAL_COMPONENTS].join(', ');
      problems.push(`AUDIT_COMPONENTS has an unknown component "${part}" (known: ${known})`);
    }
  }
  const witness = components.has('witness') ? witnessSetting(env, problems) : null;
  const queuePrefix = env.AUDIT_QUEUE_PREFIX || 'audit';
  if (!LOG_NAME_PATTERN.test(queuePrefix)) problems.push('AUDIT_QUEUE_PREFIX must match ^[a-z0-9][a-z0-9_-]{0,62}$');
  const logLevel = env.LOG_LEVEL || 'info';
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(logLevel)) {
    problems.push('LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent');
  }
  const readRecords = parseReadRecordSwitches(env.AUDIT_READ_RECORDS);
  problems.push(...readRecords.problems);
  const webhookUrl = url(env, 'AUDIT_WEBHOOK_URL', undefined, ['http:', 'https:'], problems);
  const webhookSecret = env.AUDIT_WEBHOOK_SECRET || undefined;
  if (webhookUrl !== undefined && webhookSecret === undefined)
    problems.push('AUDIT_WEBHOOK_SECRET is required when AUDIT_WEBHOOK_URL is set');
  if (webhookSecret !== undefined && webhookSecret.length < 32)
    problems.push('AUDIT_WEBHOOK_SECRET must be at least 32 characters');
  const webhookBackoffMs = integer(env, 'AUDIT_WEBHOOK_BACKOFF_MS', 2000, 1, 3_600_000, problems);
  replicaOfSameDatabase(env, problems);

  const config: AppConfig = {
    port: integer(env, 'PORT', 3000, 0, 65535, problems),
    databaseUrl: url(
      env,
      'DATABASE_URL',
      'postgres://postgres@127.0.0.1:5432/audit_trail',
      ['postgres:', 'postgresql:'],
      problems,
    ) as string,
    runtimeDatabaseUrl: url(env, 'DATABASE_RUNTIME_URL', undefined, ['postgres:', 'postgresql:'], problems),
    databaseReplicaUrl: url(env, 'DATABASE_REPLICA_URL', undefined, ['postgres:', 'postgresql:'], problems),
    replicaMaxWaitMs: integer(env, 'AUDIT_REPLICA_MAX_WAIT_MS', 250, 0, 10_000, problems),
    redisUrl: url(env, 'REDIS_URL', 'redis://127.0.0.1:6379', ['redis:', 'rediss:'], problems) as string,
    bootstrapAdminKey,
    signingKey,
    signingKeyFile,
    keyEncryptionKey,
    keyEncryptionKeyFile,
    previousKeyEncryptionKeys,
    personalSearchKey,
    personalSearchKeyFile,
    logOriginPrefix,
    holdReleaseApprovals: integer(env, 'HOLD_RELEASE_APPROVALS', 2, 2, 10, problems),
    holdReleaseApprovalTtlHours: integer(env, 'HOLD_RELEASE_APPROVAL_TTL_HOURS', 72, 1, 24 * 90, problems),
    deletionReconcileMs: integer(env, 'AUDIT_DELETION_RECONCILE_MS', 60_000, 100, 3_600_000, problems),
    retentionPurgeCron: cron(env, 'AUDIT_RETENTION_PURGE_CRON', '0 3 * * *', problems),
    purgePausePercent: integer(env, 'AUDIT_PURGE_PAUSE_PERCENT', 100, 0, 1000, problems),
    verifyPausePercent: integer(env, 'AUDIT_VERIFY_PAUSE_PERCENT', 0, 0, 1000, problems),
    verifyConcurrency: integer(env, 'AUDIT_VERIFY_CONCURRENCY', 2, 1, 64, problems),
    verifyQueue: integer(env, 'AUDIT_VERIFY_QUEUE', 8, 0, 1000, problems),
    purgeBatch: integer(env, 'AUDIT_PURGE_BATCH', 250, 1, 10_000, problems),
    checkpointDir,
    checkpointIntervalMs: integer(env, 'AUDIT_CHECKPOINT_INTERVAL_MS', 250, 10, 60_000, problems),
    components,
    logLevel,
    queuePrefix,
    readRecords: readRecords.switches,
    rateLimits: {
      emitter: rateLimit(env, 'AUDIT_RATE_LIMIT_EMITTER', { perSecond: 2000, burst: 4000 }, problems),
      other: rateLimit(env, 'AUDIT_RATE_LIMIT_OTHER', { perSecond: 50, burst: 100 }, problems),
    },
    webhook:
      webhookUrl !== undefined && webhookSecret !== undefined
        ? { url: webhookUrl, secret: webhookSecret, backoffMs: webhookBackoffMs }
        : null,
    sinks: {
      maxFailures: integer(env, 'AUDIT_SINK_MAX_FAILURES', 10, 1, 1_000_000, problems),
      backoffMs: integer(env, 'AUDIT_SINK_BACKOFF_MS', 1000, 1, 3_600_000, problems),
      maxBackoffMs: integer(env, 'AUDIT_SINK_MAX_BACKOFF_MS', 300_000, 1, 86_400_000, problems),
      pollMs: integer(env, 'AUDIT_SINK_POLL_MS', 500, 10, 60_000, problems),
      batch: integer(env, 'AUDIT_SINK_BATCH', 500, 1, 5000, problems),
      timeoutMs: integer(env, 'AUDIT_SINK_TIMEOUT_MS', 10_000, 100, 120_000, problems),
    },
    shutdownDeadlineMs: integer(env, 'AUDIT_SHUTDOWN_DEADLINE_MS', 30_000, 100, 600_000, problems),
    personalData: personalData(env, problems),
    witness,
    witnessPolicyFile: env.AUDIT_WITNESS_POLICY || null,
    witnessQuorumMaxAgeSeconds: integer(env, 'AUDIT_WITNESS_QUORUM_MAX_AGE_SECONDS', 3600, 1, 30 * 86_400, problems),
    oidc: oidc(env, problems),
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/** Nest injection token of the AppConfig. */
export const APP_CONFIG = Symbol('APP_CONFIG');
