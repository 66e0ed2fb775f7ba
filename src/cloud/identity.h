/* identity.h — the identity side of the cloud layer, as cloud.c wires it:
 *   - the local Entra ID authority on the cloud listener (OIDC discovery v1/v2, JWKS, token
 *     endpoints v1/v2 for client credentials with a client secret): sg_entra_handle();
 *   - token issuance (RS256, signing keys kept in the store, rotated, previous key published
 *     until its tokens expire);
 *   - one identity endpoint per compute resource (VM: IMDS protocol; functionapp/webapp: App
 *     Service protocol) on http://HOST:PORT with the port stored for that resource:
 *     sg_idep_sync() after any change to VMs/apps/identities.
 * The local CA for the cloud listener's https is in ca.h (sg_ca_ensure).
 *
 * Wiring expected from cloud.c (sg_cloud_open / sg_cloud_close):
 *   1. sg_ca_ensure(data_dir, host, &paths, ...) before building the cloud listener's SSL_CTX
 *      (unless --cloud-http);
 *   2. once the store is open: sg_identity_open(&opts, &c->identity, ...) — struct sg_cloud
 *      (cloud_internal.h) holds the result in a member named `identity`; it loads or creates
 *      the signing key and starts the identity endpoints (same as a first sg_idep_sync);
 *   3. every cloud-listener request whose path is not ARM (/{tenant}/..., /common/...,
 *      /organizations/..., /consumers/...) goes to sg_entra_handle(c, req);
 *   4. after any change to VMs, apps or identities (create/delete, identity assign/remove,
 *      UAMI delete): sg_idep_sync(c);
 *   5. sg_cloud_close: sg_identity_close(c->identity, done, ud) (async: listeners close) before
 *      the store is closed.
 *
 * Threading: everything on the cloud's loop. */
#ifndef SG_CLOUD_IDENTITY_H
#define SG_CLOUD_IDENTITY_H

#include "cloud/ca.h"
#include "cloud/cloud.h"
#include "net/http.h"

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct sg_identity sg_identity;
typedef struct sg_store sg_store;

typedef struct sg_identity_opts {
    uv_loop_t *loop;
    sg_store *store;          /* borrowed; must outlive the sg_identity */
    const char *host;         /* bind address of the identity endpoints ("127.0.0.1") */
    const char *cloud_url;    /* "https://127.0.0.1:8443" (no trailing slash): issuer base */
    const char *tenant_id;    /* the local tenant's GUID */
    int key_rotation_days;    /* rotate the signing key when older; 0 = 30 days */
    int mi_token_lifetime_s;  /* managed-identity tokens; 0 = 86400 */
    int app_token_lifetime_s; /* client-credential tokens; 0 = 3600 (+ jitter like Entra) */
} sg_identity_opts;

/* Creates the identity state: loads the signing keys from the store (generating an RSA 2048
 * key on first start, rotating it when older than key_rotation_days), then starts the
 * identity endpoints of every compute resource. Returns SG_OK, or an sg_err with errmsg
 * (may be NULL) saying why; *out is NULL on error. A port that cannot be bound is logged and
 * retried at the next sync, not an error. */
int sg_identity_open(const sg_identity_opts *opts, sg_identity **out, char *errmsg,
                     size_t errlen);

/* Stops every identity endpoint, then calls done (may be NULL) from the loop and frees. */
void sg_identity_close(sg_identity *id, void (*done)(void *ud), void *ud);

/* Entra ID request on the cloud listener (answers it, always). */
void sg_entra_handle(sg_cloud *c, sg_http_req *req);
void sg_identity_handle_entra(sg_identity *id, sg_http_req *req);

/* Re-reads compute resources and their identities from the store: starts endpoints for new
 * ones, stops endpoints of deleted ones, updates which identities each endpoint serves (and
 * drops cached tokens of identities no longer attached). Returns SG_OK or an sg_err (store). */
int sg_idep_sync(sg_cloud *c);
int sg_identity_sync(sg_identity *id);

/* Rotates the signing key now (new key signs from now on; the previous one stays in the
 * JWKS until every token it signed has expired). Also called by sg_identity_open when the
 * key is older than key_rotation_days. */
int sg_identity_rotate_key(sg_identity *id);

#endif
