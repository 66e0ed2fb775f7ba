// The README's five-minute walk-through, step by step, against the real binary: a VM with a
// system-assigned identity, the 'SignalR App Server' role on the resource, a token from the
// VM's identity endpoint with the unmodified @azure/identity, then the data plane accepting it.
// Steps whose command group is not in the binary yet are skipped (and so are the later ones).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runSigrid, startSigrid } from './lib/sigrid.mjs';

const E2E_DIR = path.dirname(fileURLToPath(import.meta.url));

async function hasGroup(group) {
  const r = await runSigrid([group, '--help']);
  return r.code === 0;
}

async function importOrNull(name) {
  try { return await import(name); } catch { return null; }
}

describe('README walk-through: managed identity -> SignalR', () => {
  let s;
  const st = {}; // facts carried from step to step
  before(async () => { s = await startSigrid(); });
  after(async () => { if (s) assert.equal(await s.stop(), 0, 'clean exit'); });

  test('2. vm create --assign-identity gives a system identity and an identity endpoint', async (t) => {
    if (!(await hasGroup('vm'))) return t.skip('vm group not wired yet');
    const vm = await s.cli(['vm', 'create', '-g', 'local', '-n', 'myvm', '--assign-identity']);
    assert.equal(vm.name, 'myvm');
    const shown = await s.cli(['vm', 'show', '-g', 'local', '-n', 'myvm']);
    assert.match(shown.identity.type, /SystemAssigned/);
    assert.match(shown.identity.principalId, /^[0-9a-f-]{36}$/);
    assert.match(shown.identityEndpoint, /^http:\/\/127\.0\.0\.1:\d+/);
    const pid = await s.cli(['vm', 'show', '-g', 'local', '-n', 'myvm', '--query', 'identity.principalId', '-o', 'tsv']);
    assert.equal(String(pid).trim(), shown.identity.principalId, '--query ... -o tsv');
    st.principalId = shown.identity.principalId;
  });

  test("3. role assignment create 'SignalR App Server' on the resource", async (t) => {
    if (!st.principalId) return t.skip('needs step 2');
    if (!(await hasGroup('signalr')) || !(await hasGroup('role'))) return t.skip('signalr/role groups not wired yet');
    const res = await s.cli(['signalr', 'show', '-g', 'local', '-n', 'default']);
    assert.equal(res.id.toLowerCase(), s.signalrId.toLowerCase());
    const ra = await s.cli(['role', 'assignment', 'create', '--assignee', st.principalId,
      '--role', 'SignalR App Server', '--scope', res.id]);
    assert.equal(ra.principalId, st.principalId);
    assert.equal(ra.roleDefinitionName, 'SignalR App Server');
    st.resourceId = res.id;
  });

  test('4. sigrid exec --vm: @azure/identity ManagedIdentityCredential gets a token', async (t) => {
    if (!st.resourceId) return t.skip('needs step 3');
    if (!(await hasGroup('exec'))) return t.skip('exec not wired yet');
    if (!(await importOrNull('@azure/identity'))) return t.skip('@azure/identity not installed in tests/e2e');
    const script = `
      import { ManagedIdentityCredential } from '@azure/identity';
      const t = await new ManagedIdentityCredential().getToken('https://signalr.azure.com/.default');
      console.log(JSON.stringify({ token: t.token }));`;
    const r = await s.cliRaw(['exec', '--vm', 'myvm', '-g', 'local', '--', process.execPath,
      '--input-type=module', '-e', script], { cwd: E2E_DIR });
    assert.equal(r.code, 0, r.stderr);
    const { token } = JSON.parse(r.stdout.trim().split('\n').pop());
    const claims = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());
    assert.equal(claims.oid, st.principalId);
    assert.equal(claims.tid, s.tenantId);
    assert.equal(claims.aud, 'https://signalr.azure.com');
    st.token = token;
  });

  test('5. the data plane accepts the identity: temporary access key, then a client connects', async (t) => {
    if (!st.token) return t.skip('needs step 4');
    const r = await s.request(`${s.signalrUrl}/api/v1/auth/accessKey`, {
      headers: { Authorization: `Bearer ${st.token}` },
    });
    if (r.status === 404) { st.token = null; return t.skip('data plane has no /api/v1/auth/accessKey yet'); }
    assert.equal(r.status, 200, r.body);
    assert.ok(r.json.KeyId && r.json.AccessKey);
    const jose = await importOrNull('jose');
    const signalr = await importOrNull('@microsoft/signalr');
    if (!jose || !signalr) return t.skip('jose / @microsoft/signalr not installed');
    const hubUrl = `${s.signalrUrl}/client/?hub=chat`;
    const clientToken = await new jose.SignJWT({})
      .setProtectedHeader({ alg: 'HS256', kid: r.json.KeyId })
      .setAudience(hubUrl).setIssuedAt().setExpirationTime('10m')
      .sign(new TextEncoder().encode(r.json.AccessKey));
    const conn = new signalr.HubConnectionBuilder()
      .withUrl(hubUrl, { accessTokenFactory: () => clientToken })
      .configureLogging(signalr.LogLevel.None).build();
    await conn.start();
    assert.equal(conn.state, 'Connected');
    await conn.stop();
  });

  test('5b. without the role the service says why (403 JSON with a hint)', async (t) => {
    if (!st.token) return t.skip('needs step 4');
    const list = await s.cli(['role', 'assignment', 'list', '--assignee', st.principalId]);
    await s.cli(['role', 'assignment', 'delete', '--ids', ...list.map((a) => a.id)]);
    const r = await s.request(`${s.signalrUrl}/api/v1/auth/accessKey`, {
      headers: { Authorization: `Bearer ${st.token}` },
    });
    assert.equal(r.status, 403, r.body);
    assert.equal(r.json.principal.oid, st.principalId);
    assert.match(r.json.requiredAction, /auth\/accessKey\/action/);
    assert.ok(r.json.hint && r.json.hint.length > 10);
  });
});
