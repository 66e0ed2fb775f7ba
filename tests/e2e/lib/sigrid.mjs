// Shared helper for sigrid's end-to-end tests: start a `sigrid serve` on free ports in a
// temporary data dir, run CLI commands against it, make HTTPS requests that trust its local CA.
//
//   import { startSigrid } from './lib/sigrid.mjs';
//   const s = await startSigrid();                 // or startSigrid({ extraArgs: ['--cloud-http'] })
//   after(() => s.stop());
//   const acct = await s.cli(['account', 'show']); // parsed JSON; throws CliError on failure
//   const r = await s.request(`${s.cloudUrl}/${s.tenantId}/v2.0/.well-known/openid-configuration`);
//   r.status, r.json
//   const code = await s.stop();                   // SIGTERM; resolves with the exit code
//
// Binary: process.env.SIGRID_BIN, else ../../build-test/sigrid (relative to tests/e2e).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const E2E_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const SIGRID_BIN = process.env.SIGRID_BIN
  ? path.resolve(E2E_DIR, process.env.SIGRID_BIN)
  : path.resolve(E2E_DIR, '../../build-test/sigrid');

const tempDirs = new Set();
const children = new Set();
function cleanupAll() {
  for (const c of children) {
    try { c.kill('SIGKILL'); } catch { /* gone */ }
  }
  children.clear();
  for (const d of tempDirs) {
    try { fs.rmSync(d, { recursive: true, force: true }); } catch { /* best effort */ }
  }
}
process.on('exit', cleanupAll);
// The test runner cancels a timed-out file with a signal: take our servers down with us
// instead of leaving them orphaned.
for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) {
  process.once(sig, () => {
    cleanupAll();
    process.exit(128 + (os.constants.signals[sig] || 0));
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Calls fn() (which resolves to a response with .status) every 100 ms until it answers `want`,
// at most `tries` times; resolves to the last response either way.
export async function waitStatus(fn, want, tries = 50) {
  let r;
  for (let i = 0; i < tries; i++) {
    r = await fn();
    if (r.status === want) return r;
    await sleep(100);
  }
  return r;
}

/** Error thrown by cli() when the command exits non-zero. */
export class CliError extends Error {
  constructor(args, code, stdout, stderr) {
    let parsed = null;
    try { parsed = JSON.parse(stderr); } catch { /* not JSON */ }
    super(`sigrid ${args.join(' ')} exited ${code}: ${stderr.trim() || stdout.trim()}`);
    this.exitCode = code;
    this.stdout = stdout;
    this.stderr = stderr;
    this.error = parsed && parsed.error ? parsed.error : null; // {code, message}
  }
}

function portFree(port, host = '127.0.0.1') {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/** A port the OS says is free right now. */
export function freePort(host = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen({ port: 0, host, exclusive: true }, () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** `count` consecutive free ports (for --identity-port-base), from a random high base. */
export async function freePortRange(count = 16) {
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = 20000 + Math.floor(Math.random() * 30000);
    let ok = true;
    for (let p = base; p < base + count && ok; p++) ok = await portFree(p);
    if (ok) return base;
  }
  throw new Error('no free port range');
}

/** Runs the sigrid binary; resolves {code, signal, stdout, stderr, json} (json = parsed stdout or null). */
export function runSigrid(args, { env, input, timeoutMs = 60000, cwd } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(SIGRID_BIN, args, {
      env: env || process.env, cwd: cwd || os.tmpdir(), stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      let json = null;
      try { json = stdout.trim() ? JSON.parse(stdout) : null; } catch { /* not JSON */ }
      resolve({ code, signal, stdout, stderr, json });
    });
    if (input !== undefined) child.stdin.end(input); else child.stdin.end();
  });
}

/** HTTP(S) request trusting `ca` (PEM text or null). Resolves {status, headers, body, json}. */
export function request(url, { method = 'GET', headers = {}, body, ca, timeoutMs = 30000 } = {}) {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const mod = u.protocol === 'https:' ? https : http;
    let payload = body;
    const h = { ...headers };
    if (payload !== undefined && typeof payload !== 'string' && !Buffer.isBuffer(payload)) {
      payload = JSON.stringify(payload);
      if (!Object.keys(h).some((k) => k.toLowerCase() === 'content-type')) h['Content-Type'] = 'application/json';
    }
    const req = mod.request(u, { method, headers: h, ca: ca || undefined, timeout: timeoutMs }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json = null;
        try { json = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
        resolve({ status: res.statusCode, headers: res.headers, body: text, json });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`timeout: ${method} ${url}`)));
    req.on('error', reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

/**
 * Starts `sigrid serve` and waits until endpoints.json (written by *this* process) appears.
 * opts: extraArgs (more serve flags), env (extra env vars), dataDir (reuse, e.g. a restart),
 *       ports {cloud, signalr, identityBase} (reuse), cloudHttp (pass --cloud-http),
 *       timeoutMs (default 60 s: the ASan build is slow to start).
 */
export async function startSigrid(opts = {}) {
  const { extraArgs = [], env: extraEnv = {}, cloudHttp = false, timeoutMs = 60000 } = opts;
  let dataDir = opts.dataDir;
  if (!dataDir) {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigrid-e2e-'));
    tempDirs.add(dataDir);
  }
  const ports = opts.ports ? { ...opts.ports } : {
    cloud: await freePort(),
    signalr: await freePort(),
    identityBase: await freePortRange(16),
  };
  const args = ['serve', '--data-dir', dataDir, '--host', '127.0.0.1',
    '--cloud-port', String(ports.cloud), '--signalr-port', String(ports.signalr),
    '--identity-port-base', String(ports.identityBase)];
  if (cloudHttp) args.push('--cloud-http');
  args.push(...extraArgs);

  const env = { ...process.env, ...extraEnv };
  delete env.SIGRID_HOME; // the data dir is always explicit
  const epFile = path.join(dataDir, 'endpoints.json');
  const child = spawn(SIGRID_BIN, args, { env, cwd: dataDir, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => { stdout += d; });
  child.stderr.on('data', (d) => { stderr += d; });
  let exited = null;
  const exitPromise = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      children.delete(child);
      exited = { code, signal };
      resolve(exited);
    });
    // spawn failures (binary missing, e.g. mid-rebuild) emit 'error' and never 'exit'
    child.on('error', (error) => {
      children.delete(child);
      if (!exited) exited = { code: null, signal: null, error };
      resolve(exited);
    });
  });

  const deadline = Date.now() + timeoutMs;
  let endpoints = null;
  while (!endpoints) {
    if (exited) {
      throw new Error(`sigrid serve exited early (code ${exited.code}, signal ${exited.signal}` +
        `${exited.error ? `, ${exited.error.message} [${SIGRID_BIN}]` : ''})\n` +
        `stdout:\n${stdout}\nstderr:\n${stderr}`);
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`sigrid serve: no endpoints.json after ${timeoutMs} ms\nstdout:\n${stdout}\nstderr:\n${stderr}`);
    }
    try {
      const ep = JSON.parse(fs.readFileSync(epFile, 'utf8'));
      if (ep.pid === undefined || ep.pid === child.pid) endpoints = ep;
    } catch { /* not yet */ }
    if (!endpoints) await sleep(50);
  }
  // A running server must not keep node's event loop alive by itself: root-level after()
  // hooks run only once the loop is otherwise empty, and they are where tests stop servers.
  // (stop()/kill9()/waitExit() take the reference back while they wait for the exit.)
  const hold = (on) => {
    for (const h of [child, child.stdout, child.stderr]) {
      if (h && typeof h.ref === 'function') { if (on) h.ref(); else h.unref(); }
    }
  };
  hold(false);

  const caPem = endpoints.caFile && fs.existsSync(endpoints.caFile)
    ? fs.readFileSync(endpoints.caFile, 'utf8') : null;
  const def = (endpoints.signalr || []).find((r) => r.name === 'default');

  const clientEnv = { ...process.env, SIGRID_HOME: dataDir };
  if (endpoints.caFile) {
    clientEnv.NODE_EXTRA_CA_CERTS = endpoints.caFile;
    clientEnv.SSL_CERT_FILE = endpoints.caFile;
  }

  const s = {
    child,
    pid: child.pid,
    dataDir,
    ports,
    args,
    endpoints,
    cloudUrl: endpoints.cloudUrl,
    signalrUrl: def ? def.url : null,
    signalrId: def ? def.id : null,
    caFile: endpoints.caFile,
    caPem,
    tenantId: endpoints.tenantId,
    subscriptionId: endpoints.subscriptionId,
    adminCredentialFile: endpoints.adminCredentialFile,
    /** env for child processes: SIGRID_HOME and the local CA (NODE_EXTRA_CA_CERTS, SSL_CERT_FILE) */
    env: clientEnv,
    get stdout() { return stdout; },
    get stderr() { return stderr; },
    get exited() { return exited; },
    /** Admin credential (Bearer) for direct management-API calls. */
    adminCredential() {
      return fs.readFileSync(endpoints.adminCredentialFile, 'utf8').trim();
    },
    /** Runs `sigrid --data-dir DIR ...args`; resolves {code, stdout, stderr, json}. */
    cliRaw(cliArgs, o = {}) {
      const { env: more, ...rest } = o;
      return runSigrid(['--data-dir', dataDir, ...cliArgs], { ...rest, env: { ...clientEnv, ...(more || {}) } });
    },
    /** Runs a CLI command; resolves with its parsed JSON stdout (or raw text when not JSON);
     *  throws CliError (exitCode, error {code,message}) on a non-zero exit. */
    async cli(cliArgs, o = {}) {
      const r = await s.cliRaw(cliArgs, o);
      if (r.code !== 0) throw new CliError(cliArgs, r.code, r.stdout, r.stderr);
      return r.json !== null ? r.json : r.stdout;
    },
    /** HTTP(S) request trusting the local CA; see request(). */
    request(url, o = {}) {
      return request(url, { ca: caPem, ...o });
    },
    /** Management-API call with the admin credential: s.mgmt('GET', '/subscriptions/...'). */
    mgmt(method, p, body) {
      return request(p.startsWith('http') ? p : endpoints.cloudUrl + p, {
        method, body, ca: caPem,
        headers: { Authorization: `Bearer ${s.adminCredential()}`, Accept: 'application/json' },
      });
    },
    /** SIGTERM; resolves with the exit code (128+n when killed by signal n). SIGKILL after timeoutMs. */
    async stop(stopTimeoutMs = 30000) {
      if (!exited) {
        hold(true);
        child.kill('SIGTERM');
        const t = setTimeout(() => { if (!exited) child.kill('SIGKILL'); }, stopTimeoutMs);
        await exitPromise;
        clearTimeout(t);
      }
      return exitCode(exited);
    },
    /** SIGKILL (a crash); resolves with the exit info. */
    async kill9() {
      hold(true);
      if (!exited) child.kill('SIGKILL');
      await exitPromise;
      return exited;
    },
    /** Waits for the process to exit on its own; resolves with the exit code. */
    async waitExit() {
      hold(true);
      await exitPromise;
      return exitCode(exited);
    },
    /** Stops (SIGTERM) and starts again on the same data dir and ports; resolves a new handle. */
    async restart(more = {}) {
      await s.stop();
      return startSigrid({ ...opts, ...more, dataDir, ports });
    },
  };
  return s;
}

function exitCode(e) {
  if (!e) return null;
  if (e.code !== null && e.code !== undefined) return e.code;
  const n = os.constants.signals[e.signal] || 0;
  return 128 + n;
}
