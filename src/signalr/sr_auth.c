/* sr_auth.c — bearer-token authentication for /client and /api requests (see sr_auth.h). */
#include "sr_auth.h"

#include "proto/jwt.h"
#include "sg_alloc.h"
#include "sg_err.h"
#include "sg_log.h"
#include "sg_str.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

void sr_principal_clear(sr_principal *p)
{
    if (!p)
        return;
    json_decref(p->claims);
    memset(p, 0, sizeof(*p));
}

static const char *claim_str(const json_t *claims, const char *name)
{
    const json_t *v = json_object_get(claims, name);
    if (json_is_array(v))
        v = json_array_get(v, 0);
    if (json_is_string(v) && json_string_length(v) > 0)
        return json_string_value(v);
    return NULL;
}

const char *sr_principal_user(const sr_principal *p)
{
    if (!p || !p->claims)
        return NULL;
    const char *u = claim_str(p->claims, "asrs.s.uid");
    if (!u)
        u = claim_str(p->claims, "nameid");
    if (!u)
        u = claim_str(p->claims,
                      "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier");
    if (!u)
        u = claim_str(p->claims, "sub");
    return u;
}

int sr_principal_int(const sr_principal *p, const char *name, int64_t *out)
{
    if (!p || !p->claims)
        return 0;
    const json_t *v = json_object_get(p->claims, name);
    if (json_is_integer(v)) {
        *out = (int64_t)json_integer_value(v);
        return 1;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        return sg_parse_i64(s, strlen(s), out) == SG_OK;
    }
    return 0;
}

static void fail(sr_auth_fail *f, int status, const char *code, const char *msg, const char *hint)
{
    f->status = status;
    snprintf(f->code, sizeof f->code, "%s", code);
    snprintf(f->message, sizeof f->message, "%s", msg);
    snprintf(f->hint, sizeof f->hint, "%s", hint ? hint : "");
}

static int is_loopback(const char *h, size_t n)
{
    static const char *names[] = {"localhost", "127.0.0.1", "[::1]", "::1"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strlen(names[i]) == n && strncasecmp(h, names[i], n) == 0)
            return 1;
    }
    if (n > 10 && strncasecmp(h + n - 10, ".localhost", 10) == 0)
        return 1;
    return 0;
}

/* Host (without port) of an absolute URL into out; "" if none. */
static void url_host(const char *url, char *out, size_t outlen)
{
    out[0] = 0;
    const char *p = strstr(url, "://");
    if (!p)
        return;
    p += 3;
    size_t n = 0;
    if (*p == '[') {
        while (p[n] && p[n] != ']')
            n++;
        if (p[n] == ']')
            n++;
    } else {
        while (p[n] && p[n] != ':' && p[n] != '/' && p[n] != '?' && p[n] != '#')
            n++;
    }
    if (n >= outlen)
        n = outlen - 1;
    memcpy(out, p, n);
    out[n] = 0;
}

static size_t host_len(const char *host)
{
    if (host[0] == '[') {
        const char *e = strchr(host, ']');
        return e ? (size_t)(e - host + 1) : strlen(host);
    }
    const char *c = strchr(host, ':');
    return c ? (size_t)(c - host) : strlen(host);
}

/* Audience check, lenient on http/https and on loopback host aliases. */
static int aud_ok(const json_t *aud, int tls, const char *host, const char *path, const char *hub)
{
    const char *schemes[2] = {tls ? "https" : "http", tls ? "http" : "https"};
    for (int i = 0; i < 2; i++) {
        if (sg_jwt_aud_matches(aud, schemes[i], host, path, hub))
            return 1;
    }
    if (!is_loopback(host, host_len(host)))
        return 0;
    /* the request came to a loopback name: accept an aud naming any loopback alias */
    size_t na = json_is_array(aud) ? json_array_size(aud) : 1;
    for (size_t k = 0; k < na; k++) {
        const json_t *a = json_is_array(aud) ? json_array_get(aud, k) : aud;
        if (!json_is_string(a))
            continue;
        char ah[256];
        url_host(json_string_value(a), ah, sizeof ah);
        if (!ah[0] || !is_loopback(ah, strlen(ah)))
            continue;
        for (int i = 0; i < 2; i++) {
            if (sg_jwt_aud_str_matches(json_string_value(a), schemes[i], ah, path, hub))
                return 1;
        }
    }
    return 0;
}

static void aud_hint(const json_t *aud, const char *host, const char *path, const sr_auth_ctx *ac,
                     sr_auth_fail *f)
{
    const char *a = json_is_string(aud) ? json_string_value(aud)
                    : json_is_array(aud) && json_is_string(json_array_get(aud, 0))
                        ? json_string_value(json_array_get(aud, 0))
                        : NULL;
    char expect[600];
    if (ac->kind != SR_AUD_REST)
        snprintf(expect, sizeof expect, "<scheme>://%.*s/%s/?hub=%s", (int)host_len(host), host,
                 ac->kind == SR_AUD_SERVER ? "server" : "client", ac->hub ? ac->hub : "");
    else
        snprintf(expect, sizeof expect, "<scheme>://%.*s%s", (int)host_len(host), host, path);
    if (!a) {
        snprintf(f->hint, sizeof f->hint,
                 "The token has no 'aud' claim. Set aud to %s (the port and, for REST, the query "
                 "string may be omitted).",
                 expect);
        return;
    }
    char ah[256];
    url_host(a, ah, sizeof ah);
    const char *why = "it names another path";
    char tmp[300];
    if (ac->kind == SR_AUD_CLIENT && strstr(a, "/api/"))
        why = "it is a REST API token, not a client token";
    else if (ac->kind == SR_AUD_REST && strstr(a, "/client"))
        why = "it is a client token, not a REST API token";
    else if (ac->kind == SR_AUD_CLIENT && strstr(a, "/server"))
        why = "it is an app-server token, not a client token";
    else if (ac->kind == SR_AUD_SERVER && strstr(a, "/client"))
        why = "it is a client token, not an app-server token";
    else if (ac->kind == SR_AUD_SERVER && strstr(a, "/api/"))
        why = "it is a REST API token, not an app-server token";
    else if (ah[0] && strncasecmp(ah, host, host_len(host)) != 0 &&
             !(is_loopback(ah, strlen(ah)) && is_loopback(host, host_len(host)))) {
        snprintf(tmp, sizeof tmp, "it was issued for host '%s' (the connection string's Endpoint)",
                 ah);
        why = tmp;
    } else if (ac->kind != SR_AUD_REST) {
        const char *q = strstr(a, "hub=");
        if (q) {
            size_t n = strcspn(q + 4, "&#");
            snprintf(tmp, sizeof tmp, "it was issued for hub '%.*s', not '%s'",
                     (int)(n > 200 ? 200 : n), q + 4, ac->hub ? ac->hub : "");
            why = tmp;
        } else {
            why = "it carries no hub=<hub> query";
        }
    } else {
        snprintf(tmp, sizeof tmp, "it was issued for another URL (hub or route)");
        why = tmp;
    }
    snprintf(f->hint, sizeof f->hint,
             "The token audience '%.200s' does not match this request: %s. "
             "Expected %s.",
             a, why, expect);
}

/* THE Entra seam: RS256 tokens. See sr_auth.h. */
static int sr_auth_entra(const sr_auth_keys *k, const char *token, size_t len,
                         const sr_auth_ctx *ac, sr_principal *p, sr_auth_fail *f)
{
    (void)k;
    (void)token;
    (void)len;
    (void)ac;
    (void)p;
    fail(f, 401, "Unauthorized.EntraNotSupported",
         "Microsoft Entra ID tokens are not accepted by this data plane yet.",
         "The token is RS256 (an Entra ID access token). This sigrid build authenticates "
         "data-plane requests with access keys only: sign an HS256 token with the resource's "
         "access key (see `sigrid signalr key list`), or use a connection string with "
         "AccessKey=.");
    return SG_EAUTH;
}

int sr_auth_token(const sr_auth_keys *k, const char *token, size_t len, const char *host,
                  const char *path, const sr_auth_ctx *ac, sr_principal *p, sr_auth_fail *f)
{
    memset(p, 0, sizeof(*p));
    memset(f, 0, sizeof(*f));
    if (!token || len == 0) {
        fail(f, 401, "Unauthorized.MissingToken", "No access token was provided.",
             ac->kind == SR_AUD_CLIENT
                 ? "Send the token from your negotiate endpoint as 'Authorization: Bearer <jwt>' "
                   "or as the 'access_token' query parameter."
                 : "Send 'Authorization: Bearer <jwt>': an HS256 token signed with the resource's "
                   "access key whose aud is the request URL.");
        return SG_EAUTH;
    }
    if (len > SG_JWT_MAX_LEN) {
        char m[160];
        snprintf(m, sizeof m, "The access token is %zu characters long; the limit is %d.", len,
                 SG_JWT_MAX_LEN);
        fail(f, 401, "Unauthorized.TokenTooLong", m,
             "Too many claims were copied into the token: trim them (e.g. with a ClaimsProvider).");
        return SG_EAUTH;
    }
    sg_jwt t = {0};
    sg_jwt_error je = {0};
    if (sg_jwt_decode_unverified(token, len, SG_JWT_MAX_LEN, &t, &je) != SG_OK) {
        fail(f, 401, "Unauthorized.InvalidToken", "The access token is not a well-formed JWT.",
             je.reason[0] ? je.reason
                          : "Expected three base64url parts: header.payload.signature.");
        sg_jwt_clear(&t);
        return SG_EAUTH;
    }
    char algbuf[48] = "";
    const char *an = json_string_value(json_object_get(t.header, "alg"));
    if (an)
        snprintf(algbuf, sizeof algbuf, "%s", an);
    const char *algname = an ? algbuf : NULL;
    sg_jwt_alg alg = algname ? sg_jwt_alg_from_name(algname) : SG_JWT_ALG_NONE;
    sg_jwt_clear(&t);
    if (alg == SG_JWT_RS256)
        return sr_auth_entra(k, token, len, ac, p, f);
    if (alg != SG_JWT_HS256 && alg != SG_JWT_HS512) {
        char m[160];
        snprintf(m, sizeof m, "The token algorithm '%.40s' is not accepted.",
                 algname ? algname : "(none)");
        fail(f, 401, "Unauthorized.UnsupportedAlgorithm", m,
             algname && strcasecmp(algname, "none") == 0
                 ? "Unsigned tokens (alg 'none') are never accepted: sign with HS256 and the "
                   "access key."
                 : "Access-key tokens must be HS256 or HS512; Entra ID tokens RS256.");
        return SG_EAUTH;
    }
    if (k->disable_local_auth) {
        fail(f, 401, "Unauthorized.LocalAuthDisabled",
             "Local (access key) authentication is disabled for this resource.",
             "disableLocalAuth is true: tokens signed with access keys are refused. Use Microsoft "
             "Entra ID, or re-enable local auth with `sigrid signalr update --disable-local-auth "
             "false`.");
        return SG_EAUTH;
    }
    sg_jwt_key keys[2];
    size_t nk = 0;
    if (k->primary && *k->primary)
        keys[nk++] = (sg_jwt_key){k->primary, strlen(k->primary)};
    if (k->secondary && *k->secondary)
        keys[nk++] = (sg_jwt_key){k->secondary, strlen(k->secondary)};
    sg_jwt_verify_opts vo = {SG_JWT_HS_ANY, SG_JWT_MAX_LEN};
    int rc = nk ? sg_jwt_verify_hs(token, len, keys, nk, &vo, &t, &je) : SG_EAUTH;
    if (rc != SG_OK) {
        fail(f, 401, "Unauthorized.InvalidSignature",
             "The token signature does not match any access key of this resource.",
             "The token was signed with another key: a key that has since been renewed, another "
             "resource's key, or the key's base64-decoded bytes instead of the UTF-8 bytes of the "
             "key string. Take the key from `sigrid signalr key list`.");
        sg_jwt_clear(&t);
        return SG_EAUTH;
    }
    sg_jwt_validate_opts vo2 = {0};
    vo2.now = k->now;
    vo2.skew = SG_JWT_DEFAULT_SKEW;
    vo2.require_exp = 1;
    rc = sg_jwt_validate(&t, &vo2, &je);
    if (rc != SG_OK) {
        if (je.status == SG_JWT_EXPIRED)
            fail(f, 401, "Unauthorized.TokenExpired", "The access token has expired.",
                 je.reason[0] ? je.reason : "Get a new token from your negotiate endpoint.");
        else if (je.status == SG_JWT_NOT_YET_VALID)
            fail(f, 401, "Unauthorized.TokenNotYetValid",
                 "The access token is not valid yet (nbf).",
                 "Check the clock of the machine that issued the token.");
        else
            fail(f, 401, "Unauthorized.InvalidToken", "The access token has no 'exp' claim.",
                 "Access-key tokens must carry exp (NumericDate seconds).");
        if (je.status == SG_JWT_EXPIRED && je.reason[0]) {
            char h[400];
            snprintf(h, sizeof h,
                     "%s. Tokens are short-lived (1 h by default): fetch a new one from "
                     "your negotiate endpoint / re-sign it.",
                     je.reason);
            snprintf(f->hint, sizeof f->hint, "%s", h);
        }
        sg_jwt_clear(&t);
        return SG_EAUTH;
    }
    const json_t *aud = json_object_get(t.payload, "aud");
    const char *apath = ac->kind == SR_AUD_CLIENT   ? "/client"
                        : ac->kind == SR_AUD_SERVER ? "/server"
                                                    : path;
    const char *ahub = ac->kind == SR_AUD_REST ? NULL : ac->hub;
    if (!aud_ok(aud, k->tls, host && *host ? host : "localhost", apath, ahub)) {
        fail(f, 401, "Unauthorized.InvalidAudience", "Invalid authorization token audience.", NULL);
        aud_hint(aud, host && *host ? host : "localhost", path, ac, f);
        sg_jwt_clear(&t);
        return SG_EAUTH;
    }
    p->kind = SR_PRINC_ACCESS_KEY;
    p->claims = t.payload;
    t.payload = NULL;
    sg_jwt_clear(&t);
    return SG_OK;
}

/* Bearer token of the request: Authorization header, else access_token query. Returns a
 * pointer into the request (header) or into *owned (query, decoded). */
static const char *req_token(const sg_http_req *r, char **owned, size_t *len)
{
    *owned = NULL;
    const sg_slice *h = sg_http_req_header(r, "Authorization");
    if (h && h->n > 7 && strncasecmp(h->p, "Bearer ", 7) == 0) {
        const char *p = h->p + 7;
        size_t n = h->n - 7;
        while (n && *p == ' ') {
            p++;
            n--;
        }
        while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
            n--;
        *len = n;
        return p;
    }
    char *q = sg_query_get(r->query, "access_token");
    if (q) {
        *owned = q;
        *len = strlen(q);
        return q;
    }
    *len = 0;
    return NULL;
}

int sr_auth_request(sg_signalr *s, const sg_http_req *r, const sr_auth_ctx *ac, sr_principal *p,
                    sr_auth_fail *f)
{
    char *owned = NULL;
    size_t len = 0;
    const char *tok = req_token(r, &owned, &len);
    char host[300] = "";
    const sg_slice *hh = sg_http_req_header(r, "Host");
    if (hh && hh->n < sizeof host) {
        memcpy(host, hh->p, hh->n);
        host[hh->n] = 0;
    }
    char *path = sg_slice_dup(r->path);
    sr_auth_keys k = {s->primary_key, s->secondary_key, s->disable_local_auth,
                      sg_stream_is_tls(r->stream), 0};
    int rc;
    if (!path) {
        memset(p, 0, sizeof(*p));
        fail(f, 401, "Unauthorized.Internal", "Out of memory.", NULL);
        rc = SG_ENOMEM;
    } else {
        rc = sr_auth_token(&k, tok, len, host, path, ac, p, f);
    }
    if (rc != SG_OK)
        SG_LOGI("signalr", "event=auth_failed code=%s path=%s", f->code, path ? path : "?");
    sg_free(path);
    sg_free(owned);
    return rc;
}

char *sr_auth_body(const char *resource_id, const sr_auth_ctx *ac, const sr_auth_fail *f)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "code", json_string(f->code));
    json_object_set_new(o, "message", json_string(f->message));
    if (ac && ac->action)
        json_object_set_new(o, "requiredAction", json_string(ac->action));
    json_object_set_new(o, "scope", json_string(resource_id ? resource_id : ""));
    json_object_set_new(o, "hint", json_string(f->hint));
    char *body = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return body;
}

void sr_auth_respond(sg_signalr *s, sg_http_req *r, const sr_auth_ctx *ac, const sr_auth_fail *f)
{
    char *body = sr_auth_body(s->resource_id, ac, f);
    sg_http_header h[2] = {
        {SG_SLICE_LIT("x-ms-error-code"), sg_slice_cstr(f->code)},
        {SG_SLICE_LIT("WWW-Authenticate"), SG_SLICE_LIT("Bearer")},
    };
    sr_respond_ex(r, f->status ? f->status : 401, "application/json", h, 2, body ? body : "{}",
                  body ? strlen(body) : 2);
    free(body); /* lint-ok: json_dumps memory (jansson uses malloc) */
}
