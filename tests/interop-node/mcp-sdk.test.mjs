// Interop: the MCP TypeScript SDK (@modelcontextprotocol/sdk, its client-side OAuth:
// `auth()` from client/auth.js) signs a user in at latchkey the way an MCP host does.
//
// The test is the host: an OAuthClientProvider of its own keeps client information,
// tokens and the PKCE verifier in memory, and its `redirectToAuthorization` plays the
// browser (GET the authorization URL, latchkey's login and consent forms, the redirect to
// http://127.0.0.1:<port>/callback). mcp-host.mjs stands in for the MCP server: a 401 with
// `WWW-Authenticate: Bearer resource_metadata=…` and RFC 9728 metadata naming the realm as
// its authorization server. Discovery, registration, PKCE, the code exchange and the
// refresh are the SDK's own.
//
// Cases:
//   - DCR: the SDK registers itself anonymously (the realm opens anonymous registration
//     to 127.0.0.1 with the README's Trusted Hosts recipe);
//   - CIMD: the client_id is a client ID metadata document served on loopback http
//     (allowed in start-dev); needs a realm with `clientIdMetadataDocumentEnabled`;
//   - RFC 8707, for each of the two: a resource server for the MCP server's URL, the SDK
//     sends it as `resource`, and the access token's `aud` is that URL.
// Without RFC 8707 the provider declines a resource indicator through the SDK's own hook
// (`validateResourceURL` answering undefined), so those cases depend on nothing else.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, afterEach, before, describe, it } from 'node:test';

import { auth, extractWWWAuthenticateParams } from '@modelcontextprotocol/sdk/client/auth.js';

import { Browser, assertRedirectTo, describePage } from './browser.mjs';
import { finishSuite, once, startServer } from './harness.mjs';
import {
  USER,
  audiences,
  createRealm,
  createResourceServer,
  createUser,
  jwtPayload,
  openAnonymousRegistration,
  startMcpHost,
  trustHosts,
} from './mcp-host.mjs';

// The client metadata of the SDK's own example host (examples/client/simpleOAuthClient).
const sdkExampleMetadata = (redirectUrl) => ({
  client_name: 'Simple OAuth MCP Client',
  redirect_uris: [redirectUrl],
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  token_endpoint_auth_method: 'client_secret_post',
});

/** A fetch that records each request the SDK makes, then sends it. */
function recordingFetch(log) {
  return (url, init = {}) => {
    const body = typeof init.body === 'string' || init.body instanceof URLSearchParams ? String(init.body) : '';
    log.push({ url: String(url), method: init.method ?? 'GET', body });
    return fetch(url, init);
  };
}

/**
 * The host's OAuthClientProvider: everything in memory. `browse(url)` is the user's
 * browser; it returns the URL the authorization server redirected back to.
 */
class HostProvider {
  registrations = [];
  authorizationUrls = [];
  callbacks = [];

  constructor({ redirectUrl, clientMetadata, clientInformation, browse, sendResource }) {
    this._redirectUrl = redirectUrl;
    this._clientMetadata = clientMetadata;
    this._clientInformation = clientInformation;
    this._browse = browse;
    // The SDK sends the protected resource metadata's `resource` unless the provider
    // implements validateResourceURL; answering undefined there sends none.
    if (!sendResource) this.validateResourceURL = async () => undefined;
  }

  get redirectUrl() {
    return this._redirectUrl;
  }

  get clientMetadata() {
    return this._clientMetadata;
  }

  state() {
    this.lastState = randomBytes(16).toString('base64url');
    return this.lastState;
  }

  clientInformation() {
    return this._clientInformation;
  }

  saveClientInformation(info) {
    this._clientInformation = info;
    this.registrations.push(info);
  }

  tokens() {
    return this._tokens;
  }

  saveTokens(tokens) {
    this._tokens = tokens;
  }

  saveCodeVerifier(verifier) {
    this._codeVerifier = verifier;
  }

  codeVerifier() {
    return this._codeVerifier;
  }

  async redirectToAuthorization(url) {
    this.authorizationUrls.push(new URL(url));
    const callback = await this._browse(new URL(url));
    assert.equal(callback.searchParams.get('state'), this.lastState, 'the redirect echoes the state the SDK sent');
    this.callbacks.push(callback);
  }

  get authorizationCode() {
    const code = this.callbacks.at(-1)?.searchParams.get('code');
    assert.ok(code, `the last redirect carries a code: ${this.callbacks.at(-1)}`);
    return code;
  }
}

describe('MCP TypeScript SDK: auth() against latchkey', () => {
  let server;
  const hosts = [];
  const failed = [];

  before(async () => {
    server = await startServer();
  });

  afterEach((t) => {
    if (t.passed === false) failed.push(t.name);
  });

  after(async () => {
    for (const host of hosts) await host.close();
    await finishSuite(server, failed);
  });

  const issuer = (realm) => `${server.baseUrl}/realms/${realm}`;

  const dcrRealm = once(async () => {
    const realm = 'mcp-dcr';
    await createRealm(server, realm);
    await createUser(server, realm);
    await openAnonymousRegistration(server, realm, ['127.0.0.1']);
    return realm;
  });

  const cimdRealm = once(async () => {
    const realm = 'mcp-cimd';
    await createRealm(server, realm, { clientIdMetadataDocumentEnabled: 'true' });
    await createUser(server, realm);
    // The anonymous policies apply to metadata document clients: their redirect URIs
    // (the host's loopback callback) must be on Trusted Hosts' list.
    await trustHosts(server, realm, ['127.0.0.1']);
    return realm;
  });

  /** A fresh MCP host (its own port, so its own resource URL) for `realm`. */
  async function mcpHost(realm) {
    const host = await startMcpHost({ issuer: issuer(realm) });
    hosts.push(host);
    return host;
  }

  /** The user's browser: sign in as alice, accept consent, end at the host's callback. */
  function browserFor(host, realm) {
    return async (url) => {
      const browser = new Browser(new URL(server.baseUrl).origin, USER);
      const first = await browser.request(url);
      assert.equal(first.status, 200, `the authorization URL the SDK built shows the login page: ${describePage(first)}`);
      const page = await browser.drive(first);
      const params = assertRedirectTo(page, host.redirectUrl, 'after login and consent');
      assert.equal(params.get('error'), null, `the login ends without error: ${page.location}`);
      assert.equal(params.get('iss'), issuer(realm), 'the redirect carries iss (RFC 9207)');
      const r = await fetch(page.location);
      assert.equal(r.status, 200, 'the host callback answers');
      return page.location;
    };
  }

  /**
   * What a host does when the MCP server answers 401: read resource_metadata from the
   * challenge, auth() (discovery, registration if needed, then the browser), then auth()
   * again with the code. Returns the tokens the provider stored.
   */
  async function signIn(host, provider, log) {
    const probe = await fetch(host.mcpUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
    });
    assert.equal(probe.status, 401, 'the MCP server asks for a token');
    const { resourceMetadataUrl } = extractWWWAuthenticateParams(probe);
    assert.equal(String(resourceMetadataUrl), host.resourceMetadataUrl, 'the SDK reads resource_metadata from the challenge');

    const options = { serverUrl: host.mcpUrl, resourceMetadataUrl, fetchFn: recordingFetch(log) };
    assert.equal(await auth(provider, options), 'REDIRECT', 'first auth(): the user is sent to the authorization endpoint');
    const code = provider.authorizationCode;
    assert.equal(
      await auth(provider, { ...options, authorizationCode: code }),
      'AUTHORIZED',
      'second auth() with the code: tokens',
    );
    const tokens = provider.tokens();
    assert.ok(tokens?.access_token, `the SDK stored an access token: ${JSON.stringify(tokens)}`);

    // The token works at the MCP server (which only checks that one is sent).
    const call = await fetch(host.mcpUrl, {
      method: 'POST',
      headers: { authorization: `Bearer ${tokens.access_token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'ping' }),
    });
    assert.equal(call.status, 200);
    return { tokens, options };
  }

  /** A third auth() with a stored refresh token: the SDK refreshes, no browser. */
  async function refresh(provider, options) {
    const before = provider.tokens();
    assert.ok(before.refresh_token, 'a refresh token was issued');
    const redirects = provider.authorizationUrls.length;
    assert.equal(await auth(provider, options), 'AUTHORIZED', 'auth() with a refresh token refreshes');
    assert.equal(provider.authorizationUrls.length, redirects, 'no new browser round trip');
    const after = provider.tokens();
    assert.notEqual(after.access_token, before.access_token, 'a new access token');
    assert.notEqual(after.refresh_token, before.refresh_token, 'the refresh token rotates');
    return after;
  }

  const tokenRequests = (log, realm) => log.filter((r) => r.url === `${issuer(realm)}/protocol/openid-connect/token`);

  // ------------------------------------------------------------------------ DCR

  it('DCR: the SDK discovers the realm through RFC 9728 metadata, registers itself anonymously and signs alice in', async () => {
    const realm = await dcrRealm();
    const host = await mcpHost(realm);
    const log = [];
    const provider = new HostProvider({
      redirectUrl: host.redirectUrl,
      clientMetadata: sdkExampleMetadata(host.redirectUrl),
      browse: browserFor(host, realm),
      sendResource: false,
    });
    const { tokens, options } = await signIn(host, provider, log);

    assert.equal(provider.registrations.length, 1, 'the SDK registered once');
    const registered = provider.registrations[0];
    assert.ok(registered.client_id, 'a client_id');
    assert.ok(registered.client_secret, 'a client_secret (the SDK example asks for client_secret_post)');
    assert.equal(registered.token_endpoint_auth_method, 'client_secret_post');
    assert.ok(
      log.some((r) => r.method === 'POST' && r.url === `${issuer(realm)}/clients-registrations/openid-connect`),
      `the SDK registered at the advertised registration endpoint: ${log.map((r) => r.url).join(', ')}`,
    );
    const authorizationUrl = provider.authorizationUrls[0];
    assert.equal(`${authorizationUrl.origin}${authorizationUrl.pathname}`, `${issuer(realm)}/protocol/openid-connect/auth`);
    assert.equal(authorizationUrl.searchParams.get('code_challenge_method'), 'S256');
    assert.equal(authorizationUrl.searchParams.get('resource'), null, 'no resource indicator in this case');

    const claims = jwtPayload(tokens.access_token);
    assert.equal(claims.iss, issuer(realm), 'iss is the realm issuer');
    assert.equal(claims.azp, registered.client_id, 'azp is the registered client');
    const [exchange] = tokenRequests(log, realm);
    assert.ok(new URLSearchParams(exchange.body).get('client_secret'), 'client_secret_post at the token endpoint');

    await refresh(provider, options);
  });

  it('DCR + RFC 8707: with a resource server for the MCP URL, the SDK sends it as resource and the access token aud is that URL', async () => {
    const realm = await dcrRealm();
    const host = await mcpHost(realm);
    await createResourceServer(server, realm, host.mcpUrl);
    const log = [];
    const provider = new HostProvider({
      redirectUrl: host.redirectUrl,
      clientMetadata: sdkExampleMetadata(host.redirectUrl),
      browse: browserFor(host, realm),
      sendResource: true,
    });
    const { tokens, options } = await signIn(host, provider, log);

    assert.equal(provider.authorizationUrls[0].searchParams.get('resource'), host.mcpUrl, 'resource at the authorization endpoint');
    assert.equal(
      new URLSearchParams(tokenRequests(log, realm)[0].body).get('resource'),
      host.mcpUrl,
      'resource at the token endpoint',
    );
    const claims = jwtPayload(tokens.access_token);
    assert.deepEqual(audiences(claims), [host.mcpUrl], `aud is exactly the MCP server: ${JSON.stringify(claims.aud)}`);
    assert.equal(claims.iss, issuer(realm));

    const refreshed = jwtPayload((await refresh(provider, options)).access_token);
    assert.deepEqual(audiences(refreshed), [host.mcpUrl], 'a refreshed token keeps the audience');
  });

  // ----------------------------------------------------------------------- CIMD

  /**
   * The SDK takes a URL client_id from `clientMetadataUrl` only when it is https
   * (`isHttpsUrl` in client/auth.js), and latchkey fetches documents over TLS only from
   * hosts with publicly trusted certificates; a test on loopback can serve http only
   * (start-dev allows it). So the provider hands the SDK the URL as its stored client
   * information, exactly what the SDK's CIMD branch stores ({client_id: url, issuer}),
   * and the SDK's flow from there on is its own.
   */
  function cimdProvider(host, realm, sendResource) {
    return new HostProvider({
      redirectUrl: host.redirectUrl,
      clientMetadata: host.clientMetadataDocument,
      clientInformation: { client_id: host.clientMetadataUrl, issuer: issuer(realm) },
      browse: browserFor(host, realm),
      sendResource,
    });
  }

  it('CIMD: discovery advertises client_id_metadata_document_supported, and alice signs in with the metadata document URL as client_id', async () => {
    const realm = await cimdRealm();
    const host = await mcpHost(realm);
    const metadata = await (await fetch(`${server.baseUrl}/.well-known/oauth-authorization-server/realms/${realm}`)).json();
    assert.equal(
      metadata.client_id_metadata_document_supported,
      true,
      'the condition the SDK checks before using a URL client_id',
    );

    const log = [];
    const provider = cimdProvider(host, realm, false);
    const { tokens, options } = await signIn(host, provider, log);

    assert.equal(provider.registrations.length, 0, 'no registration: the client_id is the document URL');
    assert.equal(provider.authorizationUrls[0].searchParams.get('client_id'), host.clientMetadataUrl);
    assert.ok(
      host.requests.some((r) => r.method === 'GET' && r.path === '/client-metadata.json'),
      'latchkey fetched the client ID metadata document',
    );
    const claims = jwtPayload(tokens.access_token);
    assert.equal(claims.iss, issuer(realm));
    assert.equal(claims.azp, host.clientMetadataUrl, 'azp is the document URL');
    assert.equal(new URLSearchParams(tokenRequests(log, realm)[0].body).get('client_secret'), null, 'a public client');

    await refresh(provider, options);
  });

  it('CIMD + RFC 8707: the metadata-document client gets an access token whose aud is the MCP server', async () => {
    const realm = await cimdRealm();
    const host = await mcpHost(realm);
    await createResourceServer(server, realm, host.mcpUrl);
    const log = [];
    const provider = cimdProvider(host, realm, true);
    const { tokens } = await signIn(host, provider, log);

    assert.equal(provider.authorizationUrls[0].searchParams.get('resource'), host.mcpUrl);
    const claims = jwtPayload(tokens.access_token);
    assert.deepEqual(audiences(claims), [host.mcpUrl], `aud is exactly the MCP server: ${JSON.stringify(claims.aud)}`);
    assert.equal(claims.iss, issuer(realm));
    assert.equal(claims.azp, host.clientMetadataUrl);
  });
});
