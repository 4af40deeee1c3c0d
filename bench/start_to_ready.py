#!/usr/bin/env python3
# Start-to-ready of `latchkey start-dev`: spawn the release binary, poll /health/ready every
# 2 ms until it answers 200. Seven runs on empty folders (first start: migrations, master
# realm, RSA and EC key generation, Argon2id of the admin password) and seven on a folder
# that already holds a database.  Usage: bench/start_to_ready.py target/release/latchkey
import subprocess, time, urllib.request, tempfile, os, sys, statistics, socket
binary = sys.argv[1]
def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p
def once(d):
    port = free_port()
    env = dict(os.environ, LATCHKEY_BOOTSTRAP_ADMIN_USERNAME="admin", LATCHKEY_ANONYMOUS_REGISTRATION_LIMIT="0", LATCHKEY_FAILED_TOKEN_LIMIT="0", LATCHKEY_BOOTSTRAP_ADMIN_PASSWORD="pw")
    t0 = time.perf_counter()
    p = subprocess.Popen([binary, "start-dev", "--http-port", str(port)], cwd=d, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while True:
        try:
            if urllib.request.urlopen(f"http://127.0.0.1:{port}/health/ready", timeout=1).status == 200: break
        except Exception: time.sleep(0.002)
    t = (time.perf_counter() - t0) * 1000
    p.terminate(); p.wait()
    return t
empty = [once(tempfile.mkdtemp()) for _ in range(7)]
d = tempfile.mkdtemp(); once(d)
existing = [once(d) for _ in range(7)]
print("empty folder ms:", [round(x) for x in empty], "median", round(statistics.median(empty)))
print("existing data ms:", [round(x) for x in existing], "median", round(statistics.median(existing)))
