// serve/ wiring of SignalR resources made at run time: `signalr create` starts a data plane on
// its port and lists it in endpoints.json; key renewals and mode changes reach the running data
// plane; `signalr delete` stops it; restarts bring every resource back on the same port.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import * as jose from 'jose';
import { freePort, runSigrid, sleep, startSigrid } from './lib/sigrid.mjs';

function tcpConnects(url) {
  const u = new URL(url);
  return new Promise((resolve) => {
    const sock = net.connect({ host: u.hostname, port: Number(u.port) });
    sock.once('connect', () => { sock.destroy(); resolve(true); });
    sock.once('error', () => resolve(false));
  });
}

async function waitFor(fn, ms = 10000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) return v;
    await sleep(50);
  }
}

async function negotiate(s, url, key) {
  const hubUrl = `${url}/client/?hub=chat`;
  const token = await new jose.SignJWT({}).setProtectedHeader({ alg: 'HS256' })
    .setAudience(hubUrl).setIssuedAt().setExpirationTime('5m')
    .sign(new TextEncoder().encode(key));
  const r = await s.request(`${url}/client/negotiate?hub=chat&negotiateVersion=1`, {
    method: 'POST', headers: { Authorization: `Bearer ${token}` },
  });
  return r.status;
}

const readEp = (s) => JSON.parse(fs.readFileSync(path.join(s.dataDir, 'endpoints.json'), 'utf8'));

describe('SignalR resources created at run time', () => {
  let s;
  let wired = false;
  before(async () => {
    wired = (await runSigrid(['signalr', '--help'])).code === 0;
    if (wired) s = await startSigrid();
  });
  after(async () => { if (s) assert.equal(await s.stop(), 0, s.stderr.slice(-2000)); });

  test('signalr create starts a data plane and endpoints.json lists it', async (t) => {
    if (!wired) return t.skip('signalr group not wired yet');
    const port = await freePort();
    const r = await s.cli(['signalr', 'create', '-g', 'local', '-n', 'r2', '--port', String(port)]);
    assert.equal(r.name, 'r2');
    const url = `http://127.0.0.1:${port}`;
    const entry = await waitFor(() => readEp(s).signalr.find((x) => x.name === 'r2'));
    assert.ok(entry, 'r2 in endpoints.json');
    assert.equal(entry.url, url);
    assert.ok(await tcpConnects(url), 'r2 accepts connections');
    const neg = await s.request(`${url}/client/negotiate?hub=chat&negotiateVersion=1`, { method: 'POST' });
    assert.equal(neg.status, 401, 'unauthenticated negotiate refused by the new data plane');
  });

  test('restart brings r2 back on the same port', async (t) => {
    if (!wired) return t.skip('signalr group not wired yet');
    const before = readEp(s).signalr.find((x) => x.name === 'r2');
    s = await s.restart();
    const now = s.endpoints.signalr.find((x) => x.name === 'r2');
    assert.deepEqual(now, before);
    assert.ok(await tcpConnects(now.url));
  });

  test('signalr delete stops the data plane and drops it from endpoints.json', async (t) => {
    if (!wired) return t.skip('signalr group not wired yet');
    const url = readEp(s).signalr.find((x) => x.name === 'r2').url;
    await s.cli(['signalr', 'delete', '-g', 'local', '-n', 'r2']);
    const gone = await waitFor(() => !readEp(s).signalr.some((x) => x.name === 'r2'));
    assert.ok(gone, 'r2 removed from endpoints.json');
    assert.ok(await waitFor(async () => !(await tcpConnects(url))), 'port closed');
    assert.ok(readEp(s).signalr.some((x) => x.name === 'default'), 'default still there');
  });

  test('key renew and local-auth changes reach the running data plane', async (t) => {
    if (!wired) return t.skip('signalr group not wired yet');
    const keys = await s.cli(['signalr', 'key', 'list', '-g', 'local', '-n', 'default']);
    assert.equal(await negotiate(s, s.signalrUrl, keys.primaryKey), 200);
    const renewed = await s.cli(['signalr', 'key', 'renew', '-g', 'local', '-n', 'default', '--key-type', 'primary']);
    assert.notEqual(renewed.primaryKey, keys.primaryKey);
    assert.equal(await waitFor(async () => (await negotiate(s, s.signalrUrl, keys.primaryKey)) === 401), true,
      'old primary key refused');
    assert.equal(await negotiate(s, s.signalrUrl, renewed.primaryKey), 200, 'new primary key accepted');
    assert.equal(await negotiate(s, s.signalrUrl, keys.secondaryKey), 200, 'secondary key untouched');
    await s.cli(['signalr', 'update', '-g', 'local', '-n', 'default', '--disable-local-auth', 'true']);
    assert.equal(await waitFor(async () => (await negotiate(s, s.signalrUrl, renewed.primaryKey)) !== 200), true,
      'access keys refused with local auth disabled');
    await s.cli(['signalr', 'update', '-g', 'local', '-n', 'default', '--disable-local-auth', 'false']);
    assert.equal(await waitFor(async () => (await negotiate(s, s.signalrUrl, renewed.primaryKey)) === 200), true);
  });
});

describe('serve --propagation-delay', () => {
  test('new role assignments take effect that much later', async (t) => {
    if ((await runSigrid(['role', '--help'])).code !== 0) return t.skip('role group not wired yet');
    const s = await startSigrid({ extraArgs: ['--propagation-delay', '120'] });
    try {
      const sp = await s.cli(['ad', 'sp', 'create-for-rbac', '-n', 'delayed-app']);
      const ra = await s.cli(['role', 'assignment', 'create', '--assignee', sp.appId,
        '--role', 'SignalR REST API Reader', '--scope', s.signalrId]);
      const created = Date.parse(ra.createdOn);
      const effective = Date.parse(ra.effectiveOn);
      assert.ok(Number.isFinite(created) && Number.isFinite(effective), JSON.stringify(ra));
      assert.ok(effective - created >= 119000 && effective - created <= 121000,
        `effectiveOn - createdOn = ${effective - created} ms`);
    } finally {
      assert.equal(await s.stop(), 0, s.stderr.slice(-2000));
    }
  });
});
