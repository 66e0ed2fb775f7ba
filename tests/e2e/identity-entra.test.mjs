// The local Entra ID authority: OIDC discovery v1/v2, JWKS, token endpoints v1/v2 (client
// credentials), error codes — and the official ClientSecretCredential / DefaultAzureCredential
// against the https authority (trusting the local CA through NODE_EXTRA_CA_CERTS).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { startSigrid } from './lib/sigrid.mjs';
import { checkCommonClaims, runClient, verifyToken } from './lib/identity-util.mjs';

const AUD = 'https://signalr.azure.com';
const form = (o) => new URLSearchParams(o).toString();
const FORM = { 'Content-Type': 'application/x-www-form-urlencoded' };

describe('Entra ID authority', () => {
  let s;
  let app;
  let sp;

  before(async () => {
    s = await startSigrid();
    app = await s.cli(['ad', 'sp', 'create-for-rbac', '-n', 'e2e-app']);
    assert.match(app.appId, /^[0-9a-f-]{36}$/);
    assert.ok(app.password);
    assert.equal(app.tenant, s.tenantId);
    sp = await s.cli(['ad', 'sp', 'show', '--id', app.appId]);
  });
  after(async () => { if (s) await s.stop(); });

  test('the cloud listener is https with the local CA', () => {
    assert.match(s.cloudUrl, /^https:\/\/127\.0\.0\.1:\d+$/);
    assert.ok(s.caPem.includes('BEGIN CERTIFICATE'));
  });

  test('OIDC discovery v1 and v2, JWKS', async () => {
    const v2 = await s.request(`${s.cloudUrl}/${s.tenantId}/v2.0/.well-known/openid-configuration`);
    assert.equal(v2.status, 200);
    for (const k of ['issuer', 'token_endpoint', 'authorization_endpoint', 'jwks_uri']) {
      assert.ok(v2.json[k].startsWith(s.cloudUrl + '/'), `${k}=${v2.json[k]}`);
    }
    assert.equal(v2.json.token_endpoint, `${s.cloudUrl}/${s.tenantId}/oauth2/v2.0/token`);
    assert.equal(v2.json.issuer, `${s.cloudUrl}/${s.tenantId}/v2.0`);
    const v1 = await s.request(`${s.cloudUrl}/${s.tenantId}/.well-known/openid-configuration`);
    assert.equal(v1.status, 200);
    assert.equal(v1.json.issuer, `${s.cloudUrl}/${s.tenantId}/`);
    assert.equal(v1.json.token_endpoint, `${s.cloudUrl}/${s.tenantId}/oauth2/token`);
    for (const d of [v1, v2]) {
      const keys = await s.request(d.json.jwks_uri);
      assert.equal(keys.status, 200);
      assert.ok(keys.json.keys.length >= 1);
      for (const k of keys.json.keys) {
        assert.equal(k.kty, 'RSA');
        assert.ok(k.kid && k.n && k.e);
      }
    }
    const common = await s.request(`${s.cloudUrl}/common/v2.0/.well-known/openid-configuration`);
    assert.equal(common.status, 200);
    const other = await s.request(`${s.cloudUrl}/00000000-1111-2222-3333-444444444444/v2.0/.well-known/openid-configuration`);
    assert.equal(other.status, 400);
    assert.match(other.json.error_description, /^AADSTS90002/);
  });

  test('ClientSecretCredential (unchanged) gets a verifiable token', async () => {
    const r = await runClient(s, 'secret', {
      tenantId: s.tenantId, clientId: app.appId, clientSecret: app.password, authorityHost: s.cloudUrl,
    });
    assert.ok(r.token, r.error);
    const { payload: p } = await verifyToken(s, r.token);
    checkCommonClaims(assert, s, p);
    assert.equal(p.aud, AUD);
    assert.equal(p.appid, app.appId);
    assert.equal(p.oid, sp.id);
    assert.equal(p.appidacr, '1');
    assert.equal(p.xms_mirid, undefined);
  });

  test('the authority also answers as https://localhost:PORT', async () => {
    const host = s.cloudUrl.replace('127.0.0.1', 'localhost');
    const r = await runClient(s, 'secret', {
      tenantId: s.tenantId, clientId: app.appId, clientSecret: app.password, authorityHost: host,
    });
    assert.ok(r.token, r.error);
    const { payload: p } = await verifyToken(s, r.token);
    assert.equal(p.appid, app.appId);
  });

  test('DefaultAzureCredential through EnvironmentCredential', async () => {
    const r = await runClient(s, 'dac', {}, {
      env: {
        AZURE_CLIENT_ID: app.appId, AZURE_CLIENT_SECRET: app.password, AZURE_TENANT_ID: s.tenantId,
        AZURE_AUTHORITY_HOST: s.cloudUrl, AZURE_TOKEN_CREDENTIALS: 'EnvironmentCredential',
      },
    });
    assert.ok(r.token, r.error);
    const { payload: p } = await verifyToken(s, r.token);
    assert.equal(p.appid, app.appId);
  });

  test('wrong secret and unknown app fail with the AADSTS codes', async () => {
    const bad = await runClient(s, 'secret', {
      tenantId: s.tenantId, clientId: app.appId, clientSecret: 'wrong-secret', authorityHost: s.cloudUrl,
    });
    assert.equal(bad.token, undefined);
    assert.match(bad.error, /AADSTS7000215/);
    const unknown = await runClient(s, 'secret', {
      tenantId: s.tenantId, clientId: '12345678-1234-1234-1234-123456789012', clientSecret: 'x', authorityHost: s.cloudUrl,
    });
    assert.equal(unknown.token, undefined);
    assert.match(unknown.error, /AADSTS700016/);
  });

  test('token endpoints v1/v2 on the wire, and their errors', async () => {
    const v2url = `${s.cloudUrl}/${s.tenantId}/oauth2/v2.0/token?client-request-id=0f0e0d0c-0b0a-0908-0706-050403020100`;
    const ok2 = await s.request(v2url, {
      method: 'POST', headers: FORM,
      body: form({ client_id: app.appId, client_secret: app.password, grant_type: 'client_credentials', scope: `${AUD}/.default` }),
    });
    assert.equal(ok2.status, 200, ok2.body);
    assert.equal(typeof ok2.json.expires_in, 'number');
    assert.ok(ok2.json.expires_in > 300);
    assert.equal(ok2.json.token_type, 'Bearer');
    const ok1 = await s.request(`${s.cloudUrl}/${s.tenantId}/oauth2/token`, {
      method: 'POST', headers: FORM,
      body: form({ client_id: app.appId, client_secret: app.password, grant_type: 'client_credentials', resource: AUD }),
    });
    assert.equal(ok1.status, 200, ok1.body);
    assert.equal(typeof ok1.json.expires_in, 'string');
    assert.match(ok1.json.expires_on, /^\d+$/);
    assert.equal(ok1.json.resource, AUD);
    await verifyToken(s, ok1.json.access_token);

    const post = (url, body) => s.request(url, { method: 'POST', headers: FORM, body: form(body) });
    const cases = [
      [v2url, { client_id: app.appId, client_secret: app.password, scope: `${AUD}/.default` }, 400, 'invalid_request', 900144],
      [v2url, { client_id: app.appId, client_secret: app.password, grant_type: 'client_credentials' }, 400, 'invalid_request', 900144],
      [v2url, { client_id: app.appId, client_secret: app.password, grant_type: 'client_credentials', scope: AUD }, 400, 'invalid_scope', 1002012],
      [v2url, { client_id: app.appId, client_secret: app.password, grant_type: 'client_credentials', scope: 'https://nope.example/.default' }, 400, 'invalid_resource', 500011],
      [v2url, { client_id: app.appId, client_secret: 'nope', grant_type: 'client_credentials', scope: `${AUD}/.default` }, 401, 'invalid_client', 7000215],
      [v2url, { client_id: '12345678-1234-1234-1234-123456789012', client_secret: 'x', grant_type: 'client_credentials', scope: `${AUD}/.default` }, 400, 'unauthorized_client', 700016],
      [`${s.cloudUrl}/00000000-1111-2222-3333-444444444444/oauth2/v2.0/token`, { client_id: app.appId, client_secret: app.password, grant_type: 'client_credentials', scope: `${AUD}/.default` }, 400, 'invalid_request', 90002],
    ];
    for (const [url, body, status, error, code] of cases) {
      const r = await post(url, body);
      assert.equal(r.status, status, `${JSON.stringify(body)} -> ${r.body}`);
      assert.equal(r.json.error, error);
      assert.deepEqual(r.json.error_codes, [code]);
      assert.match(r.json.error_description, new RegExp(`^AADSTS${code}:`));
      assert.ok(r.json.trace_id && r.json.correlation_id && r.json.timestamp);
    }
  });

  test('signing key and app secrets survive a restart', async () => {
    const r = await runClient(s, 'secret', {
      tenantId: s.tenantId, clientId: app.appId, clientSecret: app.password, authorityHost: s.cloudUrl,
    });
    assert.ok(r.token, r.error);
    const kid = JSON.parse(Buffer.from(r.token.split('.')[0], 'base64url')).kid;
    s = await s.restart();
    const keys = await s.request(`${s.cloudUrl}/${s.tenantId}/discovery/v2.0/keys`);
    assert.ok(keys.json.keys.some((k) => k.kid === kid));
    await verifyToken(s, r.token); // issued before the restart
    const again = await runClient(s, 'secret', {
      tenantId: s.tenantId, clientId: app.appId, clientSecret: app.password, authorityHost: s.cloudUrl,
    });
    assert.ok(again.token, again.error);
  });

  test('sigrid stops cleanly (exit 0: no sanitizer report)', async () => {
    const code = await s.stop();
    assert.equal(code, 0, s.stderr.split('\n').filter((l) => !l.startsWith('ts=')).join('\n').slice(-4000));
  });
});
