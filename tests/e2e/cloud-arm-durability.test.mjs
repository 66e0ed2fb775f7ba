// State survives a clean restart and a kill -9 in the middle of a burst of CLI writes: every
// write the CLI acknowledged (exit 0) is there afterwards; ids, keys and identity ports are kept.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startSigrid, sleep } from './lib/sigrid.mjs';

let s;
after(async () => { if (s) await s.stop(); });

test('state survives restart (ids, keys, identity ports, role assignments)', async () => {
  s = await startSigrid();
  const acct = await s.cli(['account', 'show']);
  const defKeys = await s.cli(['signalr', 'key', 'list', '-g', 'local', '-n', 'default']);
  await s.cli(['group', 'create', '-n', 'keep']);
  const uami = await s.cli(['identity', 'create', '-g', 'keep', '-n', 'u1']);
  const vm = await s.cli(['vm', 'create', '-g', 'keep', '-n', 'vm1', '--assign-identity', '[system]', 'u1']);
  const app = await s.cli(['functionapp', 'create', '-g', 'keep', '-n', 'fa1', '--assign-identity']);
  const sr = await s.cli(['signalr', 'create', '-g', 'keep', '-n', 'sr1']);
  const keys = await s.cli(['signalr', 'key', 'list', '-g', 'keep', '-n', 'sr1']);
  const ra = await s.cli(['role', 'assignment', 'create', '--assignee', uami.principalId,
    '--role', 'SignalR App Server', '--scope', sr.id]);
  const cred = s.adminCredential();

  s = await s.restart();
  assert.equal(s.adminCredential(), cred, 'admin credential kept');
  const acct2 = await s.cli(['account', 'show']);
  assert.equal(acct2.id, acct.id);
  assert.equal(acct2.tenantId, acct.tenantId);
  assert.deepEqual(await s.cli(['signalr', 'key', 'list', '-g', 'local', '-n', 'default']), defKeys);
  assert.deepEqual(await s.cli(['identity', 'show', '-g', 'keep', '-n', 'u1']), uami);
  const vm2 = await s.cli(['vm', 'show', '-g', 'keep', '-n', 'vm1']);
  assert.deepEqual(vm2.identity, vm.identity);
  assert.equal(vm2.identityEndpoint, vm.identityEndpoint, 'identity port kept across restarts');
  const app2 = await s.cli(['functionapp', 'show', '-g', 'keep', '-n', 'fa1']);
  assert.equal(app2.identityEndpoint, app.identityEndpoint);
  const sr2 = await s.cli(['signalr', 'show', '-g', 'keep', '-n', 'sr1']);
  assert.equal(sr2.publicPort, sr.publicPort);
  assert.deepEqual(await s.cli(['signalr', 'key', 'list', '-g', 'keep', '-n', 'sr1']), keys);
  const ras = await s.cli(['role', 'assignment', 'list', '--assignee', uami.principalId]);
  assert.deepEqual(ras.map((a) => a.id), [ra.id]);
});

test('kill -9 in the middle of a burst of CLI writes loses no acknowledged write', async () => {
  if (!s) s = await startSigrid();
  await s.cli(['group', 'create', '-n', 'burst']);
  const acked = [];
  const failed = [];
  let stop = false;
  const lane = async (lane) => {
    for (let i = 0; !stop && i < 200; i++) {
      const name = `id-${lane}-${i}`;
      const r = await s.cliRaw(['identity', 'create', '-g', 'burst', '-n', name]);
      if (r.code === 0) acked.push({ name, clientId: r.json.clientId, principalId: r.json.principalId });
      else failed.push(name);
    }
  };
  const lanes = [lane(0), lane(1), lane(2), lane(3)];
  // let some writes through, then crash the server while the lanes keep writing
  const t0 = Date.now();
  while (acked.length < 12 && Date.now() - t0 < 60000) await sleep(50);
  assert.ok(acked.length >= 12, 'writes were acknowledged before the crash');
  const info = await s.kill9();
  assert.equal(info.signal, 'SIGKILL');
  await sleep(300);
  stop = true;
  await Promise.all(lanes);
  assert.ok(failed.length > 0, 'some writes were refused after the crash');

  s = await startSigrid({ dataDir: s.dataDir, ports: s.ports });
  const present = new Map((await s.cli(['identity', 'list', '-g', 'burst'])).map((i) => [i.name, i]));
  const sps = new Map((await s.cli(['ad', 'sp', 'list'])).map((p) => [p.appId, p]));
  for (const a of acked) {
    const p = present.get(a.name);
    assert.ok(p, `acknowledged write ${a.name} lost`);
    assert.equal(p.clientId, a.clientId);
    assert.equal(p.principalId, a.principalId);
    // and its principal too (the same transaction)
    assert.equal(sps.get(a.clientId)?.id, a.principalId);
  }
});
