// Runs one @azure/identity credential, unmodified, and prints one JSON line:
//   {"token": "...", "expiresOnTimestamp": N}  or  {"error": "...", "name": "..."} (exit 3).
//
//   node identity-client.mjs mi '{}'                      ManagedIdentityCredential() (system)
//   node identity-client.mjs mi '{"clientId":"..."}'      ... {clientId} / {objectId} / {resourceId}
//   node identity-client.mjs secret '{"tenantId","clientId","clientSecret","authorityHost"}'
//   node identity-client.mjs dac '{}'                     DefaultAzureCredential (env-driven)
// optional 3rd argument: the scope (default https://signalr.azure.com/.default).
// The environment (sigrid env / sigrid exec, NODE_EXTRA_CA_CERTS) is what configures them.
import {
  ClientSecretCredential,
  DefaultAzureCredential,
  ManagedIdentityCredential,
} from '@azure/identity';

const [kind, optsJson, scopeArg] = process.argv.slice(2);
const opts = JSON.parse(optsJson || '{}');
const scope = scopeArg || 'https://signalr.azure.com/.default';

let cred;
if (kind === 'mi') {
  cred = Object.keys(opts).length ? new ManagedIdentityCredential(opts) : new ManagedIdentityCredential();
} else if (kind === 'secret') {
  cred = new ClientSecretCredential(opts.tenantId, opts.clientId, opts.clientSecret, {
    authorityHost: opts.authorityHost,
    disableInstanceDiscovery: true,
  });
} else if (kind === 'dac') {
  cred = new DefaultAzureCredential({ disableInstanceDiscovery: true, ...opts });
} else {
  console.log(JSON.stringify({ error: `unknown kind ${kind}` }));
  process.exit(2);
}

try {
  const t = await cred.getToken(scope);
  console.log(JSON.stringify({ token: t.token, expiresOnTimestamp: t.expiresOnTimestamp }));
} catch (e) {
  console.log(JSON.stringify({ error: String(e && e.message), name: e && e.name }));
  process.exitCode = 3;
}
