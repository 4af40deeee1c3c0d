"""Interop: python-keycloak 7.x's realm import and export against latchkey.

`import_realm` (POST /admin/realms with a full realm representation: the project's own
Keycloak-shaped fixture), `partial_import_realm` (POST …/partialImport, SKIP and
OVERWRITE, and FAIL refused) and `export_realm` (POST …/partial-export, secrets masked),
each checked through what the library reads back and a password grant of an imported
user whose Keycloak PBKDF2 hash came with the file.
"""

from __future__ import annotations

import json
import secrets
import uuid
from pathlib import Path

import pytest
import requests
from keycloak import KeycloakAdmin
from keycloak.exceptions import KeycloakError

FIXTURE = (
    Path(__file__).resolve().parents[2]
    / "crates/latchkey/tests/fixtures/keycloak/acme-realm.json"
)


def _renamed(doc: dict, name: str) -> dict:
    """The fixture under another realm name, with fresh ids (the server is shared)."""
    text = json.dumps(doc)
    for old in {
        v
        for v in _ids(doc)
        if isinstance(v, str) and len(v) == 36 and v.count("-") == 4
    }:
        text = text.replace(old, str(uuid.uuid4()))
    out = json.loads(text)
    out["realm"] = name
    return out


def _ids(v):
    if isinstance(v, dict):
        for k, x in v.items():
            if k in ("id", "containerId"):
                yield x
            yield from _ids(x)
    elif isinstance(v, list):
        for x in v:
            yield from _ids(x)


@pytest.fixture(scope="module")
def imported(server):
    admin = KeycloakAdmin(
        server_url=server.base_url + "/",
        username=server.admin_username,
        password=server.admin_password,
        realm_name="master",
        user_realm_name="master",
    )
    name = f"imported-{secrets.token_hex(4)}"
    doc = _renamed(json.loads(FIXTURE.read_text()), name)
    admin.import_realm(doc)
    admin.change_current_realm(name)
    yield admin, name
    admin.change_current_realm("master")
    admin.delete_realm(name)


def test_import_realm_brings_clients_users_roles_and_hashes(server, imported):
    admin, name = imported
    client_ids = {c["clientId"] for c in admin.get_clients()}
    assert {"orders-api", "web-shop", "batch-job"} <= client_ids
    alice = admin.get_user_id("alice")
    roles = {r["name"] for r in admin.get_realm_roles_of_user(alice)}
    assert {"default-roles-acme", "staff"} <= roles, roles
    r = requests.post(
        f"{server.base_url}/realms/{name}/protocol/openid-connect/token",
        data={
            "grant_type": "password",
            "client_id": "web-shop",
            "username": "alice",
            "password": "alice-password",
        },
        timeout=10,
    )
    assert r.status_code == 200, r.text


def test_partial_import_realm_skips_overwrites_and_fails(imported):
    admin, name = imported
    rep = {
        "users": [{"username": "pk-user", "enabled": True}],
        "clients": [{"clientId": "pk-app", "publicClient": True}],
        "roles": {"realm": [{"name": "pk-role"}]},
    }
    added = admin.partial_import_realm(name, {**rep, "ifResourceExists": "SKIP"})
    assert (added["added"], added["skipped"], added["overwritten"]) == (3, 0, 0), added
    again = admin.partial_import_realm(name, {**rep, "ifResourceExists": "OVERWRITE"})
    assert again["overwritten"] == 3, again
    user_id = admin.get_user_id("pk-user")
    assert any(r["id"] == user_id for r in again["results"]), "ids kept on overwrite"
    with pytest.raises(KeycloakError) as refused:
        admin.partial_import_realm(name, {**rep, "ifResourceExists": "FAIL"})
    assert refused.value.response_code == 409


def test_export_realm_masks_secrets(imported):
    admin, _ = imported
    exported = admin.export_realm(export_clients=True, export_groups_and_role=True)
    orders = next(c for c in exported["clients"] if c["clientId"] == "orders-api")
    assert orders["secret"] == "**********"
    assert "users" not in exported
    assert any(r["name"] == "staff" for r in exported["roles"]["realm"])
