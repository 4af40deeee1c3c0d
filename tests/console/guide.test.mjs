// Browser end-to-end tests of the admin console: headless Chromium (Debian's `chromium`,
// driven by playwright-core) walks the guide against the real latchkey binary (start-dev,
// SQLite in a temporary folder). Screenshots of each page go to test-artifacts/console/.
//
//   scripts/console.sh

import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

import { adminFetch, describeResponse, startServer, stopServer } from '../interop-node/harness.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SHOTS = join(ROOT, 'test-artifacts', 'console');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const REALM = 'guide';

let server;
let browser;
let page;

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  server = await startServer();
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  const context = await browser.newContext({ viewport: { width: 1366, height: 800 } });
  context.setDefaultTimeout(10_000);
  page = await context.newPage();
});

after(async () => {
  await browser?.close();
  if (server) await stopServer(server);
});

const shot = (name) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
const consoleUrl = (path) => `${server.baseUrl}/admin/console${path}`;
const realmUrl = (path) => consoleUrl(`/realms/${REALM}${path}`);

/** Signs in on the realm's login page (the authorization endpoint's form). */
async function signIn(p, username, password) {
  await p.waitForSelector('#username');
  await p.fill('#username', username);
  await p.fill('#password', password);
  await Promise.all([p.waitForURL(/\/admin\/console\/$/), p.click('button[type=submit]')]);
}

async function register(metadata, token) {
  const headers = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  return fetch(`${server.baseUrl}/realms/${REALM}/clients-registrations/openid-connect`, {
    method: 'POST',
    headers,
    body: JSON.stringify(metadata),
  });
}

async function clientCredentials(clientId, secret) {
  return fetch(`${server.baseUrl}/realms/${REALM}/protocol/openid-connect/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}` },
    body: new URLSearchParams({ grant_type: 'client_credentials' }),
  });
}

const machine = (name) => ({
  client_name: name,
  grant_types: ['client_credentials'],
  token_endpoint_auth_method: 'client_secret_basic',
  redirect_uris: ['http://127.0.0.1:8765/callback'],
});

// The guide's walk, in order: each step builds on the previous one.

test('the bootstrap admin signs in through the master realm and sees the realm list', async () => {
  await page.goto(`${server.baseUrl}/admin/`);
  assert.match(page.url(), /\/realms\/master\/protocol\/openid-connect\/auth\?/);
  assert.match(page.url(), /client_id=security-admin-console/);
  assert.match(page.url(), /code_challenge_method=S256/);
  await shot('01-login');
  await signIn(page, server.adminUsername, server.adminPassword);
  assert.equal(await page.textContent('h1'), 'Realms');
  assert.ok(await page.isVisible('text=master'));
  await shot('02-realms');
});

test('a bad realm name is refused with the error next to the field', async () => {
  await page.fill('#realm-name', 'bad/name');
  await Promise.all([page.waitForLoadState(), page.click('text=Create realm')]);
  const error = await page.textContent('#realm-name-error');
  assert.match(error, /invalid characters/);
  assert.equal(await page.getAttribute('#realm-name', 'aria-invalid'), 'true');
  assert.equal(await page.getAttribute('#realm-name', 'aria-describedby'), 'realm-name-error');
  await shot('03-realm-name-error');
});

test('create a realm, then open Realm settings → Client registration', async () => {
  await page.fill('#realm-name', REALM);
  await Promise.all([page.waitForURL(/client-registration/), page.click('text=Create realm')]);
  assert.match(await page.textContent('.flash'), /Realm created/);
  assert.equal(await page.textContent('h1'), 'Realm settings');
  assert.ok(!(await page.isChecked('#anonymous')), 'anonymous registration starts off');
  assert.ok(await page.isChecked('#authenticated'));
  assert.ok(await page.isChecked('#policies'));
  await shot('04-client-registration');
});

test('the main controls are reachable with the keyboard', async () => {
  const reached = new Set();
  await page.focus('body');
  for (let i = 0; i < 60; i += 1) {
    await page.keyboard.press('Tab');
    reached.add(
      await page.evaluate(() => {
        const el = document.activeElement;
        return el.id || `${el.tagName}:${el.textContent.trim()}`;
      }),
    );
  }
  for (const id of ['anonymous', 'authenticated', 'policies', 'BUTTON:Save', 'anonymous-provider', 'dry-metadata']) {
    assert.ok(reached.has(id), `Tab reaches ${id}; reached: ${[...reached].join(', ')}`);
  }
});

test('turn anonymous registration on: the console warns that Trusted Hosts admits no host', async () => {
  await page.check('#anonymous');
  await Promise.all([page.waitForURL(/done=switches-saved/), page.click('form:has(#anonymous) button[type=submit]')]);
  assert.ok(await page.isChecked('#anonymous'));
  const warning = await page.textContent('.warning');
  assert.match(warning, /admits no host/);
  await shot('05-anonymous-on-warning');
});

test('add 127.0.0.1 to Trusted Hosts and save: the warning is gone', async () => {
  await Promise.all([
    page.waitForURL(/policies\//),
    page.click('section:has(h2:text("Anonymous access policies")) a:text("Trusted Hosts") >> nth=0'),
  ]);
  await shot('06-trusted-hosts-form');
  await page.fill('#cfg-trusted-hosts', '127.0.0.1');
  await Promise.all([page.waitForURL(/done=policy-saved/), page.click('text=Save policy')]);
  assert.equal(await page.locator('.warning', { hasText: 'admits no host' }).count(), 0);
  assert.match(await page.textContent('section:has(h2:text("Anonymous access policies"))'), /trusted-hosts: 127\.0\.0\.1/);
});

let first;
test('a client registered by HTTP shows in the clients list and on the events page', async () => {
  const r = await register(machine('First app'));
  assert.equal(r.status, 201, await describeResponse(r));
  first = await r.json();
  await page.goto(realmUrl('/clients'));
  assert.ok(await page.isVisible(`a:text("${first.client_id}")`));
  await shot('07-clients');
  await page.click(`a:text("${first.client_id}")`);
  assert.match(await page.textContent('dl.facts'), /through the registration endpoint \(anonymous\)/);
  assert.match(await page.textContent('#metadata'), /First app/);
  await shot('08-client-detail');
  await page.goto(realmUrl('/events'));
  const row = page.locator('tr', { hasText: first.client_id });
  assert.match(await row.first().textContent(), /CLIENT_REGISTER/);
  await shot('09-events');
});

test('an invalid date filter on the events page is explained next to the field', async () => {
  await page.fill('#ev-from', '31/12/2026');
  await Promise.all([page.waitForLoadState(), page.click('text=Filter')]);
  assert.match(await page.textContent('#ev-from-error'), /dateFrom/);
  await page.fill('#ev-from', '');
  await page.selectOption('#ev-type', 'CLIENT_REGISTER');
  await Promise.all([page.waitForLoadState(), page.click('text=Filter')]);
  assert.ok(await page.isVisible(`td:text("${first.client_id}")`));
});

let second;
test('with the client-disabled policy, a new client waits for approval; approved, it gets a token', async () => {
  await page.goto(realmUrl('/client-registration'));
  await page.selectOption('#anonymous-provider', 'client-disabled');
  await page.fill('#anonymous-name', 'Approval needed');
  await Promise.all([page.waitForURL(/done=policy-created/), page.click('text=Add anonymous policy')]);
  await shot('10-client-disabled-policy');

  const r = await register(machine('Second app'));
  assert.equal(r.status, 201, await describeResponse(r));
  second = await r.json();
  const refused = await clientCredentials(second.client_id, second.client_secret);
  assert.notEqual(refused.status, 200, 'a disabled client gets no token');

  await page.goto(realmUrl('/clients'));
  await page.check('#waiting');
  await Promise.all([page.waitForLoadState(), page.click('button:text("Filter")')]);
  assert.ok(await page.isVisible(`a:text("${second.client_id}")`));
  assert.equal(await page.locator(`a:text("${first.client_id}")`).count(), 0, 'only waiting clients');
  await shot('11-waiting-for-approval');
  const row = page.locator('tr', { hasText: second.client_id });
  await Promise.all([page.waitForURL(/done=client-enabled/), row.locator('button', { hasText: 'Approve' }).click()]);
  await shot('12-approved');

  const ok = await clientCredentials(second.client_id, second.client_secret);
  assert.equal(ok.status, 200, await describeResponse(ok));
  assert.ok((await ok.json()).access_token);
});

test('the dry run names the policy that refuses', async () => {
  await page.goto(realmUrl('/client-registration'));
  await page.fill('#dry-source', '192.0.2.7');
  await page.fill('#dry-metadata', JSON.stringify({ client_name: 'x', redirect_uris: ['https://elsewhere.example/cb'] }));
  await Promise.all([page.waitForLoadState(), page.click('text=Explain')]);
  const result = await page.textContent('#dry-run-result');
  assert.match(result, /would be refused/);
  assert.match(result, /Trusted Hosts[\s\S]*refuses/);
  await page.fill('#dry-metadata', '{not json');
  await Promise.all([page.waitForLoadState(), page.click('text=Explain')]);
  assert.match(await page.textContent('#dry-metadata-error'), /not valid JSON/);
  await shot('13-dry-run');
});

test('an initial access token is shown once and registers a client', async () => {
  await page.goto(realmUrl('/initial-access'));
  await page.fill('#iat-expiration', '3600');
  await page.fill('#iat-count', '1');
  await Promise.all([page.waitForLoadState(), page.click('text=Create token')]);
  const token = await page.inputValue('#new-token-value');
  assert.ok(token.length >= 40, token);
  // The copy button (the console's only script, allowed by its hash in the CSP).
  await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.baseUrl });
  await page.click('[data-copy=new-token-value]');
  // The label changes once the clipboard's promise settles, a moment after the click.
  await page.waitForFunction(
    () => document.querySelector('[data-copy=new-token-value]').textContent.trim() === 'Copied',
    null,
    { timeout: 5000 },
  );
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), token);
  await shot('14-initial-access-token');

  const r = await register(machine('Third app'), token);
  assert.equal(r.status, 201, await describeResponse(r));
  const again = await register(machine('Fourth app'), token);
  assert.equal(again.status, 401, 'a count of 1 allows one registration');

  await page.goto(realmUrl('/initial-access'));
  assert.equal(await page.locator('#new-token-value').count(), 0, 'never shown again');
  assert.match(await page.textContent('tbody'), /0 of 1/);
  await shot('15-initial-access-list');
});

test('admin events: switched on in the console, console changes are recorded', async () => {
  await page.goto(realmUrl('/events?kind=admin'));
  assert.match(await page.textContent('.warning'), /does not record admin events/);
  await page.check('#admin-events-enabled');
  await Promise.all([page.waitForURL(/done=events-saved/), page.click('form:has(#admin-events-enabled) button[type=submit]')]);
  assert.ok(await page.isChecked('#admin-events-enabled'));
  await page.goto(realmUrl('/initial-access'));
  await Promise.all([page.waitForLoadState(), page.click('text=Create token')]);
  await page.goto(realmUrl('/events?kind=admin'));
  const row = page.locator('tbody tr', { hasText: 'CLIENT_INITIAL_ACCESS_MODEL' });
  assert.match(await row.first().textContent(), /CREATE/);
  assert.match(await row.first().textContent(), new RegExp(server.adminUsername), 'by whom, by name');
  await page.selectOption('#ae-op', 'UPDATE');
  await Promise.all([page.waitForLoadState(), page.click('text=Filter')]);
  assert.equal(await page.locator('tbody tr', { hasText: 'CLIENT_INITIAL_ACCESS_MODEL' }).count(), 0);
  await shot('18-admin-events');
});

test('regenerate a secret, mint a registration access token, delete a policy, a token and a client', async () => {
  page.on('dialog', (d) => d.accept());
  await page.goto(realmUrl('/clients'));
  await page.click(`a:text("${first.client_id}")`);
  await Promise.all([page.waitForLoadState(), page.click('text=Regenerate secret')]);
  const secret = await page.inputValue('#once-value');
  assert.notEqual(secret, first.client_secret);
  assert.equal((await clientCredentials(first.client_id, first.client_secret)).status, 401, 'the old secret stops working');
  const fresh = await clientCredentials(first.client_id, secret);
  assert.equal(fresh.status, 200, await describeResponse(fresh));
  await shot('17-new-secret');

  await Promise.all([page.waitForLoadState(), page.click('text=Mint a registration access token')]);
  const rat = await page.inputValue('#once-value');
  const read = await fetch(first.registration_client_uri, { headers: { authorization: `Bearer ${rat}` } });
  assert.equal(read.status, 200, await describeResponse(read));
  const old = await fetch(first.registration_client_uri, {
    headers: { authorization: `Bearer ${first.registration_access_token}` },
  });
  assert.equal(old.status, 401, 'the old registration access token stops working');

  await Promise.all([page.waitForURL(/done=client-disabled/), page.click('button:text("Disable")')]);
  assert.match(await page.textContent('dl.facts'), /disabled/);
  assert.notEqual((await clientCredentials(first.client_id, secret)).status, 200, 'a disabled client gets no token');
  await Promise.all([page.waitForURL(/done=client-enabled/), page.click('button:text("Enable")')]);

  await Promise.all([page.waitForURL(/done=client-deleted/), page.click('text=Delete client')]);
  assert.equal(await page.locator(`a:text("${first.client_id}")`).count(), 0);
  assert.equal((await clientCredentials(first.client_id, secret)).status, 401);

  await page.goto(realmUrl('/client-registration'));
  const row = page.locator('tr', { hasText: 'Approval needed' });
  await Promise.all([page.waitForURL(/done=policy-deleted/), row.locator('button', { hasText: 'Delete' }).click()]);
  assert.equal(await page.locator('tr', { hasText: 'Approval needed' }).count(), 0);

  await page.goto(realmUrl('/initial-access'));
  while ((await page.locator('tbody button', { hasText: 'Delete' }).count()) > 0) {
    await Promise.all([page.waitForURL(/done=token-deleted/), page.locator('tbody button', { hasText: 'Delete' }).first().click()]);
  }
  assert.match(await page.textContent('tbody'), /No live initial access tokens/);
  await page.goto(realmUrl('/events?kind=admin'));
  const recorded = await page.textContent('tbody');
  for (const what of ['DELETE', 'ACTION', 'COMPONENT', 'CLIENT_INITIAL_ACCESS_MODEL']) {
    assert.match(recorded, new RegExp(what), `admin event ${what}`);
  }
});

test('filter the list by how clients were registered and by use, then delete a selection of them at once', async () => {
  const made = await adminFetch(server, 'POST', `/admin/realms/${REALM}/clients-initial-access`, { count: 3, expiration: 0 });
  assert.equal(made.status, 201, await describeResponse(made));
  const { token } = await made.json();
  const ids = [];
  for (const n of [1, 2, 3]) {
    const r = await register(machine(`Batch ${n}`), token);
    assert.equal(r.status, 201, await describeResponse(r));
    ids.push((await r.json()).client_id);
  }
  await page.goto(realmUrl('/clients'));
  await page.selectOption('#kind', 'initial_access_token');
  await Promise.all([page.waitForURL(/kind=initial_access_token/), page.click('button:text("Filter")')]);
  for (const id of ids) assert.ok(await page.isVisible(`a:text("${id}")`), id);
  assert.equal(await page.locator('a:text("admin-cli")').count(), 0, 'built-in clients are not registered ones');
  // Just registered: never used, and (created today) not unused for 30 days.
  await page.selectOption('#usage', 'never');
  await Promise.all([page.waitForURL(/usage=never/), page.click('button:text("Filter")')]);
  for (const id of ids) assert.ok(await page.isVisible(`a:text("${id}")`), `${id} never used`);
  await page.selectOption('#usage', 'unused');
  await page.fill('#days', '30');
  await Promise.all([page.waitForURL(/usage=unused/), page.click('button:text("Filter")')]);
  for (const id of ids) assert.equal(await page.locator(`a:text("${id}")`).count(), 0, `${id} created today`);
  await page.selectOption('#usage', 'never');
  await Promise.all([page.waitForURL(/usage=never/), page.click('button:text("Filter")')]);
  await shot('19-clients-filtered');
  for (const id of ids) await page.check(`input[aria-label="Select ${id}"]`);
  await Promise.all([page.waitForLoadState(), page.click('button:text("Delete selected")')]);
  assert.equal((await page.textContent('h1')).trim(), 'Delete 3 clients?');
  await shot('20-bulk-delete-confirm');
  for (const id of ids) {
    const still = await adminFetch(server, 'GET', `/admin/realms/${REALM}/clients?clientId=${encodeURIComponent(id)}`);
    assert.equal((await still.json()).length, 1, 'nothing is deleted before the confirmation');
  }
  await Promise.all([page.waitForLoadState(), page.click('button:text("Delete 3 clients")')]);
  assert.match(await page.textContent('#bulk-done'), /3 clients deleted/);
  for (const id of ids) {
    const gone = await adminFetch(server, 'GET', `/admin/realms/${REALM}/clients?clientId=${encodeURIComponent(id)}`);
    assert.equal((await gone.json()).length, 0, `${id} deleted`);
  }
  await page.goto(realmUrl('/clients?kind=initial_access_token'));
  for (const id of ids) assert.equal(await page.locator(`a:text("${id}")`).count(), 0, id);
});

test('a change without the CSRF token, or from another origin, is refused', async () => {
  const noToken = await page.request.post(consoleUrl('/realms'), { form: { realm: 'forged' } });
  assert.equal(noToken.status(), 403);
  const csrf = await page.getAttribute('input[name=csrf]', 'value', { strict: false }).catch(() => null);
  const token = csrf ?? (await page.locator('input[name=csrf]').first().getAttribute('value'));
  const foreign = await page.request.post(consoleUrl('/realms'), {
    form: { realm: 'forged', csrf: token },
    headers: { origin: 'https://evil.example' },
  });
  assert.equal(foreign.status(), 403);
  const r = await adminFetch(server, 'GET', '/admin/realms/forged');
  assert.equal(r.status, 404, 'nothing was created');
});

test("a realm's own admin signs in to that realm and sees only it", async () => {
  const other = await adminFetch(server, 'POST', '/admin/realms', { realm: 'other', enabled: true });
  assert.equal(other.status, 201, await describeResponse(other));
  const created = await adminFetch(server, 'POST', `/admin/realms/${REALM}/users`, {
    username: 'alice',
    enabled: true,
    credentials: [{ type: 'password', value: 'alice-password-1', temporary: false }],
  });
  assert.equal(created.status, 201, await describeResponse(created));
  const userId = created.headers.get('location').split('/').pop();
  const clients = await (await adminFetch(server, 'GET', `/admin/realms/${REALM}/clients?clientId=realm-management`)).json();
  const management = clients[0].id;
  const role = await (await adminFetch(server, 'GET', `/admin/realms/${REALM}/clients/${management}/roles/realm-admin`)).json();
  const mapped = await adminFetch(server, 'POST', `/admin/realms/${REALM}/users/${userId}/role-mappings/clients/${management}`, [role]);
  assert.equal(mapped.status, 204, await describeResponse(mapped));

  const context = await browser.newContext({ viewport: { width: 1366, height: 800 } });
  const p = await context.newPage();
  await p.goto(consoleUrl(`/login?realm=${REALM}`));
  await signIn(p, 'alice', 'alice-password-1');
  const realms = await p.locator('table tbody tr').allTextContents();
  assert.equal(realms.length, 1, realms.join(' | '));
  assert.match(realms[0], new RegExp(REALM));
  await p.screenshot({ path: join(SHOTS, '16-realm-admin.png'), fullPage: true });
  const denied = await p.goto(consoleUrl('/realms/other/clients'));
  assert.equal(denied.status(), 403);
  const master = await p.goto(consoleUrl('/realms/master/client-registration'));
  assert.equal(master.status(), 403);
  const own = await p.goto(consoleUrl(`/realms/${REALM}/clients`));
  assert.equal(own.status(), 200);
  await context.close();
});

test('sign out ends the console session', async () => {
  await page.goto(realmUrl('/clients'));
  await Promise.all([page.waitForLoadState(), page.click('text=Sign out')]);
  assert.match(await page.textContent('body'), /signed out/i);
  await page.goto(realmUrl('/clients'));
  assert.match(page.url(), /openid-connect\/auth/, 'back to the login');
  assert.ok(await page.isVisible('#username'), 'the SSO session ended too');
});
