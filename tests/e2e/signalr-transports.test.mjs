// SignalR data plane: negotiate, the three transports with both hub protocols, broadcast,
// serverless invocation errors, asrs.s.htt, the application prefix.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startDataPlane, connect, collect, rest, clientToken, request, signalR, sleep,
} from './lib/signalr.mjs';

let dp;
before(async () => { dp = await startDataPlane(); });
after(async () => { if (dp) await dp.stop(); });

async function negotiate(query, token) {
  return request(`${dp.url}/client/negotiate?${query}`, {
    method: 'POST', headers: token ? { Authorization: `Bearer ${token}` } : {},
  });
}

test('negotiate v1: distinct URL-safe connectionId and connectionToken, all transports', async () => {
  const tok = await clientToken(dp, 'chat');
  const r = await negotiate('hub=chat&negotiateVersion=1', tok);
  assert.equal(r.status, 200, r.body);
  const j = r.json;
  assert.equal(j.negotiateVersion, 1);
  assert.match(j.connectionId, /^[A-Za-z0-9_-]+$/);
  assert.match(j.connectionToken, /^[A-Za-z0-9_-]+$/);
  assert.notEqual(j.connectionId, j.connectionToken);
  assert.deepEqual(j.availableTransports.map((t) => t.transport), ['WebSockets', 'ServerSentEvents', 'LongPolling']);
  assert.deepEqual(j.availableTransports[1].transferFormats, ['Text']);
  assert.equal(j.useStatefulReconnect, undefined);
  assert.equal(j.ProtocolVersion, undefined);
});

test('negotiate v0 has no connectionToken; stateful flag echoed for v1', async () => {
  const tok = await clientToken(dp, 'chat');
  const r0 = await negotiate('hub=chat', tok);
  assert.equal(r0.status, 200);
  assert.equal(r0.json.negotiateVersion, 0);
  assert.equal(r0.json.connectionToken, undefined);
  assert.ok(r0.json.connectionId);
  const r1 = await negotiate('hub=chat&negotiateVersion=1&useStatefulReconnect=true', tok);
  assert.equal(r1.json.useStatefulReconnect, true);
});

test('asrs.s.htt restricts availableTransports', async () => {
  const tok = await clientToken(dp, 'chat', { extra: { 'asrs.s.htt': 4 } });
  const r = await negotiate('hub=chat&negotiateVersion=1', tok);
  assert.deepEqual(r.json.availableTransports.map((t) => t.transport), ['LongPolling']);
  const tok2 = await clientToken(dp, 'chat', { extra: { 'asrs.s.htt': '3' } });
  const r2 = await negotiate('hub=chat&negotiateVersion=1', tok2);
  assert.deepEqual(r2.json.availableTransports.map((t) => t.transport), ['WebSockets', 'ServerSentEvents']);
});

for (const [transport, protocol] of [['ws', 'json'], ['ws', 'msgpack'], ['sse', 'json'], ['lp', 'json'], ['lp', 'msgpack']]) {
  test(`@microsoft/signalr over ${transport}/${protocol}: REST broadcast arrives, invoke gets a completion error`, async () => {
    const c = await connect(dp, { hub: 'transports', transport, protocol, user: 'tuser' });
    try {
      const got = collect(c);
      const args = ['hello', 42, { nested: [1, 2, { x: 'é✓' }] }, null, true];
      const r = await rest(dp, 'POST', '/api/hubs/transports/:send', { target: 'msg', arguments: args });
      assert.equal(r.status, 202, r.body);
      await got.waitFor(1);
      assert.deepEqual(got[0], args);
      await assert.rejects(c.invoke('echo', 1), /Serverless/);
      // a non-blocking send is ignored (logged), the connection stays
      await c.send('fire', 1);
      const r2 = await rest(dp, 'POST', '/api/hubs/transports/:send', { target: 'msg', arguments: ['again'] });
      assert.equal(r2.status, 202);
      await got.waitFor(2);
      assert.deepEqual(got[1], ['again']);
      assert.equal(c.state, signalR.HubConnectionState.Connected);
    } finally {
      await c.stop();
    }
  });
}

test('hub names are case-insensitive and application=app&hub=chat is hub app_chat', async () => {
  const a = await connect(dp, { hub: 'App_Chat' });
  const b = await connect(dp, { hub: 'chat' });
  try {
    const ga = collect(a);
    const gb = collect(b);
    const r = await rest(dp, 'POST', '/api/hubs/chat/:send?application=app', { target: 'msg', arguments: ['to-app'] });
    assert.equal(r.status, 202, r.body);
    await ga.waitFor(1);
    assert.deepEqual(ga[0], ['to-app']);
    await sleep(200);
    assert.equal(gb.length, 0);
    // the client side of the mapping: /client/?application=app&hub=chat
    const tok = await clientToken(dp, 'app_chat');
    const n = await request(`${dp.url}/client/negotiate?application=app&hub=chat&negotiateVersion=1`, {
      method: 'POST', headers: { Authorization: `Bearer ${tok}` },
    });
    assert.equal(n.status, 200, n.body);
  } finally {
    await a.stop();
    await b.stop();
  }
});

test('binary REST body (MessagePack map protocol -> framed bytes) is forwarded as is', async () => {
  const { encode } = await import('@msgpack/msgpack').catch(() => ({ encode: null }));
  const j = await connect(dp, { hub: 'bin' });
  const m = await connect(dp, { hub: 'bin', protocol: 'msgpack' });
  try {
    const gj = collect(j);
    const gm = collect(m);
    const jsonFrame = Buffer.from(`${JSON.stringify({ type: 1, target: 'msg', arguments: ['raw-json'] })}\x1e`);
    // MessagePack invocation [1, {}, nil, "msg", ["raw-mp"], []] with its VarInt length
    const body = Buffer.from([0x96, 0x01, 0x80, 0xc0, 0xa3, ...Buffer.from('msg'), 0x91, 0xa6, ...Buffer.from('raw-mp'), 0x90]);
    const mpFrame = Buffer.concat([Buffer.from([body.length]), body]);
    const mapBuf = encode
      ? Buffer.from(encode({ json: jsonFrame, messagepack: mpFrame }))
      : Buffer.concat([Buffer.from([0x82, 0xa4, ...Buffer.from('json'), 0xc4, jsonFrame.length]), jsonFrame,
        Buffer.from([0xab, ...Buffer.from('messagepack'), 0xc4, mpFrame.length]), mpFrame]);
    const r = await rest(dp, 'POST', '/api/hubs/bin/:send', mapBuf, { headers: { 'Content-Type': 'application/octet-stream' } });
    assert.equal(r.status, 202, r.body);
    await gj.waitFor(1);
    await gm.waitFor(1);
    assert.deepEqual(gj[0], ['raw-json']);
    assert.deepEqual(gm[0], ['raw-mp']);
  } finally {
    await j.stop();
    await m.stop();
  }
});

test('many messages keep their order on every transport', async () => {
  const cs = await Promise.all([
    connect(dp, { hub: 'order' }), connect(dp, { hub: 'order', transport: 'sse' }),
    connect(dp, { hub: 'order', transport: 'lp', protocol: 'msgpack' }),
  ]);
  try {
    const gs = cs.map((c) => collect(c));
    for (let i = 0; i < 50; i++) {
      const r = await rest(dp, 'POST', '/api/hubs/order/:send', { target: 'msg', arguments: [i] });
      assert.equal(r.status, 202);
    }
    for (const g of gs) {
      await g.waitFor(50, 10000);
      assert.deepEqual(g.map((a) => a[0]), [...Array(50).keys()]);
    }
  } finally {
    await Promise.all(cs.map((c) => c.stop()));
  }
});

test('CORS: preflight and negotiate answer browsers of any origin (with credentials)', async () => {
  const origin = 'http://localhost:5173';
  const pre = await request(`${dp.url}/client/negotiate?hub=chat&negotiateVersion=1`, {
    method: 'OPTIONS',
    headers: { Origin: origin, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'authorization,x-requested-with' },
  });
  assert.equal(pre.status, 204);
  assert.equal(pre.headers['access-control-allow-origin'], origin);
  assert.equal(pre.headers['access-control-allow-credentials'], 'true');
  assert.match(pre.headers['access-control-allow-headers'], /authorization/);
  const tok = await clientToken(dp, 'chat');
  const r = await request(`${dp.url}/client/negotiate?hub=chat&negotiateVersion=1`, {
    method: 'POST', headers: { Origin: origin, Authorization: `Bearer ${tok}` },
  });
  assert.equal(r.status, 200);
  assert.equal(r.headers['access-control-allow-origin'], origin);
  const e = await request(`${dp.url}/client/negotiate?hub=chat`, { method: 'POST', headers: { Origin: origin } });
  assert.equal(e.status, 401);
  assert.equal(e.headers['access-control-allow-origin'], origin);
});
