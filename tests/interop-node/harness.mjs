// Shared by the openid-client interop suites: start and stop the real latchkey binary
// (start-dev on a free port, SQLite in a temporary directory, a random bootstrap admin
// password, as tests/interop/conftest.py does), admin-API helpers, and a memoiser.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;

export function latchkeyBin() {
  if (process.env.LATCHKEY_BIN) return resolve(process.env.LATCHKEY_BIN);
  const target = process.env.CARGO_TARGET_DIR || 'target';
  return resolve(isAbsolute(target) ? target : join(REPO_ROOT, target), 'debug', 'latchkey');
}

export function freePort() {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.once('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => ok(port));
    });
  });
}

export function tail(path, limit = 5_000) {
  try {
    const text = readFileSync(path, 'utf8');
    return text.length <= limit ? text : `...\n${text.slice(-limit)}`;
  } catch (e) {
    return `<unreadable: ${e.message}>`;
  }
}

export function serverOutput(workdir) {
  return (
    `--- latchkey stdout ---\n${tail(join(workdir, 'stdout.log'))}\n` +
    `--- latchkey stderr ---\n${tail(join(workdir, 'stderr.log'))}`
  );
}

export async function startServer() {
  const binary = latchkeyBin();
  const workdir = mkdtempSync(join(tmpdir(), 'latchkey-interop-node-'));
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const adminPassword = randomBytes(18).toString('base64url');

  // Inherited LATCHKEY_* / KC_* settings (e.g. LATCHKEY_HOSTNAME) would change what the
  // server does; start it from a clean slate.
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('LATCHKEY_') && !k.startsWith('KC_')),
  );
  env.LATCHKEY_BOOTSTRAP_ADMIN_USERNAME = 'admin';
  env.LATCHKEY_BOOTSTRAP_ADMIN_PASSWORD = adminPassword;
  // The suites register many clients from 127.0.0.1: no per-address rate limits.
  env.LATCHKEY_ANONYMOUS_REGISTRATION_LIMIT = '0';
  env.LATCHKEY_FAILED_TOKEN_LIMIT = '0';

  const args = ['start-dev', '--http-port', String(port), '--db-url', `sqlite://${join(workdir, 'latchkey.db')}`];
  const out = openSync(join(workdir, 'stdout.log'), 'w');
  const err = openSync(join(workdir, 'stderr.log'), 'w');
  const proc = spawn(binary, args, { cwd: workdir, env, stdio: ['ignore', out, err] });
  closeSync(out);
  closeSync(err);
  let spawnError;
  proc.once('error', (e) => {
    spawnError = e;
  });
  // Safety net if the test process ends without running the `after` hook.
  const killOnExit = () => proc.kill('SIGKILL');
  process.once('exit', killOnExit);

  const server = { baseUrl, adminUsername: 'admin', adminPassword, workdir, proc, killOnExit };
  const command = `${binary} ${args.join(' ')}`;
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let lastError = 'no response yet';
  for (;;) {
    if (spawnError) {
      await stopServer(server);
      throw new Error(
        `cannot start latchkey (${spawnError.message}): ${binary}\n` +
          'Build it first (cargo build) or point LATCHKEY_BIN at it.',
      );
    }
    if (proc.exitCode !== null || proc.signalCode !== null) {
      const output = serverOutput(workdir);
      await stopServer(server);
      throw new Error(
        `latchkey exited (${proc.exitCode ?? proc.signalCode}) before becoming ready\n` +
          `command: ${command}\n${output}`,
      );
    }
    try {
      const r = await fetch(`${baseUrl}/health/ready`, { signal: AbortSignal.timeout(2_000) });
      if (r.status === 200) return server;
      lastError = `HTTP ${r.status}: ${(await r.text()).slice(0, 500)}`;
    } catch (e) {
      lastError = String(e.cause ?? e);
    }
    if (Date.now() > deadline) {
      const output = serverOutput(workdir);
      await stopServer(server);
      throw new Error(
        `latchkey not ready at ${baseUrl}/health/ready after ${READY_TIMEOUT_MS / 1000}s ` +
          `(last: ${lastError})\ncommand: ${command}\n${output}`,
      );
    }
    await sleep(200);
  }
}

export async function stopServer(server, { keepWorkdir = false } = {}) {
  const { proc } = server;
  process.removeListener('exit', server.killOnExit);
  if (proc.exitCode === null && proc.signalCode === null && proc.pid !== undefined) {
    const exited = new Promise((ok) => proc.once('exit', ok));
    proc.kill('SIGTERM');
    // An unref'd timer: it must not keep the test process alive once latchkey has exited.
    const timedOut = await Promise.race([exited.then(() => false), sleep(STOP_TIMEOUT_MS, true, { ref: false })]);
    if (timedOut) {
      proc.kill('SIGKILL');
      await exited;
    }
  }
  if (!keepWorkdir) rmSync(server.workdir, { recursive: true, force: true });
}

// ------------------------------------------------------------------- admin REST API

/** A fresh master-realm admin token (admin-cli, password grant); tokens are short-lived. */
/** A suite's end: latchkey's output when a test failed, then the server stopped (its
 * working directory kept with LATCHKEY_INTEROP_KEEP_TMP). */
export async function finishSuite(server, failed) {
  if (!server) return;
  if (failed.length) {
    process.stderr.write(`\nlatchkey output (${failed.length} test(s) failed)\n${serverOutput(server.workdir)}\n`);
  }
  const keepWorkdir = Boolean(process.env.LATCHKEY_INTEROP_KEEP_TMP);
  await stopServer(server, { keepWorkdir });
  if (keepWorkdir) process.stderr.write(`latchkey interop workdir kept: ${server.workdir}\n`);
}

export async function adminToken(server) {
  const r = await fetch(`${server.baseUrl}/realms/master/protocol/openid-connect/token`, {
    method: 'POST',
    body: new URLSearchParams({
      grant_type: 'password',
      client_id: 'admin-cli',
      username: server.adminUsername,
      password: server.adminPassword,
    }),
  });
  assert.equal(r.status, 200, `admin password grant on master/admin-cli: ${await r.clone().text()}`);
  return (await r.json()).access_token;
}

export async function adminFetch(server, method, path, body) {
  const headers = { authorization: `Bearer ${await adminToken(server)}`, accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  return fetch(`${server.baseUrl}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

export async function describeResponse(r) {
  return `${r.status} ${r.statusText} ${(await r.clone().text()).slice(0, 500)}`;
}

// ----------------------------------------------------------------------------- helpers

/** Memoise an async fixture: every caller gets the same promise (and the same failure). */
export function once(fn) {
  let p;
  return () => (p ??= fn());
}
