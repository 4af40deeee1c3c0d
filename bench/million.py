#!/usr/bin/env python3
"""Latchkey holding many clients in one realm: what a million costs against a thousand.

    bench/million.py --clients 1000,1000000 [--backends sqlite,postgres] [--binary PATH]
                     [--duration 10] [--cache-entries N] [--rounds 1] [--hot 1000]

For each backend and client count: a fresh server (start-dev) gets a realm and one
client registered over HTTP (confidential, client_credentials, with its service account);
the server stops and the script copies that client's rows (the client, its service-account
user, the user's role mappings) N - 1 times straight into the database, with new ids,
`clientId`s `seed-<n>` and the same secret sealed for each row (AES-256-GCM under the
folder's master key, bound to the row as the server binds it). SQLite: one transaction of
executemany; PostgreSQL: COPY. No HTTP, so a million takes a minute or two, not hours.
Then, on the server started again: start to ready (three starts, median), RSS idle, a
`client_credentials` load over a working set of --hot clients (1,000 by default: a random
one of the same --hot of the N per request, so what is measured is the realm's size, not
the cache's misses), a `client_credentials` load spread over all N clients (each request
a random one, so at a million nearly every request is a client not seen before: the
cache's worst case and one last-used write per client), registration (a new client per
request), then both at once (tokens over every client and a flood of registrations),
each with its peak RSS. With --rounds N each token load is measured N times on the
same server (the table shows the median, each round is logged). A benchmark, not a test; figures from a loaded machine are
only comparable within a run.
"""

import argparse
import base64
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import (PG_URL, Latchkey, ensure_wrk, http, log, lua, measure,  # noqa: E402
                 peak_rss_mb, register, registration_script, reset_peak_rss, sh, wrk)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET_DIR = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
ALG = "ES256"


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def master_key(workdir):
    with open(os.path.join(workdir, "data", "latchkey.key")) as f:
        return base64.b64decode(f.read().strip())


def sealer(key):
    """The server's `SecretBox::seal`: base64url(nonce || ciphertext || tag), the row's
    context as associated data."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    aead = AESGCM(key)

    def seal(plaintext, context):
        nonce = os.urandom(12)
        raw = nonce + aead.encrypt(nonce, plaintext.encode(), context.encode())
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    return seal


def row_id():
    """A time-ordered UUID (version 7), as the server gives rows created at a high rate."""
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    n = (ms << 80) | (0x7 << 76) | ((rand >> 68) << 64) | (0b10 << 62) | (rand & ((1 << 62) - 1))
    return str(uuid.UUID(int=n))


class Db:
    """The server's database, by backend: rows out, rows in."""

    def __init__(self, server):
        self.server = server
        self.sqlite = server.db == "sqlite"

    def path(self):
        return os.path.join(self.server.workdir, "data", "latchkey.db")

    def rows(self, table, where, arg):
        if self.sqlite:
            con = sqlite3.connect(self.path())
            con.row_factory = sqlite3.Row
            out = [dict(r) for r in con.execute(f"SELECT * FROM {table} WHERE {where} = ?", (arg,))]
            con.close()
            return out
        q = f"SELECT row_to_json(t) FROM {table} t WHERE {where} = '{arg}'"
        return [json.loads(line) for line in sh(["psql", self.server.db, "-qAtc", q]).splitlines() if line]

    def insert(self, table, columns, rows):
        """Every row in one go (a generator of tuples)."""
        if self.sqlite:
            con = sqlite3.connect(self.path())
            con.execute("PRAGMA journal_mode=WAL")
            marks = ", ".join("?" * len(columns))
            with con:
                con.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)
            con.close()
            return
        copy = f"\\copy {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv)"
        p = subprocess.Popen(["psql", self.server.db, "-qc", copy], stdin=subprocess.PIPE, text=True)
        import csv
        w = csv.writer(p.stdin)
        for r in rows:
            w.writerow(["" if v is None else v for v in r])
        p.stdin.close()
        if p.wait() != 0:
            raise RuntimeError(f"COPY {table} failed")

    def analyze(self):
        if self.sqlite:
            con = sqlite3.connect(self.path())
            con.execute("ANALYZE")
            con.close()
        else:
            sh(["psql", self.server.db, "-qc", "VACUUM ANALYZE"])


# What a cache miss on the token path costs: one statement, the client by `clientId` with
# its service account and the account's role mappings, each join through an index. (The
# statements are the store's, with the seeded realm's values; the others are the reads
# by key the cache also serves.)
MISSES = [
    ("client with its account and roles",
     "SELECT c.*, u.*, m.role_id FROM clients c "
     "LEFT JOIN users u ON u.service_account_client = c.id AND u.realm_id = c.realm_id "
     "LEFT JOIN user_roles m ON m.user_id = u.id "
     "WHERE c.realm_id = '{realm}' AND c.client_id = 'seed-{last}'"),
    ("client by id", "SELECT * FROM clients WHERE realm_id = '{realm}' AND id = '{client}'"),
    ("service account", "SELECT * FROM users WHERE realm_id = '{realm}' AND service_account_client = '{client}'"),
    ("role mappings", "SELECT role_id FROM user_roles WHERE user_id = '{user}'"),
    ("expiry page", "SELECT * FROM clients WHERE realm_id = '{realm}' AND id > '' "
                    "AND COALESCE(last_used, created_at / 86400000) < 1 AND registration_kind <> 'admin' "
                    "ORDER BY id LIMIT 500"),
]


def plans(db, values):
    """Each miss query's plan, one line each."""
    out = {}
    for name, sql in MISSES:
        sql = sql.format(**values)
        if db.sqlite:
            con = sqlite3.connect(db.path())
            out[name] = "; ".join(r[-1] for r in con.execute("EXPLAIN QUERY PLAN " + sql))
            con.close()
        else:
            lines = sh(["psql", db.server.db, "-qAtc", "EXPLAIN " + sql]).splitlines()
            out[name] = "; ".join(l.strip() for l in lines if "cost=" in l)
    return out


def seed(server, n):
    """Registers one client over HTTP and copies its rows until the realm holds n clients
    (besides its built-in ones). Returns (client_id prefix, secret, seconds)."""
    ep = server.setup(ALG)
    template = register(ep)
    secret = template["client_secret"]
    db = Db(server)
    client = db.rows("clients", "client_id", template["client_id"])[0]
    user = db.rows("users", "service_account_client", client["id"])[0]
    mapping = db.rows("user_roles", "user_id", user["id"])
    server.stop()
    seal = sealer(master_key(server.workdir))
    t0 = time.perf_counter()
    ids = [(row_id(), row_id()) for _ in range(n - 1)]
    ccols = list(client.keys())
    ucols = list(user.keys())

    def clients():
        for i, (cid, _) in enumerate(ids):
            r = dict(client)
            name = f"seed-{i}"
            r["id"], r["client_id"] = cid, name
            r["doc"] = client["doc"].replace(client["client_id"], name).replace(client["id"], cid)
            r["secret_sealed"] = seal(secret, f"client-secret:{cid}")
            yield tuple(r[c] for c in ccols)

    def users():
        for i, (cid, uid) in enumerate(ids):
            r = dict(user)
            r["id"], r["service_account_client"] = uid, cid
            r["username"] = user["username"].replace(template["client_id"].lower(), f"seed-{i}")
            r["doc"] = (user["doc"].replace(template["client_id"].lower(), f"seed-{i}")
                        .replace(user["id"], uid).replace(client["id"], cid))
            yield tuple(r[c] for c in ucols)

    mcols = list(mapping[0].keys()) if mapping else []

    def mappings():
        for _, uid in ids:
            for m in mapping:
                yield tuple(uid if c == "user_id" else m[c] for c in mcols)

    db.insert("clients", ccols, clients())
    db.insert("users", ucols, users())
    if mapping:
        db.insert("user_roles", mcols, mappings())
    db.analyze()
    took = time.perf_counter() - t0
    log(f"  seeded {n - 1:,} clients in {took:.0f} s")
    if ids:
        cid, uid = ids[-1]
        for name, plan in plans(db, {"realm": client["realm_id"], "last": len(ids) - 1,
                                     "client": cid, "user": uid}).items():
            log(f"  plan, {name}: {plan}")
    return "seed-", secret, took


def token_script(prefix, n, secret):
    """client_credentials with client_secret_post, a random one of the first n - 1 seeded
    clients per request."""
    f = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
    f.write(f'''wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
math.randomseed(os.time())
request = function()
  local body = "grant_type=client_credentials&client_id={prefix}" .. math.random(0, {n - 2}) .. "&client_secret={secret}"
  return wrk.format(nil, nil, nil, body)
end
''')
    f.close()
    return f.name


def one(backend, n, args):
    if backend == "sqlite":
        server = Latchkey("sqlite", binary=args.binary)
        dbname = None
    else:
        dbname = f"lk_million_{os.getpid()}_{n}"
        sh(["psql", PG_URL + "/test", "-qc", f"CREATE DATABASE {dbname}"])
        server = Latchkey(f"{PG_URL}/{dbname}", binary=args.binary)
    out = {"backend": backend, "clients": n}
    try:
        server.start()
        prefix, secret, out["seed_s"] = seed(server, n)
        starts = []
        for _ in range(3):
            server.start()
            starts.append(server.ready_ms)
            server.stop()
        out["ready_ms"] = statistics.median(starts)
        out["ready_runs"] = starts
        server.start()
        time.sleep(1)
        out["rss_idle"] = rss_mb(server.proc.pid)
        ep = server.setup(ALG)
        hot = [measure(server, ep["token"], token_script(prefix, min(args.hot, n), secret), args)
               for _ in range(args.rounds)]
        out["hot_rounds"] = [{k: r[k] for k in ("rps", "p99", "rss", "errors")} for r in hot]
        out["hot"] = sorted(hot, key=lambda r: r["rps"])[len(hot) // 2]
        rounds = [measure(server, ep["token"], token_script(prefix, n, secret), args)
                  for _ in range(args.rounds)]
        out["token_rounds"] = [{k: r[k] for k in ("rps", "p99", "rss", "errors")} for r in rounds]
        out["token"] = sorted(rounds, key=lambda r: r["rps"])[len(rounds) // 2]
        out["registration"] = measure(server, ep["registration"], registration_script(ep), args)
        # Both at once: tokens over every client and a flood of registrations.
        reset_peak_rss(server.proc.pid)
        results = {}
        t = threading.Thread(target=lambda: results.update(
            reg=wrk(ep["registration"], registration_script(ep), args.duration, 16, threads=1)))
        t.start()
        results["token"] = wrk(ep["token"], token_script(prefix, n, secret), args.duration, 48, threads=1)
        t.join()
        results["rss"] = peak_rss_mb(server.proc.pid)
        out["mixed"] = results
        out["cache_entries"] = os.environ.get("LATCHKEY_CACHE_ENTRIES", "default")
    finally:
        server.stop()
        shutil.rmtree(server.workdir, ignore_errors=True)
        if dbname:
            for sql in (f"DROP DATABASE IF EXISTS {dbname}", "CHECKPOINT"):
                subprocess.run(["psql", PG_URL + "/test", "-qc", sql], check=False, capture_output=True)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", default="1000,1000000")
    ap.add_argument("--backends", default="sqlite,postgres")
    ap.add_argument("--binary", default=os.path.join(TARGET_DIR, "quick", "latchkey"))
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--cache-entries", type=int, help="LATCHKEY_CACHE_ENTRIES for the server")
    ap.add_argument("--rounds", type=int, default=1, help="token loads measured per server")
    ap.add_argument("--hot", type=int, default=1000, help="clients in the working-set token load")
    args = ap.parse_args()
    if args.cache_entries:
        os.environ["LATCHKEY_CACHE_ENTRIES"] = str(args.cache_entries)
    ensure_wrk()
    rows = []
    for backend in args.backends.split(","):
        for n in (int(x) for x in args.clients.split(",")):
            log(f"{backend}, {n:,} clients")
            r = one(backend, n, args)
            log(json.dumps(r))
            rows.append(r)
    print(f"| backend | clients | start to ready ms (runs) | RSS idle MB | tokens/s, {args.hot:,} clients | p99 ms | RSS MB"
          f" | tokens/s, every client | p99 ms | RSS MB"
          f" | registrations/s | reg p99 ms | RSS reg MB | mixed tokens/s + reg/s | RSS mixed MB |")
    print("|" + "---|" * 15)
    for r in rows:
        h, t, g, m = r["hot"], r["token"], r["registration"], r["mixed"]
        runs = ", ".join(f"{x:.0f}" for x in r["ready_runs"])
        print(f"| {r['backend']} | {r['clients']:,} | {r['ready_ms']:.0f} ({runs}) | {r['rss_idle']:.0f}"
              f" | {h['rps']:,.0f} | {h['p99']:.1f} | {h['rss']:.0f}"
              f" | {t['rps']:,.0f} | {t['p99']:.1f} | {t['rss']:.0f} | {g['rps']:,.0f} | {g['p99']:.1f} | {g['rss']:.0f}"
              f" | {m['token']['rps']:,.0f} + {m['reg']['rps']:,.0f} | {m['rss']:.0f} |")
    print(f"\nErrors (non-2xx or socket): " + ", ".join(
        f"{r['backend']} {r['clients']:,}: tokens {r['hot']['errors']}+{r['token']['errors']}, registration {r['registration']['errors']},"
        f" mixed {r['mixed']['token']['errors']}+{r['mixed']['reg']['errors']}" for r in rows))


if __name__ == "__main__":
    main()
