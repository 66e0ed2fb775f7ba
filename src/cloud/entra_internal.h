/* entra_internal.h — state and helpers shared by the identity files of src/cloud/
 * (token.c, entra.c, idep.c). Not for other layers. Threading: the cloud loop. */
#ifndef SG_CLOUD_ENTRA_INTERNAL_H
#define SG_CLOUD_ENTRA_INTERNAL_H

#include "cloud/cloud_internal.h"
#include "cloud/token.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define SG_MI_TOKEN_LIFETIME_S 86400
#define SG_APP_TOKEN_LIFETIME_S 3600

/* c->entra */
typedef struct sg_entra {
    sg_cloud *c;
    sg_keyring kr;
    char iss[320];     /* "{cloud}/{tid}/" (tokens and the v1 discovery document) */
    uv_timer_t *timer; /* daily key-age check; freed in its close callback */
    int64_t mi_lifetime_s;
    int64_t app_lifetime_s;
} sg_entra;

/* Who a token is for. */
typedef struct sg_tok_subject {
    const char *oid;
    const char *appid;
    const char *mirid;  /* managed identities: xms_mirid */
    const char *az_rid; /* user-assigned: xms_az_rid */
    const char *appidacr;
} sg_tok_subject;

/* Compact JSON of j into a new sg_malloc'd string (length in *len if non-NULL); NULL on
 * failure. */
char *sg__json_dump(const json_t *j, size_t *len);

/* 1 if `resource` names a resource principal of the tenant (Azure first-party resources,
 * api://{appId} or {appId} of an app registration); 0 otherwise. */
int sg__entra_resource_known(sg_cloud *c, const char *resource);

/* Mints a token for `who` with audience `resource`, valid `lifetime_s` (iat/nbf backdated by
 * SG_TOK_SKEW_S). Returns a new string or NULL; *iat / *exp get the claims. */
char *sg__entra_mint(sg_cloud *c, const sg_tok_subject *who, const char *resource,
                     int64_t lifetime_s, int64_t *iat, int64_t *exp);

/* Token endpoint request parsing (entra.c; pure, so tests and fuzz_entra drive them from
 * memory). form_parse: the form body's fields, percent-decoded, first occurrence wins
 * (SG_EINVAL on a bad escape; form_free in every case). basic_auth: client_id / secret from
 * "Authorization: Basic" when the form has none. scope_to_resource: the one
 * "<resource>/.default" of a v2 scope (openid, profile, offline_access ignored) into out;
 * 0 or the AADSTS code, with the offending scope in bad. */
typedef struct sg__entra_form {
    char *grant_type, *client_id, *client_secret, *scope, *resource, *client_assertion;
} sg__entra_form;
int sg__entra_form_parse(sg_slice body, sg__entra_form *f);
void sg__entra_form_free(sg__entra_form *f);
void sg__entra_basic_auth(const sg_http_req *req, sg__entra_form *f);
int sg__entra_scope_to_resource(const char *scope, char *out, size_t outlen, char *bad,
                                size_t badlen);

#endif
