#!/usr/bin/env python3
"""Where the cores go under registration load: per server thread, the share of the time it
ran and the share it was runnable but waiting for a core (`/proc/PID/task/*/schedstat`);
the load generator's own CPU; and the whole machine's split from `/proc/stat`.

Starts the binary on SQLite (`start-dev`, through `run.py`'s server and setup), warms up
for 2 s, then registers clients with wrk for `--duration` seconds at 64 connections.

    bench/threads.py "$CARGO_TARGET_DIR/release/latchkey"
"""

import argparse
import os
import resource
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402


def threads(pid):
    """{tid: (name, ns on a CPU, ns runnable and waiting)}"""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                name = f.read().strip()
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                ran, waited, _ = f.read().split()
            out[tid] = (name, int(ran), int(waited))
        except OSError:
            pass  # a thread that ended meanwhile
    return out


def machine():
    with open("/proc/stat") as f:
        return [int(x) for x in f.readline().split()[1:9]]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("binary")
    args = ap.parse_args()

    server = run.Latchkey("sqlite", binary=args.binary)
    server.start()
    try:
        ep = server.setup("ES256")
        script = run.registration_script(ep)
        run.wrk(ep["registration"], script, 2, args.connections)  # warm-up
        # wrk is the only child that exits during the load (the server is reaped later),
        # so the children's CPU time grows by exactly wrk's.
        wrk0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        before, m0, t0 = threads(server.proc.pid), machine(), time.perf_counter()
        r = run.wrk(ep["registration"], script, args.duration, args.connections)
        elapsed = time.perf_counter() - t0
        after, m1 = threads(server.proc.pid), machine()
        wrk1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    finally:
        server.stop()
        shutil.rmtree(server.workdir)

    wrk_cpu = (wrk1.ru_utime + wrk1.ru_stime) - (wrk0.ru_utime + wrk0.ru_stime)
    print(f"registrations/s {r['rps']:,.0f}, p99 {r['p99']:.2f} ms; wrk on a CPU {100 * wrk_cpu / elapsed:.0f}% of a core\n")
    print("| Server threads | count | on a CPU | runnable, waiting for one |")
    print("|---|---|---|---|")
    by_name = {}
    for tid, (name, ran, waited) in after.items():
        if tid in before:
            _, ran0, waited0 = before[tid]
            x = by_name.setdefault(name, [0, 0, 0])
            x[0] += 1
            x[1] += (ran - ran0) / 1e9 / elapsed
            x[2] += (waited - waited0) / 1e9 / elapsed
    for name, (n, ran, waited) in sorted(by_name.items(), key=lambda kv: -kv[1][1]):
        if ran >= 0.005:
            print(f"| {name} | {n} | {100 * ran:.0f}% | {100 * waited:.0f}% |")
    d = [b - a for a, b in zip(m0, m1)]
    names = ["user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal"]
    print("\nmachine: " + ", ".join(f"{n} {100 * d[i] / sum(d):.0f}%" for i, n in enumerate(names)))


if __name__ == "__main__":
    main()
