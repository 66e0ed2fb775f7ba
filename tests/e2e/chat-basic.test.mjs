// examples/chat against sigrid's Default mode with real @microsoft/signalr clients: negotiate
// redirect through the app server, then the service; echo, broadcast, groups, whoami, user
// targeting over every transport and both hub protocols; graceful stop; no app server.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startSigrid, request, sleep } from './lib/sigrid.mjs';
import { signalR, defaultModeResource, startChat, waitConnected, chatClient, collect, chatBinaryPresent, CHAT_BIN } from './lib/chat.mjs';

let s; // sigrid
let res; // the Default-mode resource
let chat; // the running example
const clients = [];

before(async () => {
  assert.ok(chatBinaryPresent(), `the chat example is built (${CHAT_BIN})`);
  s = await startSigrid();
  res = await defaultModeResource(s, 'app');
});
after(async () => {
  for (const c of clients) { try { await c.stop(); } catch { /* already closed */ } }
  if (chat) await chat.stop();
  if (s) await s.stop();
});

test('wrong key: the app server logs the 401 reason and keeps retrying; clients get the service error', { timeout: 90000 }, async () => {
  const bad = res.cs.replace(/AccessKey=[^;]*/, 'AccessKey=wrong-key-wrong-key-wrong-key-0123');
  const c = await startChat(['--connection-string', bad, '--connections', '2']);
  try {
    const m = await c.waitLog(/event=connection_refused [^\n]*/);
    assert.match(m[0], /status=401/);
    assert.match(m[0], /hint=/);
    assert.match(m[0], /action=retry/);
    // the negotiate redirect still works; the service refuses the client: no app server
    const r = await request(`${c.url}/negotiate?negotiateVersion=1`, { method: 'POST' });
    assert.equal(r.status, 200);
    assert.match(r.json.url, /\/client\/\?hub=chat&asrs\.op=%2Fchat&negotiateVersion=1/);
    assert.ok(r.json.accessToken);
    assert.deepEqual(r.json.availableTransports, []);
    const client = await chatClient(c, { start: false });
    await assert.rejects(client.start(), /Unauthorized\.InvalidSignature/); // the service's 401
    // still running, still retrying (a second attempt is logged at debug; the process lives)
    await sleep(2500);
    assert.equal(c.exited, null, 'never exits on 401');
  } finally {
    const ex = await c.stop();
    assert.equal(ex.code, 0);
  }
});

test('a client arriving while no app server is connected gets the service error', { timeout: 60000 }, async () => {
  const c = await startChat(['--connection-string', res.cs, '--connections', '1']);
  let neg;
  try {
    await waitConnected(c, 1);
    neg = (await request(`${c.url}/negotiate?negotiateVersion=1`, { method: 'POST' })).json;
  } finally {
    assert.equal((await c.stop()).code, 0);
  }
  const client = new signalR.HubConnectionBuilder()
    .withUrl(neg.url, { accessTokenFactory: () => neg.accessToken })
    .configureLogging(signalR.LogLevel.None).build();
  await assert.rejects(client.start(), /app servers are not connected/);
});

test('echo, broadcast, whoami over WebSockets/json', { timeout: 90000 }, async () => {
  chat = await startChat(['--connection-string', res.cs]);
  await waitConnected(chat, 5);
  const a = await chatClient(chat, { user: 'alice' });
  const b = await chatClient(chat, { user: 'bob', protocol: 'msgpack' });
  clients.push(a, b);
  assert.equal(await a.invoke('echo', 'hello'), 'hello');
  assert.deepEqual(await a.invoke('echo', { x: [1, 'é', null] }), { x: [1, 'é', null] });
  assert.equal(await b.invoke('echo', 42), 42);
  const who = await a.invoke('whoami');
  assert.equal(who.connectionId, a.connectionId);
  assert.equal(who.userId, 'alice');
  const ga = collect(a);
  const gb = collect(b);
  await b.invoke('broadcast', 'bob', 'hi all');
  await ga.waitFor(1);
  await gb.waitFor(1);
  assert.deepEqual(ga[0], ['bob', 'hi all']);
  assert.deepEqual(gb[0], ['bob', 'hi all']);
  await assert.rejects(a.invoke('nosuch'), /Unknown hub method/);
  await assert.rejects(a.invoke('echo'), /expects 1/);
});

test('groups: join, sendToGroup (user id as the name), leave', { timeout: 60000 }, async () => {
  assert.ok(chat, 'chat runs');
  const a = await chatClient(chat, { user: 'carol' });
  const b = await chatClient(chat, { user: 'dave', transport: 'sse' });
  const c = await chatClient(chat, { user: 'erin', transport: 'lp' });
  clients.push(a, b, c);
  const [ga, gb, gc] = [a, b, c].map((x) => collect(x));
  await a.invoke('joinGroup', 'room');
  await b.invoke('joinGroup', 'room');
  await c.invoke('sendToGroup', 'room', 'to the room');
  await ga.waitFor(1);
  await gb.waitFor(1);
  assert.deepEqual(ga[0], ['erin', 'to the room']);
  assert.deepEqual(gb[0], ['erin', 'to the room']);
  await b.invoke('leaveGroup', 'room');
  await a.invoke('sendToGroup', 'room', 'second');
  await ga.waitFor(2);
  assert.deepEqual(ga[1], ['carol', 'second']);
  // b left: a broadcast reaches it, the group message did not
  await c.invoke('broadcast', 'erin', 'marker');
  await gb.waitFor(2);
  assert.deepEqual(gb.map((m) => m[1]), ['to the room', 'marker']);
  assert.equal(gc.filter((m) => m[1] !== 'marker').length, 0, 'the sender is not in the group');
  // whoami over SSE/json and LP/json
  assert.equal((await b.invoke('whoami')).userId, 'dave');
  assert.equal((await c.invoke('whoami')).connectionId, c.connectionId);
});

test('user targeting: REST to a user reaches the clients the app server knows as that user', { timeout: 60000 }, async () => {
  assert.ok(chat, 'chat runs');
  const a1 = await chatClient(chat, { user: 'frank' });
  const a2 = await chatClient(chat, { user: 'frank', protocol: 'msgpack' });
  const o = await chatClient(chat, { user: 'grace' });
  clients.push(a1, a2, o);
  const [g1, g2, go] = [a1, a2, o].map((x) => collect(x));
  const r = await s.cliRaw(['send', '--connection-string', res.cs, '--hub', 'chat', '--user', 'frank',
    '--target', 'newMessage', '--args', '["server","to frank"]']);
  assert.equal(r.code, 0, r.stderr);
  await g1.waitFor(1);
  await g2.waitFor(1);
  assert.deepEqual(g1[0], ['server', 'to frank']);
  await sleep(300);
  assert.equal(go.length, 0);
});

test('stopping the app server gracefully: shutdown fin, clients closed, exit 0', { timeout: 60000 }, async () => {
  assert.ok(chat, 'chat runs');
  const a = await chatClient(chat, { user: 'henry' });
  const closed = new Promise((r) => a.onclose((e) => r(e)));
  const ex = await chat.stop();
  chat = null;
  assert.equal(ex.code, 0, `exit ${JSON.stringify(ex)}`);
  await closed;
});
