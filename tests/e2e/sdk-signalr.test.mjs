// libsigrid's service endpoint through the CLI: `sigrid negotiate` output lets the official
// @microsoft/signalr client connect, `sigrid send` (connection string, local.settings.json,
// environment, --connection-name) reaches it, `sigrid doctor` explains what it sees.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { SIGRID_BIN, startSigrid } from './lib/sigrid.mjs';
import { collect, listKeys, signalR } from './lib/signalr.mjs';

const RG = 'local';

function cleanEnv(s, extra = {}) {
  const env = { ...s.env };
  for (const k of Object.keys(env)) {
    if (/^(AZURE_|IDENTITY_|MSI_|AzureSignalRConnectionString)/i.test(k)) delete env[k];
  }
  return { ...env, ...extra };
}

/** A @microsoft/signalr client built from `sigrid negotiate` output, as a browser app would. */
async function clientFromNegotiate(s, cs, hub, user) {
  const args = ['negotiate', '--connection-string', cs, '--hub', hub];
  if (user) args.push('--user', user);
  const n = await s.cli(args, { env: cleanEnv(s) });
  const c = new signalR.HubConnectionBuilder()
    .withUrl(n.url, { accessTokenFactory: () => n.accessToken })
    .configureLogging(signalR.LogLevel.None)
    .build();
  return { c, n };
}

describe('libsigrid service endpoint (sigrid negotiate / send / doctor)', () => {
  let s;
  let cs;
  let tmp;
  const conns = [];

  before(async () => {
    s = await startSigrid();
    cs = (await listKeys(s)).primaryConnectionString;
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sigrid-sdk-e2e-'));
  });
  after(async () => {
    for (const c of conns) await c.stop().catch(() => {});
    if (s) await s.stop();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('negotiate prints {url, accessToken} with the client audience and the user', async () => {
    const n = await s.cli(['negotiate', '--connection-string', cs, '--hub', 'Chat', '--user', 'alice'],
      { env: cleanEnv(s) });
    assert.deepEqual(Object.keys(n).sort(), ['accessToken', 'url']);
    assert.equal(n.url, `${s.signalrUrl}/client/?hub=chat`);
    const p = JSON.parse(Buffer.from(n.accessToken.split('.')[1], 'base64url').toString());
    const host = new URL(s.signalrUrl).hostname;
    assert.equal(p.aud, `http://${host}/client/?hub=chat`); // no port (reference §4.2)
    assert.equal(p['asrs.s.uid'], 'alice');
    assert.equal(p.nameid, 'alice');
    assert.ok(p.exp - p.iat >= 3599);
  });

  test('send with the access-key connection string reaches a connected @microsoft/signalr client', async () => {
    const { c } = await clientFromNegotiate(s, cs, 'chat', 'alice');
    conns.push(c);
    const got = collect(c, 'newMessage');
    await c.start();
    const r = await s.cli(['send', '--connection-string', cs, '--hub', 'chat', '--target', 'newMessage',
      '--args', '["bot","hello all"]'], { env: cleanEnv(s) });
    assert.equal(r.statusCode, 202);
    assert.equal(r.auth, 'accessKey');
    await got.waitFor(1);
    assert.deepEqual(got[0], ['bot', 'hello all']);
    // to the user, to the connection
    await s.cli(['send', '--connection-string', cs, '--hub', 'chat', '--user', 'alice', '--target',
      'newMessage', '--args', '["bot","hi alice"]'], { env: cleanEnv(s) });
    await got.waitFor(2);
    assert.deepEqual(got[1], ['bot', 'hi alice']);
    await s.cli(['send', '--connection-string', cs, '--hub', 'chat', '--connection', c.connectionId,
      '--target', 'newMessage', '--args', '[1,{"x":true}]'], { env: cleanEnv(s) });
    await got.waitFor(3);
    assert.deepEqual(got[2], [1, { x: true }]);
    // another user's message does not arrive
    await s.cli(['send', '--connection-string', cs, '--hub', 'chat', '--user', 'bob', '--target',
      'newMessage', '--args', '["bot","not for alice"]'], { env: cleanEnv(s) });
    await s.cli(['send', '--connection-string', cs, '--hub', 'chat', '--target', 'newMessage',
      '--args', '["bot","last"]'], { env: cleanEnv(s) });
    await got.waitFor(4);
    assert.deepEqual(got[3], ['bot', 'last']);
  });

  test('settings: local.settings.json (explicit, or ./local.settings.json), environment, --connection-name', async () => {
    const { c } = await clientFromNegotiate(s, cs, 'settings', null);
    conns.push(c);
    const got = collect(c, 'note');
    await c.start();
    const file = path.join(tmp, 'local.settings.json');
    fs.writeFileSync(file, JSON.stringify({ IsEncrypted: false, Values: { AzureSignalRConnectionString: cs } }));
    const send = (args, o = {}) => s.cli(['send', '--hub', 'settings', '--target', 'note', ...args],
      { env: cleanEnv(s, o.env || {}), cwd: o.cwd });
    await send(['--settings', file, '--args', '["file"]']);
    await send(['--args', '["cwd"]'], { cwd: tmp }); // Functions-style: ./local.settings.json
    await send(['--args', '["env"]'], { env: { AzureSignalRConnectionString: cs } });
    await send(['--connection-name', 'MyService', '--args', '["named"]'], { env: { MyService: cs } });
    const f2 = path.join(tmp, 'named.settings.json');
    fs.writeFileSync(f2, JSON.stringify({ Values: { mysignalr: cs } }));
    await send(['--settings', f2, '--connection-name', 'MySignalR', '--args', '["named file"]']);
    await got.waitFor(5);
    assert.deepEqual(got.map((a) => a[0]), ['file', 'cwd', 'env', 'named', 'named file']);

    // nothing configured: a clear error naming the settings
    const r = await s.cliRaw(['send', '--hub', 'h', '--target', 't'], { env: cleanEnv(s) });
    assert.equal(r.code, 1);
    const e = JSON.parse(r.stderr).error;
    assert.equal(e.code, 'ConnectionNotConfigured');
    assert.match(e.message, /AzureSignalRConnectionString__serviceUri/);
  });

  test('identity-based settings (serviceUri + credential=managedidentity) send with the VM identity\'s token', async () => {
    await s.cli(['vm', 'create', '-g', RG, '-n', 'appvm', '--assign-identity']);
    const file = path.join(tmp, 'identity.settings.json');
    fs.writeFileSync(file, JSON.stringify({ Values: {
      'AzureSignalRConnectionString:serviceUri': s.signalrUrl,
      'AzureSignalRConnectionString:credential': 'managedidentity',
    } }));
    const r = await s.cliRaw(['exec', '--vm', 'appvm', '--', SIGRID_BIN, 'send', '--settings', file,
      '--hub', 'chat', '--target', 'x'], { env: cleanEnv(s) });
    if (r.code === 0) {
      assert.equal(r.json.auth, 'ManagedIdentityCredential');
    } else {
      // the data plane answered (401/403 JSON reason): the Entra token reached it
      const e = JSON.parse(r.stderr).error;
      assert.match(e.code, /^(Unauthorized|Forbidden)/, r.stderr);
      assert.match(e.message, /HTTP 40[13]/);
    }
  });

  test('send errors: bad JSON arguments are a usage error, a wrong key is the service\'s 401 reason', async () => {
    const bad = await s.cliRaw(['send', '--connection-string', cs, '--hub', 'chat', '--target', 't',
      '--args', '{"not":"an array"}'], { env: cleanEnv(s) });
    assert.equal(bad.code, 2);
    const wrong = cs.replace(/AccessKey=[^;]+/, 'AccessKey=wrongwrongwrongwrongwrongwrongwrongwrong');
    const r = await s.cliRaw(['send', '--connection-string', wrong, '--hub', 'chat', '--target', 't'],
      { env: cleanEnv(s) });
    assert.equal(r.code, 1);
    const e = JSON.parse(r.stderr).error;
    assert.match(e.code, /^Unauthorized/);
    assert.match(e.message, /HTTP 401/);
  });

  test('doctor with the access-key connection string: every operation ok', async () => {
    const d = await s.cli(['doctor', '--connection-string', cs, '--hub', 'chat'], { env: cleanEnv(s) });
    assert.equal(d.auth, 'accessKey');
    assert.equal(d.sigridResource, s.signalrId);
    assert.deepEqual(d.operations.map((o) => o.operation), ['server connection', 'client negotiate', 'REST send']);
    for (const o of d.operations) assert.equal(o.verdict, 'ok', JSON.stringify(o));
    assert.equal(d.healthy, true);
  });

  test('doctor --endpoint as a VM: the chain, the token, and what the data plane says', async () => {
    const vm = await s.cli(['vm', 'show', '-g', RG, '-n', 'appvm']);
    const r = await s.cliRaw(['exec', '--vm', 'appvm', '--', SIGRID_BIN, '--data-dir', s.dataDir, 'doctor',
      '--endpoint', s.signalrUrl, '--hub', 'chat'], { env: cleanEnv(s) });
    assert.equal(r.code, 0, r.stderr);
    const d = r.json;
    assert.equal(d.credential.type, 'DefaultAzureCredential');
    assert.equal(d.credential.answeredBy, 'ManagedIdentityCredential');
    const links = Object.fromEntries(d.credential.chain.map((l) => [l.credential, l.outcome]));
    assert.deepEqual(links, {
      EnvironmentCredential: 'unavailable', WorkloadIdentityCredential: 'unavailable',
      ManagedIdentityCredential: 'succeeded', AzureCliCredential: 'not tried',
    });
    assert.equal(d.token.oid, vm.identity.principalId);
    assert.equal(d.token.tid, s.tenantId);
    assert.equal(d.token.aud, 'https://signalr.azure.com');
    assert.ok(Array.isArray(d.roles));
    for (const o of d.operations) {
      assert.ok(o.verdict, JSON.stringify(o));
      if (o.authorized === false) {
        assert.ok([401, 403].includes(o.status), JSON.stringify(o));
        assert.ok(o.code && o.fix, JSON.stringify(o)); // the data plane's JSON reason, turned into a fix
      }
    }
  });
});
