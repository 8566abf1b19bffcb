// A real OpenID provider for the tests (node-oidc-provider, with its development login and consent pages).
// Never used in production. Usage: node tests/oidc/provider.js PORT
// Environment: OIDC_CLIENT_ID, OIDC_CLIENT_SECRET, OIDC_REDIRECT_URI (the Samverkan callback),
// OIDC_POST_LOGOUT_REDIRECT_URI (optional).
import { generateKeyPairSync } from 'node:crypto';

import Provider from 'oidc-provider';

const port = Number(process.argv[2] || process.env.PORT || 4000);
const issuer = `http://127.0.0.1:${port}`;

// Any login name is accepted by the development login page; the name picks the account here.
const ACCOUNTS = {
  'samordnare-sf': { sub: 'oidc-samordnare-sf', name: 'Sara Samordnare', agency: 'SF', role: 'samordnare' },
  'handlaggare-fk': { sub: 'oidc-handlaggare-fk', name: 'Hans Handläggare', agency: 'FK', role: 'handlaggare' },
  // Has neither agency nor role: Samverkan must refuse it.
  'utan-roll': { sub: 'oidc-utan-roll', name: 'Ulla Utan Roll' },
  // A samordnare outside the förbund: claims that do not fit together.
  'samordnare-fk': { sub: 'oidc-samordnare-fk', name: 'Fel Kombination', agency: 'FK', role: 'samordnare' },
  // A granskare of an agency: a granskare belongs to the förbund (or its operator), so this does not fit either.
  'granskare-fk': { sub: 'oidc-granskare-fk', name: 'Fel Granskare', agency: 'FK', role: 'granskare' },
};

// A fresh signing key per run: Samverkan must fetch it from the provider's JWKS.
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: 'test-1', alg: 'RS256', use: 'sig' };

const postLogout = process.env.OIDC_POST_LOGOUT_REDIRECT_URI;
const configuration = {
  clients: [
    {
      client_id: process.env.OIDC_CLIENT_ID || 'samverkan',
      client_secret: process.env.OIDC_CLIENT_SECRET || 'hemligt',
      redirect_uris: [process.env.OIDC_REDIRECT_URI || 'http://127.0.0.1:8000/logga-in/oidc/callback'],
      post_logout_redirect_uris: postLogout ? [postLogout] : [],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  jwks: { keys: [signingKey] },
  cookies: { keys: ['samverkan-test-provider-cookie-key'] },
  // agency and role travel with the profile scope, as the organisation's provider would be configured to do.
  claims: { openid: ['sub'], profile: ['name', 'agency', 'role'] },
  pkce: { required: () => true },
  features: { devInteractions: { enabled: true } },
  async findAccount(ctx, id) {
    const account = ACCOUNTS[id];
    if (!account) return undefined;
    return {
      accountId: id,
      async claims() {
        return { ...account };
      },
    };
  },
};

const provider = new Provider(issuer, configuration);
provider.listen(port, '127.0.0.1', () => {
  console.log(`oidc test provider at ${issuer}`);
});
