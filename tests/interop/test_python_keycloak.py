"""Interop: python-keycloak 7.x (KeycloakAdmin / KeycloakOpenID) against latchkey.

One throwaway realm `interop-<random>` is shared by the tests in this module. The
fixtures perform the admin-API writes (so a failing write shows up as an error in the
fixture of every test that needs it); the tests check what the library reads back.
`test_delete_realm_then_get_realm_is_404` deletes the shared realm and must stay last.
"""

from __future__ import annotations

import contextlib
import dataclasses
import secrets
import time

import pytest
from jwcrypto import jwt
from keycloak import KeycloakAdmin, KeycloakOpenID
from keycloak.exceptions import (
    KeycloakAuthenticationError,
    KeycloakError,
    KeycloakGetError,
    KeycloakPostError,
)

ALICE_PASSWORD = "s3cret-pass"


def _suffix() -> str:
    return secrets.token_hex(4)


def _role_names(roles: list[dict]) -> set[str]:
    return {r["name"] for r in roles}


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
class ServiceClient:
    client_id: str  # the clientId, "svc-…"
    uuid: str  # the internal id, from the Location header of the create


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def master_admin(server) -> KeycloakAdmin:
    return _new_admin(server)


@pytest.fixture(scope="module")
def realm_name(master_admin):
    name = f"interop-{_suffix()}"
    master_admin.create_realm({"realm": name, "enabled": True})
    yield name
    # Safety net: test_delete_realm_then_get_realm_is_404 normally removed it already.
    with contextlib.suppress(KeycloakError):
        master_admin.delete_realm(name)


@pytest.fixture(scope="module")
def admin(server, realm_name) -> KeycloakAdmin:
    """Admin client whose token comes from master but whose calls target the test realm."""
    admin = _new_admin(server, realm=realm_name)
    assert admin.get_current_realm() == realm_name
    return admin


@pytest.fixture(scope="module")
def service_client(admin) -> ServiceClient:
    client_id = f"svc-{_suffix()}"
    uuid = admin.create_client(
        {
            "clientId": client_id,
            "publicClient": False,
            "serviceAccountsEnabled": True,
            "standardFlowEnabled": False,
        }
    )
    assert uuid and "/" not in uuid, f"create_client returned {uuid!r}, expected a client UUID"
    return ServiceClient(client_id=client_id, uuid=uuid)


@pytest.fixture(scope="module")
def alice_id(admin) -> str:
    user_id = admin.create_user(
        {
            "username": "alice",
            "email": "alice@example.com",
            "enabled": True,
            "firstName": "Alice",
            "lastName": "A",
        }
    )
    assert user_id, "create_user must return the new user's id (Location header)"
    admin.set_user_password(user_id, ALICE_PASSWORD, temporary=False)
    return user_id


@pytest.fixture(scope="module")
def reader_role(admin) -> dict:
    created = admin.create_realm_role({"name": "reader"})
    assert created == "reader", (
        f"create_realm_role returned {created!r}: the Location header of POST /roles "
        "must end with the role name"
    )
    role = admin.get_realm_role("reader")
    assert role["name"] == "reader"
    assert role.get("id"), "a realm role representation must carry its id"
    return role


@pytest.fixture(scope="module")
def invoke_role(admin, service_client) -> dict:
    created = admin.create_client_role(service_client.uuid, {"name": "invoke"})
    assert created == "invoke", (
        f"create_client_role returned {created!r}: the Location header of "
        "POST /clients/{id}/roles must end with the role name"
    )
    role = admin.get_client_role(service_client.uuid, "invoke")
    assert role["name"] == "invoke"
    assert role.get("id"), "a client role representation must carry its id"
    return role


@pytest.fixture(scope="module")
def service_account(admin, service_client, reader_role, invoke_role) -> dict:
    """The client's service-account user, holding client role `invoke` and realm role `reader`."""
    sa = admin.get_client_service_account_user(service_client.uuid)
    admin.assign_client_role(sa["id"], service_client.uuid, [invoke_role])
    admin.assign_realm_roles(sa["id"], [reader_role])
    return sa


# ------------------------------------------------------------------------------ tests


def test_create_realm_is_readable_and_listed(master_admin, realm_name):
    realm = master_admin.get_realm(realm_name)
    assert realm["realm"] == realm_name
    assert realm.get("enabled") is True, "realm created with enabled=true must read back enabled"

    listed = [r["realm"] for r in master_admin.get_realms()]
    assert realm_name in listed, f"get_realms() does not list the new realm: {listed}"
    assert "master" in listed


def test_create_client_returns_uuid_found_by_client_id(admin, service_client):
    assert admin.get_client_id(service_client.client_id) == service_client.uuid, (
        "GET /clients?clientId=… must find the client whose id the create's Location named"
    )
    assert admin.get_client_id(f"no-such-client-{_suffix()}") is None

    client = admin.get_client(service_client.uuid)
    assert client["clientId"] == service_client.client_id
    assert client["publicClient"] is False
    assert client["serviceAccountsEnabled"] is True


def test_client_secret_can_be_read_and_regenerated(admin, service_client):
    first = admin.get_client_secrets(service_client.uuid)
    assert first.get("type") == "secret"
    assert isinstance(first.get("value"), str) and first["value"], (
        "a confidential client must have a generated, non-empty secret"
    )

    regenerated = admin.generate_client_secrets(service_client.uuid)
    assert isinstance(regenerated.get("value"), str) and regenerated["value"]
    assert regenerated["value"] != first["value"], "regenerating must produce a new secret"

    again = admin.get_client_secrets(service_client.uuid)
    assert again["value"] == regenerated["value"], "reading back must return the new secret"


def test_user_is_created_and_found_by_username(admin, alice_id):
    assert admin.get_user_id("alice") == alice_id
    assert admin.get_user_id("ALICE") == alice_id, "python-keycloak lowercases the lookup"
    assert admin.get_user_id(f"nobody-{_suffix()}") is None

    user = admin.get_user(alice_id)
    assert user["username"] == "alice"
    assert user["email"] == "alice@example.com"
    assert user["firstName"] == "Alice"
    assert user["lastName"] == "A"
    assert user["enabled"] is True


def test_realm_role_is_assigned_to_user(admin, alice_id, reader_role):
    admin.assign_realm_roles(alice_id, [admin.get_realm_role("reader")])
    assert "reader" in _role_names(admin.get_realm_roles_of_user(alice_id))


def test_service_account_user_holds_client_and_realm_roles(admin, service_client, service_account):
    assert service_account["username"] == f"service-account-{service_client.client_id}"
    assert service_account.get("id")

    client_roles = admin.get_client_roles_of_user(service_account["id"], service_client.uuid)
    assert "invoke" in _role_names(client_roles)
    assert "reader" in _role_names(admin.get_realm_roles_of_user(service_account["id"]))


def test_client_credentials_token_is_signed_by_realm_and_carries_roles(
    server, admin, realm_name, service_client, service_account
):
    # Read the secret now: test_client_secret_can_be_read_and_regenerated rotates it.
    secret = admin.get_client_secrets(service_client.uuid)["value"]
    oidc = KeycloakOpenID(
        server_url=server.base_url + "/",
        realm_name=realm_name,
        client_id=service_client.client_id,
        client_secret_key=secret,
    )

    response = oidc.token(grant_type="client_credentials")
    access_token = response.get("access_token")
    assert isinstance(access_token, str) and access_token
    assert str(response.get("token_type", "")).lower() == "bearer"
    assert isinstance(response.get("expires_in"), int) and response["expires_in"] > 0, (
        "python-keycloak computes token expiry from expires_in"
    )

    # Signature check against the realm's JWKS (decode_token fetches certs()).
    jwks = oidc.certs()
    kids = {k.get("kid") for k in jwks["keys"]}
    header_kid = jwt.JWT(jwt=access_token).token.jose_header.get("kid")
    assert header_kid in kids, f"token kid {header_kid!r} is not in the realm JWKS {kids}"
    claims = oidc.decode_token(access_token, validate=True)

    sa_username = f"service-account-{service_client.client_id}"
    assert claims["iss"] == f"{server.base_url}/realms/{realm_name}"
    assert claims["azp"] == service_client.client_id
    assert claims["typ"] == "Bearer"
    assert claims["preferred_username"] == sa_username
    assert claims["sub"] == service_account["id"]
    assert "reader" in claims["realm_access"]["roles"]
    assert "invoke" in claims["resource_access"][service_client.client_id]["roles"]
    assert claims["exp"] > claims["iat"]
    assert claims["iat"] <= time.time() + 60


def test_client_credentials_with_wrong_secret_is_401(server, realm_name, service_client):
    oidc = KeycloakOpenID(
        server_url=server.base_url + "/",
        realm_name=realm_name,
        client_id=service_client.client_id,
        client_secret_key="wrong",
    )
    with pytest.raises(KeycloakAuthenticationError) as excinfo:
        oidc.token(grant_type="client_credentials")
    assert excinfo.value.response_code == 401


def test_password_grant_and_refresh_on_master_admin_cli(server):
    oidc = KeycloakOpenID(
        server_url=server.base_url + "/",
        realm_name="master",
        client_id="admin-cli",
    )
    tokens = oidc.token(server.admin_username, server.admin_password)
    assert isinstance(tokens.get("access_token"), str) and tokens["access_token"]
    assert isinstance(tokens.get("refresh_token"), str) and tokens["refresh_token"]

    claims = oidc.decode_token(tokens["access_token"], validate=True)
    assert claims["iss"] == f"{server.base_url}/realms/master"
    assert claims["azp"] == "admin-cli"
    assert claims["preferred_username"] == server.admin_username

    refreshed = oidc.refresh_token(tokens["refresh_token"])
    assert isinstance(refreshed.get("access_token"), str) and refreshed["access_token"]
    assert refreshed.get("refresh_token"), "a refresh response carries a (rotated) refresh token"
    refreshed_claims = oidc.decode_token(refreshed["access_token"], validate=True)
    assert refreshed_claims["iss"] == f"{server.base_url}/realms/master"
    assert refreshed_claims["preferred_username"] == server.admin_username
    assert refreshed_claims["sub"] == claims["sub"]


def test_wrong_admin_password_is_401(server):
    oidc = KeycloakOpenID(
        server_url=server.base_url + "/",
        realm_name="master",
        client_id="admin-cli",
    )
    with pytest.raises(KeycloakAuthenticationError) as excinfo:
        oidc.token(server.admin_username, server.admin_password + "-wrong")
    assert excinfo.value.response_code == 401


def test_admin_events_are_recorded_and_filtered(admin, realm_name):
    admin.update_realm(realm_name, {"adminEventsEnabled": True, "adminEventsDetailsEnabled": True})
    client_uuid = admin.create_client({"clientId": f"audited-{_suffix()}"})
    admin.update_client(client_uuid, {"description": "changed"})
    admin.delete_client(client_uuid)

    events = admin.get_admin_events({"resourcePath": f"clients/{client_uuid}", "direction": "asc"})
    assert [e["operationType"] for e in events] == ["CREATE", "UPDATE", "DELETE"]
    assert {e["resourceType"] for e in events} == {"CLIENT"}
    assert all(e["authDetails"]["userId"] for e in events)
    assert '"description":"changed"' in events[1]["representation"]
    only_deletes = admin.get_admin_events({"operationTypes": "DELETE", "resourceTypes": "CLIENT"})
    assert [e["resourcePath"] for e in only_deletes] == [f"clients/{client_uuid}"]


def test_logout_with_the_refresh_token_ends_the_session(server, admin, realm_name, alice_id):
    client_id = f"app-{_suffix()}"
    uuid = admin.create_client(
        {"clientId": client_id, "publicClient": False, "directAccessGrantsEnabled": True}
    )
    oidc = KeycloakOpenID(
        server_url=server.base_url + "/",
        realm_name=realm_name,
        client_id=client_id,
        client_secret_key=admin.get_client_secrets(uuid)["value"],
    )
    tokens = oidc.token("alice", ALICE_PASSWORD)
    assert oidc.introspect(tokens["access_token"])["active"] is True

    # Keycloak answers 204; python-keycloak raises on anything else.
    oidc.logout(tokens["refresh_token"])

    with pytest.raises(KeycloakPostError) as excinfo:
        oidc.refresh_token(tokens["refresh_token"])
    assert excinfo.value.response_code == 400
    assert oidc.introspect(tokens["access_token"])["active"] is False


# Keep last: removes the realm the tests above share.
def test_delete_realm_then_get_realm_is_404(master_admin, realm_name):
    master_admin.delete_realm(realm_name)

    with pytest.raises(KeycloakGetError) as excinfo:
        master_admin.get_realm(realm_name)
    assert excinfo.value.response_code == 404

    assert realm_name not in [r["realm"] for r in master_admin.get_realms()]
