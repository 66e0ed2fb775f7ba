// `sigrid serve` lifecycle and the CLI framework, black-box (INTERFACE.md §3, §4).
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { SIGRID_BIN, freePort, freePortRange, runSigrid, sleep, startSigrid } from './lib/sigrid.mjs';

function tcpConnects(url) {
  const u = new URL(url);
  return new Promise((resolve) => {
    const sock = net.connect({ host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port) });
    sock.once('connect', () => { sock.destroy(); resolve(true); });
    sock.once('error', () => resolve(false));
  });
}

function tmpDir() {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'sigrid-e2e-serve-'));
}

function parseErr(stderr) {
  // stderr may hold log lines before the JSON error: take the last JSON object
  const i = stderr.lastIndexOf('{\n  "error"');
  const text = i >= 0 ? stderr.slice(i) : stderr;
  return JSON.parse(text);
}

describe('cli framework', () => {
  test('sigrid --help lists the command groups, exit 0', async () => {
    const r = await runSigrid(['--help']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /serve/);
    assert.match(r.stdout, /--data-dir/);
  });

  test('every listed group answers --help with exit 0', async () => {
    const r = await runSigrid(['--help']);
    const groups = [...r.stdout.split('Commands:')[1].split('\n\n')[0].matchAll(/^ {4}(\S+)\s+:/gm)]
      .map((m) => m[1]);
    assert.ok(groups.includes('serve'));
    for (const g of groups) {
      const h = await runSigrid([g, '--help']);
      assert.equal(h.code, 0, `${g} --help: ${h.stderr}`);
      assert.ok(h.stdout.includes(`sigrid ${g}`), `${g} --help names itself`);
    }
  });

  test('serve --help lists its flags', async () => {
    const r = await runSigrid(['serve', '--help']);
    assert.equal(r.code, 0);
    for (const f of ['--host', '--cloud-port', '--cloud-http', '--signalr-port', '--signalr-tls',
      '--identity-port-base', '--log-level', '--propagation-delay', '--max-message', '--max-connections']) {
      assert.ok(r.stdout.includes(f), `serve --help mentions ${f}`);
    }
  });

  test('signalr --help (when the group exists) lists its verbs', async (t) => {
    const r = await runSigrid(['signalr', '--help']);
    if (r.code !== 0) return t.skip('signalr group not wired yet');
    assert.match(r.stdout, /create/);
    assert.match(r.stdout, /key/);
  });

  test('unknown command: JSON error on stderr, non-zero exit', async () => {
    const r = await runSigrid(['frobnicate']);
    assert.notEqual(r.code, 0);
    assert.equal(r.stdout, '');
    const e = JSON.parse(r.stderr);
    assert.equal(e.error.code, 'UnknownCommand');
    assert.match(e.error.message, /frobnicate/);
  });

  test('unknown flag: JSON error, exit 2', async () => {
    const r = await runSigrid(['serve', '--no-such-flag']);
    assert.equal(r.code, 2);
    const e = JSON.parse(r.stderr);
    assert.equal(e.error.code, 'InvalidArgument');
    assert.match(e.error.message, /--no-such-flag/);
  });

  test('bad integer flag value is refused', async () => {
    const r = await runSigrid(['serve', '--cloud-port', 'eighty']);
    assert.equal(r.code, 2);
    assert.equal(JSON.parse(r.stderr).error.code, 'InvalidArgument');
  });

  test('a command needing the server says it is not running, and how to start it', async () => {
    const dir = tmpDir();
    try {
      const r = await runSigrid(['--data-dir', dir, 'rest', '--url', '/subscriptions']);
      assert.equal(r.code, 1);
      const e = JSON.parse(r.stderr);
      assert.equal(e.error.code, 'NotRunning');
      assert.match(e.error.message, /sigrid serve/);
      // SIGRID_HOME works like --data-dir
      const r2 = await runSigrid(['rest', '--url', '/subscriptions'], { env: { ...process.env, SIGRID_HOME: dir } });
      assert.equal(r2.code, 1);
      assert.ok(JSON.parse(r2.stderr).error.message.includes(dir));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('sigrid serve', () => {
  let s;
  after(async () => { if (s) await s.stop(); });

  test('prints the banner and writes endpoints.json once listening', async () => {
    s = await startSigrid();
    const ep = s.endpoints;
    assert.equal(ep.pid, s.pid);
    for (const k of ['cloudUrl', 'adminCredentialFile', 'tenantId', 'subscriptionId']) {
      assert.equal(typeof ep[k], 'string', `endpoints.json has ${k}`);
    }
    assert.ok('caFile' in ep);
    assert.match(ep.cloudUrl, new RegExp(`^https://127\\.0\\.0\\.1:${s.ports.cloud}$`));
    assert.ok(fs.existsSync(ep.caFile), 'CA file exists');
    assert.ok(fs.existsSync(ep.adminCredentialFile), 'admin credential exists');
    const mode = fs.statSync(ep.adminCredentialFile).mode & 0o777;
    assert.equal(mode & 0o077, 0, `admin credential is private (mode ${mode.toString(8)})`);
    const def = ep.signalr.find((r) => r.name === 'default');
    assert.ok(def, 'default resource listed');
    assert.equal(def.url, `http://127.0.0.1:${s.ports.signalr}`);
    assert.match(def.id, /^\/subscriptions\/[^/]+\/resourceGroups\/local\/providers\/Microsoft\.SignalRService\/SignalR\/default$/i);
    // every listener accepts connections by the time endpoints.json exists
    assert.ok(await tcpConnects(ep.cloudUrl), 'cloud listener accepts');
    assert.ok(await tcpConnects(def.url), 'data plane accepts');

    // banner facts, on stdout
    await sleep(100);
    const out = s.stdout;
    assert.ok(out.includes(ep.tenantId), 'banner: tenant id');
    assert.ok(out.includes(ep.subscriptionId), 'banner: subscription id');
    assert.match(out, /Resource group\s+local/);
    assert.ok(out.includes(def.url), 'banner: endpoint');
    assert.match(out, new RegExp(`Endpoint=${def.url.replace(/[.]/g, '\\.')};AccessKey=[^;]+;Version=1\\.0;`));
    assert.ok(out.includes(def.id), 'banner: ARM id');
    assert.ok(out.includes(ep.cloudUrl), 'banner: cloud URL');
    assert.ok(out.includes(ep.caFile), 'banner: CA file');
    assert.match(out, /sigrid \S+ /, 'banner: a next command');
  });

  test('a second serve on the same data dir is refused and the first keeps running', async () => {
    const r = await runSigrid(['serve', '--data-dir', s.dataDir, '--cloud-port', String(await freePort()),
      '--signalr-port', String(await freePort()), '--identity-port-base', String(await freePortRange(8))]);
    assert.notEqual(r.code, 0);
    const e = parseErr(r.stderr);
    assert.equal(e.error.code, 'DataDirInUse');
    assert.match(e.error.message, new RegExp(String(s.pid)));
    const ep = JSON.parse(fs.readFileSync(path.join(s.dataDir, 'endpoints.json'), 'utf8'));
    assert.equal(ep.pid, s.pid, 'endpoints.json still names the first server');
    assert.equal(s.exited, null);
    assert.ok(await tcpConnects(ep.cloudUrl));
  });

  test('CLI management client: admin credential, local CA, ARM errors passed through', async () => {
    const subs = await s.cli(['rest', '--url', '/subscriptions?api-version=2022-12-01']);
    assert.ok(subs.value.some((x) => x.subscriptionId === s.subscriptionId), 'default subscription listed');
    const tsv = await s.cli(['rest', '-u', '/subscriptions?api-version=2022-12-01', '--query', 'value[0].tenantId', '-o', 'tsv']);
    assert.equal(String(tsv).trim(), s.tenantId);
    const r = await s.cliRaw(['rest', '--url', '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/x?api-version=2021-04-01']);
    assert.equal(r.code, 1);
    const e = JSON.parse(r.stderr).error;
    assert.ok(e.code && e.code !== 'NotRunning' && e.message, JSON.stringify(e));
    // the management API itself refuses requests without the admin credential
    const anon = await s.request(`${s.cloudUrl}/subscriptions?api-version=2022-12-01`);
    assert.equal(anon.status, 401);
  });

  test('SIGTERM: exit 0, endpoints.json removed; restart keeps tenant, keys and ports', async () => {
    const before = s.endpoints;
    const key = /AccessKey=([^;]+);/.exec(s.stdout)[1];
    const s2 = await s.restart();
    assert.equal(s.exited.code, 0, `exit code after SIGTERM (stderr tail: ${s.stderr.slice(-2000)})`);
    s = s2;
    assert.equal(s.endpoints.tenantId, before.tenantId);
    assert.equal(s.endpoints.subscriptionId, before.subscriptionId);
    assert.equal(s.endpoints.cloudUrl, before.cloudUrl);
    assert.deepEqual(s.endpoints.signalr.map((r) => [r.name, r.id, r.url]),
      before.signalr.map((r) => [r.name, r.id, r.url]));
    await sleep(100);
    assert.equal(/AccessKey=([^;]+);/.exec(s.stdout)[1], key, 'access key kept');
    const code = await s.stop();
    assert.equal(code, 0);
    assert.ok(!fs.existsSync(path.join(s.dataDir, 'endpoints.json')), 'endpoints.json removed on stop');
    s = null;
  });
});

describe('serve start-up and shutdown edges', () => {
  test('--signalr-tls: the built-in resource speaks https with a certificate from the local CA', async () => {
    const s = await startSigrid({ extraArgs: ['--signalr-tls'] });
    try {
      assert.match(s.signalrUrl, /^https:\/\/127\.0\.0\.1:\d+$/);
      const r = await s.request(`${s.signalrUrl}/client/negotiate?hub=chat&negotiateVersion=1`, { method: 'POST' });
      assert.ok(r.status >= 200 && r.status < 500, `TLS handshake with the local CA ok (status ${r.status})`);
      await sleep(100);
      assert.match(s.stdout, /Endpoint=https:\/\/127\.0\.0\.1:\d+;AccessKey=/);
    } finally {
      assert.equal(await s.stop(), 0, s.stderr.slice(-2000));
    }
  });

  test('SIGTERM with a connected client: the client gets a close, exit 0', async () => {
    const signalr = await import('@microsoft/signalr');
    const jose = await import('jose');
    const s = await startSigrid();
    let closed = null;
    try {
      await sleep(100);
      const key = /AccessKey=([^;]+);/.exec(s.stdout)[1];
      const hubUrl = `${s.signalrUrl}/client/?hub=chat`;
      const token = await new jose.SignJWT({}).setProtectedHeader({ alg: 'HS256' })
        .setAudience(hubUrl).setIssuedAt().setExpirationTime('10m')
        .sign(new TextEncoder().encode(key));
      const conn = new signalr.HubConnectionBuilder()
        .withUrl(hubUrl, { accessTokenFactory: () => token, transport: signalr.HttpTransportType.WebSockets })
        .configureLogging(signalr.LogLevel.None).build();
      closed = new Promise((resolve) => conn.onclose((err) => resolve(err || 'closed')));
      await conn.start();
      assert.equal(conn.state, 'Connected');
    } finally {
      assert.equal(await s.stop(), 0, s.stderr.slice(-2000));
    }
    const why = await Promise.race([closed, sleep(10000).then(() => 'no close within 10 s')]);
    assert.notEqual(why, 'no close within 10 s');
  });

  test('SIGINT stops cleanly too', async () => {
    const s = await startSigrid({ cloudHttp: true });
    assert.match(s.cloudUrl, /^http:\/\//);
    s.child.kill('SIGINT');
    assert.equal(await s.waitExit(), 0, s.stderr.slice(-2000));
  });

  test('after kill -9 a new serve starts on the same data dir', async () => {
    const s = await startSigrid({ cloudHttp: true });
    const tid = s.tenantId;
    await s.kill9();
    // endpoints.json is left behind by a crash: the CLI still says clearly that nothing runs
    const dead = await s.cliRaw(['rest', '--url', '/subscriptions']);
    assert.equal(dead.code, 1);
    const e = JSON.parse(dead.stderr).error;
    assert.equal(e.code, 'NotRunning');
    assert.match(e.message, /sigrid serve/);
    const s2 = await startSigrid({ cloudHttp: true, dataDir: s.dataDir, ports: s.ports });
    assert.equal(s2.tenantId, tid);
    assert.equal(s2.endpoints.pid, s2.pid);
    assert.equal(await s2.stop(), 0);
  });

  test('a busy SignalR port fails start-up clearly and writes no endpoints.json', async () => {
    const blocker = net.createServer();
    await new Promise((r) => blocker.listen(0, '127.0.0.1', r));
    const busy = blocker.address().port;
    const dir = tmpDir();
    try {
      const r = await runSigrid(['serve', '--data-dir', dir, '--cloud-http', '--cloud-port', String(await freePort()),
        '--signalr-port', String(busy), '--identity-port-base', String(await freePortRange(8))]);
      assert.notEqual(r.code, 0);
      const e = parseErr(r.stderr);
      assert.match(e.error.message, new RegExp(String(busy)));
      assert.ok(!fs.existsSync(path.join(dir, 'endpoints.json')));
    } finally {
      blocker.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('settings come from SIGRID_* environment variables', async () => {
    const dir = tmpDir();
    const cloud = await freePort();
    const signalr = await freePort();
    const env = {
      ...process.env, SIGRID_HOME: dir, SIGRID_CLOUD_PORT: String(cloud), SIGRID_SIGNALR_PORT: String(signalr),
      SIGRID_IDENTITY_PORT_BASE: String(await freePortRange(8)), SIGRID_CLOUD_HTTP: '1', SIGRID_LOG_LEVEL: 'warn',
    };
    const child = spawn(SIGRID_BIN, ['serve'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => { stderr += d; });
    const exited = new Promise((r) => child.on('exit', (code) => r(code)));
    try {
      const epFile = path.join(dir, 'endpoints.json');
      const deadline = Date.now() + 60000;
      while (!fs.existsSync(epFile)) {
        assert.ok(Date.now() < deadline, `no endpoints.json; stderr: ${stderr}`);
        await sleep(50);
      }
      const ep = JSON.parse(fs.readFileSync(epFile, 'utf8'));
      assert.equal(ep.cloudUrl, `http://127.0.0.1:${cloud}`);
      assert.equal(ep.signalr.find((x) => x.name === 'default').url, `http://127.0.0.1:${signalr}`);
      assert.ok(!/level=info/.test(stderr), 'SIGRID_LOG_LEVEL=warn hides info lines');
    } finally {
      child.kill('SIGTERM');
      assert.equal(await exited, 0, stderr.slice(-2000));
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
