#!/usr/bin/env python3
"""What SQLite alone costs per registration: the floor under Latchkey's writer.

    bench/sqlite_floor.py [--registrations 30000] [--batches 1,15,64] [--runs 3]

Registers 100 clients through a real `start-dev` (release binary; `run.py`'s server and
registration) to get real rows and the real schema, stops it, then, in this process and on one thread, writes registrations
the way the group commit does: per batch one `BEGIN IMMEDIATE … COMMIT` holding, per
registration, the client row, its service-account user, its role mapping and its
CLIENT_REGISTER event, with fresh time-ordered ids (UUID version 7), in WAL mode with
synchronous=NORMAL, the server's settings. No HTTP, no sqlx, no second thread: what is
left is SQLite's B-tree inserts, the WAL writes and the checkpoints. Each batch size runs
--runs times on a fresh database (medians); the same loop without the inserts measures the
harness's own Python cost, which is subtracted.

Python's `sqlite3` module links the system's SQLite (printed), not the copy bundled in the
binary; both write the same file format with the same algorithms.
"""

import argparse
import os
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import Latchkey, register  # noqa: E402

TABLES = ["clients", "users", "user_roles", "events"]


def sample():
    """The schema and one registration's rows, from 100 registrations on a real server."""
    server = Latchkey("sqlite")
    server.start()
    try:
        ep = server.setup("ES256")
        for _ in range(100):
            register(ep)
    finally:
        server.stop()
    src = sqlite3.connect(os.path.join(server.workdir, "data", "latchkey.db"))
    schema = [r[0] for r in src.execute(
        "SELECT sql FROM sqlite_schema WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%'")]
    page_size = src.execute("PRAGMA page_size").fetchone()[0]
    realm = src.execute("SELECT id FROM realms WHERE name = 'bench-es256'").fetchone()[0]
    client = src.execute("SELECT * FROM clients WHERE realm_id = ? ORDER BY created_at DESC LIMIT 1", (realm,)).fetchone()
    user = src.execute("SELECT * FROM users WHERE service_account_client = ?", (client[0],)).fetchone()
    role = src.execute("SELECT * FROM user_roles WHERE user_id = ?", (user[0],)).fetchone()
    event = src.execute("SELECT * FROM events WHERE client_id = ? AND type = 'CLIENT_REGISTER'", (client[2],)).fetchone()
    cols = {t: [r[1] for r in src.execute(f"PRAGMA table_info({t})")] for t in TABLES}
    src.close()
    subprocess.run(["rm", "-rf", server.workdir])
    return schema, page_size, dict(zip(TABLES, [client, user, role, event])), cols


def v7():
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big") & ((1 << 74) - 1)
    n = (ms << 80) | (0x7 << 76) | ((rand >> 62) << 64) | (0b10 << 62) | (rand & ((1 << 62) - 1))
    return str(uuid.UUID(int=n))


def run(schema, page_size, rows, cols, batch, n, write=True):
    work = tempfile.mkdtemp(prefix="lk-floor-")
    db = sqlite3.connect(os.path.join(work, "t.db"), isolation_level=None)
    db.execute(f"PRAGMA page_size={page_size}")
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    for sql in schema:
        db.execute(sql)
    ins = {t: f"INSERT INTO {t} ({', '.join(cols[t])}) VALUES ({', '.join('?' * len(cols[t]))})" for t in TABLES}
    c, u, r, e = (list(rows[t]) for t in TABLES)
    ci = {k: i for i, k in enumerate(cols["clients"])}
    ui = {k: i for i, k in enumerate(cols["users"])}
    ri = {k: i for i, k in enumerate(cols["user_roles"])}
    ei = {k: i for i, k in enumerate(cols["events"])}
    t0, r0 = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
    for _ in range(n // batch):
        cs, us, rs, es = [], [], [], []
        for _ in range(batch):
            cid, client_id, uid = v7(), v7(), v7()
            c[ci["id"]], c[ci["client_id"]] = cid, client_id
            u[ui["id"]], u[ui["username"]], u[ui["service_account_client"]] = uid, "service-account-" + client_id, cid
            r[ri["user_id"]] = uid
            e[ei["id"]], e[ei["client_id"]] = v7(), client_id
            for rows_of, row in ((cs, c), (us, u), (rs, r), (es, e)):
                rows_of.append(tuple(row))
        if write:
            db.execute("BEGIN IMMEDIATE")
            for t, values in zip(TABLES, (cs, us, rs, es)):
                db.executemany(ins[t], values)
            db.execute("COMMIT")
    wall, r1 = time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF)
    db.close()
    subprocess.run(["rm", "-rf", work])
    per = 1e6 / (n // batch * batch)
    return wall * per, (r1.ru_utime - r0.ru_utime) * per, (r1.ru_stime - r0.ru_stime) * per


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--registrations", type=int, default=30_000)
    ap.add_argument("--batches", default="1,15,64")
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    schema, page_size, rows, cols = sample()
    sizes = {t: sum(len(v) if isinstance(v, str) else 8 for v in rows[t] if v is not None) for t in TABLES}
    print(f"SQLite {sqlite3.sqlite_version}, page size {page_size}; bytes per registration: "
          + ", ".join(f"{t} {s}" for t, s in sizes.items()))
    print("| batch | registrations/s | wall µs | SQLite user µs | SQLite sys µs | harness µs |")
    print("|---|---|---|---|---|---|")
    for batch in map(int, a.batches.split(",")):
        n = a.registrations if batch > 1 else a.registrations // 3
        dry = statistics.median(run(schema, page_size, rows, cols, batch, n, write=False)[0] for _ in range(a.runs))
        res = [run(schema, page_size, rows, cols, batch, n) for _ in range(a.runs)]
        wall, user, sys_ = (statistics.median(x[i] for x in res) for i in range(3))
        floor = wall - dry
        print(f"| {batch} | {1e6 / floor:,.0f} | {floor:.1f} | {max(user - dry, 0):.1f} | {sys_:.1f} | {dry:.1f} |")
    print("wall µs: per registration, the harness's own Python time subtracted; registrations/s: "
          "what one core doing nothing else could commit")


if __name__ == "__main__":
    main()
