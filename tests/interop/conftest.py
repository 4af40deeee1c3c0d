"""Fixtures for the python-keycloak interop tests.

A single `latchkey start-dev` process is started for the whole test session on a free
port, with its SQLite database and ./data folder in a temporary directory, and a random
bootstrap admin password. The binary comes from $LATCHKEY_BIN (default
${CARGO_TARGET_DIR:-target}/debug/latchkey, relative to the repository root).
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

REPO_ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0

# The server only ever listens on loopback: never send these requests through a proxy.
for _var in ("NO_PROXY", "no_proxy"):
    _hosts = [h for h in os.environ.get(_var, "").split(",") if h]
    os.environ[_var] = ",".join(_hosts + ["127.0.0.1", "localhost"])


# Work directory of the running server, so failing tests can show its logs.
_current_workdir: Path | None = None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed and _current_workdir is not None:
        for name in ("stdout", "stderr"):
            report.sections.append(
                (f"latchkey {name} (tail)", _tail(_current_workdir / f"{name}.log", 5_000))
            )


@dataclasses.dataclass(frozen=True)
class Server:
    base_url: str  # e.g. http://127.0.0.1:41234 (no trailing slash)
    admin_username: str
    admin_password: str
    workdir: Path


def _latchkey_bin() -> Path:
    explicit = os.environ.get("LATCHKEY_BIN")
    if explicit:
        return Path(explicit).resolve()
    target = Path(os.environ.get("CARGO_TARGET_DIR") or "target")
    if not target.is_absolute():
        target = REPO_ROOT / target
    return (target / "debug" / "latchkey").resolve()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tail(path: Path, limit: int = 20_000) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as e:
        return f"<unreadable: {e}>"
    return text if len(text) <= limit else "...\n" + text[-limit:]


def _server_output(workdir: Path) -> str:
    return (
        f"--- latchkey stdout ---\n{_tail(workdir / 'stdout.log')}\n"
        f"--- latchkey stderr ---\n{_tail(workdir / 'stderr.log')}"
    )


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="session")
def server() -> Iterator[Server]:
    binary = _latchkey_bin()
    if not binary.is_file() or not os.access(binary, os.X_OK):
        pytest.fail(
            f"latchkey binary not found or not executable: {binary}\n"
            "Build it first (cargo build) or point LATCHKEY_BIN at it.",
            pytrace=False,
        )

    workdir = Path(tempfile.mkdtemp(prefix="latchkey-interop-"))
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    admin_password = secrets.token_urlsafe(18)

    # Inherited LATCHKEY_* / KC_* settings (e.g. LATCHKEY_HOSTNAME) would change what
    # the server does; start it from a clean slate.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("LATCHKEY_") and not k.startswith("KC_")
    }
    env["LATCHKEY_BOOTSTRAP_ADMIN_USERNAME"] = "admin"
    env["LATCHKEY_BOOTSTRAP_ADMIN_PASSWORD"] = admin_password
    # The suites register many clients from 127.0.0.1: no per-address rate limits.
    env["LATCHKEY_ANONYMOUS_REGISTRATION_LIMIT"] = "0"
    env["LATCHKEY_FAILED_TOKEN_LIMIT"] = "0"

    cmd = [
        str(binary),
        "start-dev",
        "--http-port",
        str(port),
        "--db-url",
        f"sqlite://{workdir / 'latchkey.db'}",
    ]
    with open(workdir / "stdout.log", "wb") as out, open(workdir / "stderr.log", "wb") as err:
        proc = subprocess.Popen(
            cmd, cwd=workdir, env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL
        )

    ready_url = f"{base_url}/health/ready"
    deadline = time.monotonic() + READY_TIMEOUT_S
    last_error = "no response yet"
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(
                    f"latchkey exited with code {proc.returncode} before becoming ready\n"
                    f"command: {' '.join(cmd)}\n{_server_output(workdir)}",
                    pytrace=False,
                )
            try:
                r = requests.get(ready_url, timeout=2)
                if r.status_code == 200:
                    break
                last_error = f"HTTP {r.status_code}: {r.text[:500]}"
            except requests.RequestException as e:
                last_error = repr(e)
            if time.monotonic() > deadline:
                pytest.fail(
                    f"latchkey not ready at {ready_url} after {READY_TIMEOUT_S:.0f}s "
                    f"(last: {last_error})\ncommand: {' '.join(cmd)}\n"
                    f"{_server_output(workdir)}",
                    pytrace=False,
                )
            time.sleep(0.2)
    except BaseException:
        _stop(proc)
        shutil.rmtree(workdir, ignore_errors=True)  # its logs are in the failure message
        raise

    global _current_workdir
    _current_workdir = workdir
    try:
        yield Server(
            base_url=base_url,
            admin_username="admin",
            admin_password=admin_password,
            workdir=workdir,
        )
    finally:
        _current_workdir = None
        _stop(proc)
        if os.environ.get("LATCHKEY_INTEROP_KEEP_TMP"):
            print(f"\nlatchkey interop workdir kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
