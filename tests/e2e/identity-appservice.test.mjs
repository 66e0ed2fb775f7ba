// Managed identities of function apps (App Service protocol: IDENTITY_ENDPOINT +
// IDENTITY_HEADER), with the official @azure/identity ManagedIdentityCredential.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { request, startSigrid } from './lib/sigrid.mjs';
import { checkCommonClaims, parseExports, runAs, runClient, verifyToken } from './lib/identity-util.mjs';

const RG = 'local';
const AUD = 'https://signalr.azure.com';

describe('managed identity: function apps (App Service protocol)', () => {
  let s;
  let fa1;
  let fa2;
  let u1;
  let env1;

  before(async () => {
    s = await startSigrid();
    u1 = await s.cli(['identity', 'create', '-g', RG, '-n', 'fa-u1']);
    await s.cli(['functionapp', 'create', '-g', RG, '-n', 'fa1']);
    await s.cli(['functionapp', 'identity', 'assign', '-g', RG, '-n', 'fa1']);
    await s.cli(['functionapp', 'identity', 'assign', '-g', RG, '-n', 'fa1', '--identities', u1.id]);
    fa1 = await s.cli(['functionapp', 'show', '-g', RG, '-n', 'fa1']);
    await s.cli(['functionapp', 'create', '-g', RG, '-n', 'fa2']);
    await s.cli(['functionapp', 'identity', 'assign', '-g', RG, '-n', 'fa2', '--identities', u1.id]);
    fa2 = await s.cli(['functionapp', 'show', '-g', RG, '-n', 'fa2']);
    env1 = parseExports(String(await s.cli(['env', '--functionapp', 'fa1', '-g', RG])));
  });
  after(async () => { if (s) await s.stop(); });

  test('sigrid env prints IDENTITY_ENDPOINT and IDENTITY_HEADER', () => {
    assert.match(env1.IDENTITY_ENDPOINT, /^http:\/\/127\.0\.0\.1:\d+\/msi\/token$/);
    assert.ok(env1.IDENTITY_HEADER && env1.IDENTITY_HEADER.length >= 16);
    assert.equal(env1.AZURE_POD_IDENTITY_AUTHORITY_HOST, undefined);
    assert.equal(env1.AZURE_AUTHORITY_HOST, s.cloudUrl);
    assert.equal(env1.AZURE_TENANT_ID, s.tenantId);
    assert.equal(env1.NODE_EXTRA_CA_CERTS, s.caFile);
  });

  test('system-assigned and user-assigned (clientId, objectId, resourceId)', async () => {
    const sys = await runAs(s, 'functionapp', 'fa1', 'mi', {});
    assert.ok(sys.token, sys.error);
    const { payload: p } = await verifyToken(s, sys.token);
    checkCommonClaims(assert, s, p);
    assert.equal(p.oid, fa1.identity.principalId);
    assert.equal(p.xms_mirid.toLowerCase(), fa1.id.toLowerCase());
    for (const opts of [{ clientId: u1.clientId }, { objectId: u1.principalId }, { resourceId: u1.id }]) {
      const r = await runAs(s, 'functionapp', 'fa1', 'mi', opts);
      assert.ok(r.token, `${JSON.stringify(opts)}: ${r.error}`);
      const { payload: q } = await verifyToken(s, r.token);
      assert.equal(q.oid, u1.principalId);
      assert.equal(q.appid, u1.clientId);
      assert.equal(q.xms_mirid.toLowerCase(), u1.id.toLowerCase());
    }
  });

  test('App Service does not default to a single user-assigned identity', async () => {
    const r = await runAs(s, 'functionapp', 'fa2', 'mi', {});
    assert.equal(r.token, undefined);
    const ok = await runAs(s, 'functionapp', 'fa2', 'mi', { clientId: u1.clientId });
    assert.ok(ok.token, ok.error);
  });

  test('wire: header checked, expires_on a numeric string, wrong header refused', async () => {
    const q = `api-version=2019-08-01&resource=${encodeURIComponent(AUD)}`;
    const good = await request(`${env1.IDENTITY_ENDPOINT}?${q}`, { headers: { 'X-IDENTITY-HEADER': env1.IDENTITY_HEADER } });
    assert.equal(good.status, 200, good.body);
    assert.match(good.json.expires_on, /^\d+$/);
    assert.equal(good.json.resource, AUD);
    assert.equal(good.json.token_type, 'Bearer');
    assert.equal(typeof good.json.access_token, 'string');
    assert.equal(typeof good.json.client_id, 'string');
    const wrong = await request(`${env1.IDENTITY_ENDPOINT}?${q}`, { headers: { 'X-IDENTITY-HEADER': 'not-the-secret' } });
    assert.ok(wrong.status === 401 || wrong.status === 400, String(wrong.status));
    const none = await request(`${env1.IDENTITY_ENDPOINT}?${q}`);
    assert.ok(none.status === 401 || none.status === 400, String(none.status));
    // fa2's header is not fa1's
    const env2 = parseExports(String(await s.cli(['env', '--functionapp', 'fa2', '-g', RG])));
    assert.notEqual(env2.IDENTITY_HEADER, env1.IDENTITY_HEADER);
    const cross = await request(`${env1.IDENTITY_ENDPOINT}?${q}`, { headers: { 'X-IDENTITY-HEADER': env2.IDENTITY_HEADER } });
    assert.ok(cross.status === 401 || cross.status === 400, String(cross.status));
    // @azure/identity with a wrong header fails
    const r = await runAs(s, 'functionapp', 'fa1', 'mi', {}, { env: {} });
    assert.ok(r.token);
    const bad = await runClient(s, 'mi', {}, {
      env: { IDENTITY_ENDPOINT: env1.IDENTITY_ENDPOINT, IDENTITY_HEADER: 'wrong', AZURE_AUTHORITY_HOST: s.cloudUrl },
    });
    assert.equal(bad.token, undefined);
  });

  test('sigrid stops cleanly (exit 0: no sanitizer report)', async () => {
    const code = await s.stop();
    assert.equal(code, 0, s.stderr.split('\n').filter((l) => !l.startsWith('ts=')).join('\n').slice(-4000));
  });
});
