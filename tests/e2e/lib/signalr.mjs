// Helpers for the SignalR data-plane e2e tests: start sigrid (or use SIGRID_DEV_SIGNALR=
// "<url>;<key>" to point at an already running data plane), mint access-key tokens the way
// an app server does (jose, HS256, key = UTF-8 bytes of the key string), call the REST API,
// build @microsoft/signalr clients.
import * as signalR from '@microsoft/signalr';
import { MessagePackHubProtocol } from '@microsoft/signalr-protocol-msgpack';
import { SignJWT } from 'jose';
import { startSigrid, request, sleep, waitStatus } from './sigrid.mjs';

export { signalR, sleep, request, waitStatus };

/** Starts the data plane; resolves {url, key, key2, stop(), restart(), sigrid}. */
export async function startDataPlane(opts = {}) {
  if (process.env.SIGRID_DEV_SIGNALR) {
    const [url, key, key2] = process.env.SIGRID_DEV_SIGNALR.split(';');
    return { url: url.replace(/\/$/, ''), key, key2, stop: async () => {}, sigrid: null };
  }
  const s = await startSigrid(opts);
  const keys = await listKeys(s);
  const url = (s.signalrUrl || parseEndpoint(keys.primaryConnectionString)).replace(/\/$/, '');
  return {
    url, key: keys.primaryKey, key2: keys.secondaryKey, keys, sigrid: s,
    stop: () => s.stop(),
  };
}

/** Keys of the built-in resource: `sigrid signalr key list`, else ARM listKeys. */
export async function listKeys(s) {
  try {
    return await s.cli(['signalr', 'key', 'list', '-g', 'local', '-n', 'default']);
  } catch (e) {
    const r = await s.mgmt('POST', `${s.signalrId}/listKeys?api-version=2024-03-01`);
    if (r.status !== 200) throw e;
    return r.json;
  }
}

/** Endpoint (with port) from a connection string. */
export function parseEndpoint(cs) {
  const kv = Object.fromEntries(cs.split(';').filter(Boolean).map((p) => {
    const i = p.indexOf('=');
    return [p.slice(0, i).trim().toLowerCase(), p.slice(i + 1).trim()];
  }));
  const u = new URL(kv.endpoint);
  if (kv.port) u.port = kv.port;
  return u.toString().replace(/\/$/, '');
}

/** Audience base as the .NET SDK builds it: scheme://host/ (no port). */
export function audBase(url) {
  const u = new URL(url);
  return `${u.protocol}//${u.hostname}/`;
}

export async function mint(key, claims, { alg = 'HS256', expiresIn = '1h', exp } = {}) {
  let j = new SignJWT(claims).setProtectedHeader({ alg, typ: 'JWT' }).setIssuedAt();
  j = exp !== undefined ? j.setExpirationTime(exp) : j.setExpirationTime(expiresIn);
  return j.sign(new TextEncoder().encode(key));
}

/** Client token for hub (aud .../client/?hub=<hub>), user optional. */
export function clientToken(dp, hub, { user, key, extra = {}, ...o } = {}) {
  const claims = { aud: `${audBase(dp.url)}client/?hub=${hub.toLowerCase()}`, ...extra };
  if (user) claims['asrs.s.uid'] = user;
  return mint(key || dp.key, claims, o);
}

/** REST token: aud = the request URL without query (the documented form). */
export function restToken(dp, path, { key, ...o } = {}) {
  const p = path.split('?')[0];
  return mint(key || dp.key, { aud: `${audBase(dp.url)}${p.replace(/^\//, '')}` }, o);
}

/** REST call with a freshly minted token; body objects are JSON. */
export async function rest(dp, method, path, body, { headers = {}, token } = {}) {
  const t = token !== undefined ? token : await restToken(dp, path);
  const h = { ...headers };
  if (t) h.Authorization = `Bearer ${t}`;
  const sep = path.includes('?') ? '&' : '?';
  const url = `${dp.url}${path}${path.startsWith('/api/v1/') ? '' : `${sep}api-version=2022-06-01`}`;
  return request(url, { method, headers: h, body });
}

/**
 * A connected HubConnection. opts: hub, user, transport ('ws'|'sse'|'lp'), protocol ('json'|
 * 'msgpack'), stateful (bool), skipNegotiation.
 */
export async function connect(dp, { hub = 'chat', user, transport = 'ws', protocol = 'json', stateful = false, logLevel, token: tk } = {}) {
  const token = tk || await clientToken(dp, hub, { user });
  const t = { ws: signalR.HttpTransportType.WebSockets, sse: signalR.HttpTransportType.ServerSentEvents, lp: signalR.HttpTransportType.LongPolling }[transport];
  let b = new signalR.HubConnectionBuilder()
    .withUrl(`${dp.url}/client/?hub=${hub}`, { accessTokenFactory: () => token, transport: t })
    .configureLogging(logLevel ?? signalR.LogLevel.None);
  if (protocol === 'msgpack') b = b.withHubProtocol(new MessagePackHubProtocol());
  if (stateful) b = b.withStatefulReconnect();
  const c = b.build();
  await c.start();
  return c;
}

/** Collects invocations of `method` on connection c. */
export function collect(c, method = 'msg') {
  const got = [];
  const waiters = [];
  c.on(method, (...args) => {
    got.push(args);
    for (const w of waiters.splice(0)) w();
  });
  got.waitFor = async (n, ms = 5000) => {
    const end = Date.now() + ms;
    while (got.length < n) {
      if (Date.now() > end) throw new Error(`timeout waiting for ${n} '${method}' messages, got ${got.length}`);
      await new Promise((r) => { waiters.push(r); setTimeout(r, 50); });
    }
    return got;
  };
  return got;
}
