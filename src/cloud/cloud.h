/* cloud.h — the cloud layer's face to serve/ and signalr/: the local Entra ID tenant, ARM
 * resources, RBAC, managed identities. Owns the SQLite store (nothing else opens it) and the
 * cloud listener (Entra authority + management API) and the identity endpoints.
 * Threading: one loop (the one given to sg_cloud_open). */
#ifndef SG_CLOUD_H
#define SG_CLOUD_H

#include "proto/jwt.h"

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct sg_cloud sg_cloud;

typedef struct sg_cloud_opts {
    const char *data_dir;      /* created if missing (0700) */
    const char *host;          /* bind address of every listener, default "127.0.0.1" */
    int cloud_port;            /* default 8443 */
    int cloud_http;            /* 1 = plain http on the cloud listener */
    int identity_port_base;    /* default 8900 */
    int signalr_port;          /* port of the built-in resource "default", default 8888 */
    int signalr_tls;           /* built-in resource over https */
    int propagation_delay_s;   /* new role assignments take effect this much later */
} sg_cloud_opts;

/* Opens (creating on first start) the store: tenant, default subscription, resource group
 * "local", SignalR resource "default" (Serverless) with two access keys, the local CA and the
 * admin credential file (0600). Starts the cloud listener and the identity endpoints.
 * Returns SG_OK or an sg_err; on error *out is NULL and errmsg (may be NULL) says why. */
int sg_cloud_open(uv_loop_t *loop, const sg_cloud_opts *opts, sg_cloud **out, char *errmsg,
                  size_t errlen);
/* Stops listeners, closes the store (every acknowledged write is durable), frees. */
void sg_cloud_close(sg_cloud *c, void (*done)(void *ud), void *ud);

const char *sg_cloud_tenant_id(const sg_cloud *c);
const char *sg_cloud_subscription_id(const sg_cloud *c);
const char *sg_cloud_url(const sg_cloud *c);          /* "https://127.0.0.1:8443" */
const char *sg_cloud_ca_file(const sg_cloud *c);      /* DIR/tls/ca.pem */
const char *sg_cloud_admin_cred_file(const sg_cloud *c);

/* ---- SignalR resources, as the data plane needs them -------------------------------- */

typedef struct sg_signalr_resource {
    const char *id;             /* ARM id */
    const char *name;
    const char *resource_group;
    const char *subscription_id;
    int port;
    int tls;
    int serverless;             /* 1 = Serverless, 0 = Default */
    int disable_local_auth;
    const char *primary_key;
    const char *secondary_key;
} sg_signalr_resource;

typedef enum { SG_RES_ADDED = 1, SG_RES_UPDATED = 2, SG_RES_REMOVED = 3 } sg_res_event;

/* fn is called at once with SG_RES_ADDED for every existing resource, then on every change
 * (created, keys renewed, mode/local-auth changed, deleted). The resource struct is borrowed
 * for the duration of the call. One watcher (serve/). */
typedef void (*sg_cloud_signalr_watch_fn)(sg_cloud *c, sg_res_event ev,
                                          const sg_signalr_resource *r, void *ud);
int sg_cloud_signalr_watch(sg_cloud *c, sg_cloud_signalr_watch_fn fn, void *ud);

/* Tells the cloud the real URL of a running data plane (for `show`, endpoints.json). */
void sg_cloud_signalr_set_url(sg_cloud *c, const char *resource_id, const char *url);

/* ---- the one question the data plane asks ---------------------------------------- */

typedef struct sg_authz_decision {
    int allowed;
    char code[64];       /* e.g. "Forbidden.NoRoleAssignment", "Forbidden.NotYetPropagated" */
    char message[512];
    char hint[512];      /* names the likely cause and the fix */
    char scopes_checked[1024]; /* ";"-separated scopes looked at, nearest first */
    /* Unix seconds at which the verdict may change with no store change — the next
     * propagation boundary (effective_at of a pending assignment that would grant it); 0 = only
     * a store change (sg_cloud_authz_generation) can change it. */
    int64_t valid_until;
} sg_authz_decision;

/* May principal `oid` (of tenant `tid`) perform dataAction `action`
 * ("Microsoft.SignalRService/SignalR/hub/send/action") on `resource_id`? Fills *out with the
 * verdict and, when denied, why. Returns SG_OK (verdict in out) or an sg_err. */
int sg_cloud_authorize(sg_cloud *c, const char *oid, const char *tid, const char *action,
                       const char *resource_id, sg_authz_decision *out);
/* Moves on with every change that can alter a decision of sg_cloud_authorize (role
 * assignments, roles, resources, scopes, principals). A caller may reuse a decision while
 * this is unchanged and the time is before its valid_until (when set). */
uint64_t sg_cloud_authz_generation(const sg_cloud *c);
/* Moves on whenever the set of keys sg_cloud_verify_token accepts changes (rotation, a key
 * dropped): a caller may remember a token it verified while this is unchanged. */
uint64_t sg_cloud_signing_generation(const sg_cloud *c);

/* ---- temporary access keys of the data plane ---------------------------------------------
 * GET /api/v1/auth/accessKey (and the service protocol's AccessKeyRequest) hand an authorized
 * Entra principal a key to sign client tokens with. They survive restarts: the store keeps
 * (kid, resource, owner, tenant, expiry) — never the key, which is
 * base64(HMAC-SHA256(secret, kid)) with a per-data-dir secret (DIR/tempkey-secret, 0600). */
typedef struct sg_cloud_tempkey {
    char kid[48];       /* "sigrid-tk-" + 16 base64url characters */
    char key[48];       /* base64 of 32 bytes; its UTF-8 bytes are the HMAC key */
    char oid[64];       /* owner */
    char tid[64];
    int64_t expires_ms; /* unix ms */
} sg_cloud_tempkey;

/* Issues and persists a new key for (resource, owner) valid until expires_ms. */
int sg_cloud_tempkey_issue(sg_cloud *c, const char *resource_id, const char *oid,
                           const char *tid, int64_t expires_ms, sg_cloud_tempkey *out);
/* The live key `kid` of resource_id (key re-derived). SG_ENOTFOUND when unknown or issued for
 * another resource; SG_ETIMEDOUT when expired (out has kid, owner and expires_ms, no key). */
int sg_cloud_tempkey_find(sg_cloud *c, const char *resource_id, const char *kid,
                          sg_cloud_tempkey *out);
/* Deletes expired keys; returns how many or an sg_err. */
int sg_cloud_tempkey_sweep(sg_cloud *c);

/* ---- Entra ID tokens issued by this tenant (for the data plane's RS256 path) -------------- */

/* "{cloudUrl}/{tenantId}/": the `iss` of every token sigrid issues. Borrowed; NULL before the
 * cloud listener is up. */
const char *sg_cloud_issuer(const sg_cloud *c);

/* Verifies the signature of an RS256 token against the tenant's current signing keys (a
 * rotated-out key keeps verifying until its tokens have expired) and checks that `iss` is
 * sg_cloud_issuer(c). Does NOT check exp/nbf/aud: call sg_jwt_validate next. On SG_OK *out
 * holds header + payload (sg_jwt_clear it). Errors: SG_EAUTH with err filled (malformed, alg,
 * unknown kid, bad signature), SG_EPERM when the signature is fine but the issuer is another
 * one (err->reason names both), SG_EINVAL. No allocation of parsed keys per call; loop thread
 * only. */
int sg_cloud_verify_token(sg_cloud *c, const char *token, size_t len, sg_jwt *out,
                          sg_jwt_error *err);

#endif
