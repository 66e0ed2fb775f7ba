// bench/entra-rest.mjs — REST `:send` with one Entra ID token (a service principal's, role
// 'SignalR REST API Owner'), 16 keep-alive requests in flight in a closed loop, as an app server
// or a Functions output binding on managed identity calls the REST API. Prints requests/s and
// the server's CPU per request (from /proc). Starts its own sigrid on a temp data dir.
//
//   SIGRID_BIN=$PWD/build/sigrid N=20000 node bench/entra-rest.mjs
//
// (SIGRID_BIN, an absolute path, must be in the environment: the test library reads it when it
// is imported.)
import { startDataPlane } from '../tests/e2e/lib/signalr.mjs';
import http from 'node:http';
import fs from 'node:fs';
const bin = process.env.SIGRID_BIN || '(tests/e2e default: build-test/sigrid)';
const dp = await startDataPlane();
const s = dp.sigrid;
const app = await s.cli(['ad', 'sp', 'create-for-rbac', '-n', 'bench-entra']);
await s.cli(['role', 'assignment', 'create', '--assignee', app.appId, '--role', 'SignalR REST API Owner', '--scope', s.signalrId]);
const tokUrl = `${s.cloudUrl}/${s.tenantId}/oauth2/v2.0/token`;
const form = new URLSearchParams({ grant_type: 'client_credentials', client_id: app.appId, client_secret: app.password, scope: 'https://signalr.azure.com/.default' }).toString();
const tr = await s.request(tokUrl, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: form });
const tok = tr.json.access_token;
const u = new URL(dp.url + '/api/hubs/bench/:send?api-version=2022-06-01');
const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
const body = JSON.stringify({ target: 'm', arguments: ['x'] });
const one = () => new Promise((res, rej) => { const r = http.request({ host: u.hostname, port: u.port, path: u.pathname + u.search, method: 'POST', agent, headers: { Authorization: `Bearer ${tok}`, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } }, (resp) => { resp.resume(); resp.on('end', () => res(resp.statusCode)); }); r.on('error', rej); r.end(body); });
const first = await one(); if (first !== 202) { console.log('first status', first); process.exit(1); }
const pid = s.pid;
const cpu = () => { const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' '); return (+f[11] + +f[12]) / 100; };
const N = +(process.env.N || 4000); let done = 0, bad = 0; const c0 = cpu(); const t0 = process.hrtime.bigint();
await Promise.all(Array.from({ length: 16 }, async () => { while (done < N) { done++; if ((await one()) !== 202) bad++; } }));
const secs = Number(process.hrtime.bigint() - t0) / 1e9; const c1 = cpu();
console.log(JSON.stringify({ bin, requests: N, bad, per_s: Math.round(N / secs), server_cpu_ms_per_req: +(((c1 - c0) * 1000) / N).toFixed(3) }));
agent.destroy(); await dp.stop();
