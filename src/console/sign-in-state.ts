import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
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

/**
 * The sign-in state cookie's sealing: AES-256-GCM under a key derived (HKDF-SHA256) from the OIDC
 * client secret, so every process of a deployment opens what another sealed, while the browser
 * can neither read the PKCE verifier and nonce nor change anything without the open failing.
 */
export class SignInStateSeal {
  private readonly key: Buffer;

  constructor(clientSecret: string) {
    this.key = Buffer.from(hkdfSync('sha256', clientSecret, 'audit-trail', 'console sign-in state', 32));
  }

  seal(state: SignInState): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const body = Buffer.concat([cipher.update(JSON.stringify(state), 'utf8'), cipher.final()]);
    return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
  }

  /** The state sealed in `text`, or null when it is not one of ours, was changed, or has expired at `now`. */
  open(text: string | undefined, now: Date): SignInState | null {
    if (text === undefined) return null;
    const raw = Buffer.from(text, 'base64url');
    if (raw.length < 29) return null;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, 12));
      decipher.setAuthTag(raw.subarray(12, 28));
      const state = JSON.parse(
        Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8'),
      ) as SignInState;
      return state.expiresAt > now.getTime() ? state : null;
    } catch {
      return null;
    }
  }
}
