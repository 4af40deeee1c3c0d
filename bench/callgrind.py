#!/usr/bin/env python3
"""Instructions per request, and where they go: the release binary under callgrind.

    bench/callgrind.py token [--alg ES256] [--requests 2000] [--top 30]
    bench/callgrind.py registration|discovery|read|refresh|authorize|authorize-document|token-miss ...

Counts instructions, not seconds, so the figure repeats whatever else the machine is doing
(a loaded 2-core machine makes wall-clock profiles meaningless). It starts `start-dev` on an
empty folder under valgrind with collection off, prepares a realm (signing algorithm
--alg), an initial access token and one client, switches collection on, sends --requests
requests of the scenario over one keep-alive connection, switches it off and prints the
total, instructions per request and the functions that cost the most (inclusive).
`authorize` is an authorization request (code + PKCE, no session: the login page and a
pending sign-in stored) for a client an admin created; `authorize-document` the same for a
client ID metadata document client, its document served by this script on loopback and
fetched once during the warm-up, so the measured requests are served from the cache.
`refresh` is the refresh_token grant of a public client's password-grant session (scope
openid), each request spending the refresh token the one before it returned.
`token-miss` is a `client_credentials` request for a client never seen before: one client
is registered per request (warm-up included) before collection starts, and each request
names the next one, so every request misses the store's read cache for its client (and
queues that client's first last-used day).
"""

import argparse
import re
import base64
import http.client
import urllib.parse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("LATCHKEY_BIN") or os.path.join(
    os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "latchkey")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Conn:
    def __init__(self, port):
        self.c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def req(self, method, path, body=None, headers=None, form=False):
        headers = dict(headers or {})
        data = None
        if body is not None:
            if form:
                data = body
                headers["Content-Type"] = "application/x-www-form-urlencoded"
            else:
                data = json.dumps(body)
                headers["Content-Type"] = "application/json"
        self.c.request(method, path, body=data, headers=headers)
        r = self.c.getresponse()
        raw = r.read()
        return r.status, (json.loads(raw) if raw and raw[:1] in b"{[" else None), r


def authorization_setup(c, admin, document):
    """The realm `bench` with metadata documents on and Trusted Hosts admitting loopback
    redirects; the authorization request's path for a created or a document client."""
    redirect = "http://127.0.0.1:9/callback"
    c.req("PUT", "/admin/realms/bench", {"attributes": {"clientIdMetadataDocumentEnabled": "true"}}, admin)
    _, comps, _ = c.req("GET", "/admin/realms/bench/components?type="
                        "org.keycloak.services.clientregistration.policy.ClientRegistrationPolicy", None, admin)
    th = next(x for x in comps if x["providerId"] == "trusted-hosts" and x["subType"] == "anonymous")
    th["config"]["trusted-hosts"] = ["127.0.0.1"]
    c.req("PUT", f"/admin/realms/bench/components/{th['id']}", th, admin)
    if document:
        client_id, _ = run.serve_document(redirect)
    else:
        client_id = "registered"
        c.req("POST", "/admin/realms/bench/clients", {"clientId": client_id, "publicClient": True,
                                                      "redirectUris": [redirect]}, admin)
    q = urllib.parse.urlencode({"response_type": "code", "client_id": client_id, "redirect_uri": redirect,
                                "state": "s", "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
                                "code_challenge_method": "S256"})
    return f"/realms/bench/protocol/openid-connect/auth?{q}"


PG_LOG = "/var/log/postgresql/postgresql-15-main.log"
# Requests before collection starts.
WARM_UP = 50


def statements_log_start(db_url):
    """Turns on statement logging for the server's connections to this database: set on
    the database, then its sessions are ended so that the server's pool opens new ones."""
    db = db_url.rsplit("/", 1)[1].split("?")[0]
    subprocess.run(["psql", db_url, "-qc", f"ALTER DATABASE {db} SET log_statement = 'all'"], check=True)
    # Settings apply to new sessions: the server's pool reconnects after this.
    subprocess.run(["psql", db_url, "-qc", "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name <> 'psql'"],
                   check=True, capture_output=True)
    time.sleep(1.5)


def count_statements(db_url, start, requests):
    """Statements the database's sessions logged since `start`, per request, by kind (each
    is one round trip: sqlx sends a query's parse, bind and execute together)."""
    import collections
    pids = subprocess.run(["psql", db_url, "-Atc", "SELECT pid FROM pg_stat_activity WHERE datname = "
                           "current_database() AND pid <> pg_backend_pid()"],
                          capture_output=True, text=True, check=True).stdout.split()
    kinds = collections.Counter()
    with open(PG_LOG, errors="replace") as f:
        f.seek(start)
        for line in f:
            m = re.search(r"\[(\d+)\] (?:\S+ )?LOG:  (?:statement|execute [^:]*): (\S+(?: \S+)?)", line)
            if m and m.group(1) in pids:
                kinds[m.group(2).upper()] += 1
    total = sum(kinds.values())
    print(f"statements: {total:,} for {requests:,} requests, {total / requests:.2f} per request")
    for k, n in kinds.most_common():
        print(f"  {n / requests:6.2f}  {k}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("scenario", choices=["token", "registration", "discovery", "read", "refresh",
                                         "authorize", "authorize-document", "token-miss"])
    ap.add_argument("--alg", default="ES256")
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--top", type=int, default=30)
    ap.add_argument("--db-url", help="postgres://… (a database of its own) instead of SQLite")
    ap.add_argument("--statements", action="store_true",
                    help="with --db-url: also count the statements PostgreSQL ran per request "
                         "(log_statement=all on that database, read back from its log)")
    a = ap.parse_args()
    if a.statements and not a.db_url:
        sys.exit("--statements needs --db-url")

    work = tempfile.mkdtemp(prefix="lk-callgrind-")
    out = os.path.join(work, "callgrind.out")
    port = free_port()
    env = dict(os.environ, LATCHKEY_BOOTSTRAP_ADMIN_PASSWORD="pw", RUST_LOG="warn")
    proc = subprocess.Popen(
        ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}",
         BIN, "start-dev", "--http-port", str(port)] + (["--db-url", a.db_url] if a.db_url else []),
        env=env, cwd=work, stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "server.log"), "w"))
    deadline = time.time() + 120
    while True:
        try:
            c = Conn(port)
            if c.req("GET", "/health/ready")[0] == 200:
                break
        except OSError:
            pass
        if time.time() > deadline or proc.poll() is not None:
            sys.exit(f"server did not become ready; see {work}/server.log")
        time.sleep(0.5)

    c = Conn(port)
    _, tok, _ = c.req("POST", "/realms/master/protocol/openid-connect/token",
                      "grant_type=password&client_id=admin-cli&username=admin&password=pw", form=True)
    admin = {"Authorization": "Bearer " + tok["access_token"]}
    c.req("POST", "/admin/realms", {"realm": "bench", "enabled": True,
                                    "defaultSignatureAlgorithm": a.alg}, admin)
    _, iat, _ = c.req("POST", "/admin/realms/bench/clients-initial-access",
                      {"expiration": 0, "count": 10_000_000}, admin)
    iat_h = {"Authorization": "Bearer " + iat["token"]}
    reg_path = "/realms/bench/clients-registrations/openid-connect"
    meta = {"grant_types": ["client_credentials"], "client_name": "bench",
            "token_endpoint_auth_method": "client_secret_basic"}
    st, client, _ = c.req("POST", reg_path, meta, iat_h)
    assert st == 201, client
    basic = base64.b64encode(f"{client['client_id']}:{client['client_secret']}".encode()).decode()
    rat_h = {"Authorization": "Bearer " + client["registration_access_token"]}

    # (refresh) a public client's password-grant session, refreshed request after request,
    # each request spending the token the previous one returned.
    refresh = {}
    if a.scenario == "refresh":
        c.req("POST", "/admin/realms/bench/clients", {"clientId": "bench-refresh", "publicClient": True,
                                                      "directAccessGrantsEnabled": True}, admin)
        c.req("POST", "/admin/realms/bench/users", {
            "username": "bench", "enabled": True, "email": "bench@example.com", "firstName": "Bench",
            "lastName": "User", "credentials": [{"type": "password", "value": "bench-pw", "temporary": False}]},
            admin)
        _, t, _ = c.req("POST", "/realms/bench/protocol/openid-connect/token",
                        "grant_type=password&client_id=bench-refresh&username=bench&password=bench-pw&scope=openid",
                        form=True)
        refresh["token"] = t["refresh_token"]

    auth_path = None
    if a.scenario.startswith("authorize"):
        auth_path = authorization_setup(c, admin, a.scenario == "authorize-document")
    fresh = []
    if a.scenario == "token-miss":
        for _ in range(WARM_UP + a.requests):
            st, other, _ = c.req("POST", reg_path, meta, iat_h)
            assert st == 201, other
            fresh.append(base64.b64encode(f"{other['client_id']}:{other['client_secret']}".encode()).decode())
        fresh.reverse()

    def one():
        if auth_path:
            st, body, _ = c.req("GET", auth_path)
        elif a.scenario in ("token", "token-miss"):
            creds = fresh.pop() if fresh else basic
            st, body, _ = c.req("POST", "/realms/bench/protocol/openid-connect/token",
                                "grant_type=client_credentials", {"Authorization": "Basic " + creds}, form=True)
        elif a.scenario == "registration":
            st, body, _ = c.req("POST", reg_path, meta, iat_h)
            st = 200 if st == 201 else st
        elif a.scenario == "discovery":
            st, body, _ = c.req("GET", "/realms/bench/.well-known/openid-configuration")
        elif a.scenario == "refresh":
            st, body, _ = c.req("POST", "/realms/bench/protocol/openid-connect/token",
                                "grant_type=refresh_token&client_id=bench-refresh&refresh_token="
                                + refresh["token"], form=True)
            refresh["token"] = body.get("refresh_token", "") if st == 200 else ""
        else:
            st, body, _ = c.req("GET", f"{reg_path}/{client['client_id']}", None, rat_h)
        assert st == 200, (st, body)

    if a.statements:
        statements_log_start(a.db_url)
    for _ in range(WARM_UP):  # warm-up: caches filled, connection pools open
        one()
    log_at = os.path.getsize(PG_LOG) if a.statements else None
    subprocess.run(["callgrind_control", "-i", "on", str(proc.pid)], check=True, capture_output=True)
    for _ in range(a.requests):
        one()
    subprocess.run(["callgrind_control", "-i", "off", str(proc.pid)], check=True, capture_output=True)
    if log_at is not None:
        count_statements(a.db_url, log_at, a.requests)
    proc.terminate()
    proc.wait(timeout=120)

    ann = subprocess.run(["callgrind_annotate", "--inclusive=yes", f"--threshold=99", out],
                         capture_output=True, text=True).stdout
    total = None
    for line in ann.splitlines():
        if "PROGRAM TOTALS" in line:
            total = int(line.split()[0].replace(",", ""))
    print(f"scenario {a.scenario} alg {a.alg}: {a.requests} requests, "
          f"{total:,} instructions, {total // a.requests:,} per request")
    lines = [l for l in ann.splitlines() if l.strip() and l.strip()[0].isdigit()]
    for l in lines[1:a.top + 1]:
        print(l[:200])
    print(f"(callgrind output: {out})")


if __name__ == "__main__":
    main()
