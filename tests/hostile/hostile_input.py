#!/usr/bin/env python3
"""Targeted hostile input against a running latchkey: NUL bytes and over-long identifiers
where a database would see them, trailing slashes, and a flood of refused requests that
must not grow the events table without bound.

    hostile_input.py BASE_URL ADMIN_PASSWORD [LABEL]

BASE_URL is a live `latchkey start-dev` (bootstrap admin `admin`/ADMIN_PASSWORD, per-address
limits off). scripts/schemathesis.sh runs this against its SQLite server and its PostgreSQL
server: NUL and 3,000-character identifiers pass SQLite but make PostgreSQL fail, so each
case must hold on both backends.

Each case must answer a 4xx with a JSON error body (`error` or `errorMessage`), never a 5xx;
the trailing-slash cases must answer as their path without the slash (2xx). Standard library
only. Prints one line per case and exits 1 if any case fails.
"""

from __future__ import annotations

import base64
import http.client
import json
import secrets
import sys
import urllib.parse

BASE, PASSWORD = sys.argv[1], sys.argv[2]
LABEL = sys.argv[3] if len(sys.argv) > 3 else BASE
_url = urllib.parse.urlsplit(BASE)
HOST, PORT, PREFIX = _url.hostname, _url.port, _url.path.rstrip("/")

POLICY_TYPE = "org.keycloak.services.clientregistration.policy.ClientRegistrationPolicy"
LONG = "c" * 3000


class Response:
    def __init__(self, status: int, headers: dict[str, str], body: bytes):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def describe(self) -> str:
        text = self.body[:240].decode("utf-8", "replace")
        return f"{self.status} {self.headers.get('content-type', '-')} {text!r}"


def send(method: str, path: str, *, token=None, body=None, form=None, headers=None) -> Response:
    """One request, the path sent as given (percent escapes untouched), no redirects."""
    h = {"accept": "application/json"}
    data = None
    if token:
        h["authorization"] = f"Bearer {token}"
    if body is not None:
        h["content-type"] = "application/json"
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
    if form is not None:
        h["content-type"] = "application/x-www-form-urlencoded"
        data = urllib.parse.urlencode(form).encode()
    h.update(headers or {})
    conn = http.client.HTTPConnection(HOST, PORT, timeout=15)
    try:
        conn.request(method, PREFIX + path, body=data, headers=h)
        r = conn.getresponse()
        return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
    finally:
        conn.close()


def must(r: Response, status: int, what: str) -> Response:
    if r.status != status:
        raise SystemExit(f"[{LABEL}] setup failed: {what}: {r.describe()}")
    return r


def admin_token() -> str:
    r = send("POST", "/realms/master/protocol/openid-connect/token",
             form={"grant_type": "password", "client_id": "admin-cli",
                   "username": "admin", "password": PASSWORD})
    return must(r, 200, "admin password grant").json()["access_token"]


# ----------------------------------------------------------------------------- setup

ADMIN = admin_token()
REALM = f"hostile-{secrets.token_hex(4)}"
must(send("POST", "/admin/realms", token=ADMIN, body={"realm": REALM, "enabled": True}), 201,
     f"create realm {REALM}")
must(send("PUT", f"/admin/realms/{REALM}", token=ADMIN,
          body={"attributes": {"clientRegistrationAnonymousEnabled": "true"}}), 204,
     "turn anonymous registration on")
# Anonymous registration from 127.0.0.1: the default Trusted Hosts policy trusts nobody.
policies = must(send("GET", f"/admin/realms/{REALM}/components?type={POLICY_TYPE}", token=ADMIN),
                200, "list registration policies").json()
(trusted,) = [p for p in policies if p.get("subType") == "anonymous" and p.get("providerId") == "trusted-hosts"]
trusted["config"] = {"trusted-hosts": ["127.0.0.1", "localhost"],
                     "host-sending-registration-request-must-match": ["true"],
                     "client-uris-must-match": ["false"]}
must(send("PUT", f"/admin/realms/{REALM}/components/{trusted['id']}", token=ADMIN, body=trusted), 204,
     "trust 127.0.0.1 for anonymous registration")
# The control: an ordinary anonymous registration through the `default` provider works, so
# the over-long one below is refused for its length, not for who sent it.
must(send("POST", f"/realms/{REALM}/clients-registrations/default",
          body={"clientId": f"control-{secrets.token_hex(4)}"}), 201,
     "control: anonymous registration of an ordinary clientId")

# ----------------------------------------------------------------------------- cases

results: list[tuple[bool, str, str]] = []


def is_json_error(r: Response) -> bool:
    body = r.json()
    return (
        "json" in r.headers.get("content-type", "")
        and isinstance(body, dict)
        and any(isinstance(body.get(k), str) and body[k] for k in ("error", "errorMessage"))
    )


def expect_4xx(name: str, r: Response) -> None:
    ok = 400 <= r.status < 500 and is_json_error(r)
    results.append((ok, name, r.describe()))


def expect_4xx_or_empty(name: str, r: Response) -> None:
    """A query filter: a NUL can never match a stored value, so 200 [] is as right as a 4xx."""
    ok = (400 <= r.status < 500 and is_json_error(r)) or (r.status == 200 and r.json() == [])
    results.append((ok, name, r.describe()))


def expect_2xx(name: str, r: Response) -> None:
    results.append((200 <= r.status < 300, name, r.describe()))


def basic(user: str, password: str) -> dict[str, str]:
    raw = f"{user}:{password}".encode()
    return {"authorization": "Basic " + base64.b64encode(raw).decode()}


def b64url(obj) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")


TOKEN = f"/realms/{REALM}/protocol/openid-connect/token"

expect_4xx("NUL in a realm path segment: GET /realms/a%00b/.well-known/openid-configuration",
           send("GET", "/realms/a%00b/.well-known/openid-configuration"))
for provider in ("default", "openid-connect"):
    expect_4xx(f"NUL in a registration path client id: GET /realms/master/clients-registrations/{provider}/a%00b",
               send("GET", f"/realms/master/clients-registrations/{provider}/a%00b", token=ADMIN))
expect_4xx("NUL in a registration path client id: GET /realms/master/clients-registrations/install/a%00b",
           send("GET", "/realms/master/clients-registrations/install/a%00b", token=ADMIN))
expect_4xx("NUL in token-endpoint client_id (password grant)",
           send("POST", TOKEN, form={"grant_type": "password", "client_id": "a\0b",
                                     "username": "u", "password": "p"}))
expect_4xx("NUL in token-endpoint client_id (client_credentials, client_secret_post)",
           send("POST", TOKEN, form={"grant_type": "client_credentials", "client_id": "a\0b",
                                     "client_secret": "x"}))
expect_4xx("NUL in token-endpoint username (master/admin-cli password grant)",
           send("POST", "/realms/master/protocol/openid-connect/token",
                form={"grant_type": "password", "client_id": "admin-cli",
                      "username": "ad\0min", "password": "x"}))
for endpoint in ("token/introspect", "revoke"):
    expect_4xx(f"NUL in client_id at the {endpoint} endpoint",
               send("POST", f"/realms/{REALM}/protocol/openid-connect/{endpoint}",
                    form={"token": "x", "client_id": "a\0b", "client_secret": "x"}))
expect_4xx("NUL in a client assertion's iss and sub (private_key_jwt shape)",
           send("POST", TOKEN, form={
               "grant_type": "client_credentials",
               "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
               "client_assertion": ".".join([
                   b64url({"alg": "RS256", "typ": "JWT"}),
                   b64url({"iss": "a\0b", "sub": "a\0b", "aud": "x", "exp": 4102444800, "jti": "a\0b"}),
                   "AAAA"])}))
r = send("GET", f"/realms/{REALM}/protocol/openid-connect/auth?"
         + urllib.parse.urlencode({"client_id": "a\0b", "redirect_uri": "https://app.example/cb",
                                   "response_type": "code", "state": "s"}))
# The authorization endpoint answers a browser: an error page, not JSON.
results.append((400 <= r.status < 500, "NUL in client_id at the authorization endpoint (an error page)",
                r.describe()))
expect_4xx("NUL in a Basic header client id (base64 of 'conf\\0:x')",
           send("POST", TOKEN, form={"grant_type": "client_credentials"}, headers=basic("conf\0", "x")))
expect_4xx_or_empty("NUL in an admin query filter: GET /admin/realms/master/clients?clientId=a%00b",
                    send("GET", "/admin/realms/master/clients?clientId=a%00b", token=ADMIN))
expect_4xx_or_empty("NUL in an admin query filter: GET /admin/realms/master/users?username=a%00b",
                    send("GET", "/admin/realms/master/users?username=a%00b", token=ADMIN))
for query in ("admin-events?resourceTypes=a%00b", "admin-events?authUser=a%00b", "events?client=a%00b",
              "events?user=a%00b"):
    expect_4xx_or_empty(f"NUL in an event filter: GET /admin/realms/master/{query}",
                        send("GET", f"/admin/realms/master/{query}", token=ADMIN))
expect_4xx('NUL in a JSON clientId: POST /admin/realms/{r}/clients {"clientId":"a\\u0000b"}',
           send("POST", f"/admin/realms/{REALM}/clients", token=ADMIN, body={"clientId": "a\0b"}))
expect_4xx('NUL in a stored JSON name: POST /admin/realms/{r}/clients {"name":"a\\u0000b"}',
           send("POST", f"/admin/realms/{REALM}/clients", token=ADMIN,
                body={"clientId": f"nul-name-{secrets.token_hex(4)}", "name": "a\0b"}))
expect_4xx('NUL in a JSON realm name: POST /admin/realms {"realm":"a\\u0000b"}',
           send("POST", "/admin/realms", token=ADMIN, body={"realm": "a\0b", "enabled": True}))
expect_4xx('NUL in a registered client_name: POST /realms/{r}/clients-registrations/openid-connect',
           send("POST", f"/realms/{REALM}/clients-registrations/openid-connect",
                body={"client_name": "a\0b", "redirect_uris": ["https://app.example/cb"]}))
expect_4xx("NUL in a redirect URI: anonymous POST /realms/{r}/clients-registrations/openid-connect",
           send("POST", f"/realms/{REALM}/clients-registrations/openid-connect",
                body={"redirect_uris": ["https://app.example/a\0b"]}))
expect_4xx('NUL in a client attribute: anonymous POST /realms/{r}/clients-registrations/default',
           send("POST", f"/realms/{REALM}/clients-registrations/default",
                body={"clientId": f"nul-attr-{secrets.token_hex(4)}", "attributes": {"a": "b\0c"}}))
ADMIN_R = f"/admin/realms/{REALM}"
# Lookups first: once a NUL name were stored, a lookup of it would find it.
for path in ("/clients/a%00b", "/users/a%00b", "/roles/a%00b", "/client-scopes/a%00b", "/components/a%00b"):
    expect_4xx(f"NUL in an admin path id: GET /admin/realms/{{r}}{path}",
               send("GET", ADMIN_R + path, token=ADMIN))
expect_4xx_or_empty("NUL in an admin search: GET /admin/realms/{r}/users?search=a%00b",
                    send("GET", ADMIN_R + "/users?search=a%00b", token=ADMIN))
for what, path, body in (
    ("username", "/users", {"username": "a\0b"}),
    ("realm role name", "/roles", {"name": "a\0b"}),
    ("client scope name", "/client-scopes", {"name": "a\0b", "protocol": "openid-connect"}),
    ("component name", "/components", {"name": "a\0b", "providerId": "max-clients",
                                       "providerType": POLICY_TYPE, "subType": "anonymous",
                                       "config": {"max-clients": ["5"]}}),
):
    expect_4xx(f"NUL in a JSON {what}: POST /admin/realms/{{r}}{path}",
               send("POST", ADMIN_R + path, token=ADMIN, body=body))
for what, path, body in (
    ("username", "/users", {"username": "u" * 3000}),
    ("realm role name", "/roles", {"name": "r" * 3000}),
    ("client scope name", "/client-scopes", {"name": "s" * 3000, "protocol": "openid-connect"}),
):
    expect_4xx(f"3,000-character {what}: POST /admin/realms/{{r}}{path}",
               send("POST", ADMIN_R + path, token=ADMIN, body=body))
expect_4xx("3,000-character clientId: POST /admin/realms/{r}/clients",
           send("POST", f"/admin/realms/{REALM}/clients", token=ADMIN, body={"clientId": LONG}))
expect_4xx("3,000-character clientId: anonymous POST /realms/{r}/clients-registrations/default",
           send("POST", f"/realms/{REALM}/clients-registrations/default", body={"clientId": LONG}))
expect_4xx("3,000-character realm name: POST /admin/realms",
           send("POST", "/admin/realms", token=ADMIN, body={"realm": "r" * 3000, "enabled": True}))
expect_4xx("3,000-character token-endpoint client_id",
           send("POST", TOKEN, form={"grant_type": "client_credentials", "client_id": LONG,
                                     "client_secret": "x"}))
# The device grant (RFC 8628): NUL and over-long values at the device endpoint, the
# device_code poll and the user code page.
DEVICE_CLIENT = f"tv-{secrets.token_hex(4)}"
must(send("POST", f"/admin/realms/{REALM}/clients", token=ADMIN,
          body={"clientId": DEVICE_CLIENT, "publicClient": True,
                "attributes": {"oauth2.device.authorization.grant.enabled": "true"}}), 201,
     "create a device client")
DEVICE = f"/realms/{REALM}/protocol/openid-connect/auth/device"
for what, form in (("client_id", {"client_id": "a\0b"}),
                   ("client_id of 3,000 characters", {"client_id": LONG}),
                   ("scope", {"client_id": DEVICE_CLIENT, "scope": "a\0b"}),
                   ("resource", {"client_id": DEVICE_CLIENT, "resource": "https://a.example/\0"}),
                   ("nonce of 3,000 characters", {"client_id": DEVICE_CLIENT, "nonce": LONG})):
    expect_4xx(f"device endpoint: NUL or over-long {what}", send("POST", DEVICE, form=form))
for code in ("a\0b", LONG):
    expect_4xx("device_code poll: NUL or over-long device_code",
               send("POST", TOKEN, form={"grant_type": "urn:ietf:params:oauth:grant-type:device_code",
                                         "client_id": DEVICE_CLIENT, "device_code": code}))
for code in ("a\0b", LONG):
    r = send("POST", f"/realms/{REALM}/device", form={"user_code": code})
    # A browser page: the form again with its error, or a 4xx page; never a 5xx.
    results.append((r.status < 500, "user code page: NUL or over-long user_code", r.describe()))
slash_realm = f"slash-{secrets.token_hex(4)}"
expect_2xx("trailing slash: POST /admin/realms/ creates a realm",
           send("POST", "/admin/realms/", token=ADMIN, body={"realm": slash_realm, "enabled": True}))
expect_2xx("trailing slash: GET /realms/master/.well-known/openid-configuration/",
           send("GET", "/realms/master/.well-known/openid-configuration/"))

# A flood of refused unauthenticated requests: the server stores at most 60 of their events
# per address and window (limits::REFUSED_EVENTS_STORED) and only counts the rest.
flood_realm = f"flood-{secrets.token_hex(4)}"
must(send("POST", "/admin/realms", token=ADMIN, body={"realm": flood_realm, "enabled": True}),
     201, "create the flood realm")
for i in range(200):
    send("POST", f"/realms/{flood_realm}/clients-registrations/openid-connect",
         body={"redirect_uris": ["https://app.example/cb"]})
    send("DELETE", f"/realms/{flood_realm}/clients-registrations/default/{secrets.token_hex(100)}",
         token=secrets.token_hex(16))
events = send("GET", f"/admin/realms/{flood_realm}/events?max=100000", token=ADMIN).json() or []
results.append((0 < len(events) <= 60, "400 refused unauthenticated registration requests store at most 60 events",
                f"{len(events)} events stored"))

failed = [r for r in results if not r[0]]
for ok, name, got in results:
    print(f"[{LABEL}] {'ok  ' if ok else 'FAIL'} {name}" + (f" ({got[:3]})" if ok else f"\n           got {got}"))
print(f"[{LABEL}] hostile input: {len(results) - len(failed)} of {len(results)} cases as required")
sys.exit(1 if failed else 0)
