// The authorization decision (sg_cloud_authorize) seen through `sigrid role check`: allowed,
// denied with the reason and the fix, inheritance from RG / subscription / management group,
// and --propagation-delay (not yet effective, seconds left).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startSigrid } from './lib/sigrid.mjs';

let s;
before(async () => { s = await startSigrid({ extraArgs: ['--propagation-delay', '600'] }); });
after(async () => { if (s) await s.stop(); });

const SERVER = 'serverConnection/write';
const SEND = 'Microsoft.SignalRService/SignalR/hub/send/action';

test('decisions explain themselves', async () => {
  await s.cli(['group', 'create', '-n', 'authz']);
  const mi = await s.cli(['identity', 'create', '-g', 'authz', '-n', 'server-mi']);
  const other = await s.cli(['identity', 'create', '-g', 'authz', '-n', 'other-mi']);
  const sr = await s.cli(['signalr', 'create', '-g', 'authz', '-n', 'sr-authz']);
  const sr2 = await s.cli(['signalr', 'create', '-g', 'authz', '-n', 'sr-authz-2']);
  const check = (who, action, scope = sr.id, more = []) =>
    s.cli(['role', 'check', '--assignee', who, '--action', action, '--scope', scope, ...more]);

  // nothing assigned: the hint names the role and the command
  let d = await check(mi.principalId, SERVER);
  assert.equal(d.allowed, false);
  assert.equal(d.code, 'Forbidden.NoRoleAssignment');
  assert.ok(d.hint.includes("'SignalR App Server'"), d.hint);
  assert.ok(d.hint.includes(`--assignee ${mi.principalId}`), d.hint);
  assert.ok(d.hint.includes(`--scope ${sr.id}`), d.hint);
  assert.deepEqual(d.scopesChecked.slice(0, 3), [sr.id,
    `/subscriptions/${s.subscriptionId}/resourceGroups/authz`, `/subscriptions/${s.subscriptionId}`]);

  // a new assignment waits for the propagation delay
  const a = await s.cli(['role', 'assignment', 'create', '--assignee', mi.clientId,
    '--role', 'SignalR App Server', '--scope', sr.id]);
  assert.equal(Date.parse(a.effectiveOn) - Date.parse(a.createdOn), 600 * 1000);
  d = await check(mi.clientId, SERVER);
  assert.equal(d.assigneeResolvedFrom, 'clientId');
  assert.equal(d.allowed, false);
  assert.equal(d.code, 'Forbidden.NotYetPropagated');
  assert.match(d.message, /\(\d+ s left\)/);
  const left = Number(/\((\d+) s left\)/.exec(d.message)[1]);
  assert.ok(left > 500 && left <= 600, `seconds left: ${left}`);

  // wrong role at the right scope (App Server has no send actions)
  d = await check(mi.principalId, SEND);
  assert.equal(d.code, 'Forbidden.RoleLacksAction');
  assert.ok(d.hint.includes("'SignalR REST API Owner'"), d.hint);

  // another resource: the role is held, but on sr, not on sr2
  d = await check(mi.principalId, SERVER, sr2.id);
  assert.equal(d.allowed, false);
  assert.equal(d.code, 'Forbidden.ScopeMismatch');
  assert.ok(d.message.includes(sr.id), d.message);
  assert.ok(d.hint.includes(`--scope ${sr2.id}`), d.hint);

  // tenant mismatch
  d = await check(mi.principalId, SERVER, sr.id, ['--tenant', '99999999-9999-4999-8999-999999999999']);
  assert.equal(d.code, 'Forbidden.TenantMismatch');
  assert.ok(d.hint.includes(s.tenantId));

  // the wrong identity: the hint names the one that holds the role (select it by ClientId)
  d = await check(other.principalId, SERVER);
  assert.equal(d.code, 'Forbidden.NoRoleAssignment');
  assert.ok(d.hint.includes("'server-mi'"), d.hint);
  assert.ok(d.hint.includes(`ClientId=${mi.clientId}`), d.hint);
});

test('inheritance: MG > subscription > RG > resource (restarted without delay)', async () => {
  s = await s.restart({ extraArgs: [] });
  const mi = await s.cli(['identity', 'show', '-g', 'authz', '-n', 'other-mi']);
  const sr = await s.cli(['signalr', 'show', '-g', 'authz', '-n', 'sr-authz']);
  const check = (action) => s.cli(['role', 'check', '--assignee', mi.principalId, '--action', action,
    '--scope', sr.id]);
  let d = await check(SEND);
  assert.equal(d.allowed, false);

  await s.cli(['account', 'management-group', 'create', '-n', 'authz-mg']);
  await s.cli(['account', 'management-group', 'subscription', 'add', '-n', 'authz-mg', '-s', s.subscriptionId]);
  const mgScope = '/providers/Microsoft.Management/managementGroups/authz-mg';
  const a = await s.cli(['role', 'assignment', 'create', '--assignee', mi.principalId,
    '--role', 'SignalR Service Owner', '--scope', mgScope]);
  d = await check(SEND);
  assert.equal(d.allowed, true, JSON.stringify(d));
  assert.equal(d.code, 'Allowed');
  assert.ok(d.message.includes(mgScope));
  assert.ok(d.scopesChecked.includes(mgScope));

  // taking the subscription out of the group removes the grant
  await s.cli(['account', 'management-group', 'subscription', 'remove', '-n', 'authz-mg', '-s', s.subscriptionId]);
  d = await check(SEND);
  assert.equal(d.allowed, false);
  assert.equal(d.code, 'Forbidden.ScopeMismatch');
  assert.ok(d.hint.includes(sr.id));
  await s.cli(['role', 'assignment', 'delete', '--ids', a.id]);

  // resource group and subscription scopes
  const rgA = await s.cli(['role', 'assignment', 'create', '--assignee', mi.principalId,
    '--role', 'SignalR REST API Owner', '--scope', `/subscriptions/${s.subscriptionId}/resourceGroups/AUTHZ`]);
  assert.equal(rgA.scope, `/subscriptions/${s.subscriptionId}/resourceGroups/authz`, 'canonical casing');
  assert.equal((await check(SEND)).allowed, true);
  assert.equal((await check(SERVER)).code, 'Forbidden.RoleLacksAction');
  await s.cli(['role', 'assignment', 'create', '--assignee', mi.principalId,
    '--role', 'SignalR App Server', '--scope', `/subscriptions/${s.subscriptionId}`]);
  assert.equal((await check(SERVER)).allowed, true);

  // a control-plane role never grants data actions
  const other = await s.cli(['identity', 'create', '-g', 'authz', '-n', 'owner-mi']);
  await s.cli(['role', 'assignment', 'create', '--assignee', other.principalId, '--role', 'Owner',
    '--scope', `/subscriptions/${s.subscriptionId}`]);
  d = await s.cli(['role', 'check', '--assignee', other.principalId, '--action', SERVER, '--scope', sr.id]);
  assert.equal(d.allowed, false);
  assert.equal(d.code, 'Forbidden.RoleLacksAction');
  assert.ok(d.message.includes("'Owner'"));
});
