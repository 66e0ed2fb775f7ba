/* sr_auth.h — who is calling the data plane, and may they? Private to src/signalr/.
 *
 * One entry point per request: sr_auth_request() finds the bearer token (Authorization
 * header, else `access_token` query), peeks at its alg and routes it:
 *   HS256/HS512 -> access-key path: both keys tried, exp (+skew), audience (§4.2);
 *                  refused outright when local auth is disabled;
 *   RS256       -> Entra ID path (sr_auth_entra): THE SEAM. Today it refuses with a clear
 *                  reason; adding Entra = verify against the cloud's JWKS, check tid/aud,
 *                  then sg_cloud_authorize(oid, tid, action, resource) — nothing else in the
 *                  data plane changes, because callers only see sr_principal / sr_auth_fail;
 *   anything else (none, RS384, garbage) -> refused.
 * Failures carry a code, a message and a hint naming the likely cause; sr_auth_respond()
 * turns them into the JSON 401/403 body of INTERFACE §7. */
#ifndef SG_SIGNALR_SR_AUTH_H
#define SG_SIGNALR_SR_AUTH_H

#include "sr_internal.h"

#include <jansson.h>

typedef enum { SR_AUD_CLIENT = 1, SR_AUD_REST = 2, SR_AUD_SERVER = 3 } sr_aud_kind;
typedef struct sr_auth_ctx sr_auth_ctx;

typedef enum {
    SR_PRINC_ACCESS_KEY = 1, /* HS token signed with the resource's access key */
    SR_PRINC_ENTRA = 2,      /* RS256 token from the tenant, authorized through RBAC */
    SR_PRINC_TEMP_KEY = 3,   /* HS token signed with a temporary key (owner authorized) */
} sr_princ_kind;

typedef struct sr_principal {
    sr_princ_kind kind;
    json_t *claims; /* owned: the verified payload */
    char oid[64];   /* Entra / temporary key owner */
    char tid[64];
} sr_principal;

typedef struct sr_auth_fail {
    int status; /* 401 or 403 */
    char code[64];
    char message[512];
    char hint[640];
    char oid[64], appid[64], tid[64]; /* the principal, when known (403s) */
} sr_auth_fail;

/* Temporary access keys (GET /api/v1/auth/accessKey, service-protocol AccessKeyRequest):
 * minted for an authorized Entra principal, valid 90 minutes, persisted through the cloud
 * (sg_cloud_tempkey_*: kid/owner/expiry stored, key derived) so they survive restarts; the
 * ctx keeps the ones in use in memory. */
typedef struct sr_tempkey {
    uint64_t expires_ms; /* sg_unix_ms() deadline */
    char oid[64];
    char tid[64];
    char key[48];
    char kid[48];
} sr_tempkey;

int sr_tempkey_mint(sg_signalr *s, const char *oid, const char *tid, const sr_tempkey **out);
void sr_tempkeys_sweep(sg_signalr *s);
void sr_tempkeys_free(sg_signalr *s);
/* Entra path alone (RS256 token -> principal, RBAC for ac->action). */
int sr_auth_entra_token(sg_signalr *s, const char *token, size_t len, const sr_auth_ctx *ac,
                        sr_principal *p, sr_auth_fail *f);
/* The dataAction a temporary key needs, and the one place that grants one: an Entra token
 * whose principal holds SR_ACTION_ACCESS_KEY on this resource gets a key minted for it
 * (GET /api/v1/auth/accessKey and the service protocol's AccessKeyRequest). SG_OK with *out;
 * SG_EAUTH / SG_EPERM with *f filled (token refused / role missing); other errors when no key
 * could be minted (SG_ELIMIT: too many live keys). */
#define SR_ACTION_ACCESS_KEY "Microsoft.SignalRService/SignalR/auth/accessKey/action"
int sr_tempkey_for_entra(sg_signalr *s, const char *token, size_t len, const sr_tempkey **out,
                         sr_auth_fail *f);

/* What the request is, for audience and authorization. */
struct sr_auth_ctx {
    sr_aud_kind kind;
    const char *hub;    /* effective (lower-case, app-prefixed) hub; client audiences */
    const char *action; /* dataAction this request needs (Entra RBAC, and error bodies) */
};

/* Key material and policy, copied from the ctx so tests can drive it without a server. */
typedef struct sr_auth_keys {
    const char *primary, *secondary;
    int disable_local_auth;
    int tls;
    int64_t now;   /* 0 = time(NULL) */
    sg_signalr *s; /* temporary keys + cloud (Entra); NULL in unit tests = access keys only */
    struct sr_tokcache *cache; /* verified tokens (sr_tokcache.h); NULL = verify every time */
} sr_auth_keys;

/* Authenticates `token` (may be NULL = missing) for a request to host/path. SG_OK with *p
 * filled (caller sr_principal_clear), or SG_EAUTH with *f filled. HS tokens are parsed once;
 * with k->cache, a token that passed every check before skips the parse and the signature
 * (exp/nbf, audience and the temporary key owner's role are still checked) and a token that
 * passes now is remembered. */
int sr_auth_token(const sr_auth_keys *k, const char *token, size_t token_len, const char *host,
                  const char *path, const sr_auth_ctx *ac, sr_principal *p, sr_auth_fail *f);
/* Same, taking token, host and path from the HTTP request and keys from the ctx. */
int sr_auth_request(sg_signalr *s, const sg_http_req *r, const sr_auth_ctx *ac, sr_principal *p,
                    sr_auth_fail *f);
/* sr_auth_request(), and on failure the 401/403 answer (sr_auth_respond) is sent on r:
 * SG_OK with *p filled (caller sr_principal_clear), or the error with the request answered. */
int sr_auth_or_respond(sg_signalr *s, sg_http_req *r, const sr_auth_ctx *ac, sr_principal *p);
void sr_principal_clear(sr_principal *p);
/* User id: asrs.s.uid, else nameid, else sub (first string if an array); NULL if none. */
const char *sr_principal_user(const sr_principal *p);
/* Integer claim (number or numeric string); returns 1 and sets *out if present. */
int sr_principal_int(const sr_principal *p, const char *name, int64_t *out);

/* GET /api/v1/auth/accessKey: Entra token with auth/accessKey/action -> {KeyId, AccessKey}. */
void sr_auth_access_key_endpoint(sg_signalr *s, sg_http_req *r);

/* Writes the JSON error body {code,message,requiredAction?,scope,hint}. */
void sr_auth_respond(sg_signalr *s, sg_http_req *r, const sr_auth_ctx *ac, const sr_auth_fail *f);
/* The body alone (for tests); caller frees with free(). */
char *sr_auth_body(const char *resource_id, const sr_auth_ctx *ac, const sr_auth_fail *f);

#endif
