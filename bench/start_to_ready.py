#!/usr/bin/env python3
# Start-to-ready of `latchkey start-dev`: spawn the release binary and poll /health/ready
# every 2 ms until it answers 200 (`run.py`'s server). Runs on empty folders (first start:
# migrations, master realm, RSA and EC key generation, Argon2id of the admin password),
# then on a folder that already holds a database. With several binaries, their starts
# alternate, so a machine that speeds up or slows down meanwhile affects each alike (an
# A/B of two builds).
#   bench/start_to_ready.py target/release/latchkey
#   bench/start_to_ready.py --runs 40 /tmp/before /tmp/after
import argparse, os, shutil, statistics, sys, tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import Latchkey  # noqa: E402


def once(binary, workdir):
    server = Latchkey("sqlite", workdir=workdir, binary=binary)
    server.start()
    server.stop()
    return server.ready_ms


def summary(v):
    v = sorted(v)
    n = len(v)
    return (f"median {statistics.median(v):.0f}, mean {statistics.mean(v):.0f}, "
            f"p10 {v[n // 10]:.0f}, p90 {v[(9 * n) // 10]:.0f} ms (n={n})")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=7, help="starts of each kind per binary")
    ap.add_argument("binaries", nargs="+")
    args = ap.parse_args()
    empty = {b: [] for b in args.binaries}
    existing = {b: [] for b in args.binaries}
    for _ in range(args.runs):
        for b in args.binaries:
            d = tempfile.mkdtemp()
            empty[b].append(once(b, d))
            shutil.rmtree(d)
    dirs = {b: tempfile.mkdtemp() for b in args.binaries}
    for b in args.binaries:
        once(b, dirs[b])
    for _ in range(args.runs):
        for b in args.binaries:
            existing[b].append(once(b, dirs[b]))
    for b in args.binaries:
        shutil.rmtree(dirs[b])
        print(f"{b}: empty folder {summary(empty[b])}; existing data {summary(existing[b])}")


main()
