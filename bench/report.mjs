// bench/report.mjs RESULTS.jsonl [DOC.md] — turns bench/run's raw results into the tables
// (sigrid vs peers, with ratios and the issue's targets), prints them, and when DOC.md is
// given rewrites the block between the results markers in it (the rest of the file is
// hand-written and kept).
import { readFileSync, writeFileSync, existsSync } from 'node:fs';

const [resFile, docFile] = process.argv.slice(2);
const rows = readFileSync(resFile, 'utf8')
  .split('\n')
  .filter((l) => l.trim())
  .map((l) => {
    try {
      return JSON.parse(l);
    } catch {
      return { tool: 'bench', na: `unparsable result: ${l.slice(0, 80)}` };
    }
  });

const env = process.env;
const PEERS = ['nchan', 'ws', 'socketio'];
// fan-out also runs nchan with TCP_NODELAY on its sockets (bench/peers/nodelay.c)
const FAN_PEERS = ['nchan', 'nchan-nodelay', 'ws', 'socketio'];
const NAMES = {
  sigrid: 'sigrid (REST)',
  'sigrid-serverconn': 'sigrid (server conn.)',
  'sigrid-msgpack': 'sigrid (REST, MessagePack subscribers)',
  nchan: 'nchan',
  'nchan-nodelay': 'nchan (TCP_NODELAY)',
  ws: 'ws',
  socketio: 'socket.io',
};
// A configuration measured several times (bench/run repeats the headline one) is represented by
// its median run (by deliveries/s), so every column of a row comes from the same run.
const find = (server, label, pred = () => true) => {
  const all = rows.filter((r) => r.server === server && r.label === label && pred(r));
  if (all.length <= 1 || !all.every((r) => typeof r.deliveries_per_s === 'number')) return all[0];
  const sorted = [...all].sort((a, b) => a.deliveries_per_s - b.deliveries_per_s);
  return sorted[(sorted.length - 1) >> 1];
};
const runsOf = (server, label) =>
  rows.filter((r) => r.server === server && r.label === label && r.tool === 'loadgen' && r.deliveries_per_s > 0);
const na = (server, label) =>
  rows.find((r) => r.tool === 'bench' && r.server === server && (r.label === label || r.label === 'fanout:all'));

const fmtRate = (v, unit = '/s') =>
  v >= 1e6 ? `${(v / 1e6).toFixed(2)} M${unit}` : v >= 1e3 ? `${(v / 1e3).toFixed(1)} k${unit}` : `${Math.round(v)}${unit}`;
const fmtUs = (us) => (us >= 1e6 ? `${(us / 1e6).toFixed(2)} s` : us >= 1e3 ? `${(us / 1e3).toFixed(1)} ms` : `${us} µs`);
const fmtKB = (b) => `${(b / 1024).toFixed(1)} KB`;
const num = (n) => n.toLocaleString('en-US');
const problems = (r) => {
  const e = [];
  if (r.error) e.push(r.error);
  if (r.errors) e.push(`${r.errors} errors`);
  if (r.bad_status) e.push(`${r.bad_status} bad HTTP answers`);
  if (r.stalls) e.push(`${r.stalls} stalls`);
  if (r.failed) e.push(`${r.failed} failed connects`);
  return e.length ? ` ⚠ ${e.join(', ')}` : '';
};
const why = (server, label) => {
  const n = na(server, label);
  return n ? n.na : 'n/a (no result)';
};
const ratio = (a, b) => (a && b ? `${(a / b).toFixed(1)}×` : '–');

const out = [];
const p = (s = '') => out.push(s);

p(`Machine: ${env.BENCH_NPROC || '?'} cores, ${env.BENCH_CPU || '?'}, Linux ${env.BENCH_KERNEL || '?'}. ` +
  `Date: ${env.BENCH_DATE || '?'}. Commit: ${env.BENCH_COMMIT || '?'}. Command: \`${env.BENCH_CMD || 'bench/run'}\` ` +
  `(${env.BENCH_SECONDS || '?'} s). Server pinned to core 0, load generator to core 1. ` +
  `Background load from other processes before the run: ${env.BENCH_BACKGROUND || '?'} cores.`);
const noisy = rows.filter((r) => r.tool === 'loadgen' && r.other_cpu > 0.1);
if (noisy.length)
  p(`\n**Warning:** other processes used more than 0.1 core during ${noisy.length} measurement(s) ` +
    `(column "other CPU" below); those numbers are lower than this machine can do.`);
p();

// ---------------------------------------------------------------------------- fan-out
p('### Fan-out: deliveries per second');
p();
p('Publisher keeps 32 messages in flight (counted until delivered to every subscriber). sigrid: JSON hub protocol ' +
  'subscribers with full SignalR framing, published either through REST `:send` (32 keep-alive connections) or by one ' +
  'app-server connection on `/server` sending service-protocol BroadcastData (as the Management SDK\'s persistent mode ' +
  'does); peers: `POST /pub` on 32 keep-alive connections, raw WebSocket frames. Ratios use the better of the two ' +
  'sigrid publishers. nchan runs twice: stock, and "nchan (TCP_NODELAY)" = the same nginx + nchan with TCP_NODELAY set ' +
  'on every accepted socket (`bench/peers/nodelay.c`, LD_PRELOAD), the socket option sigrid, ASP.NET Core and Azure ' +
  'SignalR use; stock nchan runs its WebSocket writes under Nagle and is bimodal (see "Why nchan is bimodal" below).');
p();
const FAN_HEAD =
  '| subscribers × payload | sigrid (REST) | sigrid (server conn.) | nchan | nchan (TCP_NODELAY) | ws | socket.io | ' +
  'sigrid / nchan | sigrid / nchan (TCP_NODELAY) | sigrid / ws | sigrid / socket.io |';
const FAN_SEP = '|---|---|---|---|---|---|---|---|---|---|---|';
const fanRatios = (v) => FAN_PEERS.map((s) => ratio(v.best, v[s])).join(' | ');
p(FAN_HEAD);
p(FAN_SEP);
const fanCfgs = [
  [1000, 64],
  [1000, 1024],
  [10000, 64],
  [10000, 1024],
];
const fan = {};
for (const [subs, size] of fanCfgs) {
  const label = `fanout:${subs}:${size}`;
  const cells = [];
  const rates = {};
  for (const s of ['sigrid', 'sigrid-serverconn', ...FAN_PEERS]) {
    const r = find(s, label, (x) => x.tool === 'loadgen');
    if (r && r.deliveries_per_s > 0) {
      rates[s] = r.deliveries_per_s;
      cells.push(fmtRate(r.deliveries_per_s) + problems(r));
    } else if (r) {
      cells.push(`failed${problems(r)}`);
    } else {
      cells.push(why(s, label));
    }
  }
  const best = Math.max(rates.sigrid || 0, rates['sigrid-serverconn'] || 0);
  fan[label] = { ...rates, best };
  p(`| ${num(subs)} × ${size} B | ${cells.join(' | ')} | ${fanRatios(fan[label])} |`);
}
{
  const reps = ['sigrid', 'sigrid-serverconn', ...FAN_PEERS]
    .map((sv) => [sv, runsOf(sv, 'fanout:1000:64')])
    .filter(([, rs]) => rs.length > 1);
  if (reps.length) {
    const n = Math.max(...reps.map(([, rs]) => rs.length));
    p();
    p(`1,000 × 64 B was measured ${n} times per server (interleaved); every table shows each server's median run. ` +
      `All runs, in order: ${reps
        .map(([sv, rs]) => `${NAMES[sv]} ${rs.map((r) => fmtRate(r.deliveries_per_s, '')).join(' / ')}`)
        .join('; ')}.`);
    p();
  }
}
const mp = find('sigrid-msgpack', 'fanout:1000:64');
const perCpu = (r) => (r && r.deliveries_per_s > 0 && r.server_cpu > 0.05 ? r.deliveries_per_s / r.server_cpu : 0);
if (mp) p(`| 1,000 × 64 B, MessagePack subscribers | ${mp.deliveries_per_s > 0 ? fmtRate(mp.deliveries_per_s) : 'failed'}${problems(mp)} | | | | | | | | | |`);
const mps = find('sigrid-serverconn-msgpack', 'fanout:1000:64');
if (mps) p(`| 1,000 × 64 B, MessagePack subscribers (server conn.) | | ${mps.deliveries_per_s > 0 ? fmtRate(mps.deliveries_per_s) : 'failed'}${problems(mps)} | | | | | | | | |`);
p();
p('Deliveries per second of server CPU (deliveries/s ÷ the share of a core the server got): what one fully ' +
  'available core would give if the server were the bottleneck. On a shared, busy machine this is the fairer ' +
  'comparison; when the server CPU column below is near 100 % both tables agree.');
p();
p(FAN_HEAD);
p(FAN_SEP);
// per (server + load generator) CPU-second: what the whole machine spends per delivery
const perMachine = (r) =>
  r && r.deliveries_per_s > 0 && r.server_cpu >= 0 && r.server_cpu + r.loadgen_cpu > 0.05
    ? r.deliveries_per_s / (r.server_cpu + r.loadgen_cpu)
    : 0;
const cpuTable = (fn) => {
  const all = {};
  for (const [subs, size] of fanCfgs) {
    const label = `fanout:${subs}:${size}`;
    const v = {};
    for (const s of ['sigrid', 'sigrid-serverconn', ...FAN_PEERS]) v[s] = fn(find(s, label, (x) => x.tool === 'loadgen'));
    v.best = Math.max(v.sigrid || 0, v['sigrid-serverconn'] || 0);
    all[label] = v;
    const c = (s) => (v[s] ? fmtRate(v[s], '/CPU-s') : '–');
    p(`| ${num(subs)} × ${size} B | ${['sigrid', 'sigrid-serverconn', ...FAN_PEERS].map(c).join(' | ')} | ${fanRatios(v)} |`);
  }
  return all;
};
const fanCpu = cpuTable(perCpu);
p();
p('Deliveries per machine CPU-second (deliveries/s ÷ (server CPU + load-generator CPU)): on loopback part of the TCP ' +
  'work a server\'s sends cause runs on the receiver\'s core (the receive path, and with Nagle the ACK that releases ' +
  'the sender\'s queued data transmits it from there), so this charges each server for the whole machine\'s work per ' +
  'delivery. The "deliveries per read" column below shows how coalesced the messages arrived.');
p();
p(FAN_HEAD);
p(FAN_SEP);
const fanMach = cpuTable(perMachine);
p();
p('Delivery latency under that load (p50 / p99, send timestamp in the payload to receipt) and CPU use ' +
  '(server = its core; load generator = core 1):');
p();
p('| subscribers × payload | server | p50 | p99 | server CPU | loadgen CPU | other CPU | deliveries per read |');
p('|---|---|---|---|---|---|---|---|');
for (const [subs, size] of fanCfgs) {
  const label = `fanout:${subs}:${size}`;
  for (const s of ['sigrid', 'sigrid-serverconn', 'sigrid-msgpack', ...FAN_PEERS]) {
    const r = find(s, label, (x) => x.tool === 'loadgen' && x.deliveries > 0);
    if (!r) continue;
    p(`| ${num(subs)} × ${size} B | ${NAMES[s]} | ${fmtUs(r.lat_p50_us)} | ${fmtUs(r.lat_p99_us)} | ` +
      `${r.server_cpu >= 0 ? (100 * r.server_cpu).toFixed(0) + ' %' : '?'} | ${(100 * r.loadgen_cpu).toFixed(0)} % | ` +
      `${r.other_cpu !== undefined && r.other_cpu > -0.5 ? (100 * Math.max(0, r.other_cpu)).toFixed(0) + ' %' : '?'} | ` +
      `${r.deliveries_per_read > 0 ? r.deliveries_per_read.toFixed(1) : '?'} |`);
  }
}
p();

// ---------------------------------------------------------------------------- density
p('### Density: server RSS per idle WebSocket connection');
p();
p('RSS growth of the server process(es) divided by the connections open (fresh server, 2 load-generator processes, ' +
  '2 s settle). sigrid: full SignalR connections (negotiate + WebSocket + handshake); peers: plain WebSocket subscribers. ' +
  'Kernel socket buffers are not in RSS for anyone.');
p();
p('| open connections | sigrid | nchan | ws | socket.io | nchan / sigrid | ws / sigrid | socket.io / sigrid |');
p('|---|---|---|---|---|---|---|---|');
const dens = {};
for (const step of [10000, 19000]) {
  const cells = [];
  const v = {};
  for (const s of ['sigrid', ...PEERS]) {
    const r = find(s, 'conns', (x) => x.open_total === step);
    if (r && r.rss_per_conn_bytes > 0) {
      v[s] = r.rss_per_conn_bytes;
      cells.push(fmtKB(r.rss_per_conn_bytes) + (r.ok ? '' : problems(r) || ' ⚠ not all connected'));
    } else if (r) {
      cells.push(`failed${problems(r)}`);
    } else {
      cells.push(why(s, 'conns'));
    }
  }
  dens[step] = v;
  p(`| ${num(step)} | ${cells.join(' | ')} | ${ratio(v.nchan, v.sigrid)} | ${ratio(v.ws, v.sigrid)} | ${ratio(v.socketio, v.sigrid)} |`);
}
p();

// ---------------------------------------------------------------------------- connects
p('### Connect rate');
p();
p('First 10,000 connections on a fresh server, 256 in flight over 2 load-generator processes. A sigrid connect is ' +
  'the full SignalR sequence a client library performs: `POST /client/negotiate` (access-key JWT checked) on one TCP ' +
  'connection, WebSocket upgrade on a second one (token checked again), hub handshake answered. Peer rows are a plain ' +
  'WebSocket upgrade (no negotiate, no token), for reference.');
p();
p('| client | connects/s | p50 connect | p99 connect | server CPU (other processes) | connects per server CPU-s |');
p('|---|---|---|---|---|---|');
let sigConn = null;
const cpuCell = (r) =>
  (r.server_cpu >= 0 ? `${(100 * r.server_cpu).toFixed(0)} % (${r.other_cpu > -0.5 ? (100 * Math.max(0, r.other_cpu)).toFixed(0) : '?'} %)` : '?') +
  (r.connects_per_s && r.server_cpu > 0.05 ? ` | ${num(Math.round(r.connects_per_s / r.server_cpu))}` : r.connects_per_s ? ' | –' : '');
{
  const r = find('sigrid', 'conns', (x) => x.step === 0);
  if (r) {
    sigConn = r.connects_per_s;
    p(`| sigrid, access-key token | ${num(r.connects_per_s)}${problems(r)} | ${fmtUs(r.connect_p50_us)} | ${fmtUs(r.connect_p99_us)} | ${cpuCell(r)} |`);
  } else p(`| sigrid, access-key token | ${why('sigrid', 'conns')} | | | | |`);
  const e = find('sigrid-entra', 'conns', (x) => x.step === 0);
  if (e) p(`| sigrid, Entra (temporary-key token) | ${num(e.connects_per_s)}${problems(e)} | ${fmtUs(e.connect_p50_us)} | ${fmtUs(e.connect_p99_us)} | ${cpuCell(e)} |`);
  else p(`| sigrid, Entra (temporary-key token) | ${why('sigrid-entra', 'conns')} | | | | |`);
  for (const s of PEERS) {
    const q = find(s, 'conns', (x) => x.step === 0);
    if (q) p(`| ${NAMES[s]} (WebSocket upgrade only) | ${num(q.connects_per_s)}${problems(q)} | ${fmtUs(q.connect_p50_us)} | ${fmtUs(q.connect_p99_us)} | ${cpuCell(q)} |`);
  }
}
p();

// ---------------------------------------------------------------------------- tokens
p('### Managed-identity tokens (IMDS)');
p();
p('A VM made with `sigrid vm create --assign-identity`; `GET /metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://signalr.azure.com` ' +
  'with `Metadata: true` on 32 keep-alive connections in a closed loop. First token = a fresh connection\'s first request (token minted).');
p();
p('| measure | value |');
p('|---|---|');
let imds = null;
{
  const r = find('sigrid', 'tokens:imds', (x) => x.tool === 'loadgen');
  if (r && r.answers_per_s > 0) {
    imds = r.answers_per_s;
    p(`| cached token answers/s | ${num(r.answers_per_s)}${problems(r)} |`);
    p(`| first-token latency | ${fmtUs(r.first_answer_us)} |`);
    p(`| p50 / p99 answer latency | ${fmtUs(r.lat_p50_us)} / ${fmtUs(r.lat_p99_us)} |`);
    p(`| server CPU (other processes) | ${cpuCell(r)} |`);
    if (r.server_cpu > 0.05) p(`| answers per server CPU-second | ${num(Math.round(r.answers_per_s / r.server_cpu))} |`);
  } else if (r) {
    p(`| cached token answers/s | failed${problems(r)} |`);
  } else {
    p(`| cached token answers/s | ${why('sigrid', 'tokens:imds')} |`);
  }
}
p();

// ---------------------------------------------------------------------------- targets
p('### Targets');
p();
p('| target | measured | met |');
p('|---|---|---|');
const t1 = fan['fanout:1000:64'] || {};
const mark = (ok, have) => (!have ? '–' : ok ? 'yes' : '**no**');
const c1 = fanCpu['fanout:1000:64'] || {};
const m1 = fanMach['fanout:1000:64'] || {};
// nchan's mode in this run, from how its messages arrived
const nchanMode = (s) => {
  const r = find(s, 'fanout:1000:64', (x) => x.tool === 'loadgen' && x.deliveries > 0);
  if (!r || !(r.deliveries_per_read > 0)) return '';
  const d = r.deliveries_per_read;
  return `; ${d.toFixed(1)} deliveries per read: ${d < 1.5 ? 'one segment per message' : 'messages coalesced by Nagle'}`;
};
const fanTarget = (peer, k, what) => {
  const have = t1.best && t1[peer];
  const haveM = m1.best && m1[peer];
  p(`| ${what} | raw ${ratio(t1.best, t1[peer])} (REST ${ratio(t1.sigrid, t1[peer])}); per machine CPU-s ` +
    `${ratio(m1.best, m1[peer])}; per server CPU-s ${ratio(c1.best, c1[peer])}${peer.startsWith('nchan') ? nchanMode(peer) : ''} | ` +
    `raw: ${mark(t1.best >= k * t1[peer], have)}; per machine CPU-s: ${mark(m1.best >= k * m1[peer], haveM)} |`);
};
fanTarget('nchan', 8, 'fan-out 1,000 × 64 B ≥ 8 × nchan (stock nchan, as measured in this run)');
fanTarget('nchan-nodelay', 8, 'the same against nchan (TCP_NODELAY), for reference: nchan under sigrid\'s socket options');
fanTarget('ws', 15, 'fan-out 1,000 × 64 B ≥ 15 × ws');
const d19 = (dens[19000] || {}).sigrid;
p(`| ≤ 2 KB RSS per idle connection at 19,000 | ${d19 ? fmtKB(d19) : '–'} | ${mark(d19 <= 2048, d19)} |`);
const sc0 = find('sigrid', 'conns', (x) => x.step === 0);
const scCpu = sc0 && sc0.server_cpu > 0.05 ? Math.round(sc0.connects_per_s / sc0.server_cpu) : 0;
p(`| ≥ 10,000 full SignalR connects/s (access key) | ${sigConn ? num(sigConn) : '–'}${scCpu ? ` (per server CPU-s: ${num(scCpu)})` : ''} | ${mark(sigConn >= 10000, sigConn)} |`);
const im = find('sigrid', 'tokens:imds', (x) => x.tool === 'loadgen');
const imCpu = im && im.server_cpu > 0.05 && im.answers_per_s ? Math.round(im.answers_per_s / im.server_cpu) : 0;
p(`| ≥ 50,000 cached IMDS answers/s | ${imds ? num(imds) : '–'}${imCpu ? ` (per server CPU-s: ${num(imCpu)})` : ''} | ${mark(imds >= 50000, imds)} |`);
p();
p('The 8 × nchan target is judged against stock nchan (first row). Stock nchan writes its WebSocket subscribers under ' +
  'Nagle and runs in one of two regimes: about one delivery per read (each message its own TCP segment, ≈ 7 µs of ' +
  'nginx\'s core per delivery) or several (Nagle coalescing, the segments sent from the load generator\'s core when ' +
  'its ACKs arrive; several times faster). Which one a measurement catches is chance; the TCP_NODELAY row is nchan ' +
  'under sigrid\'s socket options and has only the first. See "Why nchan is bimodal" below.');

const text = out.join('\n') + '\n';
process.stdout.write(text);

if (docFile) {
  const BEGIN = '<!-- bench:results:begin (written by bench/run; edit outside these markers) -->';
  const END = '<!-- bench:results:end -->';
  let doc = existsSync(docFile) ? readFileSync(docFile, 'utf8') : `# Benchmarks\n\n${BEGIN}\n${END}\n`;
  const a = doc.indexOf(BEGIN);
  const b = doc.indexOf(END);
  if (a < 0 || b < a) doc += `\n${BEGIN}\n${END}\n`;
  const a2 = doc.indexOf(BEGIN);
  const b2 = doc.indexOf(END);
  doc = doc.slice(0, a2 + BEGIN.length) + '\n\n' + text + '\n' + doc.slice(b2);
  writeFileSync(docFile, doc);
  process.stderr.write(`bench: results written to ${docFile}\n`);
}
