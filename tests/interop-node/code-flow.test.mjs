// Interop: openid-client 6 (panva, Node.js) logs a user in through latchkey's
// authorization code flow (with PKCE) with a client it registered over DCR (RFC 7591).
//
// One `latchkey start-dev` process is started for this file, as in dcr.test.mjs (the
// server helpers below are copied from there). The admin API creates realm `code`, user
// `alice` and an initial access token; the clients register themselves with that token.
//
// The browser part (login form, consent form) is browser.mjs: plain `fetch`, a tiny
// cookie jar and a regex form parser.
//
// Everything after the redirect (code exchange, ID token checks, userinfo, refresh,
// introspection, revocation) is done by openid-client itself.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';

import * as client from 'openid-client';

import {
  Browser,
  assertErrorPage,
  assertRedirectTo,
  describePage,
  hiddenFields,
  inputNamed,
  isLoginForm,
} from './browser.mjs';
import { adminFetch, describeResponse, finishSuite, freePort, once, startServer } from './harness.mjs';


// openid-client refuses plain http unless told otherwise (see dcr.test.mjs).
const INSECURE = { execute: [client.allowInsecureRequests] };

const REALM = 'code';
const USER = { username: 'alice', password: 'alice-pass', email: 'alice@example.com', firstName: 'Alice' };
const SCOPE = 'openid profile email';

// ------------------------------------------------------------------------------- tests

describe('authorization code flow with openid-client 6', () => {
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

  const issuer = () => `${server.baseUrl}/realms/${REALM}`;
  const authorizationEndpoint = () => `${issuer()}/protocol/openid-connect/auth`;
  const newBrowser = () => new Browser(new URL(server.baseUrl).origin, USER);

  // --------------------------------------------------------------------- fixtures

  const realmCreated = once(async () => {
    const r = await adminFetch(server, 'POST', '/admin/realms', { realm: REALM, enabled: true });
    assert.equal(r.status, 201, `POST /admin/realms must create realm ${REALM}: ${await describeResponse(r)}`);
  });

  /** Alice's user id (the `sub` of her tokens, as in Keycloak). */
  const alice = once(async () => {
    await realmCreated();
    const r = await adminFetch(server, 'POST', `/admin/realms/${REALM}/users`, {
      username: USER.username,
      enabled: true,
      email: USER.email,
      firstName: USER.firstName,
      credentials: [{ type: 'password', value: USER.password, temporary: false }],
    });
    assert.equal(r.status, 201, `POST /admin/realms/${REALM}/users: ${await describeResponse(r)}`);
    const location = r.headers.get('location');
    assert.ok(location, 'user creation answers with a Location');
    return location.split('/').pop();
  });

  const initialAccessToken = once(async () => {
    await realmCreated();
    const r = await adminFetch(server, 'POST', `/admin/realms/${REALM}/clients-initial-access`, {
      expiration: 3600,
      count: 5,
    });
    assert.equal(r.status, 201, `POST clients-initial-access: ${await describeResponse(r)}`);
    return (await r.json()).token;
  });

  /** RFC 7591 registration with the initial access token; returns the response body. */
  async function register(metadata) {
    const r = await fetch(`${issuer()}/clients-registrations/openid-connect`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${await initialAccessToken()}`,
        'content-type': 'application/json',
        accept: 'application/json',
      },
      body: JSON.stringify(metadata),
    });
    assert.equal(r.status, 201, `DCR of ${JSON.stringify(metadata)}: ${await describeResponse(r)}`);
    return r.json();
  }

  /** A confidential web client; its redirect_uri is on a loopback port nobody listens on. */
  const webClient = once(async () => {
    const redirectUri = `http://127.0.0.1:${await freePort()}/callback`;
    const registered = await register({
      client_name: 'node code flow (web)',
      redirect_uris: [redirectUri],
      grant_types: ['authorization_code', 'refresh_token'],
      token_endpoint_auth_method: 'client_secret_basic',
    });
    assert.ok(registered.client_secret, 'a confidential client gets a client_secret');
    const config = await client.discovery(
      new URL(issuer()),
      registered.client_id,
      registered.client_secret,
      client.ClientSecretBasic(),
      INSECURE,
    );
    return { config, registered, clientId: registered.client_id, redirectUri };
  });

  /** A public native client with a port-less loopback redirect URI (RFC 8252 §7.3). */
  const nativeClient = once(async () => {
    const registered = await register({
      application_type: 'native',
      redirect_uris: ['http://127.0.0.1/callback'],
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code'],
    });
    assert.equal(registered.client_secret, undefined, 'a public client gets no client_secret');
    const config = await client.discovery(new URL(issuer()), registered.client_id, undefined, client.None(), INSECURE);
    return { config, registered, clientId: registered.client_id };
  });

  /**
   * The front-channel half: an authorization URL built by openid-client (PKCE S256,
   * state, nonce), then the browser up to the redirect back to the client.
   */
  async function authorize({ config }, redirectUri, driveOptions) {
    await alice();
    assert.equal(
      config.serverMetadata().authorization_endpoint,
      authorizationEndpoint(),
      'discovery must advertise authorization_endpoint; openid-client needs it',
    );
    const pkceCodeVerifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: SCOPE,
      code_challenge: await client.calculatePKCECodeChallenge(pkceCodeVerifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    const browser = newBrowser();
    const first = await browser.request(url);
    assert.equal(first.status, 200, `GET the authorization URL must show the login page: ${describePage(first)}`);
    const page = await browser.drive(first, driveOptions);
    return { url, browser, page, pkceCodeVerifier, state, nonce };
  }

  /** authorize() and check the successful redirect; returns what the code exchange needs. */
  async function authorizeOk(c, redirectUri) {
    const flow = await authorize(c, redirectUri);
    const params = assertRedirectTo(flow.page, redirectUri, 'after login');
    assert.equal(params.get('error'), null, `the login ends without error: ${flow.page.location}`);
    assert.ok(params.get('code'), 'the redirect carries a code');
    assert.equal(params.get('state'), flow.state, 'the redirect echoes the state');
    assert.equal(params.get('iss'), issuer(), 'the redirect carries iss = the issuer (RFC 9207)');
    return { ...flow, callback: flow.page.location };
  }

  /** The back-channel half: openid-client redeems the code (and checks state, iss, nonce, the ID token). */
  async function exchange({ config }, flow) {
    return client.authorizationCodeGrant(config, new URL(flow.callback), {
      pkceCodeVerifier: flow.pkceCodeVerifier,
      expectedState: flow.state,
      expectedNonce: flow.nonce,
    });
  }

  /** A complete login of alice at the web client: {flow, tokens}. */
  async function loginWeb() {
    const web = await webClient();
    const flow = await authorizeOk(web, web.redirectUri);
    return { flow, tokens: await exchange(web, flow) };
  }

  const webTokens = once(loginWeb);

  // ------------------------------------------------------------------------ tests

  it('discovery advertises the authorization endpoint and the code flow', async () => {
    const metadata = (await webClient()).config.serverMetadata();
    assert.equal(metadata.authorization_endpoint, authorizationEndpoint(), 'authorization_endpoint');
    assert.ok(metadata.response_types_supported?.includes('code'), `response_types_supported has "code": ${metadata.response_types_supported}`);
    assert.ok(metadata.grant_types_supported?.includes('authorization_code'), `grant_types_supported has "authorization_code": ${metadata.grant_types_supported}`);
    assert.ok(metadata.code_challenge_methods_supported?.includes('S256'), `code_challenge_methods_supported has "S256": ${metadata.code_challenge_methods_supported}`);
    assert.equal(metadata.authorization_response_iss_parameter_supported, true, 'authorization_response_iss_parameter_supported (RFC 9207)');
  });

  it('the authorization endpoint shows a plain HTML login form', async () => {
    await alice();
    const web = await webClient();
    const url = new URL(authorizationEndpoint());
    url.search = new URLSearchParams({
      client_id: web.clientId,
      redirect_uri: web.redirectUri,
      response_type: 'code',
      scope: SCOPE,
      state: client.randomState(),
      code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
    });
    const page = await newBrowser().request(url);
    assert.equal(page.status, 200, `GET ${authorizationEndpoint()} must show the login page: ${describePage(page)}`);
    assert.match(page.contentType, /^text\/html/);
    assert.equal(page.forms.length, 1, `one form on the login page: ${describePage(page)}`);
    const [form] = page.forms;
    assert.equal(form.method, 'post', 'the login form posts');
    assert.ok(form.action, 'the login form has an action');
    const hidden = hiddenFields(form);
    assert.ok(hidden.auth_request, 'a hidden auth_request input');
    assert.ok(hidden.csrf, 'a hidden csrf input');
    assert.ok(inputNamed(form, 'username'), 'an input "username"');
    assert.equal((inputNamed(form, 'username').type ?? 'text').toLowerCase(), 'text', '"username" is a text input');
    assert.equal(inputNamed(form, 'password')?.type, 'password', 'a password input "password"');
  });

  it('a wrong password shows the login form again with "Invalid"; the right one then logs in', async () => {
    const web = await webClient();
    const flow = await authorize(web, web.redirectUri, { password: 'not-alice-pass' });
    const { page } = flow;
    assert.equal(page.status, 200, `a wrong password is answered with the login page: ${describePage(page)}`);
    assert.match(page.contentType, /^text\/html/);
    const form = page.forms.find(isLoginForm);
    assert.ok(form, `the login form is shown again: ${describePage(page)}`);
    assert.match(page.html, /Invalid/, 'the page says the credentials are invalid');

    // The re-rendered form still works.
    const next = await flow.browser.drive(await flow.browser.submit(page, form, { username: USER.username, password: USER.password }));
    const params = assertRedirectTo(next, web.redirectUri, 'the right password after a wrong one');
    assert.ok(params.get('code'), 'the redirect carries a code');
    assert.equal(params.get('state'), flow.state);
  });

  it('a confidential DCR client completes the flow: authorizationCodeGrant with PKCE gets ID, access and refresh tokens', async () => {
    const web = await webClient();
    const sub = await alice();
    const { flow, tokens } = await webTokens();

    assert.ok(typeof tokens.access_token === 'string' && tokens.access_token, 'an access_token');
    assert.ok(typeof tokens.refresh_token === 'string' && tokens.refresh_token, 'a refresh_token');
    assert.equal(tokens.token_type, 'bearer');
    const claims = tokens.claims();
    assert.ok(claims, 'an id_token (scope openid)');
    assert.equal(claims.iss, issuer(), 'ID token iss');
    assert.deepEqual([claims.aud].flat(), [web.clientId], 'ID token aud is the client_id');
    assert.equal(claims.sub, sub, 'ID token sub is the user id');
    assert.equal(claims.nonce, flow.nonce, 'ID token nonce is the request\'s nonce');
  });

  it('fetchUserInfo returns alice\'s profile and email', async () => {
    const { config } = await webClient();
    const { tokens } = await webTokens();
    const sub = tokens.claims().sub;
    const userinfo = await client.fetchUserInfo(config, tokens.access_token, sub);
    assert.equal(userinfo.sub, sub);
    assert.equal(userinfo.preferred_username, USER.username);
    assert.equal(userinfo.email, USER.email);
    assert.equal(userinfo.given_name, USER.firstName, 'scope profile gives given_name');
  });

  it('refreshTokenGrant rotates the refresh token; the old one is then invalid_grant', async () => {
    const { config } = await webClient();
    const { tokens } = await loginWeb();
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
    assert.ok(refreshed.access_token, 'a new access_token');
    assert.ok(refreshed.refresh_token, 'a new refresh_token');
    assert.notEqual(refreshed.refresh_token, tokens.refresh_token, 'the refresh token is rotated');

    await assert.rejects(client.refreshTokenGrant(config, tokens.refresh_token), (err) => {
      assert.ok(err instanceof client.ResponseBodyError, `a ResponseBodyError, got ${err}`);
      assert.equal(err.error, 'invalid_grant', `the used refresh token is invalid_grant: ${err.error_description}`);
      return true;
    });
  });

  it('tokenIntrospection shows the access token active; tokenRevocation deactivates the refresh token', async () => {
    const { config } = await webClient();
    const { tokens } = await loginWeb();

    const access = await client.tokenIntrospection(config, tokens.access_token);
    assert.equal(access.active, true, 'the access token is active');
    assert.equal(access.username, USER.username, 'introspection names the user');

    assert.equal((await client.tokenIntrospection(config, tokens.refresh_token)).active, true, 'the refresh token is active before revocation');
    await client.tokenRevocation(config, tokens.refresh_token);
    const refresh = await client.tokenIntrospection(config, tokens.refresh_token);
    assert.equal(refresh.active, false, 'the revoked refresh token is inactive');
  });

  it('a public native client logs in on any loopback port with PKCE and no client authentication', async () => {
    const native = await nativeClient();
    const redirectUri = `http://127.0.0.1:${await freePort()}/callback`;
    const flow = await authorizeOk(native, redirectUri);
    const tokens = await exchange(native, flow);
    assert.ok(tokens.access_token, 'an access_token');
    const claims = tokens.claims();
    assert.deepEqual([claims.aud].flat(), [native.clientId], 'ID token aud is the client_id');
    assert.equal(claims.sub, await alice());
  });

  it('a public client without code_challenge gets no code (PKCE is required)', async () => {
    await alice();
    const native = await nativeClient();
    const redirectUri = `http://127.0.0.1:${await freePort()}/callback`;
    const state = client.randomState();
    const url = client.buildAuthorizationUrl(native.config, { redirect_uri: redirectUri, scope: SCOPE, state });
    const browser = newBrowser();
    const page = await browser.drive(await browser.request(url));

    if (page.location && page.location.origin !== browser.serverOrigin) {
      const params = assertRedirectTo(page, redirectUri, 'an error redirect');
      assert.equal(params.get('code'), null, `no code without PKCE: ${page.location}`);
      assert.equal(params.get('error'), 'invalid_request', `error=invalid_request: ${page.location}`);
      assert.equal(params.get('state'), state, 'the error redirect echoes the state');
    } else {
      assertErrorPage(page, 'an authorization request without code_challenge from a public client');
    }
  });

  it('an unknown client_id gets an HTML error page, no redirect', async () => {
    await realmCreated();
    const url = new URL(authorizationEndpoint());
    url.search = new URLSearchParams({
      client_id: 'no-such-client',
      redirect_uri: 'http://127.0.0.1:9/callback',
      response_type: 'code',
      scope: 'openid',
      state: client.randomState(),
      code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
    });
    assertErrorPage(await newBrowser().request(url), 'unknown client_id');
  });

  it('a redirect_uri that is not registered gets an HTML error page, never a redirect to it', async () => {
    const web = await webClient();
    const registered = new URL(web.redirectUri);
    for (const redirectUri of ['https://attacker.example/callback', `${registered.origin}/elsewhere`]) {
      const url = client.buildAuthorizationUrl(web.config, {
        redirect_uri: redirectUri,
        scope: SCOPE,
        state: client.randomState(),
        code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
        code_challenge_method: 'S256',
      });
      assertErrorPage(await newBrowser().request(url), `unregistered redirect_uri ${redirectUri}`);
    }
  });
});
