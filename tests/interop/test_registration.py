"""Interop: python-keycloak 7.x's client registration calls against latchkey
(RFC 7591/7592 and Keycloak's `default` provider).

python-keycloak 7.1.1 has two registration calls, both on KeycloakOpenID and both on
Keycloak's `default` provider (`urls_patterns.URL_CLIENT_REGISTRATION` is
`realms/{realm}/clients-registrations/default`; it cannot target `openid-connect`), with
camelCase ClientRepresentation bodies:

- `register_client(token, payload)`: POST …/clients-registrations/default,
  `Authorization: Bearer <token>` (here an initial access token),
  `Content-Type: application/json`; accepts 200, 201 or 204 and needs a JSON object back.
- `update_client(token, client_id, payload)`: PUT …/clients-registrations/default/{clientId}
  with the registration access token, same headers and statuses; it adds `clientId` to the
  payload when missing.

It has no call to read or delete a registration, so the tests do those with `requests`.

The module uses its own realm `dcr-py-<random>`, separate from test_python_keycloak.py's.
The tests run in file order and share one registered client.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import secrets

import pytest
import requests
from keycloak import KeycloakAdmin, KeycloakOpenID
from keycloak.exceptions import KeycloakError

IAT_COUNT = 5


def _suffix() -> str:
    return secrets.token_hex(4)


def _describe(response: requests.Response) -> str:
    return f"{response.status_code} {response.text[:500]}"


@dataclasses.dataclass
class Registration:
    client_id: str
    secret: str
    registration_access_token: str  # the current one: update_client rotates it


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def master_admin(server) -> KeycloakAdmin:
    return KeycloakAdmin(
        server_url=server.base_url + "/",
        username=server.admin_username,
        password=server.admin_password,
        realm_name="master",
        user_realm_name="master",
    )


@pytest.fixture(scope="module")
def realm_name(master_admin):
    name = f"dcr-py-{_suffix()}"
    master_admin.create_realm({"realm": name, "enabled": True})
    yield name
    with contextlib.suppress(KeycloakError):
        master_admin.delete_realm(name)


@pytest.fixture(scope="module")
def initial_access_token(master_admin, realm_name) -> dict:
    # Not KeycloakAdmin.create_initial_access_token: python-keycloak 7.1.1 accepts only 200
    # there (and documents `expiration` in days), while Keycloak and latchkey answer 201
    # with a Location header. Its raw_post still sends the admin bearer token.
    response = master_admin.connection.raw_post(
        f"admin/realms/{realm_name}/clients-initial-access",
        data=json.dumps({"expiration": 3600, "count": IAT_COUNT}),
    )
    assert response.status_code == 201, (
        f"POST /admin/realms/{{r}}/clients-initial-access must answer 201: {_describe(response)}"
    )
    iat = response.json()
    assert isinstance(iat.get("token"), str) and iat["token"], "the token is shown at creation"
    assert iat.get("remainingCount") == IAT_COUNT
    return iat


@pytest.fixture(scope="module")
def registrar(server, realm_name) -> KeycloakOpenID:
    """A KeycloakOpenID for the realm, used only for its registration calls."""
    # register_client/update_client never send client_id; KeycloakOpenID just requires one.
    return KeycloakOpenID(
        server_url=server.base_url + "/", realm_name=realm_name, client_id="unused"
    )


@pytest.fixture(scope="module")
def requested_client_id() -> str:
    return f"py-dcr-{_suffix()}"


@pytest.fixture(scope="module")
def registration(registrar, initial_access_token, requested_client_id) -> Registration:
    rep = registrar.register_client(
        initial_access_token["token"],
        {
            "clientId": requested_client_id,
            "name": "python interop",
            "publicClient": False,
            "serviceAccountsEnabled": True,
            "standardFlowEnabled": False,
        },
    )
    assert rep.get("clientId") == requested_client_id, f"register_client returned {rep!r}"
    assert isinstance(rep.get("secret"), str) and rep["secret"], (
        "a confidential client registered through `default` comes back with its `secret`"
    )
    assert isinstance(rep.get("registrationAccessToken"), str) and rep["registrationAccessToken"], (
        "the `default` provider returns the registration access token as registrationAccessToken"
    )
    return Registration(
        client_id=rep["clientId"],
        secret=rep["secret"],
        registration_access_token=rep["registrationAccessToken"],
    )


def _registration_url(server, realm_name: str, client_id: str) -> str:
    return f"{server.base_url}/realms/{realm_name}/clients-registrations/default/{client_id}"


def _read(server, realm_name: str, client_id: str, token: str) -> requests.Response:
    return requests.get(
        _registration_url(server, realm_name, client_id),
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
        timeout=10,
    )


def _client_credentials_claims(server, realm_name: str, registration: Registration) -> dict:
    # KeycloakOpenID.token() sends client_id and client_secret in the form body
    # (client_secret_post); the `default` provider's client-secret authenticator allows it.
    oidc = KeycloakOpenID(
        server_url=server.base_url + "/",
        realm_name=realm_name,
        client_id=registration.client_id,
        client_secret_key=registration.secret,
    )
    response = oidc.token(grant_type="client_credentials")
    assert isinstance(response.get("access_token"), str) and response["access_token"]
    return oidc.decode_token(response["access_token"], validate=True)


# ------------------------------------------------------------------------------ tests


def test_register_client_with_initial_access_token_creates_a_confidential_service_client(
    registration, requested_client_id
):
    # The fixture did the registration and checked what register_client returned.
    assert registration.client_id == requested_client_id, "the requested clientId is kept"


def test_registered_client_gets_a_client_credentials_token(server, realm_name, registration):
    claims = _client_credentials_claims(server, realm_name, registration)
    assert claims["iss"] == f"{server.base_url}/realms/{realm_name}"
    assert claims["azp"] == registration.client_id, "azp is the registered client"
    assert claims["preferred_username"] == f"service-account-{registration.client_id}", (
        "serviceAccountsEnabled at registration gives the client its service account"
    )


def test_initial_access_token_remaining_count_went_down(
    master_admin, realm_name, initial_access_token, registration
):
    response = master_admin.connection.raw_get(f"admin/realms/{realm_name}/clients-initial-access")
    assert response.status_code == 200, _describe(response)
    listed = {t["id"]: t for t in response.json()}
    assert initial_access_token["id"] in listed, f"the token is listed: {list(listed)}"
    assert listed[initial_access_token["id"]]["remainingCount"] == IAT_COUNT - 1, (
        "one registration used one of the initial access token's registrations"
    )


def test_read_with_registration_access_token_returns_the_client(server, realm_name, registration):
    token = registration.registration_access_token
    response = _read(server, realm_name, registration.client_id, token)
    assert response.status_code == 200, _describe(response)
    rep = response.json()
    assert rep["clientId"] == registration.client_id
    assert rep.get("name") == "python interop"
    assert rep.get("serviceAccountsEnabled") is True


def test_update_client_applies_the_change_and_rotates_the_registration_access_token(
    server, realm_name, registrar, registration
):
    old_token = registration.registration_access_token
    rep = registrar.update_client(
        old_token,
        registration.client_id,
        {
            "clientId": registration.client_id,
            "name": "python interop (renamed)",
            "publicClient": False,
            "serviceAccountsEnabled": True,
            "standardFlowEnabled": False,
        },
    )
    assert rep.get("clientId") == registration.client_id
    assert rep.get("name") == "python interop (renamed)", "update_client's change is applied"
    new_token = rep.get("registrationAccessToken")
    assert isinstance(new_token, str) and new_token and new_token != old_token, (
        "an update answers with a new registration access token"
    )
    registration.registration_access_token = new_token

    assert _read(server, realm_name, registration.client_id, old_token).status_code == 401, (
        "the rotated-out registration access token stops working at once"
    )
    read = _read(server, realm_name, registration.client_id, new_token)
    assert read.status_code == 200, _describe(read)
    assert read.json().get("name") == "python interop (renamed)"


def test_updated_client_still_gets_a_client_credentials_token(server, realm_name, registration):
    claims = _client_credentials_claims(server, realm_name, registration)
    assert claims["azp"] == registration.client_id, "an update does not rotate the client secret"
