// Helpers for the identity end-to-end tests: run @azure/identity as a VM/app through
// `sigrid exec`, verify tokens against the published JWKS with jose.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';

const LIB = path.dirname(fileURLToPath(import.meta.url));
export const CLIENT = path.join(LIB, 'identity-client.mjs');

/** Parses `export NAME=value` lines (value possibly single-quoted). */
export function parseExports(text) {
  const env = {};
  for (const line of text.split('\n')) {
    const m = /^export ([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (!m) continue;
    let v = m[2];
    if (v.startsWith("'")) v = v.slice(1, -1).replace(/'\\''/g, "'");
    env[m[1]] = v;
  }
  return env;
}

/**
 * `sigrid exec --<kind> NAME -- node identity-client.mjs <credKind> <opts>`;
 * resolves the client's JSON ({token} or {error}) plus the raw result.
 */
export async function runAs(s, kind, name, credKind, opts = {}, { rg, scope, env } = {}) {
  const args = ['exec', `--${kind}`, name];
  if (rg) args.push('-g', rg);
  args.push('--', process.execPath, CLIENT, credKind, JSON.stringify(opts));
  if (scope) args.push(scope);
  const clean = { ...s.env, ...(env || {}) };
  // start from a neutral environment: nothing from the test runner's own Azure settings
  for (const k of ['AZURE_CLIENT_ID', 'AZURE_CLIENT_SECRET', 'AZURE_TENANT_ID', 'AZURE_AUTHORITY_HOST',
    'IDENTITY_ENDPOINT', 'IDENTITY_HEADER', 'MSI_ENDPOINT', 'MSI_SECRET', 'AZURE_POD_IDENTITY_AUTHORITY_HOST']) {
    if (!(env && k in env)) delete clean[k];
  }
  const r = await s.cliRaw(args, { env: clean, timeoutMs: 90000 });
  let out = null;
  try { out = JSON.parse(r.stdout.trim().split('\n').pop()); } catch { /* not JSON */ }
  if (!out) throw new Error(`exec gave no JSON (code ${r.code}):\n${r.stdout}\n${r.stderr}`);
  return { ...out, raw: r };
}

/** Runs the client directly (not through sigrid exec) with env. */
export async function runClient(s, credKind, opts = {}, { env, scope } = {}) {
  return new Promise((resolve, reject) => {
    const args = [CLIENT, credKind, JSON.stringify(opts)];
    if (scope) args.push(scope);
    const child = spawn(process.execPath, args, { env: { ...s.env, ...(env || {}) } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('error', reject);
    child.on('close', () => {
      try {
        resolve(JSON.parse(stdout.trim().split('\n').pop()));
      } catch {
        reject(new Error(`client gave no JSON:\n${stdout}\n${stderr}`));
      }
    });
  });
}

/** Verifies a token against the tenant's published JWKS (fetched through the v1 discovery
 *  document) and returns {payload, header}. */
export async function verifyToken(s, token, audience = 'https://signalr.azure.com') {
  const disco = await s.request(`${s.cloudUrl}/${s.tenantId}/.well-known/openid-configuration`);
  if (disco.status !== 200) throw new Error(`discovery: ${disco.status} ${disco.body}`);
  const keys = await s.request(disco.json.jwks_uri);
  if (keys.status !== 200) throw new Error(`jwks: ${keys.status} ${keys.body}`);
  const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(keys.json), {
    issuer: `${s.cloudUrl}/${s.tenantId}/`,
    audience,
    algorithms: ['RS256'],
  });
  return { payload, header: protectedHeader || decodeProtectedHeader(token) };
}

/** The INTERFACE §6 claims every token carries. */
export function checkCommonClaims(assert, s, p) {
  assert.equal(p.iss, `${s.cloudUrl}/${s.tenantId}/`);
  assert.equal(p.tid, s.tenantId);
  assert.equal(p.sub, p.oid);
  assert.equal(p.idtyp, 'app');
  assert.equal(p.ver, '1.0');
  assert.equal(typeof p.iat, 'number');
  assert.equal(typeof p.nbf, 'number');
  assert.equal(typeof p.exp, 'number');
  assert.ok(p.exp - Date.now() / 1000 > 300, 'more than 5 minutes left');
  assert.equal(typeof p.uti, 'string');
  assert.match(p.appid, /^[0-9a-f-]{36}$/);
  assert.match(p.oid, /^[0-9a-f-]{36}$/);
}
