// examples/chat robustness: configuration from Azure__SignalR__ConnectionString, an idle
// client stays connected past the 30 s timeouts (hub pings from the app server, service
// keep-alive pings), and the app server reconnects after sigrid restarts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startSigrid, sleep } from './lib/sigrid.mjs';
import { defaultModeResource, startChat, waitConnected, chatClient, chatBinaryPresent, CHAT_BIN } from './lib/chat.mjs';

let s;
let res;
let chat;
const clients = [];

before(async () => {
  assert.ok(chatBinaryPresent(), `the chat example is built (${CHAT_BIN})`);
  s = await startSigrid();
  res = await defaultModeResource(s, 'robust');
});
after(async () => {
  for (const c of clients) { try { await c.stop(); } catch { /* closed */ } }
  if (chat) await chat.stop();
  if (s) await s.stop();
});

test('configured from the environment; an idle client outlives the 30 s timeouts', { timeout: 90000 }, async () => {
  chat = await startChat(['--connections', '2'], { env: { Azure__SignalR__ConnectionString: res.cs } });
  await chat.waitLog(/config="environment Azure__SignalR__ConnectionString"/);
  await waitConnected(chat, 2);
  const a = await chatClient(chat, { user: 'idle', protocol: 'msgpack' });
  clients.push(a);
  let closed = null;
  a.onclose((e) => { closed = e || new Error('closed'); });
  await sleep(36000);
  assert.equal(closed, null, `the idle client was closed: ${closed}`);
  assert.equal(await a.invoke('echo', 'still here'), 'still here');
  assert.doesNotMatch(chat.log(), /service_timeout|event=disconnected/);
});

test('reconnects with backoff after sigrid restarts', { timeout: 120000 }, async () => {
  assert.ok(chat, 'chat runs');
  s = await s.restart();
  await chat.waitLog(/event=disconnected/);
  // the resource keeps its port; the app server's retries find it again
  const before = (chat.log().match(/event=connected /g) || []).length;
  const deadline = Date.now() + 90000;
  while ((chat.log().match(/event=connected /g) || []).length < before + 2) {
    assert.ok(Date.now() < deadline, `no reconnect:\n${chat.log()}`);
    await sleep(200);
  }
  const b = await chatClient(chat, { user: 'after' });
  clients.push(b);
  assert.equal((await b.invoke('whoami')).userId, 'after');
  assert.equal(chat.exited, null);
});
