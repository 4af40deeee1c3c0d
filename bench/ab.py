#!/usr/bin/env python3
"""A/B of Latchkey builds under registration load, per registration (or, with
`--scenario token`, client_credentials tokens for one registered client, per token; with
`--scenario refresh`, run.py's refresh scenario, per refresh; `--scenario discovery`, the
realm's OpenID configuration; `--scenario read`, a registration read with the client's
registration access token).

Starts each binary in turn on SQLite (`start-dev`, through `run.py`'s server and setup;
with `--postgres`, on a fresh PostgreSQL database each time, dropped after), warms up for
2 s, then registers clients (or asks for tokens) with wrk for `--duration` seconds at 64
connections, and reads from /proc what the server used for them: CPU (user + system),
context switches (all threads), write calls and bytes written (WAL, database and
sockets); on PostgreSQL also the CPU of every `postgres` process of the machine (the
database's share of the work); and how busy the whole machine was (`/proc/stat`). The
binaries alternate, round after round, so a machine that speeds up or slows down
meanwhile affects each alike: on a busy 2-vCPU machine requests/s alone drifts more than
most changes move it, the per-request figures much less. One binary measures that build
alone.

    bench/ab.py --rounds 3 /tmp/before /tmp/after
    bench/ab.py --scenario token --rounds 3 /tmp/before /tmp/after
    bench/ab.py --scenario refresh --postgres --rounds 5 /tmp/before /tmp/after
    bench/ab.py --scenario read --postgres --rounds 3 /tmp/build
"""

import argparse
import base64
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402


def counters(pid):
    switches = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                switches += sum(int(line.split()[1]) for line in f if "ctxt_switches" in line)
        except OSError:
            pass  # a thread that ended meanwhile
    with open(f"/proc/{pid}/io") as f:
        io = dict(line.split(": ") for line in f.read().splitlines())
    return {"ticks": run.cpu_ticks(pid), "switches": switches,
            "writes": int(io["syscw"]), "bytes": int(io["wchar"])}


def target(ep, scenario):
    """(url, wrk script) of the scenario."""
    if scenario == "read":
        c = run.register(ep)
        return c["registration_client_uri"], run.lua(
            "GET", None, {"Authorization": "Bearer " + c["registration_access_token"]})
    if scenario == "discovery":
        return ep["discovery"], run.lua("GET")
    if scenario == "token":
        c = run.register(ep)
        basic = base64.b64encode(f"{c['client_id']}:{c['client_secret']}".encode()).decode()
        return ep["token"], run.lua("POST", "grant_type=client_credentials", {
            "Content-Type": "application/x-www-form-urlencoded", "Authorization": "Basic " + basic})
    return ep["registration"], run.registration_script(ep)


def postgres_ticks():
    """CPU ticks of every `postgres` process now running."""
    total = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/comm") as f:
                if f.read().startswith("postgres"):
                    total += run.cpu_ticks(pid)
        except OSError:
            continue  # ended meanwhile
    return total


def machine():
    """(idle, total) jiffies of every CPU (`/proc/stat`)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return v[3] + v[4], sum(v)


def once(binary, duration, connections, scenario, postgres):
    db = f"lk_ab_{os.getpid()}" if postgres else None
    if db:
        run.sh(["psql", run.PG_URL + "/test", "-qc", f"CREATE DATABASE {db}"])
    server = run.Latchkey(f"{run.PG_URL}/{db}" if db else "sqlite", binary=binary)
    server.start()
    try:
        ep = server.setup("ES256")
        if scenario == "refresh":
            # As run.py's scenario (e): one token per connection for the warm-up, fresh
            # ones for the measured run.
            client_id, warm = server.refresh_tokens("ES256", connections)
            run.wrk(ep["token"], run.refresh_script(client_id, warm), 2, connections)
            client_id, timed = server.refresh_tokens("ES256", connections)
            url, script = ep["token"], run.refresh_script(client_id, timed)
        else:
            url, script = target(ep, scenario)
            run.wrk(url, script, 2, connections)  # warm-up
        before, pg_before, m_before = counters(server.proc.pid), postgres_ticks(), machine()
        r = run.wrk(url, script, duration, connections)
        after, pg_after, m_after = counters(server.proc.pid), postgres_ticks(), machine()
    finally:
        server.stop()
        shutil.rmtree(server.workdir)
        if db:
            run.drop_and_checkpoint(db)
    n = r["requests"]
    d = {k: after[k] - before[k] for k in after}
    return {"rps": r["rps"], "p99": r["p99"], "errors": r["errors"],
            "cpu_us": d["ticks"] * 1e6 / run.TICKS / n, "switches": d["switches"] / n,
            "writes": d["writes"] / n, "kib": d["bytes"] / n / 1024,
            "db_us": (pg_after - pg_before) * 1e6 / run.TICKS / n,
            "busy": 100.0 * (1 - (m_after[0] - m_before[0]) / (m_after[1] - m_before[1]))}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--scenario", choices=["registration", "token", "refresh", "discovery", "read"], default="registration")
    ap.add_argument("--postgres", action="store_true",
                    help="on PostgreSQL (LATCHKEY_BENCH_PG, a fresh database each time) instead of SQLite")
    ap.add_argument("binaries", nargs="+")
    args = ap.parse_args()
    print("| Round | Build | req/s | p99 ms | errors | CPU µs | database CPU µs | machine busy % "
          "| context switches | write calls | KiB written |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in range(1, args.rounds + 1):
        for b in args.binaries:
            m = once(b, args.duration, args.connections, args.scenario, args.postgres)
            db = f"{m['db_us']:.0f}" if args.postgres else "-"
            print(f"| {r} | {b} | {m['rps']:,.0f} | {m['p99']:.1f} | {m['errors']} | {m['cpu_us']:.0f} | {db} "
                  f"| {m['busy']:.0f} "
                  f"| {m['switches']:.2f} | {m['writes']:.1f} | {m['kib']:.1f} |", flush=True)


if __name__ == "__main__":
    main()
