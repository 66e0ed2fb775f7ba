// Management API + az-shaped CLI: resources CRUD, identities, SignalR keys, RBAC at each scope,
// admin authentication, ARM error shapes, case-insensitive ids, --help everywhere.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startSigrid, CliError } from './lib/sigrid.mjs';

let s;
before(async () => { s = await startSigrid(); });
after(async () => { if (s) await s.stop(); });

async function cliFails(args) {
  try {
    await s.cli(args);
  } catch (e) {
    assert.ok(e instanceof CliError, String(e));
    assert.notEqual(e.exitCode, 0);
    assert.ok(e.error && e.error.code && e.error.message, `JSON error on stderr: ${e.stderr}`);
    return e.error;
  }
  assert.fail(`sigrid ${args.join(' ')} should have failed`);
}

test('management API refuses callers without the admin credential', async () => {
  const r = await s.request(`${s.cloudUrl}/subscriptions?api-version=2022-12-01`);
  assert.equal(r.status, 401);
  assert.equal(r.json.error.code, 'AuthenticationFailed');
  const bad = await s.request(`${s.cloudUrl}/subscriptions/${s.subscriptionId}`, {
    headers: { Authorization: 'Bearer not-the-credential' },
  });
  assert.equal(bad.status, 401);
  assert.equal(bad.json.error.code, 'AuthenticationFailed');
  const ok = await s.mgmt('GET', `/subscriptions/${s.subscriptionId}?api-version=2022-12-01`);
  assert.equal(ok.status, 200);
  assert.equal(ok.json.subscriptionId, s.subscriptionId);
  assert.equal(ok.json.tenantId, s.tenantId);
});

test('account, subscriptions and resource groups', async () => {
  const acct = await s.cli(['account', 'show']);
  assert.equal(acct.id, s.subscriptionId);
  assert.equal(acct.tenantId, s.tenantId);
  assert.equal(acct.isDefault, true);
  assert.ok(acct.name);

  const sub = await s.cli(['account', 'subscription', 'create', '-n', 'second']);
  assert.match(sub.id, /^[0-9a-f-]{36}$/);
  assert.equal(sub.name, 'second');
  assert.equal(sub.tenantId, s.tenantId);

  const rg = await s.cli(['group', 'create', '-n', 'crud-rg']);
  assert.equal(rg.id, `/subscriptions/${s.subscriptionId}/resourceGroups/crud-rg`);
  assert.equal(rg.name, 'crud-rg');
  assert.ok(rg.location);
  const rg2 = await s.cli(['group', 'create', '-n', 'other-rg', '-s', 'second']);
  assert.equal(rg2.id, `/subscriptions/${sub.id}/resourceGroups/other-rg`);
  const list = await s.cli(['group', 'list']);
  assert.ok(list.some((g) => g.name === 'local'));
  assert.ok(list.some((g) => g.name === 'crud-rg'));
  assert.equal(await s.cli(['group', 'exists', '-n', 'CRUD-RG']), true);
  assert.equal(await s.cli(['group', 'exists', '-n', 'nope']), false);

  const err = await cliFails(['group', 'show', '-n', 'nope']);
  assert.equal(err.code, 'ResourceGroupNotFound');
});

test('user-assigned identities, VMs and function apps with identities', async () => {
  await s.cli(['group', 'create', '-n', 'id-rg']);
  const uami = await s.cli(['identity', 'create', '-g', 'id-rg', '-n', 'uami1']);
  for (const k of ['id', 'name', 'clientId', 'principalId', 'tenantId', 'type']) assert.ok(uami[k], k);
  assert.equal(uami.tenantId, s.tenantId);
  assert.equal(uami.type, 'Microsoft.ManagedIdentity/userAssignedIdentities');
  assert.notEqual(uami.clientId, uami.principalId);
  assert.deepEqual((await s.cli(['identity', 'show', '-g', 'id-rg', '-n', 'UAMI1'])).clientId, uami.clientId);
  assert.ok((await s.cli(['identity', 'list', '-g', 'id-rg'])).some((i) => i.id === uami.id));

  // every VM has an identity endpoint, even without an identity
  const bare = await s.cli(['vm', 'create', '-g', 'id-rg', '-n', 'bare']);
  assert.equal(bare.identity.type, 'None');
  assert.match(bare.identityEndpoint, /^http:\/\/127\.0\.0\.1:\d+$/);

  const vm = await s.cli(['vm', 'create', '-g', 'id-rg', '-n', 'vm1', '--assign-identity']);
  assert.equal(vm.identity.type, 'SystemAssigned');
  assert.match(vm.identity.principalId, /^[0-9a-f-]{36}$/);
  assert.equal(vm.identity.tenantId, s.tenantId);
  assert.notEqual(vm.identityEndpoint, bare.identityEndpoint);
  for (const k of ['id', 'name', 'resourceGroup', 'identity', 'identityEndpoint']) assert.ok(k in vm, k);

  const asg = await s.cli(['vm', 'identity', 'assign', '-g', 'id-rg', '-n', 'vm1', '--identities', 'uami1']);
  assert.equal(asg.systemAssignedIdentity, vm.identity.principalId);
  assert.deepEqual(asg.userAssignedIdentities[uami.id], { principalId: uami.principalId, clientId: uami.clientId });
  let shown = await s.cli(['vm', 'show', '-g', 'id-rg', '-n', 'vm1']);
  assert.equal(shown.identity.type, 'SystemAssigned, UserAssigned');
  assert.equal(shown.identityEndpoint, vm.identityEndpoint);

  const rem = await s.cli(['vm', 'identity', 'remove', '-g', 'id-rg', '-n', 'vm1', '--identities', '[system]']);
  assert.equal(rem.systemAssignedIdentity, '');
  assert.ok(rem.userAssignedIdentities[uami.id]);
  shown = await s.cli(['vm', 'show', '-g', 'id-rg', '-n', 'vm1']);
  assert.equal(shown.identity.type, 'UserAssigned');
  // the old system-assigned principal is gone
  await cliFails(['ad', 'sp', 'show', '--id', vm.identity.principalId]);

  // unknown user-assigned identity: ARM-style error
  const e1 = await cliFails(['vm', 'identity', 'assign', '-g', 'id-rg', '-n', 'vm1', '--identities', 'ghost']);
  assert.equal(e1.code, 'FailedIdentityOperation');

  // apps get an endpoint only once an identity is enabled
  const app = await s.cli(['functionapp', 'create', '-g', 'id-rg', '-n', 'app1']);
  assert.equal(app.identity.type, 'None');
  assert.equal(app.identityEndpoint, null);
  const a2 = await s.cli(['functionapp', 'identity', 'assign', '-g', 'id-rg', '-n', 'app1']);
  assert.match(a2.systemAssignedIdentity, /^[0-9a-f-]{36}$/);
  const app2 = await s.cli(['functionapp', 'show', '-g', 'id-rg', '-n', 'app1']);
  assert.match(app2.identityEndpoint, /^http:\/\/127\.0\.0\.1:\d+$/);
  const raw = await s.mgmt('GET', `${app2.id}?api-version=2022-03-01`);
  assert.equal(raw.status, 200);
  assert.equal(raw.json.kind, 'functionapp');
  assert.ok(raw.json.properties.identityHeader, 'apps expose their X-IDENTITY-HEADER secret to the admin');

  // ad sp show by object id and by client id
  const byOid = await s.cli(['ad', 'sp', 'show', '--id', uami.principalId]);
  const byApp = await s.cli(['ad', 'sp', 'show', '--id', uami.clientId]);
  assert.equal(byOid.id, uami.principalId);
  assert.equal(byApp.id, uami.principalId);
  assert.equal(byApp.appId, uami.clientId);
  assert.equal(byApp.servicePrincipalType, 'ManagedIdentity');

  // deleting the identity detaches it
  await s.cli(['identity', 'delete', '-g', 'id-rg', '-n', 'uami1']);
  shown = await s.cli(['vm', 'show', '-g', 'id-rg', '-n', 'vm1']);
  assert.equal(shown.identity.type, 'None');
  const e2 = await cliFails(['identity', 'show', '-g', 'id-rg', '-n', 'uami1']);
  assert.equal(e2.code, 'ResourceNotFound');

  // case-insensitive ids, like ARM
  const upper = await s.mgmt('GET', `${vm.id.toUpperCase()}?api-version=2022-03-01`);
  assert.equal(upper.status, 200);
  assert.equal(upper.json.id, vm.id);
});

test('SignalR resources: create, keys, update, delete', async () => {
  await s.cli(['group', 'create', '-n', 'sr-rg']);
  const def = (await s.cli(['signalr', 'list'])).find((r) => r.name === 'default');
  assert.ok(def, 'built-in resource listed');
  assert.deepEqual(def.features.find((f) => f.flag === 'ServiceMode').value, 'Serverless');

  const sr = await s.cli(['signalr', 'create', '-g', 'sr-rg', '-n', 'sr1']);
  for (const k of ['id', 'name', 'hostName', 'publicPort', 'disableLocalAuth', 'features']) assert.ok(k in sr, k);
  assert.equal(sr.features.find((f) => f.flag === 'ServiceMode').value, 'Default');
  assert.equal(sr.disableLocalAuth, false);
  assert.equal(sr.hostName, '127.0.0.1');

  const keys = await s.cli(['signalr', 'key', 'list', '-g', 'sr-rg', '-n', 'sr1']);
  assert.match(keys.primaryKey, /^[A-Za-z0-9+/]{43}$/);
  assert.match(keys.secondaryKey, /^[A-Za-z0-9+/]{43}$/);
  assert.equal(keys.primaryConnectionString,
    `Endpoint=http://127.0.0.1;Port=${sr.publicPort};AccessKey=${keys.primaryKey};Version=1.0;`);
  assert.equal(keys.secondaryConnectionString,
    `Endpoint=http://127.0.0.1;Port=${sr.publicPort};AccessKey=${keys.secondaryKey};Version=1.0;`);

  const renewed = await s.cli(['signalr', 'key', 'renew', '-g', 'sr-rg', '-n', 'sr1', '--key-type', 'primary']);
  assert.notEqual(renewed.primaryKey, keys.primaryKey);
  assert.equal(renewed.secondaryKey, keys.secondaryKey);

  const upd = await s.cli(['signalr', 'update', '-g', 'sr-rg', '-n', 'sr1', '--disable-local-auth', 'true',
    '--service-mode', 'Serverless']);
  assert.equal(upd.disableLocalAuth, true);
  assert.equal(upd.features.find((f) => f.flag === 'ServiceMode').value, 'Serverless');

  const portTaken = await cliFails(['signalr', 'create', '-g', 'sr-rg', '-n', 'sr2', '--port', String(sr.publicPort)]);
  assert.equal(portTaken.code, 'PortInUse');

  const gone = await s.cli(['signalr', 'delete', '-g', 'sr-rg', '-n', 'sr1']);
  assert.equal(gone.id, sr.id);
  const e = await cliFails(['signalr', 'show', '-g', 'sr-rg', '-n', 'sr1']);
  assert.equal(e.code, 'ResourceNotFound');
});

test('RBAC: built-in roles and assignments at every scope', async () => {
  const defs = await s.cli(['role', 'definition', 'list']);
  const byName = Object.fromEntries(defs.map((d) => [d.roleName, d]));
  assert.equal(byName['SignalR App Server'].name, '420fcaa2-552c-430f-98ca-3264be4806c7');
  assert.equal(byName['SignalR REST API Owner'].name, 'fd53cd77-2268-407a-8f46-7e7863d0f521');
  assert.equal(byName['SignalR REST API Reader'].name, 'ddde6b66-c0df-4114-a159-3618637b3035');
  assert.equal(byName['SignalR Service Owner'].name, '7e4f1700-ea5a-4f59-8f37-079cfe29dce3');
  assert.deepEqual(byName['SignalR Service Owner'].permissions[0].dataActions, ['Microsoft.SignalRService/SignalR/*']);
  assert.equal((await s.cli(['role', 'definition', 'list', '--name', 'signalr app server'])).length, 1);

  await s.cli(['group', 'create', '-n', 'rbac-rg']);
  const uami = await s.cli(['identity', 'create', '-g', 'rbac-rg', '-n', 'app-server']);
  const sr = await s.cli(['signalr', 'create', '-g', 'rbac-rg', '-n', 'sr-rbac']);

  // by client id: stored against the object id, and the output says so
  const a1 = await s.cli(['role', 'assignment', 'create', '--assignee', uami.clientId,
    '--role', 'SignalR App Server', '--scope', sr.id]);
  assert.equal(a1.principalId, uami.principalId);
  assert.equal(a1.assigneeResolvedFrom, 'clientId');
  assert.equal(a1.roleDefinitionName, 'SignalR App Server');
  assert.match(a1.roleDefinitionId, /roleDefinitions\/420fcaa2-552c-430f-98ca-3264be4806c7$/);
  assert.equal(a1.scope, sr.id);
  assert.equal(a1.principalType, 'ServicePrincipal');
  assert.ok(a1.id.startsWith(`${sr.id}/providers/Microsoft.Authorization/roleAssignments/`));

  const dup = await cliFails(['role', 'assignment', 'create', '--assignee', uami.principalId,
    '--role', 'SignalR App Server', '--scope', sr.id]);
  assert.equal(dup.code, 'RoleAssignmentExists');

  const rgScope = `/subscriptions/${s.subscriptionId}/resourceGroups/rbac-rg`;
  const a2 = await s.cli(['role', 'assignment', 'create', '--assignee', uami.principalId,
    '--role', 'fd53cd77-2268-407a-8f46-7e7863d0f521', '--scope', rgScope]);
  assert.equal(a2.assigneeResolvedFrom, 'objectId');
  assert.equal(a2.roleDefinitionName, 'SignalR REST API Owner');
  const a3 = await s.cli(['role', 'assignment', 'create', '--assignee', uami.principalId,
    '--role', 'SignalR REST API Reader', '--scope', `/subscriptions/${s.subscriptionId}`]);
  await s.cli(['account', 'management-group', 'create', '-n', 'mg-e2e']);
  const mg = await s.cli(['account', 'management-group', 'subscription', 'add', '-n', 'mg-e2e', '-s', s.subscriptionId]);
  assert.ok(mg.children.some((c) => c.name === s.subscriptionId));
  const a4 = await s.cli(['role', 'assignment', 'create', '--assignee', uami.principalId,
    '--role', 'SignalR Service Owner', '--scope', '/providers/Microsoft.Management/managementGroups/mg-e2e']);
  assert.equal(a4.scope, '/providers/Microsoft.Management/managementGroups/mg-e2e');

  const mine = await s.cli(['role', 'assignment', 'list', '--assignee', uami.clientId]);
  assert.deepEqual(new Set(mine.map((a) => a.id)), new Set([a1.id, a2.id, a3.id, a4.id]));
  const atRg = await s.cli(['role', 'assignment', 'list', '--scope', rgScope]);
  assert.deepEqual(atRg.map((a) => a.id), [a2.id]);
  const inherited = await s.cli(['role', 'assignment', 'list', '--scope', sr.id, '--include-inherited',
    '--assignee', uami.principalId]);
  assert.equal(inherited.length, 4, 'resource sees RG, subscription and MG assignments');

  const bad = await cliFails(['role', 'assignment', 'create', '--assignee', uami.principalId,
    '--role', 'SignalR App Server', '--scope', `/subscriptions/${s.subscriptionId}/resourceGroups/ghost`]);
  assert.equal(bad.code, 'ResourceGroupNotFound');
  const noRole = await cliFails(['role', 'assignment', 'create', '--assignee', uami.principalId,
    '--role', 'Galactic Emperor', '--scope', sr.id]);
  assert.equal(noRole.code, 'RoleNotFound');
  const noPrincipal = await cliFails(['role', 'assignment', 'create', '--assignee',
    '00000000-1111-2222-3333-444444444444', '--role', 'SignalR App Server', '--scope', sr.id]);
  assert.equal(noPrincipal.code, 'PrincipalNotFound');

  const del = await s.cli(['role', 'assignment', 'delete', '--ids', a1.id, a3.id]);
  assert.equal(del.length, 2);
  const left = await s.cli(['role', 'assignment', 'list', '--assignee', uami.principalId]);
  assert.deepEqual(new Set(left.map((a) => a.id)), new Set([a2.id, a4.id]));

  // an app registration (create-for-rbac): password once, hash stored
  const sp = await s.cli(['ad', 'sp', 'create-for-rbac', '-n', 'ci-bot', '--role', 'SignalR REST API Owner',
    '--scopes', sr.id]);
  assert.match(sp.appId, /^[0-9a-f-]{36}$/);
  assert.ok(sp.password && sp.password.length >= 32);
  assert.equal(sp.tenant, s.tenantId);
  const spShow = await s.cli(['ad', 'sp', 'show', '--id', sp.appId]);
  assert.equal(spShow.servicePrincipalType, 'Application');
  assert.equal(JSON.stringify(spShow).includes(sp.password), false);
  const spRoles = await s.cli(['role', 'assignment', 'list', '--assignee', sp.appId]);
  assert.equal(spRoles.length, 1);
  assert.equal(spRoles[0].roleDefinitionName, 'SignalR REST API Owner');
});

test('resource group delete removes its resources', async () => {
  await s.cli(['group', 'create', '-n', 'doomed']);
  await s.cli(['vm', 'create', '-g', 'doomed', '-n', 'v']);
  await s.cli(['identity', 'create', '-g', 'doomed', '-n', 'i']);
  await s.cli(['group', 'delete', '-n', 'doomed']);
  assert.equal(await s.cli(['group', 'exists', '-n', 'doomed']), false);
  const e = await cliFails(['vm', 'show', '-g', 'doomed', '-n', 'v']);
  assert.equal(e.code, 'ResourceGroupNotFound');
  // a new group of the same name starts empty
  await s.cli(['group', 'create', '-n', 'doomed']);
  assert.deepEqual(await s.cli(['identity', 'list', '-g', 'doomed']), []);
});

test('--help at every level, usage errors as JSON', async () => {
  for (const args of [['account'], ['account', 'management-group', 'subscription'], ['group'],
    ['vm'], ['vm', 'identity'], ['vm', 'identity', 'assign'], ['functionapp', 'create'],
    ['identity', 'create'], ['ad', 'sp'], ['ad', 'sp', 'create-for-rbac'], ['signalr'],
    ['signalr', 'key', 'renew'], ['role'], ['role', 'assignment', 'create'], ['role', 'definition', 'list']]) {
    const r = await s.cliRaw([...args, '--help']);
    assert.equal(r.code, 0, `${args.join(' ')} --help: ${r.stderr}`);
    assert.ok(r.stdout.length > 20);
  }
  const r = await s.cliRaw(['vm', 'show', '-g', 'x']);
  assert.notEqual(r.code, 0);
  assert.ok(JSON.parse(r.stderr).error.code);
  const r2 = await s.cliRaw(['signalr', 'create', '-g', 'x', '-n', 'y', '--service-mode', 'Weird']);
  assert.notEqual(r2.code, 0);
  assert.ok(JSON.parse(r2.stderr).error.message.includes('Weird'));
});
