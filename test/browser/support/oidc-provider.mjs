// A real OpenID provider for the console's browser test (`oidc-provider`, ESM-only, hence this child
// process): one confidential client with the console's redirect URI, PKCE required, and the
// package's development login page, where any login name signs in as the subject of that name.
// Prints `ready <issuer>` once it listens. Settings from the environment: OIDC_TEST_PORT,
// OIDC_TEST_CLIENT_ID, OIDC_TEST_CLIENT_SECRET, OIDC_TEST_REDIRECT_URI.
import process from 'node:process';
import Provider from 'oidc-provider';

const port = Number(process.env.OIDC_TEST_PORT);
const issuer = `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: process.env.OIDC_TEST_CLIENT_ID,
      client_secret: process.env.OIDC_TEST_CLIENT_SECRET,
      redirect_uris: [process.env.OIDC_TEST_REDIRECT_URI],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  // The subject is the login name typed on the development login page.
  findAccount: async (_ctx, id) => ({ accountId: id, claims: async () => ({ sub: id }) }),
  features: { devInteractions: { enabled: true } },
  pkce: { required: () => true },
  cookies: { keys: ['browser-test-only-cookie-key'] },
});

provider.listen(port, '127.0.0.1', () => process.stdout.write(`ready ${issuer}\n`));
