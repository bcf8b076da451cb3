import { hkdfSync, randomBytes } from 'node:crypto';
import { DATA_KEY_BYTES, IV_BYTES, open, seal } from '../platform';
import type { OidcChallenge } from './oidc-client';

/** How long a sign-in at the identity provider may take, from the button to the callback. */
export const SIGN_IN_STATE_LIFETIME_MS = 10 * 60 * 1000;

/** What the browser carries to the provider and back (the sign-in state cookie's content). */
export interface SignInState extends OidcChallenge {
  /** The console page to go to afterwards. */
  readonly next: string;
  /** Milliseconds since the epoch. */
  readonly expiresAt: number;
}

/** Binds a sealed value to being a console sign-in state, not any other secret under the same key. */
const AAD = Buffer.from('audit-console-sign-in-state/v1', 'utf8');

/**
 * The sign-in state cookie's sealing: the platform's AES-256-GCM (src/platform/crypto/sealing.ts)
 * under a key derived (HKDF-SHA256) from the OIDC client secret, so every process of a deployment opens what another sealed, while the browser
 * can neither read the PKCE verifier and nonce nor change anything without the open failing.
 */
export class SignInStateSeal {
  private readonly key: Buffer;

  constructor(clientSecret: string) {
    this.key = Buffer.from(hkdfSync('sha256', clientSecret, 'audit-trail', 'console sign-in state', DATA_KEY_BYTES));
  }

  seal(state: SignInState): string {
    return seal(this.key, randomBytes(IV_BYTES), AAD, Buffer.from(JSON.stringify(state), 'utf8')).toString('base64url');
  }

  /** The state sealed in `text`, or null when it is not one of ours, was changed, or has expired at `now`. */
  open(text: string | undefined, now: Date): SignInState | null {
    if (text === undefined) return null;
    try {
      const state = JSON.parse(open(this.key, AAD, Buffer.from(text, 'base64url')).toString('utf8')) as SignInState;
      return state.expiresAt > now.getTime() ? state : null;
    } catch {
      return null;
    }
  }
}
