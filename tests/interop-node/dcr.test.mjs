// Interop: openid-client 6 (panva, Node.js) registers clients with latchkey's dynamic
// client registration (RFC 7591 / RFC 7592) and uses them.
//
// One `latchkey start-dev` process is started for this file on a free port, with its
// SQLite database in a temporary directory and a random bootstrap admin password, the
// way tests/interop/conftest.py does it. The binary comes from $LATCHKEY_BIN (default
// ${CARGO_TARGET_DIR:-target}/debug/latchkey, relative to the repository root).
//
// The admin-API writes (realm, initial access token) are lazy, memoised fixtures, so a
// failing write fails every test that needs it with the same message. The tests run in
// order and share the registered clients: later tests rely on earlier registrations.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, afterEach, before, describe, it } from 'node:test';

import * as client from 'openid-client';

import { adminFetch, describeResponse, finishSuite, once, startServer } from './harness.mjs';

const IAT_COUNT = 5;

// openid-client refuses plain http unless told otherwise; the server only listens on
// http://127.0.0.1 here. In v6 the switch is the `allowInsecureRequests` extension,
// passed in `execute` (it sets the Configuration's internal tlsOnly = false, and the
// registration and discovery requests check `execute.includes(allowInsecureRequests)`).
const INSECURE = { execute: [client.allowInsecureRequests] };

// ---------------------------------------------------------------------------- server


function jwtPayload(token) {
  const parts = token.split('.');
  assert.equal(parts.length, 3, 'an access token from latchkey is a JWS compact serialization');
  return JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
}

/** A fetch that records each request, so a test can see how openid-client authenticated. */
function recordingFetch(log) {
  return (url, options) => {
    log.push({
      url: String(url),
      headers: Object.fromEntries(new Headers(options?.headers).entries()),
      body: new URLSearchParams(options?.body ?? ''),
    });
    return fetch(url, options);
  };
}

function registrationRequest(method, uri, token, body) {
  const headers = { accept: 'application/json', authorization: `Bearer ${token}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  return fetch(uri, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
}

// ------------------------------------------------------------------------------- tests

describe('dynamic client registration with openid-client 6', () => {
  let server;
  const failed = [];

  before(async () => {
    server = await startServer();
  });

  afterEach((t) => {
    if (t.passed === false) failed.push(t.name);
  });

  after(async () => {
    await finishSuite(server, failed);
  });

  const realm = `dcr-node-${randomBytes(4).toString('hex')}`;
  const issuer = () => `${server.baseUrl}/realms/${realm}`;
  const registrationEndpoint = () => `${issuer()}/clients-registrations/openid-connect`;

  const realmCreated = once(async () => {
    const r = await adminFetch(server, 'POST', '/admin/realms', { realm, enabled: true });
    assert.equal(r.status, 201, `POST /admin/realms must create the realm: ${await describeResponse(r)}`);
    return realm;
  });

  // {id, token, timestamp, expiration, count, remainingCount}; `uses` counts the
  // registrations made with it, for the remainingCount check.
  const initialAccessToken = once(async () => {
    await realmCreated();
    const r = await adminFetch(server, 'POST', `/admin/realms/${realm}/clients-initial-access`, {
      expiration: 3600,
      count: IAT_COUNT,
    });
    assert.equal(
      r.status,
      201,
      `POST /admin/realms/{r}/clients-initial-access must answer 201: ${await describeResponse(r)}`,
    );
    const iat = await r.json();
    assert.equal(typeof iat.token, 'string', 'the initial access token is shown once, at creation');
    assert.equal(iat.count, IAT_COUNT);
    assert.equal(iat.remainingCount, IAT_COUNT, 'a new initial access token has its full count left');
    return { ...iat, uses: 0 };
  });

  /** Register through openid-client with the initial access token; returns its Configuration. */
  async function register(metadata, clientAuthentication) {
    const iat = await initialAccessToken();
    let config;
    try {
      config = await client.dynamicClientRegistration(new URL(issuer()), metadata, clientAuthentication, {
        initialAccessToken: iat.token,
        ...INSECURE,
      });
    } catch (err) {
      // openid-client keeps the HTTP status deep in its errors; put it in the message.
      const status = err.status ?? err.cause?.status;
      const oauthError = err.error ? ` (${err.error}: ${err.error_description})` : '';
      throw new Error(
        `openid-client dynamicClientRegistration at ${registrationEndpoint()} failed` +
          `${status ? ` with HTTP ${status}` : ''}: ${err.message}${oauthError}`,
        { cause: err },
      );
    }
    iat.uses += 1;
    const registered = config.clientMetadata();
    // Each client keeps its current registration access token here: PUT rotates it.
    return { config, registered, rat: registered.registration_access_token };
  }

  const basicClient = once(() =>
    register(
      {
        grant_types: ['client_credentials'],
        token_endpoint_auth_method: 'client_secret_basic',
        client_name: 'node interop',
      },
      client.ClientSecretBasic(),
    ),
  );

  const postClient = once(() =>
    register(
      {
        grant_types: ['client_credentials'],
        token_endpoint_auth_method: 'client_secret_post',
        client_name: 'node interop (post)',
      },
      client.ClientSecretPost(),
    ),
  );

  it('discovery of the realm issuer advertises the openid-connect registration endpoint', async () => {
    await realmCreated();
    // discovery() needs some client id; no client is used here, only the server metadata.
    const config = await client.discovery(new URL(issuer()), 'not-registered', undefined, undefined, INSECURE);
    const metadata = config.serverMetadata();
    assert.equal(metadata.issuer, issuer());
    assert.equal(
      metadata.registration_endpoint,
      registrationEndpoint(),
      'openid-configuration must advertise registration_endpoint (as Keycloak does)',
    );
  });

  it('dynamicClientRegistration with an initial access token registers a client_secret_basic client', async () => {
    const { registered } = await basicClient();
    const now = Math.floor(Date.now() / 1000);

    assert.ok(typeof registered.client_id === 'string' && registered.client_id, 'a client_id is issued');
    assert.ok(typeof registered.client_secret === 'string' && registered.client_secret, 'a client_secret is issued');
    assert.equal(registered.client_secret_expires_at, 0, 'client_secret_expires_at is 0: the secret never expires');
    assert.ok(
      Number.isInteger(registered.client_id_issued_at) && Math.abs(registered.client_id_issued_at - now) < 300,
      `client_id_issued_at is the registration time in epoch seconds: ${registered.client_id_issued_at}`,
    );
    assert.ok(
      typeof registered.registration_access_token === 'string' && registered.registration_access_token,
      'a registration_access_token is issued (RFC 7592)',
    );
    assert.equal(
      registered.registration_client_uri,
      `${registrationEndpoint()}/${encodeURIComponent(registered.client_id)}`,
      'registration_client_uri is the registration endpoint followed by the client_id',
    );

    assert.equal(registered.token_endpoint_auth_method, 'client_secret_basic', 'the requested auth method is echoed');
    assert.deepEqual(registered.grant_types, ['client_credentials'], 'grant_types are stored as requested');
    assert.deepEqual(
      registered.response_types,
      [],
      'without authorization_code and without response_types, response_types default to []',
    );
    assert.equal(registered.client_name, 'node interop', 'client_name is stored and returned');
  });

  it('clientCredentialsGrant with client_secret_basic gets an access token for the registered client', async () => {
    const { config, registered } = await basicClient();
    const requests = [];
    config[client.customFetch] = recordingFetch(requests);

    const tokens = await client.clientCredentialsGrant(config);

    assert.equal(requests.length, 1);
    assert.match(requests[0].headers.authorization ?? '', /^Basic /, 'openid-client authenticated with HTTP Basic');
    assert.equal(requests[0].body.get('client_secret'), null, 'and sent no secret in the body');

    assert.ok(typeof tokens.access_token === 'string' && tokens.access_token);
    assert.equal(tokens.token_type, 'bearer');
    const claims = jwtPayload(tokens.access_token);
    assert.equal(claims.iss, issuer(), 'the token is issued by the realm');
    assert.equal(claims.azp, registered.client_id, 'azp is the registered client_id');
  });

  it('RFC 7592 read with the registration access token returns the client and does not rotate the token', async () => {
    const basic = await basicClient();
    const { registered } = basic;

    for (const attempt of ['first', 'second']) {
      const r = await registrationRequest('GET', registered.registration_client_uri, basic.rat);
      assert.equal(r.status, 200, `${attempt} GET {registration_client_uri}: ${await describeResponse(r)}`);
      assert.match(r.headers.get('content-type') ?? '', /^application\/json/);
      const body = await r.json();
      assert.equal(body.client_id, registered.client_id, 'the read returns the same client');
      assert.equal(body.client_secret, registered.client_secret, 'the read returns the same secret');
      assert.equal(body.token_endpoint_auth_method, 'client_secret_basic');
      assert.deepEqual(body.grant_types, ['client_credentials']);
      assert.ok(
        body.registration_access_token === undefined || body.registration_access_token === basic.rat,
        'GET does not issue a new registration access token',
      );
    }
  });

  it('RFC 7592 update replaces the metadata and rotates the registration access token', async () => {
    const basic = await basicClient();
    const { registered } = basic;
    const oldRat = basic.rat;

    const r = await registrationRequest('PUT', registered.registration_client_uri, oldRat, {
      client_id: registered.client_id,
      grant_types: ['client_credentials'],
      token_endpoint_auth_method: 'client_secret_basic',
      client_name: 'node interop (renamed)',
    });
    assert.equal(r.status, 200, `PUT {registration_client_uri}: ${await describeResponse(r)}`);
    const updated = await r.json();
    assert.equal(updated.client_id, registered.client_id);
    assert.equal(updated.client_name, 'node interop (renamed)', 'the update is applied');
    assert.ok(
      typeof updated.registration_access_token === 'string' && updated.registration_access_token !== oldRat,
      'PUT answers with a new registration access token',
    );
    basic.rat = updated.registration_access_token;

    const withOld = await registrationRequest('GET', registered.registration_client_uri, oldRat);
    assert.equal(
      withOld.status,
      401,
      `the rotated-out token stops working at once: ${await describeResponse(withOld)}`,
    );
    const withNew = await registrationRequest('GET', registered.registration_client_uri, basic.rat);
    assert.equal(withNew.status, 200, `the new token reads the client: ${await describeResponse(withNew)}`);
    assert.equal((await withNew.json()).client_name, 'node interop (renamed)');

    // The secret is not rotated by an update: the openid-client Configuration still works.
    const tokens = await client.clientCredentialsGrant(basic.config);
    assert.equal(jwtPayload(tokens.access_token).azp, registered.client_id);
  });

  it('a client registered with client_secret_post gets a token through ClientSecretPost', async () => {
    const { config, registered } = await postClient();
    assert.equal(registered.token_endpoint_auth_method, 'client_secret_post', 'the requested auth method is echoed');
    assert.ok(typeof registered.client_secret === 'string' && registered.client_secret, 'a client_secret is issued');
    const other = (await basicClient()).registered;
    assert.notEqual(registered.client_id, other.client_id, 'each registration is a new client');

    const requests = [];
    config[client.customFetch] = recordingFetch(requests);
    const tokens = await client.clientCredentialsGrant(config);

    assert.equal(requests.length, 1);
    assert.equal(requests[0].headers.authorization, undefined, 'openid-client sent no Authorization header');
    assert.equal(requests[0].body.get('client_id'), registered.client_id, 'client_id went in the form body');
    assert.equal(requests[0].body.get('client_secret'), registered.client_secret, 'client_secret went in the body');

    assert.equal(jwtPayload(tokens.access_token).azp, registered.client_id, 'azp is the registered client_id');
  });

  it('each registration with the initial access token decrements its remainingCount', async () => {
    await basicClient();
    await postClient();
    const iat = await initialAccessToken();

    const r = await adminFetch(server, 'GET', `/admin/realms/${realm}/clients-initial-access`);
    assert.equal(r.status, 200, `GET /admin/realms/{r}/clients-initial-access: ${await describeResponse(r)}`);
    const listed = (await r.json()).find((t) => t.id === iat.id);
    assert.ok(listed, `the initial access token ${iat.id} is listed`);
    assert.equal(iat.uses, 2);
    assert.equal(listed.count, IAT_COUNT);
    assert.equal(listed.remainingCount, IAT_COUNT - iat.uses, 'remainingCount went down by one per registration');
    assert.equal(listed.token, undefined, 'the token itself is shown only once, at creation');
  });

  it('RFC 7592 delete answers 204; afterwards the registration reads 401 and the secret stops working', async () => {
    const basic = await basicClient();
    const { registered } = basic;

    const del = await registrationRequest('DELETE', registered.registration_client_uri, basic.rat);
    assert.equal(del.status, 204, `DELETE {registration_client_uri}: ${await describeResponse(del)}`);

    const read = await registrationRequest('GET', registered.registration_client_uri, basic.rat);
    assert.equal(read.status, 401, `GET after DELETE: ${await describeResponse(read)}`);
    assert.equal((await read.json()).error, 'invalid_token', 'the deleted client\'s token is an invalid_token');

    let refused;
    try {
      await client.clientCredentialsGrant(basic.config);
    } catch (err) {
      refused = err;
    }
    assert.ok(refused, 'client_credentials with the deleted client\'s secret is refused');
    assert.equal(refused.status, 401, `the refusal is a 401: ${refused}`);
    // A 401 with WWW-Authenticate surfaces as WWWAuthenticateChallengeError, whose body is unread.
    const error =
      refused instanceof client.ResponseBodyError ? refused.error : (await refused.response.json()).error;
    assert.equal(error, 'invalid_client', 'a deleted client is an invalid_client');
  });
});
