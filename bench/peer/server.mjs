// node-oidc-provider as Latchkey's benchmark peer (see README.md in this folder).
//
// Env: PORT (default 3000), ALG (RS256 default, or ES256: the access-token signing
// algorithm), IAT (the initial access token registrations need; default
// 'bench-initial-access-token'), STORE_CAPACITY (unset: the stock in-memory adapter, an LRU
// of 1000 entries; a number: the same adapter code over an LRU of that many entries).
// Listens on 127.0.0.1 only, plain HTTP, no per-request logging. Prints one line when ready.

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';

import Provider, { errors } from 'oidc-provider';

const PORT = Number.parseInt(process.env.PORT || '3000', 10);
const ALG = process.env.ALG || 'RS256';
const IAT = process.env.IAT || 'bench-initial-access-token';
const HOST = '127.0.0.1';
const ISSUER = `http://${HOST}:${PORT}`;

if (!Number.isInteger(PORT) || PORT <= 0 || PORT > 65535) {
  console.error(`bad PORT: ${process.env.PORT}`);
  process.exit(2);
}
if (ALG !== 'RS256' && ALG !== 'ES256') {
  console.error(`bad ALG: ${ALG} (RS256 or ES256)`);
  process.exit(2);
}

// The signing keys, made at start like Latchkey's realm keys: RSA-2048 and P-256.
function privateJwk(type, options, alg, kid) {
  const { privateKey } = generateKeyPairSync(type, options);
  return { ...privateKey.export({ format: 'jwk' }), alg, use: 'sig', kid };
}
const jwks = {
  keys: [
    privateJwk('rsa', { modulusLength: 2048 }, 'RS256', 'rs256-bench'),
    privateJwk('ec', { namedCurve: 'P-256' }, 'ES256', 'es256-bench'),
  ],
};

// Access tokens are JWTs only when they are issued for a resource server, so every token
// request that names no `resource` is given this one (defaultResource), whose tokens are
// JWTs signed with ALG. Its `scope` lists what the tokens may carry; client_credentials
// tokens keep only the requested scopes that are in it.
const RESOURCE = `${ISSUER}/resource`;
const resourceServer = {
  scope: 'openid profile email',
  audience: RESOURCE,
  accessTokenTTL: 300, // Latchkey's default accessTokenLifespan
  accessTokenFormat: 'jwt',
  jwt: { sign: { alg: ALG } },
};

const configuration = {
  jwks,
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  clientAuthMethods: ['client_secret_basic', 'client_secret_post', 'none'],
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    registration: {
      enabled: true,
      initialAccessToken: IAT,
    },
    registrationManagement: {
      enabled: true,
      rotateRegistrationAccessToken: true, // on update (PUT); reads do not rotate
    },
    resourceIndicators: {
      enabled: true,
      defaultResource: async (_ctx, _client, oneOf) => oneOf ?? RESOURCE,
      useGrantedResource: async () => true,
      getResourceServerInfo: async (_ctx, resourceIndicator) => {
        if (resourceIndicator !== RESOURCE) {
          throw new errors.InvalidTarget();
        }
        return resourceServer;
      },
    },
  },
  // Every refresh spends its token and hands out a new one, as Latchkey does.
  rotateRefreshToken: true,
  ttl: {
    AccessToken: 300,
    ClientCredentials: 300,
    IdToken: 300,
    AuthorizationCode: 60,
    RefreshToken: 24 * 60 * 60,
    Interaction: 60 * 60,
    Session: 24 * 60 * 60,
    Grant: 24 * 60 * 60,
    DeviceCode: 600,
    BackchannelAuthenticationRequest: 600,
  },
};

// The stock in-memory adapter keeps everything (clients, registration access tokens) in one
// LRU of maxSize 1000 (two generations, so 1000 to 2000 entries; a registration takes two),
// so older registrations are evicted: after ~1000 more, reading one or getting a token for
// it fails. STORE_CAPACITY keeps the same adapter and LRU code but with a larger bound.
const STORE_CAPACITY = process.env.STORE_CAPACITY;
if (STORE_CAPACITY) {
  const maxSize = Number.parseInt(STORE_CAPACITY, 10);
  if (!(maxSize > 0)) {
    console.error(`bad STORE_CAPACITY: ${STORE_CAPACITY}`);
    process.exit(2);
  }
  const { default: MemoryAdapter } = await import('oidc-provider/lib/adapters/memory_adapter.js');
  const { default: LRU } = await import('oidc-provider/lib/helpers/lru.js');
  const store = new LRU({ maxSize });
  configuration.adapter = (model) => new MemoryAdapter(model, store, 15); // 15: clockTolerance default
}

const provider = new Provider(ISSUER, configuration);
// Koa would print every unexposed error; a benchmark peer stays quiet.
provider.silent = true;

// The benchmark's refresh scenario needs refresh tokens, which node-oidc-provider issues
// only through an authorization code (an interaction with a login page): this bench-only
// endpoint mints them directly, each with a grant of its own, as a code exchange would.
// POST /bench/refresh-tokens {"client_id": …, "n": …} -> {"refresh_tokens": […]}
async function mintRefreshTokens(req, res) {
  let raw = '';
  for await (const chunk of req) raw += chunk;
  const { client_id: clientId, n } = JSON.parse(raw);
  const client = await provider.Client.find(clientId);
  if (!client) {
    res.writeHead(404).end();
    return;
  }
  const tokens = [];
  for (let i = 0; i < n; i += 1) {
    const grant = new provider.Grant({ accountId: 'bench', clientId });
    grant.addOIDCScope('openid');
    grant.addResourceScope(RESOURCE, 'openid');
    const grantId = await grant.save();
    const token = new provider.RefreshToken({
      accountId: 'bench',
      client,
      grantId,
      gty: 'authorization_code',
      scope: 'openid',
      authTime: Math.floor(Date.now() / 1000),
    });
    tokens.push(await token.save());
  }
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ refresh_tokens: tokens }));
}

const callback = provider.callback();
const server = createServer((req, res) => {
  if (req.method === 'POST' && req.url === '/bench/refresh-tokens') {
    mintRefreshTokens(req, res).catch((e) => {
      res.writeHead(500).end(String(e));
    });
    return;
  }
  callback(req, res);
});
server.listen(PORT, HOST, () => {
  console.log(`listening on ${ISSUER}`);
});

// SIGTERM/SIGINT: stop listening, drop open (keep-alive) connections, exit 0. Nothing is
// kept, so in-flight requests are not waited for.
function stop() {
  server.close();
  server.closeAllConnections();
  process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
