/* store.h — the cloud layer's SQLite store (the only code that opens DIR/sigrid.db).
 *
 * Who owns what
 *   - store.c / store_*.c, arm*.c, rbac*.c, cloud.c: the "cloud" engineer (schema, migrations,
 *     every write below). Nothing outside src/cloud/ includes this header.
 *   - ca.c, entra*.c, token*.c, idep*.c (identity engineer) READ principals, compute
 *     resources, user-assigned identities and app secrets, and own the signing_keys table
 *     (sg_store_signing_key_*).
 *
 * Durability: one database file in WAL mode with synchronous=FULL: every commit fsyncs the
 * WAL before the call returns, so a write that was acknowledged (HTTP answer sent) survives
 * kill -9 and power loss. Each mutating call below is its own transaction unless wrapped in
 * sg_store_begin/commit.
 *
 * Threading: a store belongs to one thread (the cloud loop). Calls block on disk I/O
 * (a few ms at most for this size of data).
 *
 * Records are plain structs with fixed-size text fields (ids are bounded, see limits) filled
 * by the getters; list functions call `cb` once per row with a record borrowed for the call.
 * A callback returning non-zero stops the iteration (the list call then returns that value).
 * Ids compare case-insensitively (ARM semantics); GUIDs are stored lower-case.
 *
 * Errors: SG_OK, SG_ENOTFOUND (no such row), SG_EEXIST (unique key taken), SG_EINVAL (bad
 * argument / value too long), SG_ENOMEM, SG_EIO (SQLite failure; logged). */
#ifndef SG_CLOUD_STORE_H
#define SG_CLOUD_STORE_H

#include <stddef.h>
#include <stdint.h>

#define SG_STORE_ID_MAX 512  /* ARM ids and scopes, including the NUL */
#define SG_STORE_NAME_MAX 128
#define SG_STORE_GUID_MAX 40 /* 36 chars + NUL, rounded */
#define SG_STORE_MAX_UAMI 16 /* user-assigned identities per compute resource */
#define SG_STORE_SCHEMA_VERSION 2

typedef struct sg_store sg_store;

/* ---- open / close / transactions ------------------------------------------------------ */

/* Opens (creating if needed, mode 0600) the database at `path`, applies forward migrations up
 * to SG_STORE_SCHEMA_VERSION (PRAGMA user_version). errmsg (may be NULL) says why on error. */
int sg_store_open(const char *path, sg_store **out, char *errmsg, size_t errlen);
/* Checkpoints the WAL and closes. NULL-safe. */
void sg_store_close(sg_store *st);
/* Explicit transaction around several calls (BEGIN IMMEDIATE / COMMIT / ROLLBACK). Nesting
 * is not supported. */
int sg_store_begin(sg_store *st);
int sg_store_commit(sg_store *st);
void sg_store_rollback(sg_store *st);
/* A counter that moves on with every write that can change an authorization decision
 * (principals, subscriptions, management groups, resource groups, resources, role
 * definitions and assignments; rollbacks) — not with reads, keys, secrets or meta. Equal
 * generations mean sg_rbac_authorize would decide the same (up to the decision's valid_until).
 * In memory only: starts at 0 with every open. */
uint64_t sg_store_generation(const sg_store *st);

/* ---- meta (key/value) --------------------------------------------------------------------
 * Keys used: "tenant_id", "default_subscription_id", "admin_credential_hash". */
#define SG_META_TENANT_ID "tenant_id"
#define SG_META_DEFAULT_SUBSCRIPTION "default_subscription_id"
#define SG_META_ADMIN_CRED_HASH "admin_credential_hash"
int sg_store_meta_get(sg_store *st, const char *key, char *out, size_t outlen);
int sg_store_meta_set(sg_store *st, const char *key, const char *value);

/* ---- secrets ------------------------------------------------------------------------------
 * Salted slow hash: "pbkdf2-sha256$<iterations>$<salt b64>$<hash b64>" (PBKDF2-HMAC-SHA256,
 * 16-byte random salt, 32-byte output). Verification is constant-time in the hash compare
 * and remembers recent successful verifications (by SHA-256 of secret+record) in memory so
 * repeated calls with the same high-entropy secret stay cheap. */
#define SG_SECRET_HASH_MAX 160
int sg_secret_hash(const char *secret, char *out, size_t outlen);
/* 1 = matches, 0 = does not (or malformed record). */
int sg_secret_verify(const char *secret, const char *encoded);

/* ---- principals (service principals: managed identities and app registrations) --------- */

typedef struct sg_principal_rec {
    char object_id[SG_STORE_GUID_MAX]; /* oid / principalId */
    char app_id[SG_STORE_GUID_MAX];    /* client id / appId */
    char display_name[SG_STORE_NAME_MAX];
    char type[32];    /* "ManagedIdentity" | "Application" (servicePrincipalType) */
    char mi_kind[16]; /* "SystemAssigned" | "UserAssigned" | "" (applications) */
    /* Managed identities: ARM id of the UAMI (user-assigned) or of the compute resource that
     * holds it (system-assigned) — the token's xms_mirid. "" for applications. */
    char mi_resource_id[SG_STORE_ID_MAX];
    int64_t created;
} sg_principal_rec;

int sg_store_principal_get(sg_store *st, const char *object_id, sg_principal_rec *out);
int sg_store_principal_by_app_id(sg_store *st, const char *app_id, sg_principal_rec *out);
/* object_id and app_id of `p` must be set (GUIDs). */
int sg_store_principal_add(sg_store *st, const sg_principal_rec *p);
int sg_store_principal_delete(sg_store *st, const char *object_id);
typedef int (*sg_store_principal_cb)(const sg_principal_rec *p, void *ud);
int sg_store_principal_list(sg_store *st, sg_store_principal_cb cb, void *ud);

/* App-registration secrets (client credentials). Only hashes are stored. */
int sg_store_app_secret_add(sg_store *st, const char *app_id, const char *key_id,
                            const char *secret_hash, int64_t created, int64_t expires);
/* SG_OK when `secret` matches a live (unexpired) secret of app_id, SG_EAUTH when it does
 * not, SG_ENOTFOUND when the app has no secrets. */
int sg_store_app_secret_verify(sg_store *st, const char *app_id, const char *secret);

/* ---- compute resources (VMs, function/web apps) and their identities -------------------- */

typedef enum sg_res_kind {
    SG_KIND_OTHER = 0,
    SG_KIND_VM = 1,          /* Microsoft.Compute/virtualMachines */
    SG_KIND_FUNCTIONAPP = 2, /* Microsoft.Web/sites, kind functionapp */
    SG_KIND_WEBAPP = 3,      /* Microsoft.Web/sites, kind app */
    SG_KIND_UAMI = 4,        /* Microsoft.ManagedIdentity/userAssignedIdentities */
    SG_KIND_SIGNALR = 5,     /* Microsoft.SignalRService/SignalR */
} sg_res_kind;

typedef struct sg_uami_ref {
    char id[SG_STORE_ID_MAX]; /* ARM id of the user-assigned identity */
    char client_id[SG_STORE_GUID_MAX];
    char principal_id[SG_STORE_GUID_MAX];
} sg_uami_ref;

typedef struct sg_compute_rec {
    char id[SG_STORE_ID_MAX]; /* ARM id as created (compare case-insensitively) */
    char name[SG_STORE_NAME_MAX];
    char resource_group[SG_STORE_NAME_MAX];
    char subscription_id[SG_STORE_GUID_MAX];
    sg_res_kind kind;                 /* SG_KIND_VM, SG_KIND_FUNCTIONAPP or SG_KIND_WEBAPP */
    int identity_port;                /* 0 = no identity endpoint (apps without identity) */
    char identity_header[64];         /* apps: the X-IDENTITY-HEADER secret; VMs: "" */
    char system_principal_id[SG_STORE_GUID_MAX]; /* "" = no system-assigned identity */
    char system_client_id[SG_STORE_GUID_MAX];
    size_t n_uami;                    /* attached user-assigned identities */
    sg_uami_ref uami[SG_STORE_MAX_UAMI];
} sg_compute_rec;

int sg_store_compute_get(sg_store *st, const char *resource_id, sg_compute_rec *out);
int sg_store_compute_by_port(sg_store *st, int identity_port, sg_compute_rec *out);
typedef int (*sg_store_compute_cb)(const sg_compute_rec *r, void *ud);
/* Every VM and app (with or without an identity endpoint), ordered by id. */
int sg_store_compute_list(sg_store *st, sg_store_compute_cb cb, void *ud);

typedef struct sg_uami_rec {
    char id[SG_STORE_ID_MAX];
    char name[SG_STORE_NAME_MAX];
    char resource_group[SG_STORE_NAME_MAX];
    char subscription_id[SG_STORE_GUID_MAX];
    char client_id[SG_STORE_GUID_MAX];
    char principal_id[SG_STORE_GUID_MAX];
} sg_uami_rec;

int sg_store_uami_get(sg_store *st, const char *resource_id, sg_uami_rec *out);
int sg_store_uami_by_client_id(sg_store *st, const char *client_id, sg_uami_rec *out);
int sg_store_uami_by_principal_id(sg_store *st, const char *principal_id, sg_uami_rec *out);
typedef int (*sg_store_uami_cb)(const sg_uami_rec *r, void *ud);
/* subscription_id / resource_group may be NULL (= all). */
int sg_store_uami_list(sg_store *st, const char *subscription_id, const char *resource_group,
                       sg_store_uami_cb cb, void *ud);

/* ---- signing keys (owned by token.c; RS256 keys published in JWKS) ---------------------- */

typedef struct sg_signing_key_rec {
    char kid[64];
    const char *private_pem; /* borrowed for the callback / owned by caller on add */
    int64_t created;
    int64_t not_after; /* stop signing new tokens after this (0 = active) */
    int64_t expires;   /* drop from JWKS after this (0 = never) */
} sg_signing_key_rec;

int sg_store_signing_key_add(sg_store *st, const sg_signing_key_rec *k);
int sg_store_signing_key_update(sg_store *st, const char *kid, int64_t not_after,
                                int64_t expires);
int sg_store_signing_key_delete(sg_store *st, const char *kid);
typedef int (*sg_store_signing_key_cb)(const sg_signing_key_rec *k, void *ud);
/* Ordered by created, newest first. */
int sg_store_signing_key_list(sg_store *st, sg_store_signing_key_cb cb, void *ud);

/* ---- temporary access keys (tempkey.c; the data plane's /api/v1/auth/accessKey) -------------
 * Only (kid, resource, owner, tenant, expiry) are stored: the key itself is derived from the
 * kid and a per-data-dir secret (tempkey.c), never written. */
typedef struct sg_tempkey_rec {
    char kid[64];
    char resource_id[SG_STORE_ID_MAX];
    char owner_oid[SG_STORE_GUID_MAX];
    char tenant_id[SG_STORE_GUID_MAX];
    int64_t created;    /* unix seconds */
    int64_t expires_ms; /* unix ms */
} sg_tempkey_rec;
int sg_store_tempkey_add(sg_store *st, const sg_tempkey_rec *r);
/* SG_ENOTFOUND when there is no row for kid (expired rows are returned: check expires_ms). */
int sg_store_tempkey_get(sg_store *st, const char *kid, sg_tempkey_rec *out);
/* Deletes rows with expires_ms <= now_ms; returns how many (>= 0) or an sg_err. */
int sg_store_tempkey_sweep(sg_store *st, int64_t now_ms);

/* ==== below: used by cloud.c / arm*.c / rbac*.c only ===================================== */

/* subscriptions, management groups, resource groups */
typedef struct sg_subscription_rec {
    char id[SG_STORE_GUID_MAX];
    char name[SG_STORE_NAME_MAX];
    char management_group[SG_STORE_NAME_MAX]; /* "" = none (tenant root) */
} sg_subscription_rec;
int sg_store_subscription_add(sg_store *st, const char *id, const char *name);
int sg_store_subscription_get(sg_store *st, const char *id, sg_subscription_rec *out);
typedef int (*sg_store_subscription_cb)(const sg_subscription_rec *r, void *ud);
int sg_store_subscription_list(sg_store *st, sg_store_subscription_cb cb, void *ud);

typedef struct sg_mgroup_rec {
    char name[SG_STORE_NAME_MAX];
    char display_name[SG_STORE_NAME_MAX];
} sg_mgroup_rec;
int sg_store_mgroup_add(sg_store *st, const char *name, const char *display_name);
int sg_store_mgroup_get(sg_store *st, const char *name, sg_mgroup_rec *out);
int sg_store_mgroup_delete(sg_store *st, const char *name);
typedef int (*sg_store_mgroup_cb)(const sg_mgroup_rec *r, void *ud);
int sg_store_mgroup_list(sg_store *st, sg_store_mgroup_cb cb, void *ud);
/* Moves a subscription under a management group (a subscription has at most one). */
int sg_store_mgroup_add_subscription(sg_store *st, const char *mg, const char *subscription_id);
int sg_store_mgroup_remove_subscription(sg_store *st, const char *mg,
                                        const char *subscription_id);
/* Subscriptions of mg, via cb. */
int sg_store_mgroup_subscriptions(sg_store *st, const char *mg, sg_store_subscription_cb cb,
                                  void *ud);

typedef struct sg_rgroup_rec {
    char subscription_id[SG_STORE_GUID_MAX];
    char name[SG_STORE_NAME_MAX];
    char location[64];
} sg_rgroup_rec;
int sg_store_rgroup_add(sg_store *st, const char *sub, const char *name, const char *location);
int sg_store_rgroup_get(sg_store *st, const char *sub, const char *name, sg_rgroup_rec *out);
/* Deletes the group and every resource in it (ARM semantics). */
int sg_store_rgroup_delete(sg_store *st, const char *sub, const char *name);
typedef int (*sg_store_rgroup_cb)(const sg_rgroup_rec *r, void *ud);
int sg_store_rgroup_list(sg_store *st, const char *sub, sg_store_rgroup_cb cb, void *ud);

/* Generic resources: every ARM resource has a row here. */
typedef struct sg_resource_rec {
    char id[SG_STORE_ID_MAX];
    char subscription_id[SG_STORE_GUID_MAX];
    char resource_group[SG_STORE_NAME_MAX];
    char type[96]; /* "Microsoft.Compute/virtualMachines" ... */
    char name[SG_STORE_NAME_MAX];
    sg_res_kind kind;
    int identity_port;
    char identity_header[64];
    char system_principal_id[SG_STORE_GUID_MAX];
    int64_t created;
} sg_resource_rec;
int sg_store_resource_add(sg_store *st, const sg_resource_rec *r);
int sg_store_resource_get(sg_store *st, const char *id, sg_resource_rec *out);
/* Updates identity_port, identity_header, system_principal_id. */
int sg_store_resource_update_identity(sg_store *st, const sg_resource_rec *r);
/* Deletes the resource, its attachments, its system-assigned principal, its SignalR row,
 * its role assignments (at its scope); a deleted UAMI is detached everywhere. */
int sg_store_resource_delete(sg_store *st, const char *id);
typedef int (*sg_store_resource_cb)(const sg_resource_rec *r, void *ud);
/* sub / rg / type may be NULL (= any); type compares case-insensitively. */
int sg_store_resource_list(sg_store *st, const char *sub, const char *rg, const char *type,
                           sg_store_resource_cb cb, void *ud);
/* Next free identity port >= base (not used by any resource's identity endpoint and not in
 * `avoid` (n ports, e.g. the cloud/signalr ports)). */
int sg_store_identity_port_alloc(sg_store *st, int base, const int *avoid, size_t navoid,
                                 int *out);
/* Next free SignalR data-plane port >= base. */
int sg_store_signalr_port_alloc(sg_store *st, int base, const int *avoid, size_t navoid,
                                int *out);

int sg_store_uami_attach(sg_store *st, const char *resource_id, const char *uami_id);
int sg_store_uami_detach(sg_store *st, const char *resource_id, const char *uami_id);

/* SignalR resources */
typedef struct sg_signalr_rec {
    char id[SG_STORE_ID_MAX];
    char name[SG_STORE_NAME_MAX];
    char resource_group[SG_STORE_NAME_MAX];
    char subscription_id[SG_STORE_GUID_MAX];
    int port;
    int tls;
    int serverless;
    int disable_local_auth;
    char primary_key[64];
    char secondary_key[64];
} sg_signalr_rec;
int sg_store_signalr_add(sg_store *st, const sg_signalr_rec *r); /* resource row must exist */
int sg_store_signalr_get(sg_store *st, const char *id, sg_signalr_rec *out);
int sg_store_signalr_update(sg_store *st, const sg_signalr_rec *r); /* port, tls, mode, keys */
typedef int (*sg_store_signalr_cb)(const sg_signalr_rec *r, void *ud);
int sg_store_signalr_list(sg_store *st, sg_store_signalr_cb cb, void *ud);

/* Role definitions and assignments (rbac.c) */
typedef struct sg_roledef_rec {
    char id[SG_STORE_GUID_MAX]; /* role definition GUID ("name" in ARM) */
    char name[SG_STORE_NAME_MAX]; /* roleName */
    char description[512];
    char type[32];               /* "BuiltInRole" | "CustomRole" */
    const char *actions_json;    /* JSON arrays (borrowed in callbacks) */
    const char *not_actions_json;
    const char *data_actions_json;
    const char *not_data_actions_json;
} sg_roledef_rec;
int sg_store_roledef_put(sg_store *st, const sg_roledef_rec *r); /* insert or replace */
typedef int (*sg_store_roledef_cb)(const sg_roledef_rec *r, void *ud);
/* id or name (case-insensitive); cb called once when found. */
int sg_store_roledef_find(sg_store *st, const char *id_or_name, sg_store_roledef_cb cb, void *ud);
int sg_store_roledef_list(sg_store *st, sg_store_roledef_cb cb, void *ud);

typedef struct sg_roleassign_rec {
    char id[SG_STORE_GUID_MAX]; /* assignment GUID ("name" in ARM) */
    char scope[SG_STORE_ID_MAX];
    char principal_id[SG_STORE_GUID_MAX];
    char principal_type[32];     /* "ServicePrincipal" ... */
    char role_definition_id[SG_STORE_GUID_MAX];
    int64_t created;
    int64_t effective_at;        /* created + propagation delay */
} sg_roleassign_rec;
int sg_store_roleassign_add(sg_store *st, const sg_roleassign_rec *r);
int sg_store_roleassign_get(sg_store *st, const char *id, sg_roleassign_rec *out);
int sg_store_roleassign_delete(sg_store *st, const char *id);
typedef int (*sg_store_roleassign_cb)(const sg_roleassign_rec *r, void *ud);
/* principal_id / scope may be NULL (= any); scope matches exactly (case-insensitive). */
int sg_store_roleassign_list(sg_store *st, const char *principal_id, const char *scope,
                             sg_store_roleassign_cb cb, void *ud);

#endif
