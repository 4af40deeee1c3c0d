#!/usr/bin/env python3
"""The benchmark the project keeps (BENCHMARKS.md): one command, on one machine, one run.

    bench/run.py [--runs 3] [--duration 10] [--connections 64] [--scale 100000] [--skip-peer]

It builds the release binary; in each run it starts Latchkey on SQLite, then the peer
(node-oidc-provider, bench/peer), then Latchkey on PostgreSQL, drives each with wrk on
loopback after a warm-up, and prints a markdown table of medians: requests/s, p50 and p99
latency, errors, the server's CPU and peak RSS, and the Latchkey/peer ratio (the median of
the runs' own ratios). Scenarios: (a) registration (a new client per request, with an
initial access token), (b) client_credentials tokens for one client, ES256 and RS256, (c)
discovery, (d) registration read with the registration access token, (e) refresh: the
refresh_token grant for a public client, each request spending a refresh token and the
next request on that connection using the one it returned (rotation every time). It also measures the
machine's raw signing ceiling (openssl speed) and start to ready on an empty folder, then,
in --runs rounds, (b) and (a) on a server holding 1,000 clients and on one holding --scale
(--scale 1000000 for a million), one after the other, and start to ready on the latter. A
benchmark, not a test: nothing here fails on speed.
"""

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET_DIR = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
BIN = os.path.join(TARGET_DIR, "release", "latchkey")
PG_URL = os.environ.get("LATCHKEY_BENCH_PG", "postgres://postgres@127.0.0.1:5432")
IAT = "bench-initial-access-token"
TICKS = os.sysconf("SC_CLK_TCK")


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def sh(cmd, **kw):
    return subprocess.run(cmd, shell=isinstance(cmd, str), check=True, text=True, capture_output=True, **kw).stdout


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def http(method, url, body=None, headers=None, form=False):
    data = None
    headers = dict(headers or {})
    if body is not None:
        if form:
            data = body.encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        else:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            raw = r.read()
            return r.status, dict(r.headers), (json.loads(raw) if raw else None)
    except urllib.error.HTTPError as e:
        raw = e.read()
        raise RuntimeError(f"{method} {url} -> {e.code}: {raw[:300]!r}")


def ensure_wrk():
    if not shutil.which("wrk"):
        subprocess.run("apt-get update -q && apt-get install -y -q wrk", shell=True, check=True)


def build_release():
    log("building the release binary")
    subprocess.run(["cargo", "build", "--release", "--bin", "latchkey"], cwd=ROOT, check=True,
                   env=dict(os.environ, CARGO_TARGET_DIR=TARGET_DIR))


def wait_ready(url, proc, timeout=60):
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    return (time.perf_counter() - t0) * 1000
        except Exception:
            time.sleep(0.002)
    raise RuntimeError(f"not ready: {url}")


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return int(parts[11]) + int(parts[12])


def peak_rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def reset_peak_rss(pid):
    """From here on VmHWM is the peak of what follows (Linux: 5 > /proc/PID/clear_refs)."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
    except OSError as e:
        log(f"cannot reset the peak RSS of {pid} ({e}); reporting the process's lifetime peak")


# ------------------------------------------------------------------------------ servers

class Latchkey:
    def __init__(self, db, workdir=None, binary=None):
        self.db = db  # "sqlite" or a postgres URL
        self.workdir = workdir or tempfile.mkdtemp(prefix="lk-bench-")
        self.binary = binary or BIN  # another build, for an A/B (ab.py, start_to_ready.py)
        self.proc = None

    @property
    def name(self):
        return "latchkey-sqlite" if self.db == "sqlite" else "latchkey-postgres"

    def start(self):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        args = [self.binary, "start-dev", "--http-port", str(self.port)]
        if self.db != "sqlite":
            args += ["--db-url", self.db]
        env = dict(os.environ, LATCHKEY_BOOTSTRAP_ADMIN_USERNAME="admin", LATCHKEY_ANONYMOUS_REGISTRATION_LIMIT="0", LATCHKEY_FAILED_TOKEN_LIMIT="0", LATCHKEY_BOOTSTRAP_ADMIN_PASSWORD="bench-pw", LATCHKEY_LOG="warn")
        self.proc = subprocess.Popen(args, cwd=self.workdir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.ready_ms = wait_ready(self.base + "/health/ready", self.proc)

    def stop(self):
        if self.proc:
            self.proc.terminate()
            self.proc.wait()
            self.proc = None

    def admin(self):
        _, _, t = http("POST", self.base + "/realms/master/protocol/openid-connect/token",
                       "grant_type=password&client_id=admin-cli&username=admin&password=bench-pw", form=True)
        return {"Authorization": "Bearer " + t["access_token"]}

    def refresh_tokens(self, alg, n):
        """(client_id, n refresh tokens) of a public client with the password grant, one
        password grant per token (each a session of its own)."""
        realm = "bench-" + alg.lower()
        self.setup(alg)
        a = self.admin()
        base = f"{self.base}/admin/realms/{realm}"
        for path, body in (("/clients", {"clientId": "bench-refresh", "publicClient": True,
                                         "directAccessGrantsEnabled": True}),
                           ("/users", {"username": "bench", "enabled": True, "email": "bench@example.com",
                                       "firstName": "Bench", "lastName": "User",
                                       "credentials": [{"type": "password", "value": "bench-pw", "temporary": False}]})):
            try:
                http("POST", base + path, body, a)
            except RuntimeError as e:
                if "409" not in str(e):
                    raise
        token = f"{self.base}/realms/{realm}/protocol/openid-connect/token"
        form = "grant_type=password&client_id=bench-refresh&username=bench&password=bench-pw&scope=openid"
        return "bench-refresh", [http("POST", token, form, form=True)[2]["refresh_token"] for _ in range(n)]

    def setup(self, alg):
        """A realm signing with `alg`, open to registration with a long-lived IAT."""
        realm = "bench-" + alg.lower()
        a = self.admin()
        try:
            http("POST", self.base + "/admin/realms", {"realm": realm, "enabled": True, "defaultSignatureAlgorithm": alg}, a)
        except RuntimeError as e:
            if "409" not in str(e):
                raise
        _, _, iat = http("POST", f"{self.base}/admin/realms/{realm}/clients-initial-access", {"count": 2_000_000_000, "expiration": 0}, a)
        reg = f"{self.base}/realms/{realm}/clients-registrations/openid-connect"
        return {"registration": reg, "token": f"{self.base}/realms/{realm}/protocol/openid-connect/token",
                "discovery": f"{self.base}/realms/{realm}/.well-known/openid-configuration", "iat": iat["token"]}


class Peer:
    name = "node-oidc-provider"

    def __init__(self, alg, store_capacity=None):
        self.alg = alg
        # The stock in-memory adapter is an LRU of ~1000 entries: for the scale runs the
        # peer gets the same adapter with room for every client (bench/peer/README.md).
        self.store_capacity = store_capacity
        self.proc = None

    def start(self):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, PORT=str(self.port), ALG=self.alg, IAT=IAT, NODE_ENV="production")
        if self.store_capacity:
            env["STORE_CAPACITY"] = str(self.store_capacity)
        self.proc = subprocess.Popen(["node", os.path.join(ROOT, "bench", "peer", "server.mjs")], env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.ready_ms = wait_ready(self.base + "/.well-known/openid-configuration", self.proc)

    def stop(self):
        if self.proc:
            self.proc.terminate()
            self.proc.wait()
            self.proc = None

    def refresh_tokens(self, alg, n):
        """(client_id, n refresh tokens) of a public client registered with the IAT, minted
        by the peer's own bench endpoint (node-oidc-provider issues refresh tokens only
        through authorization codes, which need an interaction)."""
        _, _, c = http("POST", self.base + "/reg", {"grant_types": ["authorization_code", "refresh_token"],
                                                    "response_types": ["code"], "redirect_uris": ["http://127.0.0.1/cb"],
                                                    "token_endpoint_auth_method": "none"},
                       {"Authorization": "Bearer " + IAT})
        _, _, out = http("POST", self.base + "/bench/refresh-tokens", {"client_id": c["client_id"], "n": n})
        return c["client_id"], out["refresh_tokens"]

    def setup(self, alg):
        return {"registration": self.base + "/reg", "token": self.base + "/token",
                "discovery": self.base + "/.well-known/openid-configuration", "iat": IAT}


def serve_document(redirect):
    """A loopback server for one client ID metadata document (public, one redirect URI,
    `Cache-Control: max-age=3600`); returns its URL and the list of paths fetched."""
    hits = []
    box = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            body = json.dumps(box["doc"]).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Cache-Control", "max-age=3600")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    url = f"http://127.0.0.1:{srv.server_address[1]}/client.json"
    box["doc"] = {"client_id": url, "client_name": "Bench host", "redirect_uris": [redirect],
                  "token_endpoint_auth_method": "none", "grant_types": ["authorization_code"]}
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return url, hits


# ------------------------------------------------------------------------------ load

def lua(method, body=None, headers=None):
    lines = [f'wrk.method = "{method}"']
    if body is not None:
        lines.append("wrk.body = " + json.dumps(body))
    for k, v in (headers or {}).items():
        lines.append(f'wrk.headers["{k}"] = {json.dumps(v)}')
    f = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
    f.write("\n".join(lines) + "\n")
    f.close()
    return f.name


def parse_ms(v):
    m = re.match(r"([\d.]+)(us|ms|s)", v)
    n = float(m.group(1))
    return {"us": n / 1000, "ms": n, "s": n * 1000}[m.group(2)]


def wrk(url, script, duration, connections, threads=2):
    out = sh(["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency", "-s", script, url])
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = parse_ms(re.search(r"\s50%\s+(\S+)", out).group(1))
    p99 = parse_ms(re.search(r"\s99%\s+(\S+)", out).group(1))
    non2xx = int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)) else 0
    sock = sum(int(x) for x in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    return {"rps": rps, "p50": p50, "p99": p99, "errors": non2xx + sock, "requests": requests}


def measure(server, url, script, args):
    wrk(url, script, 2, args.connections)  # warm-up
    # Peak RSS under this scenario's load, the same way for every server; what the process
    # reached before (start, setup, earlier scenarios) is kept as "lifetime".
    lifetime = peak_rss_mb(server.proc.pid)
    reset_peak_rss(server.proc.pid)
    t0, c0 = time.perf_counter(), cpu_ticks(server.proc.pid)
    r = wrk(url, script, args.duration, args.connections)
    elapsed = time.perf_counter() - t0
    r["cpu"] = 100.0 * (cpu_ticks(server.proc.pid) - c0) / TICKS / elapsed
    r["rss"] = peak_rss_mb(server.proc.pid)
    r["lifetime_rss"] = max(lifetime, r["rss"])
    return r


def refresh_script(client_id, tokens, threads=2):
    """wrk's script for scenario (e): each thread keeps a queue of refresh tokens (one per
    connection it drives); a request takes one, its answer puts the rotated one back. A
    failed refresh loses its token (counted as an error). Every connection's next request
    is made after its answer, so a token is never in two requests."""
    per = [tokens[i::threads] for i in range(threads)]
    f = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
    f.write(f"""local lists = {{{", ".join(json.dumps(",".join(p)) for p in per)}}}
local n = 0
function setup(thread)
  n = n + 1
  thread:set("tokens", lists[n])
  thread:set("verified", n ~= 1)
end
function init(args)
  queue = {{}}
  for t in string.gmatch(tokens, "[^,]+") do table.insert(queue, t) end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
end
function request()
  -- wrk calls the first thread's request() once before the run to check it: that call
  -- must not spend a token.
  if not verified then
    verified = true
    return wrk.format(nil, nil, nil, "grant_type=refresh_token")
  end
  local t = table.remove(queue, 1) or "spent"
  return wrk.format(nil, nil, nil, "grant_type=refresh_token&client_id={client_id}&refresh_token=" .. t)
end
function response(status, headers, body)
  local t = string.match(body, '"refresh_token"%s*:%s*"([^"]+)"')
  if t then table.insert(queue, t) end
end
""")
    f.close()
    return f.name


def measure_refresh(server, alg, args):
    """Scenario (e): as `measure`, with a fresh set of refresh tokens for the warm-up and
    another for the measured run (one per connection each), the latter made after the
    warm-up (the peer's stock in-memory store keeps about 1,000 entries: tokens made
    before the warm-up's churn would be gone)."""
    client_id, warm = server.refresh_tokens(alg, args.connections)
    wrk_url = server.setup(alg)["token"]
    wrk(wrk_url, refresh_script(client_id, warm), 2, args.connections)
    client_id, timed = server.refresh_tokens(alg, args.connections)
    lifetime = peak_rss_mb(server.proc.pid)
    reset_peak_rss(server.proc.pid)
    t0, c0 = time.perf_counter(), cpu_ticks(server.proc.pid)
    r = wrk(wrk_url, refresh_script(client_id, timed), args.duration, args.connections)
    elapsed = time.perf_counter() - t0
    r["cpu"] = 100.0 * (cpu_ticks(server.proc.pid) - c0) / TICKS / elapsed
    r["rss"] = peak_rss_mb(server.proc.pid)
    r["lifetime_rss"] = max(lifetime, r["rss"])
    return r


def registration_script(ep):
    """wrk's script for scenario (a): a new client per request, with the initial access token."""
    return lua("POST", json.dumps({"grant_types": ["client_credentials"], "response_types": []}),
               {"Content-Type": "application/json", "Authorization": "Bearer " + ep["iat"]})


def register(ep):
    _, _, body = http("POST", ep["registration"], {"grant_types": ["client_credentials"], "response_types": [],
                                                    "token_endpoint_auth_method": "client_secret_basic"},
                      {"Authorization": "Bearer " + ep["iat"]})
    return body


def scenarios(server, alg, args, which):
    ep = server.setup(alg)
    out = {}
    if "registration" in which:
        out["registration"] = measure(server, ep["registration"], registration_script(ep), args)
    if "token" in which:
        c = register(ep)
        import base64
        basic = base64.b64encode(f"{c['client_id']}:{c['client_secret']}".encode()).decode()
        s = lua("POST", "grant_type=client_credentials", {"Content-Type": "application/x-www-form-urlencoded", "Authorization": "Basic " + basic})
        out[f"client_credentials {alg}"] = measure(server, ep["token"], s, args)
    if "discovery" in which:
        out["discovery"] = measure(server, ep["discovery"], lua("GET"), args)
    if "read" in which:
        c = register(ep)
        s = lua("GET", None, {"Authorization": "Bearer " + c["registration_access_token"]})
        out["registration read"] = measure(server, c["registration_client_uri"], s, args)
    if "refresh" in which:
        out[f"refresh {alg}"] = measure_refresh(server, alg, args)
    return out


def seed(server, alg, n, connections=32):
    """Registers at least n clients through the registration endpoint, in 5 s bursts of
    wrk until enough were admitted. Returns the seconds it took."""
    ep = server.setup(alg)
    s = registration_script(ep)
    t0, done = time.perf_counter(), 0
    while done < n:
        out = sh(["wrk", "-t2", f"-c{connections}", "-d5s", "-s", s, ep["registration"]])
        total = int(re.search(r"(\d+) requests in", out).group(1))
        bad = int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)) else 0
        if total - bad == 0:
            raise RuntimeError("seeding admits nothing: " + out)
        done += total - bad
        log(f"  seeded {done}/{n}")
    return time.perf_counter() - t0


def run_ratios(xs, peer):
    """Latchkey/peer from each run's own pair of measurements."""
    return [x["rps"] / p["rps"] for x, p in zip(xs, peer)]


def seed_few(server, alg, n, workers=8):
    """Registers exactly n clients, with a few parallel requests (for small counts, where
    `seed`'s 5 s bursts would register far more)."""
    from concurrent.futures import ThreadPoolExecutor
    ep = server.setup(alg)
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda _: register(ep), range(n)))


def measure_latchkey(server, args, record):
    server.start()
    try:
        record(server.name, scenarios(server, "ES256", args, args.es256))
        if args.rs256:
            record(server.name, scenarios(server, "RS256", args, args.rs256))
    finally:
        server.stop()


# ------------------------------------------------------------------------------ main

def signing_ceiling():
    out = sh(f"openssl speed -multi {os.cpu_count()} -seconds 3 ecdsap256 rsa2048 2>/dev/null")
    def last(pattern):
        lines = [l for l in out.splitlines() if re.search(pattern, l)]
        nums = re.findall(r"[\d.]+", lines[-1]) if lines else []
        return float(nums[-2]) if len(nums) >= 2 else float("nan")
    return {"ES256": last(r"ecdsa.*nistp256|nistp256"), "RS256": last(r"rsa\s*2048")}


def drop_and_checkpoint(db):
    """Drops a run's PostgreSQL database and checkpoints at once, so that the server
    measured next does not share the cores with PostgreSQL writing that run's pages later
    (its background writer, autovacuum, the timed checkpoint)."""
    for sql in (f"DROP DATABASE IF EXISTS {db}", "CHECKPOINT"):
        subprocess.run(["psql", PG_URL + "/test", "-qc", sql], check=False, capture_output=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--scale", type=int, default=100_000)
    ap.add_argument("--skip-peer", action="store_true")
    ap.add_argument("--skip-postgres", action="store_true")
    ap.add_argument("--scenarios", default="registration,token,discovery,read,refresh",
                    help="comma-separated subset (client_credentials RS256 runs with `token`)")
    ap.add_argument("--scenarios-only", action="store_true",
                    help="only the scenarios: no signing ceiling, start to ready or scale rounds")
    ap.add_argument("--binary", help="a latchkey already built (no release build)")
    args = ap.parse_args()
    args.es256 = set(args.scenarios.split(","))
    args.rs256 = {"token"} & args.es256

    ensure_wrk()
    if args.binary:
        global BIN
        BIN = os.path.abspath(args.binary)
    else:
        build_release()
    if not args.skip_peer:
        subprocess.run("npm ci --no-audit --no-fund --silent", shell=True, check=True, cwd=os.path.join(ROOT, "bench", "peer"))

    ceiling = None if args.scenarios_only else signing_ceiling()
    results = {}  # (target, scenario) -> [runs, in order]

    def record(target, res):
        for k, v in res.items():
            results.setdefault((target, k), []).append(v)

    for run in range(args.runs):
        log(f"run {run + 1}/{args.runs}")
        # Latchkey on SQLite, then the peer, then Latchkey on PostgreSQL: the two whose
        # ratio the targets name are measured one right after the other, so that a machine
        # that slows down or speeds up between them moves both alike.
        measure_latchkey(Latchkey("sqlite"), args, record)
        if not args.skip_peer:
            # Refresh on a peer of its own whose store holds every live token: the stock
            # one (about 1,000 entries) drops grants and tokens in use under the churn of
            # rotation (a quarter of the refreshes failed in a 3 s trial).
            for alg, which, capacity in (("ES256", args.es256 - {"refresh"}, None),
                                         ("ES256", args.es256 & {"refresh"}, 1_000_000),
                                         ("RS256", args.rs256, None)):
                if not which:
                    continue
                p = Peer(alg, store_capacity=capacity)
                p.start()
                try:
                    record(p.name, scenarios(p, alg, args, which))
                finally:
                    p.stop()
        if not args.skip_postgres:
            db = f"lk_bench_{os.getpid()}_{run}"
            sh(["psql", PG_URL + "/test", "-qc", f"CREATE DATABASE {db}"])
            try:
                measure_latchkey(Latchkey(f"{PG_URL}/{db}"), args, record)
            finally:
                drop_and_checkpoint(db)

    if args.scenarios_only:
        report(args, results, None, None, None, None, None)
        return

    # Start to ready on an empty folder.
    empty = []
    for _ in range(5):
        t = Latchkey("sqlite")
        t.start()
        empty.append(t.ready_ms)
        t.stop()

    # The cost of scale, in rounds: a fresh server holding 1,000 clients and one holding
    # --scale, measured one after the other (their order alternates), so that the change
    # comes from the clients, not from the machine's pace between two parts of the run.
    scale_rounds = []
    for rnd in range(args.runs):
        log(f"scale round {rnd + 1}/{args.runs}: seeding 1,000 and {args.scale:,} clients")
        small, large = Latchkey("sqlite"), Latchkey("sqlite")
        small.start()
        large.start()
        try:
            seed_few(small, "ES256", 1000)
            seed_s = seed(large, "ES256", args.scale)
            # Tokens first: registration adds clients to both as it is measured.
            res = {"small": {}, "large": {}}
            for which in ({"token"}, {"registration"}):
                order = (("small", small), ("large", large)) if rnd % 2 == 0 else (("large", large), ("small", small))
                for key, server in order:
                    res[key].update(scenarios(server, "ES256", args, which))
            scale_rounds.append((seed_s, res))
        finally:
            small.stop()
            large.stop()
            shutil.rmtree(small.workdir, ignore_errors=True)
        if rnd < args.runs - 1:
            shutil.rmtree(large.workdir, ignore_errors=True)
    restart = []
    for _ in range(5):
        large.start()
        restart.append(large.ready_ms)
        large.stop()
    shutil.rmtree(large.workdir, ignore_errors=True)
    peer_scale = None
    if not args.skip_peer:
        p = Peer("ES256", store_capacity=10 * args.scale)
        p.start()
        try:
            seed(p, "ES256", args.scale)
            peer_scale = scenarios(p, "ES256", args, {"registration", "token"})
        finally:
            p.stop()

    report(args, results, ceiling, empty, restart, scale_rounds, peer_scale)


def report(args, results, ceiling, empty, restart, scale_rounds, peer_scale):
    med = lambda xs, k: statistics.median(x[k] for x in xs)
    names = ["registration", "client_credentials ES256", "client_credentials RS256", "discovery", "registration read",
             "refresh ES256"]
    targets = ["latchkey-sqlite"] + ([] if args.skip_postgres else ["latchkey-postgres"]) + ([] if args.skip_peer else ["node-oidc-provider"])
    print(f"## Results ({time.strftime('%Y-%m-%d')}, {args.runs} runs, medians; wrk -t2 -c{args.connections} -d{args.duration}s after a 2 s warm-up;"
          f" load generator on the same {os.cpu_count()}-core machine)\n")
    print("| Scenario | Server | req/s | p50 ms | p99 ms | errors | CPU % | peak RSS MB | vs peer |")
    print("|---|---|---|---|---|---|---|---|---|")
    for n in names:
        peer = results.get(("node-oidc-provider", n))
        for t in targets:
            xs = results.get((t, n))
            if not xs:
                continue
            ratio = f"{statistics.median(run_ratios(xs, peer)):.1f}×" if peer and t != "node-oidc-provider" else ""
            print(f"| {n} | {t} | {med(xs, 'rps'):,.0f} | {med(xs, 'p50'):.2f} | {med(xs, 'p99'):.2f} | {int(med(xs, 'errors'))} |"
                  f" {med(xs, 'cpu'):.0f} | {med(xs, 'rss'):.0f} | {ratio} |")
    print("\n'vs peer' is the median of the runs' own ratios (each run measures Latchkey on SQLite,"
          " then the peer, then Latchkey on PostgreSQL). Each run's req/s, in order, and its ratio:")
    for n in names:
        peer = results.get(("node-oidc-provider", n))
        for t in targets:
            xs = results.get((t, n))
            if xs:
                ratios = f" ({', '.join(f'{r:.1f}×' for r in run_ratios(xs, peer))})" if peer and t != "node-oidc-provider" else ""
                print(f"- {n}, {t}: " + ", ".join(f"{x['rps']:,.0f}" for x in xs) + ratios)
    lifetime = [f"{t} {max(x['lifetime_rss'] for (tt, _), xs in results.items() if tt == t for x in xs):.0f} MB" for t in targets]
    print("\nPeak RSS is the peak during each scenario's measured load. The processes' lifetime peaks"
          " (start, setup including an admin password login, every scenario): " + ", ".join(lifetime) + ".")
    if ceiling is None:
        return
    print(f"\nRaw signing ceiling (openssl speed -multi {os.cpu_count()}): ES256 {ceiling['ES256']:,.0f} sign/s, RS256 {ceiling['RS256']:,.0f} sign/s.")
    for alg in ("ES256", "RS256"):
        xs = results.get(("latchkey-sqlite", f"client_credentials {alg}"))
        if xs:
            print(f"client_credentials {alg} on SQLite = {100 * med(xs, 'rps') / ceiling[alg]:.0f}% of the raw {alg} ceiling.")
    print(f"\nStart to ready (start-dev, SQLite): empty folder median {statistics.median(empty):.0f} ms ({', '.join(f'{x:.0f}' for x in empty)});"
          f" with {args.scale:,} clients median {statistics.median(restart):.0f} ms ({', '.join(f'{x:.0f}' for x in restart)}).")
    seeded = statistics.median(seed_s for seed_s, _ in scale_rounds)
    print(f"\nAt scale: in each of {len(scale_rounds)} rounds, a fresh server holding 1,000 clients and one holding"
          f" {args.scale:,} (registered in {seeded:.0f} s, median), measured one after the other, tokens first;"
          " registration adds clients to both as it runs. Medians, and the change from 1,000 to"
          f" {args.scale:,} (median of the rounds' own changes):\n")
    print("| Scenario | Server | req/s with 1,000 | req/s with scale | p99 ms with 1,000 | p99 ms with scale | change | each round |")
    print("|---|---|---|---|---|---|---|---|")
    for n in ("registration", "client_credentials ES256"):
        small = [r["small"][n] for _, r in scale_rounds]
        large = [r["large"][n] for _, r in scale_rounds]
        changes = [100 * (b["rps"] / a["rps"] - 1) for a, b in zip(small, large)]
        print(f"| {n} | latchkey-sqlite | {med(small, 'rps'):,.0f} | {med(large, 'rps'):,.0f} | {med(small, 'p99'):.2f} |"
              f" {med(large, 'p99'):.2f} | {statistics.median(changes):+.0f}% | {', '.join(f'{c:+.0f}%' for c in changes)} |")
    if peer_scale:
        for n, r in peer_scale.items():
            base = results.get(("node-oidc-provider", n))
            change = f"{100 * (r['rps'] / med(base, 'rps') - 1):+.0f}% (against its runs' median)" if base else ""
            print(f"| {n} | node-oidc-provider | {med(base, 'rps') if base else float('nan'):,.0f} | {r['rps']:,.0f} |"
                  f" {med(base, 'p99') if base else float('nan'):.2f} | {r['p99']:.2f} | {change} | one round |")


if __name__ == "__main__":
    main()
