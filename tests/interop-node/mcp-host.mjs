// Shared by the MCP interop suites (mcp-sdk.test.mjs, mcp-conformance.test.mjs): the realm
// set-ups an MCP deployment needs (anonymous DCR from loopback, CIMD, an RFC 8707 resource
// server, a user), and a loopback "MCP host" server that plays the parts around
// latchkey: the MCP server's RFC 9728 protected-resource metadata and 401 challenge, a
// client ID metadata document, and the OAuth callback.

import assert from 'node:assert/strict';
import { createServer } from 'node:http';

import { adminFetch, describeResponse } from './harness.mjs';

export const USER = { username: 'alice', password: 'alice-pass', email: 'alice@example.com', firstName: 'Alice' };

const POLICY_TYPE = 'org.keycloak.services.clientregistration.policy.ClientRegistrationPolicy';

/** Create realm `realm` with the given string attributes. */
export async function createRealm(server, realm, attributes = {}) {
  const r = await adminFetch(server, 'POST', '/admin/realms', { realm, enabled: true, attributes });
  assert.equal(r.status, 201, `POST /admin/realms must create realm ${realm}: ${await describeResponse(r)}`);
}

/** Create `user` (USER by default) in `realm` with a permanent password; returns the user id. */
export async function createUser(server, realm, user = USER) {
  const r = await adminFetch(server, 'POST', `/admin/realms/${realm}/users`, {
    username: user.username,
    enabled: true,
    email: user.email,
    firstName: user.firstName,
    credentials: [{ type: 'password', value: user.password, temporary: false }],
  });
  assert.equal(r.status, 201, `POST /admin/realms/${realm}/users: ${await describeResponse(r)}`);
  return r.headers.get('location').split('/').pop();
}

/**
 * Open anonymous registration in `realm` to callers on `hosts`, as the README's
 * "Registration policies" recipe does: the realm switch on, then the anonymous
 * Trusted Hosts policy given the hosts (the caller's address and the client's URIs must
 * both be on them; its default list is empty).
 */
export async function openAnonymousRegistration(server, realm, hosts = ['127.0.0.1']) {
  const r = await adminFetch(server, 'PUT', `/admin/realms/${realm}`, {
    attributes: { clientRegistrationAnonymousEnabled: 'true' },
  });
  assert.equal(r.status, 204, `PUT /admin/realms/${realm} (anonymous registration on): ${await describeResponse(r)}`);
  await trustHosts(server, realm, hosts);
}

/**
 * Give the anonymous Trusted Hosts policy of `realm` the `hosts`: the caller's address and
 * every URI a client stores must be on them. Client ID metadata document clients are
 * checked by it too (their URIs; not the caller's address, which is the user's browser).
 */
export async function trustHosts(server, realm, hosts) {
  let r = await adminFetch(server, 'GET', `/admin/realms/${realm}/components?type=${POLICY_TYPE}`);
  assert.equal(r.status, 200, `GET the registration policies: ${await describeResponse(r)}`);
  const trusted = (await r.json()).find((c) => c.providerId === 'trusted-hosts' && c.subType === 'anonymous');
  assert.ok(trusted, `realm ${realm} has an anonymous trusted-hosts policy`);
  r = await adminFetch(server, 'PUT', `/admin/realms/${realm}/components/${trusted.id}`, {
    ...trusted,
    config: {
      ...trusted.config,
      'trusted-hosts': hosts,
      'host-sending-registration-request-must-match': ['true'],
      'client-uris-must-match': ['true'],
    },
  });
  assert.equal(r.status, 204, `PUT the anonymous trusted-hosts policy: ${await describeResponse(r)}`);
}

/**
 * Register `uri` as an RFC 8707 resource server of `realm` (admin REST
 * `POST /admin/realms/{r}/resource-servers`), so that `resource=uri` at the authorization
 * and token endpoints makes it the access token's `aud`.
 */
export async function createResourceServer(server, realm, uri, name = 'MCP server') {
  const r = await adminFetch(server, 'POST', `/admin/realms/${realm}/resource-servers`, { uri, name, scopes: [] });
  assert.equal(
    r.status,
    201,
    `POST /admin/realms/${realm}/resource-servers (RFC 8707 resource indicators) must create ${uri}: ` +
      (await describeResponse(r)),
  );
}

/** Create a client through the admin API (Keycloak's ClientRepresentation). */
export async function createClient(server, realm, representation) {
  const r = await adminFetch(server, 'POST', `/admin/realms/${realm}/clients`, representation);
  assert.equal(r.status, 201, `POST /admin/realms/${realm}/clients: ${await describeResponse(r)}`);
}

/** The payload of a JWS compact serialization, unverified. */
export function jwtPayload(token) {
  const parts = String(token).split('.');
  assert.equal(parts.length, 3, `an access token from latchkey is a JWS compact serialization: ${token}`);
  return JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
}

/** `aud` as a list (a JWT may carry one string or an array). */
export const audiences = (claims) => [claims.aud ?? []].flat();

/**
 * A loopback HTTP server standing in for everything of an MCP deployment that is not
 * the authorization server, on http://127.0.0.1:<port>:
 *   - `/mcp`: the MCP server; without a bearer token 401 with
 *     `WWW-Authenticate: Bearer resource_metadata="…"` (RFC 9728 §5.1); with one, 200;
 *   - `/.well-known/oauth-protected-resource` and `…/mcp` (RFC 9728 §3.1, path-inserted
 *     and root): `resource` = the MCP server URL, `authorization_servers` = [issuer];
 *   - `/client-metadata.json`: a client ID metadata document whose `client_id` is its own
 *     URL (draft-ietf-oauth-client-id-metadata-document §3);
 *   - `/callback`: the OAuth redirect URI, answering 200.
 * Every request is logged in `requests` ({method, path, headers}).
 */
export async function startMcpHost({ issuer, clientName = 'Latchkey MCP interop host' }) {
  const requests = [];
  const http = createServer((req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    requests.push({ method: req.method, path: url.pathname, search: url.search, headers: req.headers });
    const json = (status, body, headers = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(body));
    };
    req.resume();
    switch (url.pathname) {
      case '/mcp':
        if (/^bearer\s+\S+/i.test(req.headers.authorization ?? '')) {
          return json(200, { jsonrpc: '2.0', id: 1, result: {} });
        }
        return json(
          401,
          { error: 'invalid_token', error_description: 'a bearer token is required' },
          { 'www-authenticate': `Bearer resource_metadata="${host.resourceMetadataUrl}"` },
        );
      case '/.well-known/oauth-protected-resource':
      case '/.well-known/oauth-protected-resource/mcp':
        return json(200, { resource: host.mcpUrl, authorization_servers: [issuer], bearer_methods_supported: ['header'] });
      case '/client-metadata.json':
        return json(200, host.clientMetadataDocument, { 'cache-control': 'max-age=300' });
      case '/callback':
        res.writeHead(200, { 'content-type': 'text/plain' });
        return res.end('signed in; this window can be closed');
      default:
        return json(404, { error: 'not_found' });
    }
  });
  await new Promise((ok, fail) => {
    http.once('error', fail);
    http.listen(0, '127.0.0.1', ok);
  });
  const origin = `http://127.0.0.1:${http.address().port}`;
  const host = {
    origin,
    requests,
    mcpUrl: `${origin}/mcp`,
    resourceMetadataUrl: `${origin}/.well-known/oauth-protected-resource/mcp`,
    clientMetadataUrl: `${origin}/client-metadata.json`,
    redirectUrl: `${origin}/callback`,
    close: () =>
      new Promise((ok) => {
        http.close(ok);
        http.closeAllConnections();
      }),
  };
  host.clientMetadataDocument = {
    client_id: host.clientMetadataUrl,
    client_name: clientName,
    redirect_uris: [host.redirectUrl],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
  };
  return host;
}
