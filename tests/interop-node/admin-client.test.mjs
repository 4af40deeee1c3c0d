// Interop: @keycloak/keycloak-admin-client 26 (Keycloak's own Node.js admin client, the one
// Keycloak's admin console is built on) drives latchkey's admin REST API.
//
// One `latchkey start-dev` process for this file (harness.mjs: free port, SQLite in a
// temporary directory, random bootstrap admin password). The client authenticates as the
// bootstrap admin (admin-cli, password grant), then exercises realms, clients and their
// secrets, initial access tokens and registration-policy components, partial import and
// export, and finally registers a client through dynamic client registration with an
// initial access token it created.
//
// The calls go exactly where the library sends them: its list and create calls end in a
// slash (`POST /admin/realms/`, `GET /admin/realms/{r}/clients/?clientId=…`), which a
// Keycloak-compatible server must answer like the path without it. A failing
// call's message names the method, URL, status and body the server answered.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, afterEach, before, describe, it } from 'node:test';

import KcAdminClient from '@keycloak/keycloak-admin-client';

import { finishSuite, once, startServer } from './harness.mjs';

const POLICY_TYPE = 'org.keycloak.services.clientregistration.policy.ClientRegistrationPolicy';

// Keycloak's default registration policies of a new realm (DefaultClientRegistrationPolicies).
const DEFAULT_POLICIES = [
  ['anonymous', 'Trusted Hosts', 'trusted-hosts'],
  ['anonymous', 'Consent Required', 'consent-required'],
  ['anonymous', 'Full Scope Disabled', 'scope'],
  ['anonymous', 'Max Clients Limit', 'max-clients'],
  ['anonymous', 'Allowed Protocol Mapper Types', 'allowed-protocol-mappers'],
  ['anonymous', 'Allowed Client Scopes', 'allowed-client-templates'],
  ['anonymous', 'Allowed Registration Web Origins', 'registration-web-origins'],
  ['authenticated', 'Allowed Protocol Mapper Types', 'allowed-protocol-mappers'],
  ['authenticated', 'Allowed Client Scopes', 'allowed-client-templates'],
  ['authenticated', 'Allowed Registration Web Origins', 'registration-web-origins'],
];

/**
 * Await an admin-client call; on failure, rethrow with what went over the wire. The
 * library's own NetworkError only says "Network response was not OK." or the body's
 * `error` member.
 */
async function call(label, promise) {
  try {
    return await promise;
  } catch (err) {
    if (err?.response) {
      const body = typeof err.responseData === 'string' ? err.responseData : JSON.stringify(err.responseData);
      throw new Error(
        `${label}: ${err.response.status} ${err.response.statusText} from ${err.response.url}: ${String(body).slice(0, 500)}`,
      );
    }
    throw new Error(`${label}: ${err?.message ?? err}`, { cause: err });
  }
}

/** The status a rejected admin-client call got, or a failure if it succeeded. */
async function statusOf(promise) {
  try {
    await promise;
  } catch (err) {
    if (err?.response) return err.response.status;
    throw err;
  }
  assert.fail('the call was expected to fail');
}

describe('@keycloak/keycloak-admin-client 26 against the admin REST API', () => {
  let server;
  let kc;
  const failed = [];

  before(async () => {
    server = await startServer();
    kc = new KcAdminClient({ baseUrl: server.baseUrl, realmName: 'master' });
  });

  afterEach((t) => {
    if (t.passed === false) failed.push(t.name);
  });

  after(async () => {
    await finishSuite(server, failed);
  });

  const suffix = randomBytes(4).toString('hex');
  const realm = `kcadmin-${suffix}`;
  const doomedRealm = `kcadmin-doomed-${suffix}`;

  // Memoised fixtures: a failing step fails every test that needs it with the same message.
  const authenticated = once(() =>
    call(
      'kcAdminClient.auth (admin-cli, password grant)',
      kc.auth({
        grantType: 'password',
        clientId: 'admin-cli',
        username: server.adminUsername,
        password: server.adminPassword,
      }),
    ),
  );

  const realmCreated = once(async () => {
    await authenticated();
    const created = await call(
      'realms.create',
      kc.realms.create({ realm, enabled: true, displayName: 'Admin client interop' }),
    );
    assert.deepEqual(created, { realmName: realm }, 'realms.create returns the name from the Location header');
    return realm;
  });

  it('auth: the password grant on master/admin-cli gives the client a bearer token', async () => {
    await authenticated();
    assert.equal(typeof kc.accessToken, 'string');
    const payload = JSON.parse(Buffer.from(kc.accessToken.split('.')[1], 'base64url').toString('utf8'));
    assert.equal(payload.iss, `${server.baseUrl}/realms/master`);
    assert.equal(typeof kc.refreshToken, 'string', 'a refresh token, which the client uses when the access token expires');
  });

  // ------------------------------------------------------------------------- realms

  it('realms.create, find and findOne', async () => {
    await realmCreated();
    const realms = await call('realms.find', kc.realms.find());
    assert.ok(Array.isArray(realms), 'realms.find returns a list');
    const names = realms.map((r) => r.realm);
    assert.ok(names.includes('master') && names.includes(realm), `realms.find lists master and the new realm: ${names}`);

    const rep = await call('realms.findOne', kc.realms.findOne({ realm }));
    assert.equal(rep.realm, realm);
    assert.equal(rep.enabled, true);
    assert.equal(rep.displayName, 'Admin client interop');
    assert.equal(typeof rep.id, 'string');

    assert.equal(
      await call('realms.findOne (unknown realm)', kc.realms.findOne({ realm: `missing-${suffix}` })),
      null,
      'findOne of an unknown realm is null: the server answers 404',
    );
  });

  it('realms.create of an existing realm is refused with 409', async () => {
    await realmCreated();
    assert.equal(await statusOf(kc.realms.create({ realm, enabled: true })), 409);
  });

  it('realms.update changes top-level fields and realm attributes', async () => {
    await realmCreated();
    await call(
      'realms.update',
      kc.realms.update(
        { realm },
        { displayName: 'Renamed by the admin client', attributes: { clientRegistrationAnonymousEnabled: 'false' } },
      ),
    );
    const rep = await call('realms.findOne', kc.realms.findOne({ realm }));
    assert.equal(rep.displayName, 'Renamed by the admin client');
    assert.equal(rep.enabled, true, 'a partial update keeps what it did not send');
  });

  it('realms.del removes a realm', async () => {
    await authenticated();
    await call('realms.create', kc.realms.create({ realm: doomedRealm, enabled: true }));
    assert.ok(await call('realms.findOne', kc.realms.findOne({ realm: doomedRealm })));
    await call('realms.del', kc.realms.del({ realm: doomedRealm }));
    assert.equal(await call('realms.findOne', kc.realms.findOne({ realm: doomedRealm })), null);
    const names = (await call('realms.find', kc.realms.find())).map((r) => r.realm);
    assert.ok(!names.includes(doomedRealm), `a deleted realm is no longer listed: ${names}`);
  });

  // ------------------------------------------------------------------------ clients

  const clientId = `kcadmin-app-${suffix}`;
  const clientCreated = once(async () => {
    await realmCreated();
    const created = await call(
      'clients.create',
      kc.clients.create({
        realm,
        clientId,
        redirectUris: ['https://app.example/cb'],
        serviceAccountsEnabled: true,
        publicClient: false,
      }),
    );
    assert.equal(typeof created.id, 'string', 'clients.create returns the UUID from the Location header');
    return created.id;
  });

  async function clientCredentialsStatus(secret) {
    const r = await fetch(`${server.baseUrl}/realms/${realm}/protocol/openid-connect/token`, {
      method: 'POST',
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: secret }),
    });
    return r.status;
  }

  it('clients.create, find (clientId filter) and findOne', async () => {
    const id = await clientCreated();
    const found = await call('clients.find', kc.clients.find({ realm, clientId }));
    assert.equal(found.length, 1, `clients.find({clientId}) is an exact match: ${JSON.stringify(found)}`);
    assert.equal(found[0].id, id);

    const all = await call('clients.find (all)', kc.clients.find({ realm }));
    const ids = all.map((c) => c.clientId);
    for (const builtIn of ['admin-cli', 'realm-management', 'security-admin-console', clientId]) {
      assert.ok(ids.includes(builtIn), `clients.find lists ${builtIn}: ${ids}`);
    }

    const rep = await call('clients.findOne', kc.clients.findOne({ realm, id }));
    assert.equal(rep.clientId, clientId);
    assert.equal(rep.enabled, true);
    assert.equal(rep.publicClient, false);
    assert.equal(rep.serviceAccountsEnabled, true);
    assert.deepEqual(rep.redirectUris, ['https://app.example/cb']);

    assert.equal(
      await call('clients.findOne (unknown id)', kc.clients.findOne({ realm, id: '00000000-0000-4000-8000-000000000000' })),
      null,
      'findOne of an unknown client is null: the server answers 404',
    );
  });

  it('clients.create of a duplicate clientId is refused with 409', async () => {
    await clientCreated();
    assert.equal(await statusOf(kc.clients.create({ realm, clientId })), 409);
  });

  it('clients.update changes the client', async () => {
    const id = await clientCreated();
    await call(
      'clients.update',
      kc.clients.update(
        { realm, id },
        { clientId, description: 'updated by the admin client', redirectUris: ['https://app.example/cb2'] },
      ),
    );
    const rep = await call('clients.findOne', kc.clients.findOne({ realm, id }));
    assert.equal(rep.description, 'updated by the admin client');
    assert.deepEqual(rep.redirectUris, ['https://app.example/cb2']);
    assert.equal(rep.serviceAccountsEnabled, true, 'a partial update keeps what it did not send');
  });

  it('clients.getClientSecret and generateNewClientSecret; only the new secret authenticates', async () => {
    const id = await clientCreated();
    const first = await call('clients.getClientSecret', kc.clients.getClientSecret({ realm, id }));
    assert.equal(first.type, 'secret');
    assert.ok(typeof first.value === 'string' && first.value.length >= 22, `a generated secret: ${JSON.stringify(first)}`);
    assert.equal(await clientCredentialsStatus(first.value), 200, 'the secret read back authenticates the client');

    const next = await call('clients.generateNewClientSecret', kc.clients.generateNewClientSecret({ realm, id }));
    assert.equal(next.type, 'secret');
    assert.ok(typeof next.value === 'string' && next.value && next.value !== first.value, 'a new secret');
    const again = await call('clients.getClientSecret', kc.clients.getClientSecret({ realm, id }));
    assert.equal(again.value, next.value, 'getClientSecret returns the regenerated secret');

    assert.equal(await clientCredentialsStatus(next.value), 200, 'the new secret authenticates the client');
    assert.equal(await clientCredentialsStatus(first.value), 401, 'the old secret no longer does');
  });

  it('clients.del removes the client', async () => {
    const id = await clientCreated();
    await call('clients.del', kc.clients.del({ realm, id }));
    assert.equal(await call('clients.findOne', kc.clients.findOne({ realm, id })), null);
    assert.deepEqual(await call('clients.find', kc.clients.find({ realm, clientId })), []);
  });

  // ---------------------------------------------- registration policies (components)

  const realmId = once(async () => {
    await realmCreated();
    return (await call('realms.findOne', kc.realms.findOne({ realm }))).id;
  });

  it("components.find({type}) lists Keycloak's default registration policies", async () => {
    const parentId = await realmId();
    const components = await call('components.find', kc.components.find({ realm, type: POLICY_TYPE }));
    assert.ok(Array.isArray(components));
    const seen = components.map((c) => [c.subType, c.name, c.providerId]);
    for (const expected of DEFAULT_POLICIES) {
      assert.ok(
        seen.some((s) => s.join('|') === expected.join('|')),
        `default policy ${expected.join(' / ')} listed: ${JSON.stringify(seen)}`,
      );
    }
    for (const c of components) {
      assert.equal(c.providerType, POLICY_TYPE);
      assert.equal(c.parentId, parentId, 'a realm-level component has the realm id as parent');
      assert.equal(typeof c.id, 'string');
    }
  });

  it('components.create, findOne, update and del of a trusted-hosts policy', async () => {
    const parentId = await realmId();
    const created = await call(
      'components.create',
      kc.components.create({
        realm,
        name: 'Admin client hosts',
        providerId: 'trusted-hosts',
        providerType: POLICY_TYPE,
        parentId,
        subType: 'anonymous',
        config: {
          'trusted-hosts': ['app.example'],
          'host-sending-registration-request-must-match': ['true'],
          'client-uris-must-match': ['true'],
        },
      }),
    );
    const id = created.id;
    assert.equal(typeof id, 'string', 'components.create returns the id from the Location header');

    const rep = await call('components.findOne', kc.components.findOne({ realm, id }));
    assert.equal(rep.name, 'Admin client hosts');
    assert.equal(rep.providerId, 'trusted-hosts');
    assert.equal(rep.subType, 'anonymous');
    assert.deepEqual(rep.config['trusted-hosts'], ['app.example']);

    const listed = await call('components.find', kc.components.find({ realm, type: POLICY_TYPE }));
    assert.ok(listed.some((c) => c.id === id), 'components.find lists the new policy');

    await call(
      'components.update',
      kc.components.update(
        { realm, id },
        { ...rep, name: 'Admin client hosts (edited)', config: { ...rep.config, 'trusted-hosts': ['app.example', 'other.example'] } },
      ),
    );
    const updated = await call('components.findOne', kc.components.findOne({ realm, id }));
    assert.equal(updated.name, 'Admin client hosts (edited)');
    assert.deepEqual(updated.config['trusted-hosts'], ['app.example', 'other.example']);

    await call('components.del', kc.components.del({ realm, id }));
    assert.equal(await call('components.findOne', kc.components.findOne({ realm, id })), null);
  });

  // ---------------------------------------- initial access tokens and registration

  const initialAccess = once(async () => {
    await realmCreated();
    const iat = await call(
      'realms.createClientsInitialAccess',
      kc.realms.createClientsInitialAccess({ realm }, { count: 2, expiration: 600 }),
    );
    assert.equal(typeof iat.id, 'string');
    assert.equal(typeof iat.token, 'string', 'the token is shown once, in the create response');
    assert.equal(iat.count, 2);
    assert.equal(iat.remainingCount, 2);
    assert.equal(iat.expiration, 600);
    return iat;
  });

  function register(token, body) {
    return fetch(`${server.baseUrl}/realms/${realm}/clients-registrations/openid-connect`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(body),
    });
  }

  it('realms.createClientsInitialAccess and getClientsInitialAccess', async () => {
    const iat = await initialAccess();
    const listed = await call('realms.getClientsInitialAccess', kc.realms.getClientsInitialAccess({ realm }));
    const mine = listed.find((p) => p.id === iat.id);
    assert.ok(mine, `the new token is listed: ${JSON.stringify(listed)}`);
    assert.equal(mine.token, undefined, 'the list never shows the token itself');
    assert.equal(mine.count, 2);
    assert.equal(mine.remainingCount, 2);
  });

  // A policy that shows itself on the registered client: consent required.
  const consentPolicy = once(async () => {
    const parentId = await realmId();
    return call(
      'components.create (consent-required, authenticated)',
      kc.components.create({
        realm,
        name: 'Consent for authenticated registrations',
        providerId: 'consent-required',
        providerType: POLICY_TYPE,
        parentId,
        subType: 'authenticated',
        config: {},
      }),
    );
  });

  it('dynamic client registration with the initial access token created by the admin client', async () => {
    const iat = await initialAccess();
    await consentPolicy();
    const r = await register(iat.token, {
      client_name: 'registered with an admin-client token',
      redirect_uris: ['https://app.example/dcr'],
    });
    const text = await r.text();
    assert.equal(r.status, 201, `POST clients-registrations/openid-connect with the initial access token: ${text}`);
    const registered = JSON.parse(text);
    assert.equal(typeof registered.client_id, 'string');
    assert.equal(typeof registered.registration_access_token, 'string');

    const found = await call('clients.find', kc.clients.find({ realm, clientId: registered.client_id }));
    assert.equal(found.length, 1, 'the admin client sees the registered client');
    assert.equal(found[0].name, 'registered with an admin-client token');
    assert.equal(found[0].consentRequired, true, 'the consent-required policy created through components.create applied');

    const listed = await call('realms.getClientsInitialAccess', kc.realms.getClientsInitialAccess({ realm }));
    assert.equal(listed.find((p) => p.id === iat.id)?.remainingCount, 1, 'the use is counted');
  });

  it('realms.delClientsInitialAccess revokes the token', async () => {
    const iat = await initialAccess();
    await call('realms.delClientsInitialAccess', kc.realms.delClientsInitialAccess({ realm, id: iat.id }));
    const listed = await call('realms.getClientsInitialAccess', kc.realms.getClientsInitialAccess({ realm }));
    assert.ok(!listed.some((p) => p.id === iat.id), 'a deleted token is no longer listed');
    const r = await register(iat.token, { redirect_uris: ['https://app.example/dcr'] });
    assert.equal(r.status, 401, `a deleted initial access token no longer registers: ${await r.text()}`);
  });

  // ------------------------------------------------------------ partial import, export

  it('realms.partialImport adds, skips, overwrites and refuses (FAIL) as Keycloak does; realms.export masks secrets', async () => {
    await realmCreated();
    const rep = {
      users: [{ username: 'pi-user', enabled: true, credentials: [{ type: 'password', value: 'pi-password' }] }],
      clients: [{ clientId: 'pi-app', secret: 'pi-secret-0123456789abcdef', directAccessGrantsEnabled: true }],
      roles: { realm: [{ name: 'pi-role' }] },
    };
    const added = await call(
      'realms.partialImport (SKIP)',
      kc.realms.partialImport({ realm, rep: { ...rep, ifResourceExists: 'SKIP' } }),
    );
    assert.deepEqual([added.added, added.skipped, added.overwritten], [3, 0, 0], JSON.stringify(added));
    const kinds = added.results.map((r) => `${r.action} ${r.resourceType} ${r.resourceName}`).sort();
    assert.deepEqual(kinds, ['ADDED CLIENT pi-app', 'ADDED REALM_ROLE pi-role', 'ADDED USER pi-user']);
    const [user] = await call('users.find', kc.users.find({ realm, username: 'pi-user', exact: true }));
    assert.equal(added.results.find((r) => r.resourceType === 'USER').id, user.id, 'results carry the new ids');

    const skipped = await call(
      'realms.partialImport (SKIP again)',
      kc.realms.partialImport({ realm, rep: { ...rep, ifResourceExists: 'SKIP' } }),
    );
    assert.deepEqual([skipped.added, skipped.skipped], [0, 3]);

    const overwritten = await call(
      'realms.partialImport (OVERWRITE)',
      kc.realms.partialImport({
        realm,
        rep: { ...rep, users: [{ ...rep.users[0], firstName: 'Over' }], ifResourceExists: 'OVERWRITE' },
      }),
    );
    assert.equal(overwritten.overwritten, 3);
    const again = await call('users.findOne', kc.users.findOne({ realm, id: user.id }));
    assert.equal(again.firstName, 'Over', 'overwritten in place, same id');

    const status = await statusOf(kc.realms.partialImport({ realm, rep: { ...rep, ifResourceExists: 'FAIL' } }));
    assert.equal(status, 409, 'FAIL with an existing item is a conflict');

    const exported = await call(
      'realms.export (partial export)',
      kc.realms.export({ realm, exportClients: true, exportGroupsAndRoles: true }),
    );
    const app = exported.clients.find((c) => c.clientId === 'pi-app');
    assert.equal(app.secret, '**********', 'secrets are masked');
    assert.ok(exported.roles.realm.some((r) => r.name === 'pi-role'));
    assert.equal(exported.users, undefined, 'no users in a partial export');
  });

  it('realms.del removes the realm with its clients', async () => {
    await realmCreated();
    await call('realms.del', kc.realms.del({ realm }));
    assert.equal(await call('realms.findOne', kc.realms.findOne({ realm })), null);
    const r = await fetch(`${server.baseUrl}/realms/${realm}/.well-known/openid-configuration`);
    assert.equal(r.status, 404, 'the deleted realm no longer serves discovery');
  });
});
