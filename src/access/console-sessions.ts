import { Inject, Injectable } from '@nestjs/common';
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { PLATFORM_LOG } from '@audit/ledger';
import { SERVICE_SOURCE, Sequencer } from '../ledger';
import { CLOCK, Clock, DatabasePool, IDS, type Ids, MetricsService } from '../platform';
import { AuthenticationError } from '../platform';
import { ApiKeyStore } from './api-key.store';
import { newKeySecret } from './api-key-secret';
import { ApiKeyState, applyEvents, decideCreate } from './keys/api-key.decider';
import { keyEventEntry } from './keys/api-key.entries';
import { GrantState, PrincipalState, rolesOver } from './principals/principal.decider';
import { PrincipalStore } from './principals/principal.store';
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

/** How a sign-in was made (the `method` of its entries). */
export type SignInMethod = 'api_key' | 'oidc';

/** An open session: the cookie's token, the principal it acts as, when it ends. */
export interface OpenedSession {
  readonly token: string;
  readonly principal: Principal;
  readonly expiresAt: Date;
}

/**
 * Console sessions (docs/console.md "Sessions"). A person signs in with one of their keys, or
 * through the identity provider (then with a key made for the session: `signInWithProvider`); the
 * session acts through that key (its roles, tenants and principal, re-read at every call, so a
 * revoked key or principal ends the session at once), under a random token the browser holds in an
 * HttpOnly cookie. The database keeps only the token's SHA-256. Sign-in, sign-out and failed
 * sign-ins are `platform` entries; none carries the token, the key or anything the person typed.
 */
@Injectable()
export class ConsoleSessions {
  private failures = { minute: 0, recorded: 0, unrecorded: 0 };

  constructor(
    private readonly keys: ApiKeyStore,
    private readonly principals: PrincipalStore,
    private readonly sequencer: Sequencer,
    private readonly db: DatabasePool,
    private readonly metrics: MetricsService,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(IDS) private readonly ids: Ids,
  ) {}

  /** Opens a session for the holder of `keySecret`, or records the failure and throws 401. */
  async signIn(keySecret: string): Promise<OpenedSession> {
    const now = this.clock.now();
    const principal = keySecret.startsWith(SESSION_PREFIX) ? null : await this.keys.authenticate(keySecret, now);
    if (principal === null) {
      await this.recordFailure(now, 'api_key', 'unknown_revoked_or_expired_key');
      throw new AuthenticationError('the API key is unknown, revoked or expired');
    }
    const token = `${SESSION_PREFIX}${randomBytes(32).toString('base64url')}`;
    const expiresAt = new Date(Math.min(now.getTime() + SESSION_LIFETIME_MS, keyExpiry(principal)));
    await this.sequencer.append(
      [signedInEntry(principal, token, 'api_key', expiresAt.toISOString(), now)],
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
   * Opens a session for the person the identity provider vouches for: the live `person` principal
   * whose `oidcSubject` is `subject` (`<issuer>#<sub>`, registered by an admin; nobody is created
   * here). The session acts through a key made for it alone (`console-session-<session id>`,
   * `api_key.created` by itself, in the same transaction as `console.signed_in`): its secret is
   * thrown away at once, it expires with the session, and it carries the roles the person's active
   * grants hold over every tenant they name (`rolesOver`). So the session stands or falls with the
   * principal and its grants exactly as any key does, and two-person rules count it as the person's.
   * An unknown subject, a revoked principal or one without such a role is recorded and refused.
   */
  async signInWithProvider(subject: string): Promise<OpenedSession> {
    const now = this.clock.now();
    const person = await this.principals.findBySubject(subject);
    const reason = refusal(person);
    if (reason !== null || person === undefined) {
      await this.recordFailure(now, 'oidc', reason ?? 'unknown_subject');
      throw new AuthenticationError(
        reason === 'unknown_subject'
          ? 'no principal is registered for this identity; ask an admin to register your subject'
          : 'your principal is revoked or holds no role in this console',
      );
    }
    const active = person.grants.filter((grant) => grant.status === 'active');
    const tenants = tenantsOf(active);
    const roles = rolesOver(active, tenants);
    const token = `${SESSION_PREFIX}${randomBytes(32).toString('base64url')}`;
    const expiresAt = new Date(now.getTime() + SESSION_LIFETIME_MS).toISOString();
    // The key's secret is made and dropped: nobody holds it, the session token stands in for it.
    const { secret, prefix } = newKeySecret(randomBytes(32));
    const keyId = this.ids.next();
    const name = `console-session-${sessionId(token)}`;
    const self: Principal = {
      keyId,
      keyName: name,
      principalId: person.id,
      name: person.name,
      kind: person.kind,
      roles,
      tenants,
      expiresAt,
      knownTo: [person.id],
    };
    const events = decideCreate(
      self,
      { id: keyId, name, prefix, roles, tenants, expiresAt, principal: person.id },
      person,
      now,
    );
    const key = applyEvents(undefined, events) as ApiKeyState;
    await this.sequencer.append(
      [...events.map((event) => keyEventEntry(event, key, self)), signedInEntry(self, token, 'oidc', expiresAt, now)],
      async (sql) => {
        // Revoked since it was read: no key and no session for it.
        if (!(await this.principals.lockLive(sql, person.id)))
          throw new AuthenticationError('your principal is revoked or holds no role in this console');
        if (!(await this.keys.insert(sql, key, secret))) throw new Error('a generated key secret collided');
        await sql('INSERT INTO console_sessions (token_hash, key_id, created_at, expires_at) VALUES ($1, $2, $3, $4)', [
          tokenHash(token),
          keyId,
          now,
          expiresAt,
        ]);
      },
    );
    return { token, principal: self, expiresAt: new Date(expiresAt) };
  }

  /**
   * Records a sign-in at the identity provider that failed before any principal was in question
   * (`reason`: a fixed word such as `state_mismatch` or `provider_error`; never the code, a token
   * or what the provider said beyond its registered error word).
   */
  async refused(method: SignInMethod, reason: string): Promise<void> {
    await this.recordFailure(this.clock.now(), method, reason);
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

  private async recordFailure(now: Date, method: SignInMethod, reason: string): Promise<void> {
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
          method,
          reason,
          ...(unrecorded > 0 ? { unrecorded } : {}),
        },
      },
    ]);
  }
}

/** `console.signed_in`: the acting key, the principal, the session's public id, how, until when. */
function signedInEntry(principal: Principal, token: string, method: SignInMethod, expiresAt: string, now: Date) {
  return {
    log: PLATFORM_LOG,
    source: SERVICE_SOURCE,
    type: 'console.signed_in',
    category: CONSOLE_CATEGORY,
    actor: actorOf(principal),
    target: { type: 'principal', id: principal.principalId },
    outcome: 'success',
    occurredAt: now.toISOString(),
    context: { session: sessionId(token), method, expiresAt },
  } as const;
}

/** Why the identity provider's person may not open a session, or null when they may. */
function refusal(person: PrincipalState | undefined): string | null {
  if (person === undefined) return 'unknown_subject';
  if (person.kind !== 'person' || person.revokedAt !== null) return 'principal_not_active';
  const active = person.grants.filter((grant) => grant.status === 'active');
  return rolesOver(active, tenantsOf(active)).length === 0 ? 'no_role' : null;
}

/** Every tenant the grants name (`*` alone when one of them covers every tenant). */
function tenantsOf(grants: readonly GrantState[]): string[] {
  const tenants = new Set(grants.flatMap((grant) => grant.tenants));
  return tenants.has('*') ? ['*'] : [...tenants].sort();
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
