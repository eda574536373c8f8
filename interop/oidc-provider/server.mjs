// panva's oidc-provider (OpenID Certified) configured as the interop tests' second, independent
// authorization server. Started by `cargo xtask test` (xtask/src/oidc.rs):
//
//   node server.mjs <port> [--dpop-nonce]
//
// It issues, for the resources the tests name (any http(s) URL):
// - RFC 9068 JWT access tokens through resource indicators (client credentials with
//   `resource`), DPoP-bound when the request carries a proof (with `--dpop-nonce`, only with the
//   server's DPoP nonce); opaque access tokens for resources whose path starts with /opaque
//   (introspected and revocable) and when no resource is named;
// - token introspection and revocation with client authentication (RFC 7662, RFC 7009);
// - an RFC 8693 token-exchange grant registered here (the provider has none built in) that
//   keeps the subject token's `sub` and `auth_time` and nests its `act` under the requesting
//   client;
// - authorization-code tokens for signed-in users (the provider's development login: any
//   account id, no password), whose `sub` is a bare account id, with `auth_time`
//   (RFC 9068 §2.2.1).
//
// Clients are static, with the secrets below (test fixtures, loopback only). Signing keys are
// made at each start: restarting on the same port is a key rotation.

import * as crypto from 'node:crypto';

import * as jose from 'jose';
import Provider, { errors } from 'oidc-provider';
import * as grantHelpers from 'oidc-provider/lib/helpers/grants.js';
import { applyDpopBinding } from 'oidc-provider/lib/helpers/grant_common.js';

const port = Number(process.argv[2]);
const requireNonce = process.argv.includes('--dpop-nonce');
const issuer = `http://127.0.0.1:${port}`;

const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';
// Every scope the examples' contracts ask for (../shared/docs/EXAMPLES.md) and the tests use.
const SCOPES = [
  'search:execute', 'db:read', 'db:delete', 'tools:read', 'tools:write', 'admin',
  'payroll:read', 'reports:read', 'read', 'write',
];

async function signingKey(kid) {
  const { privateKey } = await jose.generateKeyPair('ES256', { extractable: true });
  return { ...(await jose.exportJWK(privateKey)), kid, alg: 'ES256', use: 'sig' };
}
// RS256 signs ID tokens (the provider's default); ES256 signs access tokens.
const { privateKey: rsa } = await jose.generateKeyPair('RS256', { extractable: true });
// Key ids are new at every start, as a rotation makes them.
const run = crypto.randomBytes(4).toString('hex');
const keys = [
  await signingKey(`es-${run}`),
  { ...(await jose.exportJWK(rsa)), kid: `rs-${run}`, alg: 'RS256', use: 'sig' },
];

const agent = (id) => ({
  client_id: id,
  client_secret: `${id}-secret`,
  grant_types: ['client_credentials', TOKEN_EXCHANGE],
  response_types: [],
  redirect_uris: [],
  scope: SCOPES.join(' '),
  token_endpoint_auth_method: 'client_secret_basic',
});

const clients = [
  agent('agent-a'),
  agent('agent-b'),
  { ...agent('agent-post'), token_endpoint_auth_method: 'client_secret_post' },
  {
    client_id: 'web-app',
    client_secret: 'web-app-secret',
    grant_types: ['authorization_code', TOKEN_EXCHANGE],
    response_types: ['code'],
    redirect_uris: ['http://127.0.0.1/callback'],
    scope: `openid ${SCOPES.join(' ')}`,
  },
  // A resource server: it only introspects and revokes.
  {
    client_id: 'resource-server',
    client_secret: 'resource-server-secret',
    grant_types: [],
    response_types: [],
    redirect_uris: [],
  },
];

/** Any http(s) resource: the tests' servers, and the foreign audiences they must refuse. */
function isTestResource(resource) {
  try {
    return ['http:', 'https:'].includes(new URL(resource).protocol);
  } catch {
    return false;
  }
}

const configuration = {
  clients,
  jwks: { keys },
  scopes: ['openid', ...SCOPES],
  findAccount: async (ctx, sub) => ({ accountId: sub, claims: async () => ({ sub }) }),
  features: {
    devInteractions: { enabled: true },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    dPoP: {
      enabled: true,
      nonceSecret: crypto.randomBytes(32),
      requireNonce: () => requireNonce,
    },
    resourceIndicators: {
      enabled: true,
      defaultResource: async (ctx, client, oneOf) => oneOf,
      useGrantedResource: async () => true,
      getResourceServerInfo: async (ctx, resource) => {
        if (!isTestResource(resource)) throw new errors.InvalidTarget();
        // Resources under /opaque get opaque tokens (introspected); the others RFC 9068 JWTs.
        if (new URL(resource).pathname.startsWith('/opaque')) {
          return { scope: SCOPES.join(' '), audience: resource, accessTokenFormat: 'opaque', accessTokenTTL: 300 };
        }
        return {
          scope: SCOPES.join(' '),
          audience: resource,
          accessTokenFormat: 'jwt',
          accessTokenTTL: 300,
          jwt: { sign: { alg: 'ES256' } },
        };
      },
    },
  },
  // RFC 9068 §2.2.1: a token issued for a user's authentication says when it happened
  // (`auth_time`; the provider leaves it out by default); the exchange grant (below) keeps it
  // and adds `act`.
  extraTokenClaims: async (ctx, token) => {
    const extra = {};
    if (token.exchangeAct) extra.act = token.exchangeAct;
    if (token.exchangeAuthTime) extra.auth_time = token.exchangeAuthTime;
    const code = ctx?.oidc?.entities?.AuthorizationCode;
    if (token.kind === 'AccessToken' && token.accountId && code?.authTime) {
      extra.auth_time = code.authTime;
    }
    return Object.keys(extra).length ? extra : undefined;
  },
  formats: {
    customizers: {
      jwt: async (ctx, token, jwt) => {
        if (token.exchangeSubject) jwt.payload.sub = token.exchangeSubject;
      },
    },
  },
  ttl: { AccessToken: 300, ClientCredentials: 300 },
  pkce: { required: () => false },
};

const provider = new Provider(issuer, configuration);
const helpers = Object.fromEntries(
  Object.entries(grantHelpers).map(([name, helper]) => [name, helper.bind(undefined, provider)]),
);

const ownKeys = jose.createLocalJWKSet({
  keys: keys.map(({ d, p, q, dp, dq, qi, ...pub }) => pub),
});

/** A JWT access token this provider issued (signature, issuer, expiry). */
async function ownAccessToken(token) {
  const { payload } = await jose.jwtVerify(token, ownKeys, { issuer, typ: 'at+jwt' });
  return payload;
}

// RFC 8693 token exchange: `sub` kept, the requesting client (or the actor token's subject,
// which must be that client) the new current actor, the subject token's `act` nested under it.
provider.registerGrantType(TOKEN_EXCHANGE, async (ctx) => {
  const { client, params } = ctx.oidc;
  if (params.subject_token_type !== ACCESS_TOKEN) {
    throw new errors.InvalidRequest(`subject_token_type must be ${ACCESS_TOKEN}`);
  }
  let subject;
  try {
    subject = await ownAccessToken(params.subject_token);
  } catch {
    throw new errors.InvalidGrant('subject_token is not a valid access token of this issuer');
  }
  let actor = client.clientId;
  if (params.actor_token) {
    if (params.actor_token_type !== ACCESS_TOKEN) {
      throw new errors.InvalidRequest(`actor_token_type must be ${ACCESS_TOKEN}`);
    }
    const token = await ownAccessToken(params.actor_token).catch(() => {
      throw new errors.InvalidGrant('actor_token is not a valid access token of this issuer');
    });
    if (token.sub !== client.clientId) {
      throw new errors.InvalidGrant('actor_token does not belong to the requesting client');
    }
    actor = token.sub;
  }
  const dPoP = await helpers.validateDpop(ctx);
  const [resourceServer, ...more] = await helpers.resolveRequestedResources(ctx);
  if (!resourceServer || more.length) {
    throw new errors.InvalidTarget('exactly one resource is required');
  }
  // Never more than the subject token had, nor than the resource defines.
  const had = new Set(String(subject.scope ?? '').split(' ').filter(Boolean));
  const defined = new Set(resourceServer.scope.split(' '));
  const asked = params.scope ? params.scope.split(' ') : [...had];
  const scope = asked.filter((s) => had.has(s) && defined.has(s));
  if (params.scope && scope.length !== asked.length) {
    throw new errors.InvalidScope('a requested scope is not in the subject token or the resource');
  }
  const token = new provider.ClientCredentials({ client, scope: scope.join(' ') || undefined });
  token.resourceServer = resourceServer;
  token.exchangeSubject = subject.sub;
  token.exchangeAct = subject.act ? { sub: actor, act: subject.act } : { sub: actor };
  // The user's authentication, if the subject token came from one (RFC 9068 §2.2.1).
  if (typeof subject.auth_time === 'number') token.exchangeAuthTime = subject.auth_time;
  await applyDpopBinding(provider, ctx, dPoP, token);
  helpers.checkDpopRequired(ctx, dPoP);
  const value = await token.save();
  ctx.body = {
    access_token: value,
    issued_token_type: ACCESS_TOKEN,
    token_type: token.tokenType,
    expires_in: token.expiration,
    scope: token.scope,
  };
}, ['subject_token', 'subject_token_type', 'actor_token', 'actor_token_type', 'scope', 'resource', 'audience', 'requested_token_type'], ['resource']);

provider.listen(port, '127.0.0.1', () => {
  console.log(`oidc-provider ${issuer} ready${requireNonce ? ' (DPoP nonces required)' : ''}`);
});
