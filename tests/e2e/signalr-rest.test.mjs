// SignalR data-plane REST API (2022-06-01 and v1): targeted sends reach exactly their
// targets, `excluded`, group/user membership, existence checks (GET and HEAD), closing
// connections, bad input.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDataPlane, connect, collect, rest, sleep } from './lib/signalr.mjs';

const HUB = 'resthub';
let dp;
let cs; // {a1, a2 (user alice), b (user bob), x (anonymous, LongPolling)}
let got;

before(async () => {
  dp = await startDataPlane();
  cs = {
    a1: await connect(dp, { hub: HUB, user: 'alice' }),
    a2: await connect(dp, { hub: HUB, user: 'alice', transport: 'sse' }),
    b: await connect(dp, { hub: HUB, user: 'bob', protocol: 'msgpack' }),
    x: await connect(dp, { hub: HUB, transport: 'lp' }),
  };
  got = Object.fromEntries(Object.entries(cs).map(([k, c]) => [k, collect(c)]));
});
after(async () => {
  if (cs) await Promise.all(Object.values(cs).map((c) => c.stop()));
  if (dp) await dp.stop();
});

function clear() { for (const g of Object.values(got)) g.length = 0; }

/** Sends with a unique marker and checks exactly `who` received it. */
async function expectOnly(send, who) {
  clear();
  const marker = `m-${Math.random().toString(36).slice(2)}`;
  const r = await send(marker);
  assert.ok(r.status === 202, `status ${r.status}: ${r.body}`);
  for (const k of who) await got[k].waitFor(1);
  await sleep(300);
  for (const k of Object.keys(got)) {
    const n = got[k].filter((a) => a[0] === marker).length;
    assert.equal(n, who.includes(k) ? 1 : 0, `${k} received ${n} copies of the ${who.join('+') || 'nobody'} message`);
  }
}

const send = (path, marker) => rest(dp, 'POST', path, { target: 'msg', arguments: [marker] });

test('health answers HEAD and GET without a token', async () => {
  for (const p of ['/api/health', '/api/v1/health']) {
    for (const m of ['HEAD', 'GET']) {
      const r = await rest(dp, m, p, undefined, { token: '' });
      assert.equal(r.status, 200, `${m} ${p}`);
    }
  }
});

test('broadcast reaches everyone; excluded (repeated) is honoured', async () => {
  await expectOnly((m) => send(`/api/hubs/${HUB}/:send`, m), ['a1', 'a2', 'b', 'x']);
  const ex = `excluded=${cs.a1.connectionId}&excluded=${cs.x.connectionId}`;
  await expectOnly((m) => send(`/api/hubs/${HUB}/:send?${ex}`, m), ['a2', 'b']);
  // PascalCase body, as the .NET Management SDK writes it
  await expectOnly((m) => rest(dp, 'POST', `/api/hubs/${HUB}/:send`, { Target: 'msg', Arguments: [m] }), ['a1', 'a2', 'b', 'x']);
});

test('user and connection sends reach exactly their targets', async () => {
  await expectOnly((m) => send(`/api/hubs/${HUB}/users/alice/:send`, m), ['a1', 'a2']);
  await expectOnly((m) => send(`/api/hubs/${HUB}/users/bob/:send`, m), ['b']);
  await expectOnly((m) => send(`/api/hubs/${HUB}/users/nobody/:send`, m), []);
  await expectOnly((m) => send(`/api/hubs/${HUB}/connections/${cs.x.connectionId}/:send`, m), ['x']);
  await expectOnly((m) => send(`/api/hubs/${HUB}/connections/${cs.b.connectionId}/:send`, m), ['b']);
  // v1 aliases without /:send
  await expectOnly((m) => send(`/api/v1/hubs/${HUB}/users/alice`, m), ['a1', 'a2']);
  await expectOnly((m) => send(`/api/v1/hubs/${HUB}`, m), ['a1', 'a2', 'b', 'x']);
});

test('connection <-> group membership, group sends, existence with HEAD and GET', async () => {
  const g = 'group one';
  const ge = encodeURIComponent(g);
  for (const m of ['HEAD', 'GET']) {
    assert.equal((await rest(dp, m, `/api/hubs/${HUB}/groups/${ge}`)).status, 404);
  }
  const r404 = await rest(dp, 'GET', `/api/hubs/${HUB}/groups/${ge}`);
  assert.equal(r404.headers['x-ms-error-code'], 'Warning.Group.NotExisted');
  assert.equal((await rest(dp, 'PUT', `/api/hubs/${HUB}/groups/${ge}/connections/${cs.a1.connectionId}`)).status, 200);
  assert.equal((await rest(dp, 'PUT', `/api/hubs/${HUB}/groups/${ge}/connections/${cs.x.connectionId}`)).status, 200);
  // emulator alias: /connections/{id}/groups/{group}
  assert.equal((await rest(dp, 'PUT', `/api/v1/hubs/${HUB}/connections/${cs.b.connectionId}/groups/${ge}`)).status, 200);
  for (const m of ['HEAD', 'GET']) {
    assert.equal((await rest(dp, m, `/api/hubs/${HUB}/groups/${ge}`)).status, 200);
  }
  await expectOnly((m) => send(`/api/hubs/${HUB}/groups/${ge}/:send`, m), ['a1', 'x', 'b']);
  await expectOnly((m) => send(`/api/hubs/${HUB}/groups/${ge}/:send?excluded=${cs.b.connectionId}`, m), ['a1', 'x']);
  assert.equal((await rest(dp, 'DELETE', `/api/hubs/${HUB}/groups/${ge}/connections/${cs.x.connectionId}`)).status, 200);
  assert.equal((await rest(dp, 'DELETE', `/api/hubs/${HUB}/connections/${cs.b.connectionId}/groups`)).status, 200);
  await expectOnly((m) => send(`/api/hubs/${HUB}/groups/${ge}/:send`, m), ['a1']);
  assert.equal((await rest(dp, 'DELETE', `/api/hubs/${HUB}/groups/${ge}/connections/${cs.a1.connectionId}`)).status, 200);
  assert.equal((await rest(dp, 'HEAD', `/api/hubs/${HUB}/groups/${ge}`)).status, 404);
  const nf = await rest(dp, 'PUT', `/api/hubs/${HUB}/groups/${ge}/connections/doesnotexist`);
  assert.equal(nf.status, 404);
  assert.equal(nf.headers['x-ms-error-code'], 'Error.Connection.NotExisted');
});

test('user <-> group membership (also for offline users, with ttl), existence checks', async () => {
  const base = `/api/hubs/${HUB}/users`;
  for (const m of ['HEAD', 'GET']) {
    const r = await rest(dp, m, `${base}/alice/groups/team`);
    assert.equal(r.status, 404);
    assert.equal(r.headers['x-ms-error-code'], 'Info.User.NotInGroup');
  }
  assert.equal((await rest(dp, 'PUT', `${base}/alice/groups/team`)).status, 200);
  for (const m of ['HEAD', 'GET']) {
    assert.equal((await rest(dp, m, `${base}/alice/groups/team`)).status, 200);
    assert.equal((await rest(dp, m, `/api/v1/hubs/${HUB}/groups/team/users/alice`)).status, 200);
  }
  await expectOnly((m) => send(`/api/hubs/${HUB}/groups/team/:send`, m), ['a1', 'a2']);
  // ttl: membership ends by itself
  assert.equal((await rest(dp, 'PUT', `${base}/bob/groups/team?ttl=1`)).status, 200);
  await expectOnly((m) => send(`/api/hubs/${HUB}/groups/team/:send`, m), ['a1', 'a2', 'b']);
  await sleep(2600);
  assert.equal((await rest(dp, 'HEAD', `${base}/bob/groups/team`)).status, 404);
  await expectOnly((m) => send(`/api/hubs/${HUB}/groups/team/:send`, m), ['a1', 'a2']);
  assert.equal((await rest(dp, 'DELETE', `${base}/alice/groups/team`)).status, 204);
  assert.equal((await rest(dp, 'HEAD', `${base}/alice/groups/team`)).status, 404);
  // remove a user from all groups
  assert.equal((await rest(dp, 'PUT', `${base}/alice/groups/g1`)).status, 200);
  assert.equal((await rest(dp, 'PUT', `${base}/alice/groups/g2`)).status, 200);
  assert.equal((await rest(dp, 'DELETE', `${base}/alice/groups`)).status, 204);
  assert.equal((await rest(dp, 'GET', `${base}/alice/groups/g1`)).status, 404);
  assert.equal((await rest(dp, 'GET', `${base}/alice/groups/g2`)).status, 404);
  // user and connection existence
  for (const m of ['HEAD', 'GET']) {
    assert.equal((await rest(dp, m, `${base}/alice`)).status, 200);
    const u = await rest(dp, m, `${base}/nobody`);
    assert.equal(u.status, 404);
    assert.equal(u.headers['x-ms-error-code'], 'Warning.User.NotExisted');
    assert.equal((await rest(dp, m, `/api/hubs/${HUB}/connections/${cs.b.connectionId}`)).status, 200);
    const c = await rest(dp, m, `/api/hubs/${HUB}/connections/nope`);
    assert.equal(c.status, 404);
    assert.equal(c.headers['x-ms-error-code'], 'Warning.Connection.NotExisted');
    // a connection of another hub does not exist in this one
    assert.equal((await rest(dp, m, `/api/hubs/otherhub/connections/${cs.b.connectionId}`)).status, 404);
  }
});

test('DELETE connection closes it with the reason; closeConnections with excluded', { timeout: 30000 }, async () => {
  const v = await connect(dp, { hub: HUB, user: 'victim' });
  const closed = new Promise((r) => v.onclose(r));
  const r = await rest(dp, 'DELETE', `/api/hubs/${HUB}/connections/${v.connectionId}?reason=${encodeURIComponent('kicked by test')}`);
  assert.equal(r.status, 200);
  const err = await closed;
  assert.match(String(err), /kicked by test/);
  assert.equal((await rest(dp, 'HEAD', `/api/hubs/${HUB}/connections/${v.connectionId}`)).status, 404);
  assert.equal((await rest(dp, 'HEAD', `/api/hubs/${HUB}/users/victim`)).status, 404);

  const h2 = 'closehub';
  const k1 = await connect(dp, { hub: h2, user: 'u' });
  const k2 = await connect(dp, { hub: h2, user: 'u', transport: 'lp' });
  const k3 = await connect(dp, { hub: h2, user: 'w' });
  const c1 = new Promise((res) => k1.onclose(res));
  const c2 = new Promise((res) => k2.onclose(res));
  const rc = await rest(dp, 'POST', `/api/hubs/${h2}/users/u/:closeConnections?reason=bye`);
  assert.equal(rc.status, 204);
  await c1;
  await c2;
  assert.equal(k3.state, 'Connected');
  const k4 = await connect(dp, { hub: h2 });
  const c3 = new Promise((res) => k3.onclose(res));
  const rh = await rest(dp, 'POST', `/api/hubs/${h2}/:closeConnections?excluded=${k4.connectionId}`);
  assert.equal(rh.status, 204);
  await c3;
  await sleep(200);
  assert.equal(k4.state, 'Connected');
  await k4.stop();
});

test('bad input gets 400 with an ErrorDetail; oversized bodies 413; unknown routes 404', async () => {
  const p = `/api/hubs/${HUB}/:send`;
  let r = await rest(dp, 'POST', p, '{"target": "x", "arguments": [1,', { headers: { 'Content-Type': 'application/json' } });
  assert.equal(r.status, 400);
  assert.ok(r.json.code && r.json.message, r.body);
  r = await rest(dp, 'POST', p, { arguments: [1] });
  assert.equal(r.status, 400);
  assert.equal(r.json.target, 'target');
  r = await rest(dp, 'POST', p, { target: 'x', arguments: 5 });
  assert.equal(r.status, 400);
  r = await rest(dp, 'POST', p, '[1,2]', { headers: { 'Content-Type': 'application/json' } });
  assert.equal(r.status, 400);
  r = await rest(dp, 'POST', '/api/hubs/1badhub/:send', { target: 'x', arguments: [] });
  assert.equal(r.status, 400);
  assert.equal(r.json.target, 'hub');
  r = await rest(dp, 'POST', `/api/hubs/${HUB}/:send?application=bad-app`, { target: 'x', arguments: [] });
  assert.equal(r.status, 400);
  r = await rest(dp, 'POST', `/api/hubs/${HUB}/groups/%20%20/:send`, { target: 'x', arguments: [] });
  assert.equal(r.status, 400);
  r = await rest(dp, 'PUT', `/api/hubs/${HUB}/users/alice/groups/g?ttl=abc`);
  assert.equal(r.status, 400);
  r = await rest(dp, 'POST', p, Buffer.from([0x01, 0x02]), { headers: { 'Content-Type': 'application/octet-stream' } });
  assert.equal(r.status, 400);
  r = await rest(dp, 'POST', p, { target: 'x', arguments: ['y'.repeat(1100 * 1024)] });
  assert.equal(r.status, 413);
  r = await rest(dp, 'GET', `/api/hubs/${HUB}/:send`);
  assert.equal(r.status, 405);
  r = await rest(dp, 'GET', `/api/hubs/${HUB}/nothing/here`);
  assert.equal(r.status, 404);
  // the clients are still fine
  await expectOnly((m) => send(`/api/hubs/${HUB}/:send`, m), ['a1', 'a2', 'b', 'x']);
});
