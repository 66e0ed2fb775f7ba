// SignalR data plane under abuse and failure: junk bytes, half-open sockets, protocol
// garbage, oversized messages, handshake timeout, a dropped WebSocket with stateful
// reconnect, shutdown Close messages, restart keeping the keys.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import WebSocket from 'ws';
import {
  startDataPlane, connect, collect, rest, clientToken, request, sleep, listKeys,
} from './lib/signalr.mjs';

let dp;
let watcher; // a bystander client that must keep working throughout
let watched;
before(async () => {
  dp = await startDataPlane();
  watcher = await connect(dp, { hub: 'robust' });
  watched = collect(watcher);
});
after(async () => {
  if (watcher) await watcher.stop().catch(() => {});
  if (dp) await dp.stop();
});

async function bystanderStillFine() {
  const n = watched.length;
  const r = await rest(dp, 'POST', '/api/hubs/robust/:send', { target: 'msg', arguments: ['ping'] });
  assert.equal(r.status, 202);
  await watched.waitFor(n + 1);
  assert.equal(watcher.state, 'Connected');
}

/** Raw hub connection over `ws`: negotiate, open, optional handshake. */
async function rawWs(hub, { handshake = true, protocol = 'json' } = {}) {
  const tok = await clientToken(dp, hub);
  const n = await request(`${dp.url}/client/negotiate?hub=${hub}&negotiateVersion=1`, {
    method: 'POST', headers: { Authorization: `Bearer ${tok}` },
  });
  const ws = new WebSocket(`${dp.url.replace(/^http/, 'ws')}/client/?hub=${hub}&id=${n.json.connectionToken}`, {
    headers: { Authorization: `Bearer ${tok}` },
  });
  const frames = [];
  ws.on('message', (d) => frames.push(d.toString()));
  const closed = new Promise((r) => ws.on('close', (code) => r(code)));
  await new Promise((res, rej) => { ws.once('open', res); ws.once('error', rej); });
  if (handshake) ws.send(`{"protocol":"${protocol}","version":1}\x1e`);
  return { ws, frames, closed, id: n.json.connectionId };
}

test('junk bytes and half-open TCP sockets disturb nobody', async () => {
  const u = new URL(dp.url);
  const socks = [];
  for (let i = 0; i < 5; i++) {
    const s = net.connect(Number(u.port), u.hostname);
    s.on('error', () => {});
    await new Promise((r) => s.once('connect', r));
    socks.push(s);
  }
  socks[0].write(Buffer.from([0, 1, 2, 3, 255, 254, 13, 10, 13, 10]));
  socks[1].write('GET /client/?hub=robust HTTP/1.1\r\nHost: x\r\n'); // never finished
  socks[2].write('POST /api/hubs/robust/:send HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nabc'); // body never comes
  socks[3].write(`GET /client/?hub=robust HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: garbage\r\nSec-WebSocket-Version: 13\r\n\r\n`);
  socks[4].write('\x16\x03\x01\x00\x05hello'); // a TLS hello on the plain port
  await sleep(300);
  await bystanderStillFine();
  for (const s of socks) s.destroy();
  await bystanderStillFine();
});

test('protocol garbage closes only that connection, with a Close message', { timeout: 30000 }, async () => {
  const a = await rawWs('robust');
  a.ws.send('this is not json\x1e');
  const code = await a.closed;
  assert.ok(a.frames.some((f) => f.startsWith('{}')), 'handshake answered');
  assert.ok(a.frames.some((f) => f.includes('"type":7') && f.includes('error')), `close message sent: ${a.frames}`);
  assert.ok(code === 1000 || code === 1006, String(code));
  const b = await rawWs('robust', { protocol: 'carrier-pigeon' });
  await b.closed;
  assert.match(b.frames.join(''), /not available/);
  const c = await rawWs('robust', { handshake: false });
  c.ws.send('{"protocol":'); // partial handshake
  c.ws.send(Buffer.alloc(5000, 'x')); // never terminated, over the handshake cap
  await c.closed;
  await bystanderStillFine();
});

test('an oversized client message closes that client with an error, others continue', { timeout: 30000 }, async () => {
  const big = await connect(dp, { hub: 'robust' });
  const closed = new Promise((r) => big.onclose(r));
  big.send('huge', 'x'.repeat(40 * 1024)).catch(() => {});
  const err = await closed;
  assert.match(String(err), /maximum message size/i);
  const bigMp = await connect(dp, { hub: 'robust', protocol: 'msgpack' });
  const closedMp = new Promise((r) => bigMp.onclose(r));
  bigMp.send('huge', 'y'.repeat(200 * 1024)).catch(() => {});
  assert.match(String(await closedMp), /maximum message size/i);
  await bystanderStillFine();
});

test('a client that stops reading is cut off; everyone else gets every message', { timeout: 120000 }, async () => {
  const slow = await rawWs('robust');
  await new Promise((r) => setTimeout(r, 200));
  slow.ws._socket.pause(); // never read again: its queue grows on the server
  const n0 = watched.length;
  const big = 'z'.repeat(900 * 1024);
  let cut = false;
  let sent = 0;
  for (; sent < 60 && !cut; sent++) {
    const r = await rest(dp, 'POST', '/api/hubs/robust/:send', { target: 'msg', arguments: [big] });
    assert.equal(r.status, 202);
    if (sent % 5 === 4) {
      await watched.waitFor(n0 + sent + 1, 30000);
      cut = (await rest(dp, 'HEAD', `/api/hubs/robust/connections/${slow.id}`)).status === 404;
    }
  }
  await watched.waitFor(n0 + sent, 30000);
  for (let i = 0; i < 100 && !cut; i++) {
    cut = (await rest(dp, 'HEAD', `/api/hubs/robust/connections/${slow.id}`)).status === 404;
    if (!cut) await sleep(200);
  }
  assert.ok(cut, `the slow consumer was cut (after ${sent} messages of 900 KB)`);
  slow.ws.terminate();
  await bystanderStillFine();
});

test('a WebSocket that never sends the handshake is closed after the handshake timeout', { timeout: 40000 }, async () => {
  const t0 = Date.now();
  const c = await rawWs('robust', { handshake: false });
  await c.closed;
  const dt = Date.now() - t0;
  assert.ok(dt >= 13000 && dt < 25000, `closed after ${dt} ms`);
  await bystanderStillFine();
});

test('stateful reconnect: a dropped WebSocket loses no message', { timeout: 60000 }, async () => {
  const c = await connect(dp, { hub: 'stateful', stateful: true });
  const got = collect(c);
  const id = c.connectionId;
  const sendN = async (from, to) => {
    for (let i = from; i < to; i++) {
      const r = await rest(dp, 'POST', '/api/hubs/stateful/:send', { target: 'msg', arguments: [i] });
      assert.equal(r.status, 202);
    }
  };
  await sendN(0, 5);
  await got.waitFor(5);
  // kill the TCP socket under the client (no close handshake), then send while it reconnects
  const sock = c.connection.transport._webSocket._socket;
  assert.ok(sock, 'found the underlying socket');
  sock.destroy();
  await sendN(5, 15);
  await got.waitFor(15, 15000);
  await sleep(500);
  assert.deepEqual(got.map((a) => a[0]), [...Array(15).keys()]);
  assert.equal(c.state, 'Connected');
  assert.equal(c.connectionId, id);
  // and again, after acks flowed
  await sleep(1500);
  c.connection.transport._webSocket._socket.destroy();
  await sendN(15, 20);
  await got.waitFor(20, 15000);
  assert.deepEqual(got.map((a) => a[0]), [...Array(20).keys()]);
  await c.stop();
});

test('shutdown sends every client a Close message; a restart keeps the keys', { skip: !!process.env.SIGRID_DEV_SIGNALR, timeout: 90000 }, async () => {
  const ws = await connect(dp, { hub: 'bye' });
  const sse = await connect(dp, { hub: 'bye', transport: 'sse' });
  const lp = await connect(dp, { hub: 'bye', transport: 'lp' });
  const closes = [ws, sse, lp].map((c) => new Promise((r) => c.onclose(r)));
  await watcher.stop();
  watcher = null;
  const before = dp.keys;
  const s2 = await dp.sigrid.restart();
  dp.stop = () => s2.stop();
  const errs = await Promise.all(closes);
  assert.match(String(errs[0]), /shutting down/i);
  assert.match(String(errs[1]), /shutting down/i);
  assert.match(String(errs[2]), /shutting down/i);
  const after = await listKeys(s2);
  assert.equal(after.primaryKey, before.primaryKey);
  assert.equal(after.secondaryKey, before.secondaryKey);
  const c = await connect(dp, { hub: 'bye' });
  const got = collect(c);
  assert.equal((await rest(dp, 'POST', '/api/hubs/bye/:send', { target: 'msg', arguments: ['back'] })).status, 202);
  await got.waitFor(1);
  await c.stop();
});
