import { Inject, Injectable } from '@nestjs/common';
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { PLATFORM_LOG } from '@audit/ledger';
import { SERVICE_SOURCE, Sequencer } from '../ledger';
import { CLOCK, Clock, DatabasePool, MetricsService } from '../platform';
import { AuthenticationError } from '../platform';
import { ApiKeyStore } from './api-key.store';
import { Principal, actorOf } from './roles';

/** Prefix of console session tokens: tells them apart from API keys (`atk_`) at the guard. */
export const SESSION_PREFIX = 'acs_';

/** How long a console session lasts from sign-in (a working day). */
export const SESSION_LIFETIME_MS = 8 * 60 * 60 * 1000;

/** The category of console entries in the `platform` log. */
export const CONSOLE_CATEGORY = 'console';

/**
 * Failed sign-ins recorded per process and minute. A failed sign-in has no principal to charge, so
 * without a cap anyone could fill the `platform` log; beyond it failures are counted (metric) and
 * the next recorded one says how many were not.
 */
const FAILED_SIGN_INS_RECORDED_PER_MINUTE = 30;

/** An open session: the cookie's token, the principal it acts as, when it ends. */
export interface OpenedSession {
  readonly token: string;
  readonly principal: Principal;
  readonly expiresAt: Date;
}

/**
 * Console sessions (docs/console.md "Sessions"). A person signs in with one of their keys; the
 * session then acts through that key (its roles, tenants and principal, re-read at every call, so a
 * revoked key or principal ends the session at once), under a random token the browser holds in an
 * HttpOnly cookie. The database keeps only the token's SHA-256. Sign-in, sign-out and failed
 * sign-ins are `platform` entries; none carries the token, the key or anything the person typed.
 */
@Injectable()
export class ConsoleSessions {
  private failures = { minute: 0, recorded: 0, unrecorded: 0 };

  constructor(
    private readonly keys: ApiKeyStore,
    private readonly sequencer: Sequencer,
    private readonly db: DatabasePool,
    private readonly metrics: MetricsService,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /** Opens a session for the holder of `keySecret`, or records the failure and throws 401. */
  async signIn(keySecret: string): Promise<OpenedSession> {
    const now = this.clock.now();
    const principal = keySecret.startsWith(SESSION_PREFIX) ? null : await this.keys.authenticate(keySecret, now);
    if (principal === null) {
      await this.recordFailure(now);
      throw new AuthenticationError('the API key is unknown, revoked or expired');
    }
    const token = `${SESSION_PREFIX}${randomBytes(32).toString('base64url')}`;
    const expiresAt = new Date(Math.min(now.getTime() + SESSION_LIFETIME_MS, keyExpiry(principal)));
    await this.sequencer.append(
      [
        {
          log: PLATFORM_LOG,
          source: SERVICE_SOURCE,
          type: 'console.signed_in',
          category: CONSOLE_CATEGORY,
          actor: actorOf(principal),
          target: { type: 'principal', id: principal.principalId },
          outcome: 'success',
          occurredAt: now.toISOString(),
          context: { session: sessionId(token), method: 'api_key', expiresAt: expiresAt.toISOString() },
        },
      ],
      async (sql) => {
        await sql('INSERT INTO console_sessions (token_hash, key_id, created_at, expires_at) VALUES ($1, $2, $3, $4)', [
          tokenHash(token),
          principal.keyId,
          now,
          expiresAt,
        ]);
      },
    );
    return { token, principal, expiresAt };
  }

  /**
   * The principal a session token acts as now: its key's standing (`ApiKeyStore.standing`), or
   * null for an unknown, expired or signed-out session, or one whose key no longer works.
   */
  async principal(token: string): Promise<Principal | null> {
    if (!token.startsWith(SESSION_PREFIX)) return null;
    const now = this.clock.now();
    const rows = await this.db.query(
      'SELECT key_id FROM console_sessions WHERE token_hash = $1 AND signed_out_at IS NULL AND expires_at > $2',
      [tokenHash(token), now],
    );
    if (rows.length === 0) return null;
    const keyId = rows[0].key_id as string;
    return (await this.keys.standing([keyId], now)).get(keyId) ?? null;
  }

  /** Ends the session (idempotent) and records it; an unknown or ended session is left as it is. */
  async signOut(token: string): Promise<void> {
    const principal = await this.principal(token);
    if (principal === null) return;
    const now = this.clock.now();
    await this.sequencer.append(
      [
        {
          log: PLATFORM_LOG,
          source: SERVICE_SOURCE,
          type: 'console.signed_out',
          category: CONSOLE_CATEGORY,
          actor: actorOf(principal),
          target: { type: 'principal', id: principal.principalId },
          outcome: 'success',
          occurredAt: now.toISOString(),
          context: { session: sessionId(token) },
        },
      ],
      async (sql) => {
        await sql('UPDATE console_sessions SET signed_out_at = $2 WHERE token_hash = $1 AND signed_out_at IS NULL', [
          tokenHash(token),
          now,
        ]);
      },
    );
  }

  /**
   * The CSRF token of a session's forms: an HMAC of a fixed label under the session token, so it
   * needs no storage, differs per session, and cannot be made without the HttpOnly cookie.
   */
  csrfToken(token: string): string {
    return createHmac('sha256', token).update('console csrf').digest('base64url');
  }

  /** Whether `offered` is the session's CSRF token (constant time). */
  csrfMatches(token: string, offered: unknown): boolean {
    if (typeof offered !== 'string') return false;
    const expected = Buffer.from(this.csrfToken(token));
    const given = Buffer.from(offered);
    return expected.length === given.length && timingSafeEqual(expected, given);
  }

  private async recordFailure(now: Date): Promise<void> {
    this.metrics.consoleSignInFailures.inc();
    const minute = Math.floor(now.getTime() / 60_000);
    if (minute !== this.failures.minute) this.failures = { minute, recorded: 0, unrecorded: this.failures.unrecorded };
    if (this.failures.recorded >= FAILED_SIGN_INS_RECORDED_PER_MINUTE) {
      this.failures.unrecorded++;
      return;
    }
    const unrecorded = this.failures.unrecorded;
    this.failures = { ...this.failures, recorded: this.failures.recorded + 1, unrecorded: 0 };
    await this.sequencer.append([
      {
        log: PLATFORM_LOG,
        source: SERVICE_SOURCE,
        type: 'console.sign_in_failed',
        category: CONSOLE_CATEGORY,
        actor: { type: 'anonymous', id: 'console' },
        outcome: 'failure',
        occurredAt: now.toISOString(),
        context: {
          method: 'api_key',
          reason: 'unknown_revoked_or_expired_key',
          ...(unrecorded > 0 ? { unrecorded } : {}),
        },
      },
    ]);
  }
}

/** What the database keeps of a session token. */
function tokenHash(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

/**
 * A session's public name in the ledger: the first 16 hex digits of SHA-256("session id" ‖ token),
 * enough to pair a sign-in with its sign-out, useless for signing in.
 */
function sessionId(token: string): string {
  return createHash('sha256').update('session id').update(token).digest('hex').slice(0, 16);
}

function keyExpiry(principal: Principal): number {
  return principal.expiresAt === null ? Infinity : Date.parse(principal.expiresAt);
}
