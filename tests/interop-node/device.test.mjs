// Interop: openid-client 6 (panva, Node.js) runs the OAuth 2.0 device authorization grant
// (RFC 8628) against the real binary: it reads `device_authorization_endpoint` from
// discovery, asks for the codes (initiateDeviceAuthorization) and polls the token endpoint
// (pollDeviceAuthorizationGrant) while a user, with browser.mjs, opens the verification
// URI, types the user code, signs in and allows the device. A second device is denied and
// its poll must end in openid-client's access_denied error.

import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';

import * as client from 'openid-client';

import { Browser, describePage, inputNamed } from './browser.mjs';
import { adminFetch, describeResponse, finishSuite, once, startServer } from './harness.mjs';

// openid-client refuses plain http unless told otherwise (see dcr.test.mjs).
const INSECURE = { execute: [client.allowInsecureRequests] };

const REALM = 'device';
const USER = { username: 'alice', password: 'alice-pass' };

describe('device authorization grant with openid-client 6', () => {
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

  /** Realm `device`, user alice, the public client `tv` with the grant (polling every second). */
  const setUp = once(async () => {
    const steps = [
      ['POST', '/admin/realms', { realm: REALM, enabled: true }],
      [
        'POST',
        `/admin/realms/${REALM}/users`,
        {
          username: USER.username,
          enabled: true,
          credentials: [{ type: 'password', value: USER.password, temporary: false }],
        },
      ],
      [
        'POST',
        `/admin/realms/${REALM}/clients`,
        {
          clientId: 'tv',
          publicClient: true,
          standardFlowEnabled: false,
          attributes: {
            'oauth2.device.authorization.grant.enabled': 'true',
            'oauth2.device.polling.interval': '1',
          },
        },
      ],
    ];
    for (const [method, path, body] of steps) {
      const r = await adminFetch(server, method, path, body);
      assert.equal(r.status, 201, `${method} ${path}: ${await describeResponse(r)}`);
    }
    return client.discovery(new URL(issuer()), 'tv', undefined, client.None(), INSECURE);
  });

  /** The user at the verification URI: types the code, signs in, answers `consent`. */
  async function userAnswers(device, consent) {
    const browser = new Browser(new URL(server.baseUrl).origin, USER);
    const page = await browser.request(device.verification_uri);
    const form = page.forms.find((f) => inputNamed(f, 'user_code'));
    assert.ok(form, `the verification page asks for the code: ${describePage(page)}`);
    const typed = await browser.submit(page, form, { user_code: device.user_code.toLowerCase() });
    const done = await browser.drive(typed, { consent });
    assert.equal(done.status, 200, describePage(done));
    return done;
  }

  it('polls until the user allows the device, then gets verified tokens', async () => {
    const config = await setUp();
    assert.equal(
      config.serverMetadata().device_authorization_endpoint,
      `${issuer()}/protocol/openid-connect/auth/device`,
    );
    const device = await client.initiateDeviceAuthorization(config, { scope: 'openid' });
    assert.match(device.user_code, /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/);
    assert.equal(device.verification_uri_complete, `${device.verification_uri}?user_code=${device.user_code}`);
    assert.equal(device.interval, 1);

    const polling = client.pollDeviceAuthorizationGrant(config, device);
    const done = await userAnswers(device, 'accept');
    assert.match(done.html, /Device connected/);
    const tokens = await polling;
    assert.ok(tokens.access_token, 'an access token');
    assert.ok(tokens.refresh_token, 'a refresh token');
    // openid-client validated the ID token (issuer, audience, signature from the JWKS).
    const claims = tokens.claims();
    assert.equal(claims.iss, issuer());
    assert.equal(claims.aud, 'tv');
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
    assert.ok(refreshed.access_token, 'the device refreshes like any client');
  });

  it('ends in access_denied when the user denies the device', async () => {
    const config = await setUp();
    const device = await client.initiateDeviceAuthorization(config, {});
    const polling = client.pollDeviceAuthorizationGrant(config, device);
    const denied = polling.then(
      () => assert.fail('a denied device must get no tokens'),
      (e) => e,
    );
    const done = await userAnswers(device, 'deny');
    assert.match(done.html, /not connected/);
    const error = await denied;
    assert.equal(error.error, 'access_denied', String(error));
  });
});
