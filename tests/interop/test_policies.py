"""Interop: python-keycloak 7.x's component calls on client registration policies
(Keycloak's providers, two sets per realm).

Registration policies are Keycloak components of type `POLICY_TYPE` with `subType`
`anonymous` or `authenticated`. python-keycloak 7.1.1 reaches them through KeycloakAdmin,
always on `connection.realm_name` (here the test realm, the token coming from master):

- `get_components(query)`: GET  admin/realms/{r}/components?type=…, 200 and a JSON list;
- `create_component(payload)`: POST admin/realms/{r}/components, only 201 accepted, the id
  is the last segment of `Location`;
- `get_component(id)`: GET admin/realms/{r}/components/{id}, 200 and a JSON object
  (anything else raises KeycloakGetError, e.g. 404 after a delete);
- `update_component(id, payload)`: PUT …/components/{id}, only 204 accepted
  (KeycloakPutError otherwise, e.g. 400 for an invalid configuration);
- `delete_component(id)`: DELETE …/components/{id}, only 204 accepted.

The policy providers' metadata and latchkey's dry-run explainer (beyond Keycloak) have no
python-keycloak call: they go through `connection.raw_get` / `raw_post`, which still send
the admin bearer token. Registrations use the `openid-connect` provider with `requests`
and an initial access token, so they run under the `authenticated` policy set.

The module uses its own realm `pol-<random>`. The tests run in file order and share the
`client-disabled` policy created by a fixture (renamed, then deleted, by later tests).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import secrets
from collections import Counter

import pytest
import requests
from keycloak import KeycloakAdmin, KeycloakOpenID
from keycloak.exceptions import (
    KeycloakAuthenticationError,
    KeycloakError,
    KeycloakGetError,
    KeycloakPutError,
)

POLICY_TYPE = "org.keycloak.services.clientregistration.policy.ClientRegistrationPolicy"
IAT_COUNT = 5

# Keycloak's defaults (DefaultClientRegistrationPolicies): name -> providerId.
DEFAULT_ANONYMOUS = {
    "Trusted Hosts": "trusted-hosts",
    "Consent Required": "consent-required",
    "Full Scope Disabled": "scope",
    "Max Clients Limit": "max-clients",
    "Allowed Protocol Mapper Types": "allowed-protocol-mappers",
    "Allowed Client Scopes": "allowed-client-templates",
    "Allowed Registration Web Origins": "registration-web-origins",
}
DEFAULT_AUTHENTICATED = {
    "Allowed Protocol Mapper Types": "allowed-protocol-mappers",
    "Allowed Client Scopes": "allowed-client-templates",
    "Allowed Registration Web Origins": "registration-web-origins",
}
PROVIDER_IDS = {
    "trusted-hosts",
    "consent-required",
    "scope",
    "max-clients",
    "client-disabled",
    "allowed-protocol-mappers",
    "allowed-client-templates",
    "registration-web-origins",
    "client-secret-expiration",
    "unused-client-expiration",
}


def _suffix() -> str:
    return secrets.token_hex(4)


def _describe(response: requests.Response) -> str:
    return f"{response.status_code} {response.text[:500]}"


def _new_admin(server, realm: str | None = None) -> KeycloakAdmin:
    """An admin client logged in as the bootstrap admin of master (admin-cli, password)."""
    admin = KeycloakAdmin(
        server_url=server.base_url + "/",
        username=server.admin_username,
        password=server.admin_password,
        realm_name="master",
        user_realm_name="master",
    )
    if realm is not None:
        admin.change_current_realm(realm)
    return admin


@dataclasses.dataclass(frozen=True)
class Registered:
    client_id: str
    secret: str
    uuid: str  # the admin API's id of the client


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def master_admin(server) -> KeycloakAdmin:
    return _new_admin(server)


@pytest.fixture(scope="module")
def realm_name(master_admin):
    name = f"pol-{_suffix()}"
    master_admin.create_realm({"realm": name, "enabled": True})
    yield name
    with contextlib.suppress(KeycloakError):
        master_admin.delete_realm(name)


@pytest.fixture(scope="module")
def realm_id(master_admin, realm_name) -> str:
    rid = master_admin.get_realm(realm_name).get("id")
    assert isinstance(rid, str) and rid, "the realm representation carries its id"
    return rid


@pytest.fixture(scope="module")
def admin(server, realm_name) -> KeycloakAdmin:
    """Admin client whose token comes from master but whose calls target the test realm."""
    admin = _new_admin(server, realm=realm_name)
    assert admin.get_current_realm() == realm_name
    return admin


@pytest.fixture(scope="module")
def initial_access_token(master_admin, realm_name) -> str:
    # Not KeycloakAdmin.create_initial_access_token: python-keycloak 7.1.1 accepts only 200
    # there, while Keycloak (26.7+) and latchkey answer 201 with a Location header.
    response = master_admin.connection.raw_post(
        f"admin/realms/{realm_name}/clients-initial-access",
        data=json.dumps({"expiration": 3600, "count": IAT_COUNT}),
    )
    assert response.status_code == 201, (
        f"POST /admin/realms/{{r}}/clients-initial-access must answer 201: {_describe(response)}"
    )
    token = response.json().get("token")
    assert isinstance(token, str) and token
    return token


@pytest.fixture(scope="module")
def client_disabled_policy(admin, realm_id) -> str:
    """A `client-disabled` policy in the authenticated set; its id."""
    component_id = admin.create_component(
        {
            "name": "Approval",
            "providerId": "client-disabled",
            "providerType": POLICY_TYPE,
            "parentId": realm_id,
            "subType": "authenticated",
            "config": {},
        }
    )
    assert component_id and "/" not in component_id, (
        f"create_component returned {component_id!r}, expected the id from Location"
    )
    return component_id


def _register(server, realm_name: str, initial_access_token: str, admin) -> Registered:
    response = requests.post(
        f"{server.base_url}/realms/{realm_name}/clients-registrations/openid-connect",
        json={"grant_types": ["client_credentials"]},
        headers={"Authorization": f"Bearer {initial_access_token}"},
        timeout=10,
    )
    assert response.status_code == 201, f"registration must answer 201: {_describe(response)}"
    body = response.json()
    assert isinstance(body.get("client_id"), str) and body["client_id"]
    assert isinstance(body.get("client_secret"), str) and body["client_secret"]
    uuid = admin.get_client_id(body["client_id"])
    assert uuid, f"the admin API lists the registered client {body['client_id']!r}"
    return Registered(client_id=body["client_id"], secret=body["client_secret"], uuid=uuid)


def _oidc(server, realm_name: str, client: Registered) -> KeycloakOpenID:
    return KeycloakOpenID(
        server_url=server.base_url + "/",
        realm_name=realm_name,
        client_id=client.client_id,
        client_secret_key=client.secret,
    )


def _assert_gets_token(server, realm_name: str, client: Registered) -> None:
    response = _oidc(server, realm_name, client).token(grant_type="client_credentials")
    assert isinstance(response.get("access_token"), str) and response["access_token"]


def _policies(admin) -> list[dict]:
    return admin.get_components(query={"type": POLICY_TYPE})


# ------------------------------------------------------------------------------ tests


def test_get_components_lists_keycloaks_default_policies(admin, realm_id):
    components = _policies(admin)
    assert all(c.get("providerType") == POLICY_TYPE for c in components), components
    anonymous = [c for c in components if c.get("subType") == "anonymous"]
    authenticated = [c for c in components if c.get("subType") == "authenticated"]
    assert len(anonymous) == 7, f"7 anonymous defaults: {[c.get('name') for c in anonymous]}"
    assert len(authenticated) == 3, (
        f"3 authenticated defaults: {[c.get('name') for c in authenticated]}"
    )
    assert len(components) == 10, f"nothing but the defaults: {components}"
    assert Counter(c["name"] for c in anonymous) == Counter(DEFAULT_ANONYMOUS.keys())
    assert Counter(c["name"] for c in authenticated) == Counter(DEFAULT_AUTHENTICATED.keys())
    for c in anonymous:
        assert c.get("providerId") == DEFAULT_ANONYMOUS[c["name"]], c
    for c in authenticated:
        assert c.get("providerId") == DEFAULT_AUTHENTICATED[c["name"]], c
    for c in components:
        assert c.get("parentId") == realm_id, f"parentId is the realm's id: {c}"
        assert isinstance(c.get("id"), str) and c["id"], c
        assert isinstance(c.get("config"), dict), c
    (max_clients,) = [c for c in anonymous if c["name"] == "Max Clients Limit"]
    assert max_clients["config"].get("max-clients") == ["200"], max_clients


def test_create_component_returns_the_id_and_get_component_reads_it_back(
    admin, realm_id, client_disabled_policy
):
    component = admin.get_component(client_disabled_policy)
    assert component.get("id") == client_disabled_policy
    assert component.get("name") == "Approval"
    assert component.get("providerId") == "client-disabled"
    assert component.get("providerType") == POLICY_TYPE
    assert component.get("parentId") == realm_id
    assert component.get("subType") == "authenticated"
    assert component.get("config") == {}
    listed = {c["id"]: c for c in _policies(admin)}
    assert client_disabled_policy in listed, "get_components lists the new policy"
    assert len(listed) == 11


def test_client_disabled_policy_holds_a_registration_until_an_admin_enables_it(
    server, admin, realm_name, initial_access_token, client_disabled_policy
):
    client = _register(server, realm_name, initial_access_token, admin)
    assert admin.get_client(client.uuid).get("enabled") is False, (
        "a client registered under the client-disabled policy starts disabled"
    )

    with pytest.raises(KeycloakAuthenticationError) as excinfo:
        _oidc(server, realm_name, client).token(grant_type="client_credentials")
    assert excinfo.value.response_code == 401, "a disabled client gets invalid_client (401)"

    admin.update_client(client.uuid, {"enabled": True})  # the admin's approval
    assert admin.get_client(client.uuid).get("enabled") is True
    _assert_gets_token(server, realm_name, client)


def test_update_component_renames_the_policy(admin, realm_id, client_disabled_policy):
    result = admin.update_component(
        client_disabled_policy,
        {
            "id": client_disabled_policy,
            "name": "Admin approval",
            "providerId": "client-disabled",
            "providerType": POLICY_TYPE,
            "parentId": realm_id,
            "subType": "authenticated",
            "config": {},
        },
    )
    assert result == {}, "update_component returns {} on 204"
    component = admin.get_component(client_disabled_policy)
    assert component.get("name") == "Admin approval"
    assert component.get("providerId") == "client-disabled"
    assert component.get("subType") == "authenticated"


def test_update_component_with_both_trusted_hosts_checks_off_is_400(admin):
    (trusted_hosts,) = [c for c in _policies(admin) if c.get("providerId") == "trusted-hosts"]
    invalid = {
        **trusted_hosts,
        "config": {
            **trusted_hosts.get("config", {}),
            "host-sending-registration-request-must-match": ["false"],
            "client-uris-must-match": ["false"],
        },
    }
    with pytest.raises(KeycloakPutError) as excinfo:
        admin.update_component(trusted_hosts["id"], invalid)
    assert excinfo.value.response_code == 400, excinfo.value.response_body
    body = json.loads(excinfo.value.response_body)
    assert body.get("errorMessage") == (
        "At least one of hosts verification or client URIs validation must be enabled"
    ), body
    assert admin.get_component(trusted_hosts["id"]).get("config") == trusted_hosts["config"], (
        "a refused update leaves the component unchanged"
    )


def test_delete_component_removes_it_and_registrations_are_enabled_again(
    server, admin, realm_name, initial_access_token, client_disabled_policy
):
    assert admin.delete_component(client_disabled_policy) == {}
    with pytest.raises(KeycloakGetError) as excinfo:
        admin.get_component(client_disabled_policy)
    assert excinfo.value.response_code == 404
    assert client_disabled_policy not in {c["id"] for c in _policies(admin)}

    client = _register(server, realm_name, initial_access_token, admin)
    assert admin.get_client(client.uuid).get("enabled") is True, (
        "without the client-disabled policy a new registration is enabled"
    )
    _assert_gets_token(server, realm_name, client)


def test_evaluate_explains_the_trusted_hosts_refusal(admin, realm_name):
    response = admin.connection.raw_post(
        f"admin/realms/{realm_name}/client-registration-policy/evaluate",
        data=json.dumps(
            {
                "auth": "anonymous",
                "sourceAddress": "203.0.113.9",
                "metadata": {"redirect_uris": ["https://app.example.com/cb"]},
            }
        ),
    )
    assert response.status_code == 200, _describe(response)
    body = response.json()
    assert body.get("allowed") is False, body
    entries = [p for p in body.get("policies", []) if p.get("name") == "Trusted Hosts"]
    assert len(entries) == 1, body
    (trusted_hosts,) = entries
    assert trusted_hosts.get("passed") is False, trusted_hosts
    assert trusted_hosts.get("message", "").startswith(
        "Policy 'Trusted Hosts' rejected request to client-registration service. "
        "Details: Host not trusted."
    ), trusted_hosts


def test_policy_providers_lists_every_provider(admin, realm_name):
    response = admin.connection.raw_get(
        f"admin/realms/{realm_name}/client-registration-policy/providers"
    )
    assert response.status_code == 200, _describe(response)
    providers = response.json()
    assert isinstance(providers, list), providers
    ids = [p.get("id") for p in providers]
    assert len(ids) == len(set(ids)) == len(PROVIDER_IDS), ids
    assert set(ids) == PROVIDER_IDS
    for p in providers:
        assert isinstance(p.get("properties"), list), p
    by_id = {p["id"]: p for p in providers}
    assert {prop["name"] for prop in by_id["trusted-hosts"]["properties"]} == {
        "trusted-hosts",
        "host-sending-registration-request-must-match",
        "client-uris-must-match",
    }
    assert [prop["name"] for prop in by_id["max-clients"]["properties"]] == ["max-clients"]
