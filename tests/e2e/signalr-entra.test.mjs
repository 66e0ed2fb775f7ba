// SignalR data plane with Microsoft Entra ID tokens from this sigrid's tenant: RBAC on REST,
// 403 bodies that name the principal and the missing action, temporary access keys for
// client tokens (also with local auth disabled), wrong audiences.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { SignJWT } from 'jose';
import { startDataPlane, connect, collect, rest, audBase, request, sleep, waitStatus } from './lib/signalr.mjs';

const dev = !!process.env.SIGRID_DEV_SIGNALR;
const FORM = { 'Content-Type': 'application/x-www-form-urlencoded' };
let dp;
let s;
let app; // a service principal {appId, password, tenant}

async function entraToken(scope = 'https://signalr.azure.com/.default') {
  const r = await s.request(`${s.cloudUrl}/${s.tenantId}/oauth2/v2.0/token`, {
    method: 'POST', headers: FORM,
    body: new URLSearchParams({ client_id: app.appId, client_secret: app.password, grant_type: 'client_credentials', scope }).toString(),
  });
  assert.equal(r.status, 200, r.body);
  return r.json.access_token;
}


before(async () => {
  if (dev) return;
  dp = await startDataPlane();
  s = dp.sigrid;
  app = await s.cli(['ad', 'sp', 'create-for-rbac', '-n', 'sr-entra-e2e']);
});
after(async () => { if (dp) await dp.stop(); });

test('REST with an Entra token: 403 naming principal and action without a role, 202 with one', { skip: dev }, async () => {
  const tok = await entraToken();
  const p = '/api/hubs/entra/:send';
  const body = { target: 'msg', arguments: ['from entra'] };
  const denied = await rest(dp, 'POST', p, body, { token: tok });
  assert.equal(denied.status, 403, denied.body);
  assert.equal(denied.json.requiredAction, 'Microsoft.SignalRService/SignalR/hub/send/action');
  assert.ok(denied.json.principal && denied.json.principal.oid, denied.body);
  assert.equal(denied.json.principal.appid, app.appId);
  assert.equal(denied.json.scope, s.signalrId);
  assert.ok(denied.json.hint.length > 10);
  await s.cli(['role', 'assignment', 'create', '--assignee', app.appId, '--role', 'SignalR REST API Owner', '--scope', s.signalrId]);
  const c = await connect(dp, { hub: 'entra' });
  const got = collect(c);
  const ok = await waitStatus(() => rest(dp, 'POST', p, body, { token: tok }), 202);
  assert.equal(ok.status, 202, ok.body);
  await got.waitFor(1);
  assert.equal(got[0][0], 'from entra');
  // REST API Owner may not mint temporary keys
  const k = await request(`${dp.url}/api/v1/auth/accessKey`, { headers: { Authorization: `Bearer ${tok}` } });
  assert.equal(k.status, 403, k.body);
  assert.match(k.json.requiredAction, /auth\/accessKey\/action/);
  await c.stop();
});

test('a token for another audience is refused with a hint', { skip: dev }, async () => {
  const tok = await entraToken('https://management.azure.com/.default');
  const r = await rest(dp, 'POST', '/api/hubs/entra/:send', { target: 'x', arguments: [] }, { token: tok });
  assert.equal(r.status, 401, r.body);
  assert.match(r.json.code, /InvalidAudience/);
  assert.match(r.json.hint, /signalr\.azure\.com/);
  // access-key tokens cannot get temporary keys
  const k = await request(`${dp.url}/api/v1/auth/accessKey`, { headers: { Authorization: `Bearer ${await new SignJWT({ aud: 'x' }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1h').sign(new TextEncoder().encode(dp.key))}` } });
  assert.equal(k.status, 401);
  assert.match(k.json.code, /EntraTokenRequired/);
});

test('temporary access key: client tokens signed with it work, also with local auth disabled', { skip: dev, timeout: 60000 }, async () => {
  await s.cli(['role', 'assignment', 'create', '--assignee', app.appId, '--role', 'SignalR App Server', '--scope', s.signalrId]);
  const tok = await entraToken();
  const k = await waitStatus(() => request(`${dp.url}/api/v1/auth/accessKey`, { headers: { Authorization: `Bearer ${tok}` } }), 200);
  assert.equal(k.status, 200, k.body);
  assert.ok(k.json.KeyId && k.json.AccessKey);
  const mintTemp = () => new SignJWT({ aud: `${audBase(dp.url)}client/?hub=entra`, 'asrs.s.uid': 'tk-user' })
    .setProtectedHeader({ alg: 'HS256', kid: k.json.KeyId }).setIssuedAt().setExpirationTime('10m')
    .sign(new TextEncoder().encode(k.json.AccessKey));
  const c = await connect(dp, { hub: 'entra', token: await mintTemp() });
  assert.equal((await rest(dp, 'HEAD', '/api/hubs/entra/users/tk-user')).status, 200);
  await c.stop();
  await s.cli(['signalr', 'update', '-g', 'local', '-n', 'default', '--disable-local-auth', 'true']);
  try {
    const neg = (t) => request(`${dp.url}/client/negotiate?hub=entra&negotiateVersion=1`, { method: 'POST', headers: { Authorization: `Bearer ${t}` } });
    const akTok = await new SignJWT({ aud: `${audBase(dp.url)}client/?hub=entra` }).setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime('10m').sign(new TextEncoder().encode(dp.key));
    const refused = await waitStatus(() => neg(akTok), 401);
    assert.match(refused.json.code, /LocalAuthDisabled/);
    const okNeg = await neg(await mintTemp());
    assert.equal(okNeg.status, 200, okNeg.body);
    // a made-up temporary key id is "not found", not "local auth disabled"
    const fake = await new SignJWT({ aud: `${audBase(dp.url)}client/?hub=entra` }).setProtectedHeader({ alg: 'HS256', kid: 'sigrid-tk-nope' })
      .setExpirationTime('10m').sign(new TextEncoder().encode('whatever'));
    const nf = await neg(fake);
    assert.equal(nf.status, 401);
    assert.match(nf.json.code, /SigningKeyNotFound/);
    // Entra tokens keep working for REST
    assert.equal((await rest(dp, 'POST', '/api/hubs/entra/:send', { target: 'x', arguments: [] }, { token: tok })).status, 202);
  } finally {
    await s.cli(['signalr', 'update', '-g', 'local', '-n', 'default', '--disable-local-auth', 'false']);
  }
  // without the role the temporary key stops working for new clients
  const list = await s.cli(['role', 'assignment', 'list', '--assignee', app.appId]);
  await s.cli(['role', 'assignment', 'delete', '--ids', ...list.map((a) => a.id)]);
  const tt = await mintTemp();
  const denied = await waitStatus(() => request(`${dp.url}/client/negotiate?hub=entra&negotiateVersion=1`, {
    method: 'POST', headers: { Authorization: `Bearer ${tt}` },
  }), 403);
  assert.equal(denied.status, 403, denied.body);
  assert.match(denied.json.requiredAction, /clientConnection\/write/);
});

test('a removed role denies the very next connect, although the decision was remembered', { skip: dev, timeout: 60000 }, async () => {
  await s.cli(['role', 'assignment', 'create', '--assignee', app.appId, '--role', 'SignalR App Server', '--scope', s.signalrId]);
  const tok = await entraToken();
  const k = await waitStatus(() => request(`${dp.url}/api/v1/auth/accessKey`, { headers: { Authorization: `Bearer ${tok}` } }), 200);
  assert.equal(k.status, 200, k.body);
  const mint = (uid) => new SignJWT({ aud: `${audBase(dp.url)}client/?hub=entra`, 'asrs.s.uid': uid })
    .setProtectedHeader({ alg: 'HS256', kid: k.json.KeyId }).setIssuedAt().setExpirationTime('10m')
    .sign(new TextEncoder().encode(k.json.AccessKey));
  const neg = (t) => request(`${dp.url}/client/negotiate?hub=entra&negotiateVersion=1`, { method: 'POST', headers: { Authorization: `Bearer ${t}` } });
  // the first negotiate asks RBAC, the next ones (and the upgrades) reuse the decision
  const first = await mint('cached-0');
  for (let i = 0; i < 5; i++) assert.equal((await neg(i ? await mint(`cached-${i}`) : first)).status, 200);
  const c = await connect(dp, { hub: 'entra', token: first });
  assert.equal((await rest(dp, 'HEAD', '/api/hubs/entra/users/cached-0')).status, 200);
  const list = await s.cli(['role', 'assignment', 'list', '--assignee', app.appId]);
  await s.cli(['role', 'assignment', 'delete', '--ids', ...list.map((a) => a.id)]);
  // no retry: the very next negotiate is refused, with the cloud's reason
  const denied = await neg(await mint('after-removal'));
  assert.equal(denied.status, 403, denied.body);
  assert.match(denied.json.code, /NoRoleAssignment/);
  assert.match(denied.json.requiredAction, /clientConnection\/write/);
  assert.match(denied.json.hint, /SignalR App Server/);
  // also for the token whose negotiate and upgrade were served from the caches
  assert.equal((await neg(first)).status, 403);
  await c.stop();
});

test('an Entra token is remembered after its first use, and every use is still authorized', { skip: dev, timeout: 60000 }, async () => {
  const held = await s.cli(['role', 'assignment', 'list', '--assignee', app.appId]);
  if (!held.some((a) => a.roleDefinitionName === 'SignalR REST API Owner'))
    await s.cli(['role', 'assignment', 'create', '--assignee', app.appId, '--role', 'SignalR REST API Owner', '--scope', s.signalrId]);
  const tok = await entraToken();
  const p = '/api/hubs/entra/:send';
  const body = { target: 'msg', arguments: ['again'] };
  const first = await waitStatus(() => rest(dp, 'POST', p, body, { token: tok }), 202);
  assert.equal(first.status, 202, first.body);
  // the same bytes again: signature and JSON from memory, role and audience checked again
  for (let i = 0; i < 3; i++) assert.equal((await rest(dp, 'POST', p, body, { token: tok })).status, 202);
  const list = await s.cli(['role', 'assignment', 'list', '--assignee', app.appId]);
  await s.cli(['role', 'assignment', 'delete', '--ids', ...list.map((a) => a.id)]);
  const denied = await rest(dp, 'POST', p, body, { token: tok });
  assert.equal(denied.status, 403, denied.body);
  assert.match(denied.json.requiredAction, /hub\/send\/action/);
  // one changed character is another token: verified from scratch, and refused
  const n = tok.length;
  const bad = tok.slice(0, n - 4) + (tok[n - 4] === 'A' ? 'B' : 'A') + tok.slice(n - 3);
  const r = await rest(dp, 'POST', p, body, { token: bad });
  assert.equal(r.status, 401, r.body);
  assert.match(r.json.code, /InvalidSignature|InvalidToken/);
});
