import type * as OpenIdClient from 'openid-client' with { 'resolution-mode': 'import' };
import type { OidcSetting } from '../platform';

/** What the browser must bring back from the provider: kept in the sealed sign-in state cookie. */
export interface OidcChallenge {
  readonly state: string;
  readonly nonce: string;
  /** The PKCE code verifier; the provider sees only its S256 challenge. */
  readonly verifier: string;
}

/** Who the provider vouches for: the ID token's `iss` and `sub`, both checked. */
export interface OidcIdentity {
  readonly issuer: string;
  readonly subject: string;
}

/** A sign-in the provider or its answer refused; `code` is a fixed word, never a token, code or message. */
export class OidcFailure extends Error {
  constructor(readonly code: string) {
    super(`the identity provider's answer was refused (${code})`);
    this.name = 'OidcFailure';
  }
}

/**
 * The console's OpenID Connect client: authorization code flow with PKCE (S256), state and nonce,
 * through `openid-client`. That package is ESM-only, so this is the one file that loads it, and
 * only when OIDC is configured and a sign-in starts: a `require` here (Node 20.19+ loads ESM
 * through it), never an import at the top, so nothing else (and no Jest suite) loads it.
 */
export class OidcClient {
  private configuration: Promise<OpenIdClient.Configuration> | null = null;

  constructor(private readonly setting: OidcSetting) {}

  /** The name on the sign-in page's button. */
  get providerName(): string {
    return this.setting.providerName;
  }

  /** Where to send the browser, and what it must bring back. */
  async start(): Promise<{ url: string; challenge: OidcChallenge }> {
    const oidc = load();
    const configuration = await this.discovered();
    const challenge = { state: oidc.randomState(), nonce: oidc.randomNonce(), verifier: oidc.randomPKCECodeVerifier() };
    const url = oidc.buildAuthorizationUrl(configuration, {
      redirect_uri: this.setting.redirectUrl,
      scope: 'openid',
      code_challenge: await oidc.calculatePKCECodeChallenge(challenge.verifier),
      code_challenge_method: 'S256',
      state: challenge.state,
      nonce: challenge.nonce,
    });
    return { url: url.href, challenge };
  }

  /**
   * Redeems the code of the provider's redirect (`query`: its query string) for an ID token and
   * answers whose it is. openid-client checks state, nonce, issuer, audience, signature and expiry;
   * any failure is an `OidcFailure` that carries none of the answer.
   */
  async finish(query: string, challenge: OidcChallenge): Promise<OidcIdentity> {
    const oidc = load();
    const configuration = await this.discovered();
    const callback = new URL(this.setting.redirectUrl);
    callback.search = query;
    let tokens: OpenIdClient.TokenEndpointResponse & OpenIdClient.TokenEndpointResponseHelpers;
    try {
      tokens = await oidc.authorizationCodeGrant(configuration, callback, {
        pkceCodeVerifier: challenge.verifier,
        expectedState: challenge.state,
        expectedNonce: challenge.nonce,
        idTokenExpected: true,
      });
    } catch (e) {
      throw new OidcFailure(failureCode(e));
    }
    const claims = tokens.claims();
    if (claims === undefined || typeof claims.sub !== 'string' || claims.sub === '')
      throw new OidcFailure('no_subject');
    return { issuer: claims.iss, subject: claims.sub };
  }

  /** The provider's metadata, fetched once; a failed discovery is tried again at the next sign-in. */
  private discovered(): Promise<OpenIdClient.Configuration> {
    if (this.configuration === null) {
      const oidc = load();
      const issuer = new URL(this.setting.issuer);
      // http only for a provider on a loopback host (the configuration refuses any other).
      const execute = issuer.protocol === 'http:' ? [oidc.allowInsecureRequests] : [];
      this.configuration = oidc
        .discovery(issuer, this.setting.clientId, this.setting.clientSecret, undefined, { execute })
        .catch((e: unknown) => {
          this.configuration = null;
          throw new OidcFailure(`discovery_failed:${failureCode(e)}`);
        });
    }
    return this.configuration;
  }
}

function load(): typeof OpenIdClient {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('openid-client') as typeof OpenIdClient;
}

/**
 * A fixed word for what went wrong: openid-client's error code, and for an OAuth error answer its
 * `error` (a registered word such as `invalid_grant`). Messages and bodies are left out: they may
 * quote the code or a token.
 */
function failureCode(e: unknown): string {
  const word = (value: unknown) => (typeof value === 'string' && /^[A-Za-z_]{1,64}$/.test(value) ? value : null);
  const error = e as { code?: unknown; error?: unknown; cause?: { code?: unknown } } | null;
  const code = word(error?.code) ?? word(error?.cause?.code) ?? 'unexpected';
  const oauth = word(error?.error);
  return oauth === null ? code : `${code}:${oauth}`;
}
