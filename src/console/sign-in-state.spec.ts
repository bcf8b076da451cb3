import { SIGN_IN_STATE_LIFETIME_MS, SignInState, SignInStateSeal } from './sign-in-state';

const now = new Date('2026-12-04T12:00:00Z');
const state: SignInState = {
  state: 'state-1',
  nonce: 'nonce-1',
  verifier: 'verifier-1',
  next: '/console/search',
  expiresAt: now.getTime() + SIGN_IN_STATE_LIFETIME_MS,
};

describe('console sign-in state cookie', () => {
  const sealer = new SignInStateSeal('client-secret');

  it('opens what it sealed until it expires, and the cookie does not show the PKCE verifier or nonce', () => {
    const cookie = sealer.seal(state);
    expect(Buffer.from(cookie, 'base64url').toString('latin1')).not.toContain('verifier-1');
    expect(cookie).not.toContain('nonce-1');
    expect(sealer.open(cookie, now)).toEqual(state);
    expect(sealer.open(cookie, new Date(state.expiresAt))).toBeNull();
  });

  it('refuses a changed cookie, one sealed under another client secret, and garbage', () => {
    const cookie = Buffer.from(sealer.seal(state), 'base64url');
    for (const at of [0, 12, cookie.length - 1]) {
      const changed = Buffer.from(cookie);
      changed[at] ^= 1;
      expect(sealer.open(changed.toString('base64url'), now)).toBeNull();
    }
    expect(new SignInStateSeal('another-secret').open(sealer.seal(state), now)).toBeNull();
    for (const garbage of [undefined, '', 'x', 'a'.repeat(40)]) expect(sealer.open(garbage, now)).toBeNull();
  });
});
