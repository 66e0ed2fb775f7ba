// Helpers for the examples/chat e2e tests: a Default-mode resource on a running sigrid, the
// chat example as a child process (log lines captured, events awaited), @microsoft/signalr
// clients that start at the app server's URL (negotiate redirect -> service).
//
// Binary: process.env.SIGRID_EXAMPLES_DIR/chat, else ../../build-test/examples/chat.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as signalR from '@microsoft/signalr';
import { MessagePackHubProtocol } from '@microsoft/signalr-protocol-msgpack';
import { freePort, request, sleep } from './sigrid.mjs';

const E2E_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const EXAMPLES_DIR = process.env.SIGRID_EXAMPLES_DIR
  ? path.resolve(E2E_DIR, process.env.SIGRID_EXAMPLES_DIR)
  : path.resolve(E2E_DIR, '../../build-test/examples');
export const CHAT_BIN = path.join(EXAMPLES_DIR, 'chat');
export { signalR };

const children = new Set();
process.on('exit', () => { for (const c of children) { try { c.kill('SIGKILL'); } catch { /* gone */ } } });

/** Creates a Default-mode resource `name` on sigrid s; resolves {url, key, cs, name}. */
export async function defaultModeResource(s, name) {
  const res = await s.cli(['signalr', 'create', '-g', 'local', '-n', name, '--service-mode', 'Default']);
  const keys = await s.cli(['signalr', 'key', 'list', '-g', 'local', '-n', name]);
  let url = null;
  for (let i = 0; i < 100 && !url; i++) {
    try {
      const ep = JSON.parse(fs.readFileSync(path.join(s.dataDir, 'endpoints.json'), 'utf8'));
      const r = (ep.signalr || []).find((x) => x.name === name);
      if (r && r.url) url = r.url.replace(/\/$/, '');
    } catch { /* being rewritten */ }
    if (!url) await sleep(100);
  }
  if (!url) throw new Error(`no URL for resource ${name}`);
  let up = false;
  for (let i = 0; i < 100 && !up; i++) {
    try { up = (await request(`${url}/api/health`, { method: 'HEAD', timeoutMs: 1000 })).status === 200; } catch { /* not yet */ }
    if (!up) await sleep(100);
  }
  if (!up) throw new Error(`resource ${name} at ${url} does not answer`);
  return { url, key: keys.primaryKey, cs: keys.primaryConnectionString, id: res.id, name };
}

/**
 * Starts the chat example. args: its command line (without --port); env: extra env.
 * Resolves {port, url, child, log(), waitLog(re, ms), stop(), kill(), exited}.
 */
export async function startChat(args, { env = {}, port, cmd, cmdArgs } = {}) {
  const p = port || await freePort();
  const full = [...args, '--port', String(p)];
  const bin = cmd || CHAT_BIN;
  const argv = cmd ? [...(cmdArgs || []), CHAT_BIN, ...full] : full;
  const child = spawn(bin, argv, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let out = '';
  const waiters = [];
  const onData = (d) => {
    out += d;
    for (const w of waiters.slice()) w();
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  let exited = null;
  const exit = new Promise((resolve) => {
    child.on('exit', (code, signal) => { children.delete(child); exited = { code, signal }; for (const w of waiters.slice()) w(); resolve(exited); });
    child.on('error', (e) => { children.delete(child); exited = { code: null, error: e }; for (const w of waiters.slice()) w(); resolve(exited); });
  });
  const c = {
    port: p,
    url: `http://127.0.0.1:${p}/chat`,
    child,
    log: () => out,
    get exited() { return exited; },
    /** Waits until the output matches re (a RegExp); resolves the match. */
    waitLog(re, ms = 30000) {
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => { done(); reject(new Error(`timeout waiting for ${re} in chat output:\n${out}`)); }, ms);
        const check = () => {
          const m = out.match(re);
          if (m) { done(); resolve(m); } else if (exited) { done(); reject(new Error(`chat exited (${JSON.stringify(exited)}) before ${re}:\n${out}`)); }
        };
        const done = () => { clearTimeout(t); const i = waiters.indexOf(check); if (i >= 0) waiters.splice(i, 1); };
        waiters.push(check);
        check();
      });
    },
    /** SIGTERM; resolves the exit info (SIGKILL after ms). */
    async stop(ms = 20000) {
      if (!exited) {
        child.kill('SIGTERM');
        const t = setTimeout(() => { if (!exited) child.kill('SIGKILL'); }, ms);
        await exit;
        clearTimeout(t);
      }
      return exited;
    },
    kill() { if (!exited) child.kill('SIGKILL'); return exit; },
  };
  return c;
}

/** Waits until the chat example has `n` service connections (its log says so). */
export async function waitConnected(chat, n = 5, ms = 30000) {
  return chat.waitLog(new RegExp(`event=connected .*connections=${n}\\b`), ms);
}

/** A HubConnection through the app server (negotiate redirect). */
export async function chatClient(chat, { user, transport = 'ws', protocol = 'json', start = true } = {}) {
  const t = { ws: signalR.HttpTransportType.WebSockets, sse: signalR.HttpTransportType.ServerSentEvents, lp: signalR.HttpTransportType.LongPolling }[transport];
  const url = user ? `${chat.url}?user=${encodeURIComponent(user)}` : chat.url;
  let b = new signalR.HubConnectionBuilder().withUrl(url, { transport: t }).configureLogging(signalR.LogLevel.None);
  if (protocol === 'msgpack') b = b.withHubProtocol(new MessagePackHubProtocol());
  const c = b.build();
  if (start) await c.start();
  return c;
}

/** Collects `newMessage` calls; got.waitFor(n). */
export function collect(c, method = 'newMessage') {
  const got = [];
  const waiters = [];
  c.on(method, (...args) => { got.push(args); for (const w of waiters.splice(0)) w(); });
  got.waitFor = async (n, ms = 10000) => {
    const end = Date.now() + ms;
    while (got.length < n) {
      if (Date.now() > end) throw new Error(`timeout waiting for ${n} '${method}', got ${got.length}: ${JSON.stringify(got)}`);
      await new Promise((r) => { waiters.push(r); setTimeout(r, 100); });
    }
    return got;
  };
  return got;
}

export function chatBinaryPresent() {
  return fs.existsSync(CHAT_BIN);
}
