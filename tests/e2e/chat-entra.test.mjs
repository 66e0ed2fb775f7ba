// examples/chat with Microsoft Entra ID: run as a VM's managed identity (`sigrid exec --vm`),
// `--endpoint URL --managed-identity`. Without the SignalR App Server role the service refuses
// the server connections (403): the example logs the status, reason and hint and keeps
// retrying; once the role is assigned it connects, and clients negotiate through it (client
// tokens signed with the temporary key from /api/v1/auth/accessKey).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startSigrid, SIGRID_BIN } from './lib/sigrid.mjs';
import { defaultModeResource, startChat, waitConnected, chatClient, collect, chatBinaryPresent, CHAT_BIN } from './lib/chat.mjs';

let s;
let res;
let chat;
const clients = [];

before(async () => {
  assert.ok(chatBinaryPresent(), `the chat example is built (${CHAT_BIN})`);
  s = await startSigrid();
  res = await defaultModeResource(s, 'entraapp');
});
after(async () => {
  for (const c of clients) { try { await c.stop(); } catch { /* closed */ } }
  if (chat) await chat.stop();
  if (s) await s.stop();
});

test('managed identity: 403 with the hint and retries without the role; works once assigned', { timeout: 120000 }, async () => {
  const vm = await s.cli(['vm', 'create', '-g', 'local', '-n', 'chatvm', '--assign-identity']);
  const principal = vm.identity.principalId;
  assert.ok(principal, JSON.stringify(vm));
  chat = await startChat(['--endpoint', res.url, '--managed-identity', '--connections', '2'], {
    cmd: SIGRID_BIN,
    cmdArgs: ['--data-dir', s.dataDir, 'exec', '--vm', 'chatvm', '-g', 'local', '--'],
    env: s.env,
  });
  const m = await chat.waitLog(/event=connection_refused [^\n]*/, 60000);
  assert.match(m[0], /status=403/);
  assert.match(m[0], /serverConnection\/write/);
  assert.match(m[0], /hint="[^"]{10,}/);
  assert.match(m[0], /action=retry/);
  assert.equal(chat.exited, null, 'still running');

  await s.cli(['role', 'assignment', 'create', '--assignee', principal, '--role', 'SignalR App Server', '--scope', res.id]);
  await waitConnected(chat, 2, 90000);
  const a = await chatClient(chat, { user: 'mi-alice' });
  const b = await chatClient(chat, { user: 'mi-bob', protocol: 'msgpack' });
  clients.push(a, b);
  assert.equal(await a.invoke('echo', 'via entra'), 'via entra');
  assert.equal((await b.invoke('whoami')).userId, 'mi-bob');
  const gb = collect(b);
  await a.invoke('broadcast', 'alice', 'hello entra');
  await gb.waitFor(1);
  assert.deepEqual(gb[0], ['alice', 'hello entra']);
  // the in-band AccessKeyRequest (service protocol 28) was answered with a key, not refused
  assert.doesNotMatch(chat.log(), /access_key_refused/);
  const ex = await chat.stop();
  chat = null;
  assert.equal(ex.code, 0, JSON.stringify(ex));
});
