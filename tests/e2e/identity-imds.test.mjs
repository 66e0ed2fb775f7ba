// Managed identities of VMs (IMDS protocol), driven by the official @azure/identity
// ManagedIdentityCredential through `sigrid env` / `sigrid exec`, tokens verified with jose
// against the published JWKS.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { startSigrid, request } from './lib/sigrid.mjs';
import { checkCommonClaims, parseExports, runAs, verifyToken } from './lib/identity-util.mjs';

const RG = 'local';
const AUD = 'https://signalr.azure.com';
const TOKEN_PATH = '/metadata/identity/oauth2/token';

describe('managed identity: VMs (IMDS)', () => {
  let s;
  const ids = {};
  const vms = {};

  before(async () => {
    s = await startSigrid();
    for (const n of ['u1', 'u2', 'u3', 'uother']) {
      ids[n] = await s.cli(['identity', 'create', '-g', RG, '-n', n]);
      assert.match(ids[n].clientId, /^[0-9a-f-]{36}$/);
      assert.match(ids[n].principalId, /^[0-9a-f-]{36}$/);
      assert.notEqual(ids[n].clientId, ids[n].principalId);
    }
    // vm1: system-assigned + u1 + u2; vm2: system only; vm3: no identity; vm4: only u3
    vms.vm1 = await s.cli(['vm', 'create', '-g', RG, '-n', 'vm1', '--assign-identity']);
    await s.cli(['vm', 'identity', 'assign', '-g', RG, '-n', 'vm1', '--identities', ids.u1.id, ids.u2.id]);
    vms.vm1 = await s.cli(['vm', 'show', '-g', RG, '-n', 'vm1']);
    vms.vm2 = await s.cli(['vm', 'create', '-g', RG, '-n', 'vm2', '--assign-identity']);
    vms.vm3 = await s.cli(['vm', 'create', '-g', RG, '-n', 'vm3']);
    vms.vm4 = await s.cli(['vm', 'create', '-g', RG, '-n', 'vm4', '--assign-identity', ids.u3.id]);
    vms.vm4 = await s.cli(['vm', 'show', '-g', RG, '-n', 'vm4']);
  });
  after(async () => { if (s) await s.stop(); });

  test('sigrid env prints the IMDS override, authority, tenant and CA', async () => {
    const out = await s.cli(['env', '--vm', 'vm1', '-g', RG]);
    const env = parseExports(String(out));
    assert.match(env.AZURE_POD_IDENTITY_AUTHORITY_HOST, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(env.AZURE_POD_IDENTITY_AUTHORITY_HOST, new URL(vms.vm1.identityEndpoint).origin);
    assert.equal(env.AZURE_AUTHORITY_HOST, s.cloudUrl);
    assert.equal(env.AZURE_TENANT_ID, s.tenantId);
    assert.equal(env.NODE_EXTRA_CA_CERTS, s.caFile);
    assert.equal(env.SSL_CERT_FILE, s.caFile);
    assert.equal(env.IDENTITY_ENDPOINT, undefined);
    // -g defaults to "local"
    const again = parseExports(String(await s.cli(['env', '--vm', 'vm1'])));
    assert.equal(again.AZURE_POD_IDENTITY_AUTHORITY_HOST, env.AZURE_POD_IDENTITY_AUTHORITY_HOST);
  });

  test('system-assigned: ManagedIdentityCredential() gets a verifiable token', async () => {
    const r = await runAs(s, 'vm', 'vm1', 'mi', {});
    assert.ok(r.token, r.error);
    const { payload: p, header } = await verifyToken(s, r.token);
    assert.equal(header.alg, 'RS256');
    assert.ok(header.kid);
    checkCommonClaims(assert, s, p);
    assert.equal(p.aud, AUD);
    assert.equal(p.oid, vms.vm1.identity.principalId);
    assert.equal(p.appidacr, '2');
    assert.equal(p.xms_mirid.toLowerCase(), vms.vm1.id.toLowerCase());
    const sp = await s.cli(['ad', 'sp', 'show', '--id', p.oid]);
    assert.equal(sp.appId, p.appid);
    assert.ok(r.expiresOnTimestamp - Date.now() > 3600 * 1000, 'long-lived MI token');
  });

  test('user-assigned by clientId, objectId and resourceId', async () => {
    for (const opts of [{ clientId: ids.u1.clientId }, { objectId: ids.u1.principalId }, { resourceId: ids.u1.id }]) {
      const r = await runAs(s, 'vm', 'vm1', 'mi', opts);
      assert.ok(r.token, `${JSON.stringify(opts)}: ${r.error}`);
      const { payload: p } = await verifyToken(s, r.token);
      checkCommonClaims(assert, s, p);
      assert.equal(p.oid, ids.u1.principalId);
      assert.equal(p.appid, ids.u1.clientId);
      assert.equal(p.xms_mirid.toLowerCase(), ids.u1.id.toLowerCase());
    }
    const r2 = await runAs(s, 'vm', 'vm1', 'mi', { clientId: ids.u2.clientId });
    const { payload: p2 } = await verifyToken(s, r2.token);
    assert.equal(p2.oid, ids.u2.principalId);
  });

  test('DefaultAzureCredential (no app credentials in the environment) uses the VM identity', async () => {
    const r = await runAs(s, 'vm', 'vm1', 'dac', {});
    assert.ok(r.token, r.error);
    const { payload: p } = await verifyToken(s, r.token);
    assert.equal(p.oid, vms.vm1.identity.principalId);
  });

  test('another scope becomes another audience', async () => {
    const r = await runAs(s, 'vm', 'vm1', 'mi', {}, { scope: 'https://management.azure.com/.default' });
    assert.ok(r.token, r.error);
    const { payload: p } = await verifyToken(s, r.token, 'https://management.azure.com');
    assert.equal(p.oid, vms.vm1.identity.principalId);
  });

  test('a single user-assigned identity is the default on a VM (IMDS rule)', async () => {
    const r = await runAs(s, 'vm', 'vm4', 'mi', {});
    assert.ok(r.token, r.error);
    const { payload: p } = await verifyToken(s, r.token);
    assert.equal(p.oid, ids.u3.principalId);
  });

  test('unattached identity, object id passed as client id, VM without identity: refused', async () => {
    const bad = [
      ['vm1', { clientId: ids.uother.clientId }],
      ['vm1', { clientId: ids.u1.principalId }], // object id where a client id is expected
      ['vm2', { clientId: ids.u1.clientId }], // attached to vm1, not vm2
      ['vm3', {}],
    ];
    for (const [vm, opts] of bad) {
      const r = await runAs(s, 'vm', vm, 'mi', opts);
      assert.equal(r.token, undefined, `${vm} ${JSON.stringify(opts)} must fail`);
      assert.match(r.error, /Identity not found|unavailable|not found/i);
    }
  });

  test("the port decides: another VM's endpoint answers as that VM", async () => {
    const r = await runAs(s, 'vm', 'vm2', 'mi', {});
    const { payload: p } = await verifyToken(s, r.token);
    assert.equal(p.oid, vms.vm2.identity.principalId);
    assert.notEqual(p.oid, vms.vm1.identity.principalId);
    // raw: vm2's port with vm1's user-assigned client id
    const res = await request(`${vms.vm2.identityEndpoint.replace(/\/$/, '')}${TOKEN_PATH}?api-version=2018-02-01&resource=${encodeURIComponent(AUD)}&client_id=${ids.u1.clientId}`,
      { headers: { Metadata: 'true' } });
    assert.equal(res.status, 400);
    assert.deepEqual(res.json, { error: 'invalid_request', error_description: 'Identity not found' });
  });

  test('IMDS wire details: strings everywhere, caching, guards', async () => {
    const base = new URL(vms.vm1.identityEndpoint).origin;
    const url = `${base}${TOKEN_PATH}?api-version=2018-02-01&resource=${encodeURIComponent(AUD)}`;
    const a = await request(url, { headers: { Metadata: 'true' } });
    assert.equal(a.status, 200, a.body);
    for (const k of ['access_token', 'client_id', 'expires_in', 'expires_on', 'ext_expires_in', 'not_before', 'resource', 'token_type']) {
      assert.equal(typeof a.json[k], 'string', k);
    }
    assert.match(a.json.expires_on, /^\d+$/);
    assert.equal(a.json.resource, AUD);
    assert.equal(a.json.token_type, 'Bearer');
    // trailing slash (msal-node) and cache: the same token
    const b = await request(`${base}${TOKEN_PATH}/?api-version=2018-02-01&resource=${encodeURIComponent(AUD)}`, { headers: { Metadata: 'true' } });
    assert.equal(b.status, 200);
    assert.equal(b.json.access_token, a.json.access_token);
    // guards
    const noMeta = await request(url);
    assert.equal(noMeta.status, 400);
    assert.deepEqual(noMeta.json, { error: 'invalid_request', error_description: 'Required metadata header not specified' });
    const xff = await request(url, { headers: { Metadata: 'true', 'X-Forwarded-For': '10.1.2.3' } });
    assert.ok(xff.status === 400 || xff.status === 403, String(xff.status));
    const post = await request(url, { method: 'POST', headers: { Metadata: 'true' } });
    assert.equal(post.status, 405);
    const noRes = await request(`${base}${TOKEN_PATH}?api-version=2018-02-01`, { headers: { Metadata: 'true' } });
    assert.equal(noRes.status, 400);
    const noApi = await request(`${base}${TOKEN_PATH}?resource=${encodeURIComponent(AUD)}`, { headers: { Metadata: 'true' } });
    assert.equal(noApi.status, 400);
    const v2 = await request(`${base}/metadata/identity/getplatformmetadata?cred-api-version=2.0`, { headers: { Metadata: 'true' } });
    assert.equal(v2.status, 404);
    const unknown = await request(`${base}${TOKEN_PATH}?api-version=2018-02-01&resource=https%3A%2F%2Fnot-a-resource.example`, { headers: { Metadata: 'true' } });
    assert.equal(unknown.status, 400);
    assert.equal(unknown.json.error, 'invalid_resource');
  });

  test('a removed identity stops working at once (cached token dropped)', async () => {
    const before1 = await runAs(s, 'vm', 'vm1', 'mi', { clientId: ids.u2.clientId });
    assert.ok(before1.token);
    await s.cli(['vm', 'identity', 'remove', '-g', RG, '-n', 'vm1', '--identities', ids.u2.id]);
    const r = await runAs(s, 'vm', 'vm1', 'mi', { clientId: ids.u2.clientId });
    assert.equal(r.token, undefined);
    // the rest of vm1 keeps working
    const sys = await runAs(s, 'vm', 'vm1', 'mi', {});
    assert.ok(sys.token, sys.error);
  });

  test('after a restart the VM answers on the same port, as the same identity', async () => {
    const before1 = parseExports(String(await s.cli(['env', '--vm', 'vm2'])));
    s = await s.restart();
    const after1 = parseExports(String(await s.cli(['env', '--vm', 'vm2'])));
    assert.equal(after1.AZURE_POD_IDENTITY_AUTHORITY_HOST, before1.AZURE_POD_IDENTITY_AUTHORITY_HOST);
    const r = await runAs(s, 'vm', 'vm2', 'mi', {});
    assert.ok(r.token, r.error);
    const { payload: p } = await verifyToken(s, r.token);
    assert.equal(p.oid, vms.vm2.identity.principalId);
  });

  test('sigrid stops cleanly (exit 0: no sanitizer report)', async () => {
    const code = await s.stop();
    assert.equal(code, 0, s.stderr.split('\n').filter((l) => !l.startsWith('ts=')).join('\n').slice(-4000));
  });
});

describe('managed identity with --cloud-http', () => {
  let s;
  before(async () => { s = await startSigrid({ cloudHttp: true }); });
  after(async () => { if (s) await s.stop(); });

  test('no http authority is exported (the SDKs reject it); MI still works', async () => {
    assert.match(s.cloudUrl, /^http:\/\//);
    const vm = await s.cli(['vm', 'create', '-g', RG, '-n', 'plain', '--assign-identity']);
    const r = await s.cliRaw(['env', '--vm', 'plain']);
    assert.equal(r.code, 0, r.stderr);
    const env = parseExports(r.stdout);
    assert.equal(env.AZURE_AUTHORITY_HOST, undefined);
    assert.match(env.AZURE_POD_IDENTITY_AUTHORITY_HOST, /^http:\/\/127\.0\.0\.1:\d+$/);
    const t = await runAs(s, 'vm', 'plain', 'mi', {});
    assert.ok(t.token, t.error);
    const { payload: p } = await verifyToken(s, t.token);
    assert.equal(p.oid, vm.identity.principalId);
    assert.equal(p.iss, `${s.cloudUrl}/${s.tenantId}/`);
  });
});
