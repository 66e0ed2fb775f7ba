/* cloud_internal.h — the sg_cloud object as seen by the files of src/cloud/ (not by other
 * layers: they use cloud/cloud.h).
 *
 * Who owns what inside src/cloud/:
 *   cloud.c, store*.c, arm*.c, rbac*.c  — cloud engineer (facade, store, management API, RBAC)
 *   ca.c, entra*.c, token*.c, idep*.c    — identity engineer (CA, Entra endpoints, tokens,
 *                                          identity endpoints)
 *
 * Lifecycle (cloud.c, sg_cloud_open):
 *   1. mkdir data_dir; open store DIR/sigrid.db; first-start bootstrap (tenant, subscription,
 *      rg "local", SignalR "default", built-in roles, admin credential DIR/admin-credential).
 *   2. unless cloud_http: sg_ca_ensure() -> DIR/tls/ca.pem + server cert/key; cloud.c builds
 *      c->tls (SSL_CTX) from them.
 *   3. sg_entra_init(c) (may fill c->entra), start the cloud listener (c->http); every request
 *      whose path does not start with "/subscriptions", "/providers" or "/tenants"... that ARM
 *      does not claim goes to sg_entra_handle(c, req).
 *   4. sg_idep_sync(c) (starts identity endpoints from the store).
 *   arm.c calls sg_idep_sync(c) after every change to VMs / apps / identities.
 *   sg_cloud_close: sg_idep_stop(c) then sg_entra_free(c), stop c->http, close the store.
 *
 * Threading: everything on c->loop. */
#ifndef SG_CLOUD_INTERNAL_H
#define SG_CLOUD_INTERNAL_H

#include "cloud/cloud.h"
#include "cloud/store.h"
#include "net/http.h"

#include <limits.h>
#include <openssl/ssl.h>
#include <uv.h>

#define SG_CLOUD_PATH_MAX 4096

struct sg_cloud_sr_url; /* resource id -> data-plane URL (cloud.c) */

struct sg_cloud {
    uv_loop_t *loop;
    sg_store *store;
    char *data_dir;      /* owned */
    char *host;          /* owned, e.g. "127.0.0.1" */
    char tenant_id[SG_STORE_GUID_MAX];
    char subscription_id[SG_STORE_GUID_MAX]; /* default subscription */
    char cloud_url[256]; /* "https://127.0.0.1:8443" (no trailing slash) */
    char ca_file[SG_CLOUD_PATH_MAX];         /* DIR/tls/ca.pem ("" with --cloud-http) */
    char admin_cred_file[SG_CLOUD_PATH_MAX]; /* DIR/admin-credential */
    unsigned char tempkey_secret[32];        /* DIR/tempkey-secret (tempkey.c) */
    int cloud_port;      /* the bound port (after listen) */
    int cloud_http;
    int identity_port_base;
    int signalr_port;
    int signalr_tls;
    int propagation_delay_s;

    SSL_CTX *tls;         /* cloud listener's server context; NULL with cloud_http */
    sg_http_server *http; /* the cloud listener */

    void *entra; /* identity engineer's state (entra.c / token.c) */
    void *idep;  /* identity engineer's state (idep.c) */

    /* cloud.c private */
    sg_cloud_signalr_watch_fn watch_fn;
    void *watch_ud;
    struct sg_cloud_sr_url *sr_urls;
    void (*close_done)(void *ud);
    void *close_ud;
    int closing;
};

/* ---- provided by the identity engineer (ca.c, entra.c, idep.c) ------------------------- */

typedef struct sg_ca_paths {
    char ca_file[SG_CLOUD_PATH_MAX];   /* DIR/tls/ca.pem */
    char cert_file[SG_CLOUD_PATH_MAX]; /* server certificate chain (PEM) for the listener */
    char key_file[SG_CLOUD_PATH_MAX];  /* its private key (PEM) */
} sg_ca_paths;

/* Creates (first start) or loads the local CA and the cloud listener's server certificate
 * (valid for `host`, 127.0.0.1 and localhost). */
int sg_ca_ensure(const char *data_dir, const char *host, sg_ca_paths *out);
/* Entra endpoints state (signing keys, etc.); called once the store is open. */
int sg_entra_init(sg_cloud *c);
void sg_entra_free(sg_cloud *c);
/* Every cloud-listener request that is not ARM. Must answer (now or later). */
void sg_entra_handle(sg_cloud *c, sg_http_req *req);
/* (Re)starts/stops identity endpoint listeners to match the store. */
int sg_idep_sync(sg_cloud *c);
/* Stops every identity endpoint (close path); done runs once they are closed. */
void sg_idep_stop(sg_cloud *c, void (*done)(void *ud), void *ud);

/* ---- provided by the cloud engineer (arm.c, rbac.c, cloud.c) -------------------------- */

/* 1 if the request is a management (ARM) request: path starts with /subscriptions/,
 * /providers/ or /tenants (case-insensitive). */
int sg_arm_claims(const sg_http_req *req);
/* Handles a management request (authenticates the admin credential first). */
void sg_arm_handle(sg_cloud *c, sg_http_req *req);
/* Tells the watcher (serve/) about a SignalR resource change. */
void sg__cloud_signalr_notify(sg_cloud *c, sg_res_event ev, const sg_signalr_rec *r);
/* The data-plane URL serve/ reported for a resource (sg_cloud_signalr_set_url), or NULL. */
const char *sg__cloud_signalr_url(const sg_cloud *c, const char *resource_id);
/* A new random access key: 32 random bytes, base64 without padding (43 characters). */
int sg__cloud_gen_access_key(char *out, size_t outlen);

/* ---- cloud.c / tempkey.c ---------------------------------------------------------------- */

/* Writes data to path atomically (tmp + fsync + rename), mode 0600. */
int sg__cloud_write_secret_file(const char *path, const char *data);
/* Loads DIR/tempkey-secret, creating it (32 random bytes, 0600) on first start; sweeps
 * expired temporary keys. */
int sg__cloud_tempkey_init(sg_cloud *c);

#endif
