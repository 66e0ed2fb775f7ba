// libsigrid credentials through `sigrid account get-access-token`: ManagedIdentityCredential
// (system- and user-assigned) as a VM via `sigrid exec`, the DefaultAzureCredential chain
// picking EnvironmentCredential, failures that stop or continue the chain. Tokens are
// verified with jose against the tenant's JWKS and compared with @azure/identity's.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { SIGRID_BIN, startSigrid } from './lib/sigrid.mjs';
import { checkCommonClaims, runAs, verifyToken } from './lib/identity-util.mjs';

const RG = 'local';
const AUD = 'https://signalr.azure.com';
const CLEAN = ['AZURE_CLIENT_ID', 'AZURE_CLIENT_SECRET', 'AZURE_TENANT_ID', 'AZURE_AUTHORITY_HOST',
  'IDENTITY_ENDPOINT', 'IDENTITY_HEADER', 'MSI_ENDPOINT', 'MSI_SECRET', 'AZURE_POD_IDENTITY_AUTHORITY_HOST',
  'AZURE_FEDERATED_TOKEN_FILE', 'AZURE_TOKEN_CREDENTIALS'];

function cleanEnv(s, extra = {}) {
  const env = { ...s.env };
  for (const k of CLEAN) delete env[k];
  return { ...env, ...extra };
}

/** `sigrid exec --vm VM -- sigrid account get-access-token ARGS`; resolves {code, json, stderr}. */
async function tokenAs(s, vm, args = [], extraEnv = {}, kind = 'vm') {
  const r = await s.cliRaw(['exec', `--${kind}`, vm, '-g', RG, '--', SIGRID_BIN, 'account', 'get-access-token', ...args],
    { env: cleanEnv(s, extraEnv), timeoutMs: 90000 });
  let err = null;
  try { err = JSON.parse(r.stderr).error; } catch { /* not JSON */ }
  return { code: r.code, json: r.json, error: err, stderr: r.stderr };
}

describe('libsigrid credentials (sigrid account get-access-token)', () => {
  let s;
  const ids = {};
  const vms = {};
  let app;

  before(async () => {
    s = await startSigrid();
    for (const n of ['u1', 'u2']) ids[n] = await s.cli(['identity', 'create', '-g', RG, '-n', n]);
    await s.cli(['vm', 'create', '-g', RG, '-n', 'vm1', '--assign-identity']);
    await s.cli(['vm', 'identity', 'assign', '-g', RG, '-n', 'vm1', '--identities', ids.u1.id, ids.u2.id]);
    vms.vm1 = await s.cli(['vm', 'show', '-g', RG, '-n', 'vm1']);
    vms.vm3 = await s.cli(['vm', 'create', '-g', RG, '-n', 'vm3']);
    app = await s.cli(['ad', 'sp', 'create-for-rbac', '-n', 'sdk-e2e-app']);
  });
  after(async () => { if (s) await s.stop(); });

  test('as a VM: the system-assigned identity, verified against the JWKS', async () => {
    const r = await tokenAs(s, 'vm1', ['--resource', AUD]);
    assert.equal(r.code, 0, r.stderr);
    const out = r.json;
    assert.deepEqual(Object.keys(out).sort(),
      ['accessToken', 'credential', 'expiresOn', 'expires_on', 'tenant', 'tokenType'].sort());
    assert.equal(out.credential, 'ManagedIdentityCredential'); // the chain's answering link
    assert.equal(out.tokenType, 'Bearer');
    assert.equal(out.tenant, s.tenantId);
    assert.match(out.expiresOn, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}$/);
    const { payload: p } = await verifyToken(s, out.accessToken);
    checkCommonClaims(assert, s, p);
    assert.equal(p.aud, AUD);
    assert.equal(p.oid, vms.vm1.identity.principalId);
    assert.equal(p.exp, out.expires_on);
    assert.equal(p.xms_mirid.toLowerCase(), vms.vm1.id.toLowerCase());
    // the same identity @azure/identity sees from the same environment
    const js = await runAs(s, 'vm', 'vm1', 'mi', {});
    const { payload: pj } = await verifyToken(s, js.token);
    assert.equal(pj.oid, p.oid);
    assert.equal(pj.appid, p.appid);
  });

  test('`exec -- sigrid ...` runs this binary when sigrid is not on PATH', async () => {
    const env = cleanEnv(s, { PATH: '/usr/bin:/bin' });
    const r = await s.cliRaw(['exec', '--vm', 'vm1', '-g', RG, '--', 'sigrid', 'account', 'get-access-token',
      '--resource', AUD], { env, timeoutMs: 90000 });
    assert.equal(r.code, 0, r.stderr);
    const { payload: p } = await verifyToken(s, r.json.accessToken);
    assert.equal(p.oid, vms.vm1.identity.principalId);
  });

  test('user-assigned by --client-id, --object-id and --msi-resource-id', async () => {
    for (const [flag, val] of [['--client-id', ids.u1.clientId], ['--object-id', ids.u1.principalId],
      ['--msi-resource-id', ids.u1.id]]) {
      const r = await tokenAs(s, 'vm1', ['--resource', AUD, flag, val]);
      assert.equal(r.code, 0, `${flag}: ${r.stderr}`);
      assert.equal(r.json.credential, 'ManagedIdentityCredential');
      const { payload: p } = await verifyToken(s, r.json.accessToken);
      assert.equal(p.oid, ids.u1.principalId, flag);
      assert.equal(p.appid, ids.u1.clientId, flag);
    }
    const r2 = await tokenAs(s, 'vm1', ['--resource', AUD, '--client-id', ids.u2.clientId]);
    const { payload: p2 } = await verifyToken(s, r2.json.accessToken);
    assert.equal(p2.oid, ids.u2.principalId);
  });

  test('another resource is another audience (--resource and --scope)', async () => {
    const r = await tokenAs(s, 'vm1', ['--resource', 'https://management.azure.com/']);
    assert.equal(r.code, 0, r.stderr);
    await verifyToken(s, r.json.accessToken, 'https://management.azure.com');
    const r2 = await tokenAs(s, 'vm1', ['--scope', 'https://management.azure.com/.default']);
    await verifyToken(s, r2.json.accessToken, 'https://management.azure.com');
  });

  test('no identity, an object id passed as client id: CredentialUnavailable naming IMDS\'s reason', async () => {
    const r = await tokenAs(s, 'vm3', ['--resource', AUD, '--managed-identity']);
    assert.equal(r.code, 1);
    assert.equal(r.error.code, 'CredentialUnavailable');
    assert.match(r.error.message, /Identity not found/);
    const r2 = await tokenAs(s, 'vm1', ['--resource', AUD, '--client-id', ids.u1.principalId]);
    assert.equal(r2.code, 1);
    assert.match(r2.error.message, /Identity not found/);
    // the default chain reports every link
    const r3 = await tokenAs(s, 'vm3', ['--resource', AUD]);
    assert.equal(r3.code, 1);
    assert.equal(r3.error.code, 'CredentialUnavailable');
    for (const n of ['EnvironmentCredential', 'WorkloadIdentityCredential', 'ManagedIdentityCredential', 'AzureCliCredential']) {
      assert.match(r3.error.message, new RegExp(n));
    }
  });

  test('as a function app: the App Service protocol (system, user-assigned; no single-UAMI default)', async () => {
    await s.cli(['functionapp', 'create', '-g', RG, '-n', 'fa1']);
    await s.cli(['functionapp', 'identity', 'assign', '-g', RG, '-n', 'fa1']);
    await s.cli(['functionapp', 'identity', 'assign', '-g', RG, '-n', 'fa1', '--identities', ids.u1.id]);
    const fa1 = await s.cli(['functionapp', 'show', '-g', RG, '-n', 'fa1']);
    const r = await tokenAs(s, 'fa1', ['--resource', AUD], {}, 'functionapp');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.json.credential, 'ManagedIdentityCredential');
    const { payload: p } = await verifyToken(s, r.json.accessToken);
    assert.equal(p.oid, fa1.identity.principalId);
    for (const [flag, val] of [['--client-id', ids.u1.clientId], ['--object-id', ids.u1.principalId],
      ['--msi-resource-id', ids.u1.id]]) {
      const u = await tokenAs(s, 'fa1', ['--resource', AUD, flag, val], {}, 'functionapp');
      assert.equal(u.code, 0, `${flag}: ${u.stderr}`);
      const { payload: pu } = await verifyToken(s, u.json.accessToken);
      assert.equal(pu.oid, ids.u1.principalId, flag);
    }
    await s.cli(['functionapp', 'create', '-g', RG, '-n', 'fa2']);
    await s.cli(['functionapp', 'identity', 'assign', '-g', RG, '-n', 'fa2', '--identities', ids.u1.id]);
    const none = await tokenAs(s, 'fa2', ['--resource', AUD, '--managed-identity'], {}, 'functionapp');
    assert.equal(none.code, 1);
    assert.equal(none.error.code, 'CredentialUnavailable');
  });

  test('DefaultAzureCredential picks EnvironmentCredential when AZURE_CLIENT_ID/SECRET/TENANT_ID are set', async () => {
    const env = { AZURE_CLIENT_ID: app.appId, AZURE_CLIENT_SECRET: app.password, AZURE_TENANT_ID: app.tenant };
    // as vm1 (whose managed identity would also answer): the environment wins
    const r = await tokenAs(s, 'vm1', ['--resource', AUD], env);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.json.credential, 'EnvironmentCredential');
    const { payload: p } = await verifyToken(s, r.json.accessToken);
    assert.equal(p.appid, app.appId);
    const sp = await s.cli(['ad', 'sp', 'show', '--id', app.appId]);
    assert.equal(p.oid, sp.id);
    // outside any VM: AZURE_AUTHORITY_HOST + SSL_CERT_FILE are enough
    const r2 = await s.cliRaw(['account', 'get-access-token', '--resource', AUD],
      { env: cleanEnv(s, { ...env, AZURE_AUTHORITY_HOST: s.cloudUrl, SSL_CERT_FILE: s.caFile }) });
    assert.equal(r2.code, 0, r2.stderr);
    assert.equal(r2.json.credential, 'EnvironmentCredential');
    assert.equal(r2.json.tenant, s.tenantId);
  });

  test('a wrong secret stops the chain (AuthenticationFailed, the VM identity is not used)', async () => {
    const env = { AZURE_CLIENT_ID: app.appId, AZURE_CLIENT_SECRET: 'wrong', AZURE_TENANT_ID: app.tenant };
    const r = await tokenAs(s, 'vm1', ['--resource', AUD], env);
    assert.equal(r.code, 1);
    assert.equal(r.error.code, 'AuthenticationFailed');
    assert.match(r.error.message, /invalid_client/);
    assert.match(r.error.message, /chain stops/);
  });

  test('AZURE_TOKEN_CREDENTIALS=ManagedIdentityCredential skips the environment', async () => {
    const env = { AZURE_CLIENT_ID: app.appId, AZURE_CLIENT_SECRET: 'wrong', AZURE_TENANT_ID: app.tenant,
      AZURE_TOKEN_CREDENTIALS: 'ManagedIdentityCredential' };
    // AZURE_CLIENT_ID also selects the user-assigned identity in the chain, as in the SDKs:
    // the app's client id is no identity of vm1
    const r = await tokenAs(s, 'vm1', ['--resource', AUD], env);
    assert.equal(r.code, 1);
    assert.match(r.error.message, /Identity not found/);
    const ok = await tokenAs(s, 'vm1', ['--resource', AUD], { ...env, AZURE_CLIENT_ID: ids.u2.clientId });
    assert.equal(ok.code, 0, ok.stderr);
    const { payload: p } = await verifyToken(s, ok.json.accessToken);
    assert.equal(p.oid, ids.u2.principalId);
  });
});
