// Temporary access keys survive a restart of `sigrid serve` on the same data dir: the store
// keeps (kid, resource, owner, tenant, expiry) and the key is re-derived from the data dir's
// secret (DIR/tempkey-secret, 0600), never written. The real flow: a VM's managed identity
// gets an Entra token from its identity endpoint, trades it for a temporary key at
// /api/v1/auth/accessKey, signs client tokens with it; a real @microsoft/signalr client
// connects with one after the restart; once the key has expired the service says so (401).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { SignJWT } from 'jose';
import { startDataPlane, connect, rest, audBase, request, sleep, waitStatus } from './lib/signalr.mjs';

const LIFETIME_S = 40; // SIGRID_TEMP_KEY_LIFETIME_S: 90 minutes in production
const dev = !!process.env.SIGRID_DEV_SIGNALR;
let dp;
after(async () => { if (dp) await dp.stop(); });


test('a temporary key from a VM identity works after a restart, and expires with the reason', { skip: dev, timeout: 180000 }, async () => {
  dp = await startDataPlane({ env: { SIGRID_TEMP_KEY_LIFETIME_S: String(LIFETIME_S) } });
  let s = dp.sigrid;
  const vm = await s.cli(['vm', 'create', '-g', 'local', '-n', 'tkvm', '--assign-identity']);
  await s.cli(['role', 'assignment', 'create', '--assignee', vm.identity.principalId, '--role', 'SignalR App Server', '--scope', s.signalrId]);
  // the VM's managed identity: an Entra token for https://signalr.azure.com from its endpoint
  const imds = `${vm.identityEndpoint.replace(/\/$/, '')}/metadata/identity/oauth2/token?api-version=2018-02-01&resource=${encodeURIComponent('https://signalr.azure.com')}`;
  const t = await waitStatus(() => request(imds, { headers: { Metadata: 'true' } }), 200, 100);
  assert.equal(t.status, 200, t.body);
  const issuedAt = Date.now();
  const k = await waitStatus(() => request(`${dp.url}/api/v1/auth/accessKey`, { headers: { Authorization: `Bearer ${t.json.access_token}` } }), 200, 100);
  assert.equal(k.status, 200, k.body);
  const { KeyId: kid, AccessKey: key } = k.json;
  assert.match(kid, /^sigrid-tk-/);
  const mintTk = (uid) => new SignJWT({ aud: `${audBase(dp.url)}client/?hub=tk`, 'asrs.s.uid': uid })
    .setProtectedHeader({ alg: 'HS256', kid }).setIssuedAt().setExpirationTime('10m')
    .sign(new TextEncoder().encode(key));
  const before = await connect(dp, { hub: 'tk', token: await mintTk('before-restart') });
  await before.stop();

  s = await s.restart();
  dp.sigrid = s;
  dp.stop = () => s.stop();
  // the secret sits next to the admin credential, owner-only; the key itself is nowhere on disk
  const secret = fs.statSync(path.join(s.dataDir, 'tempkey-secret'));
  assert.equal(secret.mode & 0o777, 0o600);
  assert.ok(fs.existsSync(path.join(s.dataDir, 'admin-credential')));
  for (const f of ['sigrid.db', 'sigrid.db-wal']) {
    const p = path.join(s.dataDir, f);
    if (fs.existsSync(p)) assert.ok(!fs.readFileSync(p).includes(key), `${f} holds no key bytes`);
  }

  // a real client, token signed with the key fetched before the restart
  const tok = await mintTk('after-restart');
  const c = await connect(dp, { hub: 'tk', token: tok });
  assert.equal((await rest(dp, 'HEAD', '/api/hubs/tk/users/after-restart')).status, 200);
  await c.stop();

  // expiry: a new token and the one just used (the token cache does not outlive the key)
  const left = issuedAt + LIFETIME_S * 1000 + 1000 - Date.now();
  assert.ok(left > 0, `the restart took longer than the key's ${LIFETIME_S} s lifetime`);
  await sleep(left);
  const neg = (x) => request(`${dp.url}/client/negotiate?hub=tk&negotiateVersion=1`, { method: 'POST', headers: { Authorization: `Bearer ${x}` } });
  for (const x of [await mintTk('too-late'), tok]) {
    const r = await neg(x);
    assert.equal(r.status, 401, r.body);
    assert.equal(r.json.code, 'Unauthorized.SigningKeyNotFound');
    assert.match(r.json.hint, new RegExp(`temporary key '${kid}' expired at \\d{4}-`));
    assert.match(r.json.hint, /accessKey/);
  }
  // a fresh key is issued again after the old one expired
  const t2 = await request(imds, { headers: { Metadata: 'true' } });
  const k2 = await request(`${dp.url}/api/v1/auth/accessKey`, { headers: { Authorization: `Bearer ${t2.json.access_token}` } });
  assert.equal(k2.status, 200, k2.body);
  assert.notEqual(k2.json.KeyId, kid);
});
