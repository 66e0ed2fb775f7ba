// Default mode: app servers connect over /server with the service protocol; clients are
// routed to them (handshake and hub messages pass through), and the app server's
// broadcasts, groups and closes act on the clients. REST works in Default mode too.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startDataPlane, connect, collect, rest, clientToken, request, sleep, mint, audBase } from './lib/signalr.mjs';
import { startAppServer } from './lib/appserver.mjs';
import { freePort } from './lib/sigrid.mjs';

const dev = !!process.env.SIGRID_DEV_SIGNALR;
let base; // the sigrid with the built-in resource
let dp; // the Default-mode resource {url, key, key2}
const apps = [];

before(async () => {
  if (dev) return;
  base = await startDataPlane();
  const s = base.sigrid;
  // an explicit free port: the automatic one (next to the built-in resource's) may be taken
  const port = await freePort();
  const res = await s.cli(['signalr', 'create', '-g', 'local', '-n', 'dm', '--service-mode', 'Default', '--port', String(port)]);
  const keys = await s.cli(['signalr', 'key', 'list', '-g', 'local', '-n', 'dm']);
  let url = res.publicPort ? `http://${res.hostName || '127.0.0.1'}:${res.publicPort}` : null;
  for (let i = 0; i < 100 && !url; i++) {
    try {
      const ep = JSON.parse(fs.readFileSync(path.join(s.dataDir, 'endpoints.json'), 'utf8'));
      const r = (ep.signalr || []).find((x) => x.name === 'dm');
      if (r && r.url) url = r.url.replace(/\/$/, '');
    } catch { /* being rewritten */ }
    if (!url) await sleep(100);
  }
  assert.ok(url, 'the Default-mode resource has a URL');
  dp = { url, key: keys.primaryKey, key2: keys.secondaryKey };
  // wait until its data plane answers
  let up = false;
  for (let i = 0; i < 100 && !up; i++) {
    try {
      up = (await request(`${url}/api/health`, { method: 'HEAD', timeoutMs: 1000 })).status === 200;
    } catch { /* not listening yet */ }
    if (!up) await sleep(100);
  }
  assert.ok(up, `the Default-mode data plane at ${url} answers; sigrid said:\n${s.stderr.split('\n').filter((l) => /serve|signalr|error/i.test(l)).slice(-15).join('\n')}`);
});
after(async () => {
  for (const a of apps) a.close();
  if (base) await base.stop();
});

test('without an app server, negotiate says app servers are not connected', { skip: dev }, async () => {
  const tok = await clientToken(dp, 'chat');
  const r = await request(`${dp.url}/client/negotiate?hub=chat&negotiateVersion=1`, {
    method: 'POST', headers: { Authorization: `Bearer ${tok}` },
  });
  assert.equal(r.status, 200);
  assert.match(r.json.error, /app servers are not connected/);
});

test('/server needs a server token for the hub', { skip: dev }, async () => {
  await assert.rejects(startAppServer({ ...dp, key: 'wrong-key-wrong-key' }, 'chat'), /401/);
  const ct = await clientToken(dp, 'chat');
  const r = await request(`${dp.url}/server/?hub=chat&cid=x`, { headers: { Authorization: `Bearer ${ct}` } });
  assert.equal(r.status, 401);
  assert.match(r.json.hint, /client token/);
});

test('clients reach the app server: handshake, invocations, broadcasts, groups, user claims', { skip: dev, timeout: 60000 }, async () => {
  const a1 = await startAppServer(dp, 'chat');
  const a2 = await startAppServer(dp, 'chat');
  apps.push(a1, a2);
  const c1 = await connect(dp, { hub: 'chat', user: 'alice' });
  const c2 = await connect(dp, { hub: 'chat', user: 'bob', protocol: 'msgpack', transport: 'lp' });
  const c3 = await connect(dp, { hub: 'chat', transport: 'sse' });
  const g = [c1, c2, c3].map((c) => collect(c));
  assert.equal(await c1.invoke('echo', { x: [1, 'é'] }).then(JSON.stringify), JSON.stringify({ x: [1, 'é'] }));
  assert.equal(await c2.invoke('echo', 42), 42);
  assert.equal(await c3.invoke('echo', 'sse'), 'sse');
  await assert.rejects(c1.invoke('nosuch'), /unknown method/);
  // clients were spread over both app-server connections, with their claims and protocol
  const all = new Map([...a1.clients, ...a2.clients]);
  assert.equal(all.size, 3);
  assert.ok(a1.clients.size >= 1 && a2.clients.size >= 1, 'round robin');
  const alice = all.get(c1.connectionId);
  assert.equal(alice.claims['asrs.s.uid'], 'alice');
  assert.match(alice.query, /hub=chat/);
  assert.equal(all.get(c2.connectionId).protocol, 'messagepack');
  // the app server broadcasts (BroadcastData with both protocols)
  await c1.invoke('broadcast', 'hi all');
  for (const x of g) await x.waitFor(1);
  assert.deepEqual(g.map((x) => x[0][0]), ['hi all', 'hi all', 'hi all']);
  // groups through the app server (JoinGroupWithAck, GroupBroadcastData)
  await c1.invoke('joinGroup', 'room');
  await c2.invoke('joinGroup', 'room');
  await c3.invoke('sendToGroup', 'room', 'to room');
  await g[0].waitFor(2);
  await g[1].waitFor(2);
  await sleep(200);
  assert.equal(g[2].length, 1);
  // REST in Default mode reaches the same clients
  const r = await rest(dp, 'POST', '/api/hubs/chat/users/bob/:send', { target: 'msg', arguments: ['rest to bob'] });
  assert.equal(r.status, 202);
  await g[1].waitFor(3);
  assert.equal(g[1][2][0], 'rest to bob');
  assert.equal((await rest(dp, 'HEAD', '/api/hubs/chat/groups/room')).status, 200);
  // a client leaving is reported to its app server
  const id3 = c3.connectionId;
  await c3.stop();
  for (let i = 0; i < 50 && !a1.closed.includes(id3) && !a2.closed.includes(id3); i++) await sleep(50);
  assert.ok(a1.closed.includes(id3) || a2.closed.includes(id3), 'CloseConnection sent to the app server');
  // the app server closes a client (CloseConnection)
  const owner = a1.clients.has(c1.connectionId) ? a1 : a2;
  const closed1 = new Promise((res) => c1.onclose(res));
  owner.send([6, c1.connectionId, Buffer.from('{"type":7,"error":"bye from app"}\x1e'), {}]);
  owner.send([5, c1.connectionId, 'bye from app', {}, {}]);
  assert.match(String(await closed1), /bye from app/);
  // an app-server connection that drops takes its clients down with an error
  const owner2 = a1.clients.has(c2.connectionId) ? a1 : a2;
  const closed2 = new Promise((res) => c2.onclose(res));
  owner2.ws.terminate();
  assert.match(String(await closed2), /app server connection was lost/);
});

test('app server acks: existence checks and user groups', { skip: dev, timeout: 30000 }, async () => {
  const a = await startAppServer(dp, 'acks');
  apps.push(a);
  const c = await connect(dp, { hub: 'acks', user: 'carol' });
  const got = collect(c);
  const ok = (m) => m[2] === 1;
  assert.ok(ok(await a.ack([24, c.connectionId, {}])), 'connection exists');
  assert.ok(!ok(await a.ack([24, 'nope', {}])), 'connection does not exist');
  assert.ok(ok(await a.ack([25, 'carol', {}])), 'user exists');
  assert.ok(ok(await a.ack([26, 'carol', 'vip', {}])), 'user joined group');
  assert.ok(ok(await a.ack([21, 'carol', 'vip', {}])), 'user in group');
  assert.ok(ok(await a.ack([23, 'vip', {}])), 'group exists');
  a.send([13, 'vip', [], a.payloads('msg', ['vip only']), {}, [], null]);
  await got.waitFor(1);
  assert.equal(got[0][0], 'vip only');
  a.send([8, 'carol', a.payloads('msg', ['to carol']), {}]);
  await got.waitFor(2);
  // service pings: echo is answered
  a.send([3, 'echo', '123']);
  for (let i = 0; i < 50 && !a.seen.some((m) => m[0] === 3 && m[1] === 'echo' && m[2] === '123'); i++) await sleep(50);
  assert.ok(a.seen.some((m) => m[0] === 3 && m[1] === 'echo'));
  const closed = new Promise((res) => c.onclose(res));
  assert.ok(ok(await a.ack([32, 'carol', 'kicked', [], {}], 3))); // [32, user, reason, ackId, excluded, {ext}]
  assert.match(String(await closed), /kicked/);
});
