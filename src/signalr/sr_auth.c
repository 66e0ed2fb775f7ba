/* sr_auth.c — bearer-token authentication for /client and /api requests (see sr_auth.h). */
#include "sr_auth.h"
#include "sr_authz.h"
#include "sr_tokcache.h"

#include "cloud/cloud.h"
#include "proto/jwt.h"
#include "sg_alloc.h"
#include "sg_b64.h"
#include "sg_id.h"
#include "sg_time.h"
#include "sg_err.h"
#include "sg_log.h"
#include "sg_str.h"

#include <ctype.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
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
                 "The token has no 'aud' claim. Set aud to %.400s (the port and, for REST, the query "
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
        snprintf(tmp, sizeof tmp, "it was issued for host '%.200s' (the connection string's Endpoint)",
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
             "The token audience '%.200s' does not match this request: %.180s. "
             "Expected %.180s.",
             a, why, expect);
}

/* ---- temporary keys ------------------------------------------------------------------ */

#define TEMPKEY_LIFETIME_MS (90u * 60u * 1000u)

/* 90 minutes; tests may shorten it with SIGRID_TEMP_KEY_LIFETIME_S (1..5400). */
static uint64_t tempkey_lifetime_ms(void)
{
    const char *e = getenv("SIGRID_TEMP_KEY_LIFETIME_S");
    int64_t v;
    if (e && sg_parse_i64(e, strlen(e), &v) == SG_OK && v >= 1 && v <= 5400)
        return (uint64_t)v * 1000u;
    return TEMPKEY_LIFETIME_MS;
}
#define TEMPKEY_MAX 10000u

static const char *tempkey_key(const void *v)
{
    return ((const sr_tempkey *)v)->kid;
}

static void tempkeys_init(sg_signalr *s)
{
    if (!s->tempkeys.key)
        sr_map_init(&s->tempkeys, tempkey_key, s->hubs.seed ^ 0x1b873593u);
}

static void tempkey_from_cloud(sr_tempkey *k, const sg_cloud_tempkey *ck)
{
    snprintf(k->kid, sizeof k->kid, "%s", ck->kid);
    snprintf(k->key, sizeof k->key, "%s", ck->key);
    snprintf(k->oid, sizeof k->oid, "%s", ck->oid);
    snprintf(k->tid, sizeof k->tid, "%s", ck->tid);
    k->expires_ms = (uint64_t)ck->expires_ms;
}

int sr_tempkey_mint(sg_signalr *s, const char *oid, const char *tid, const sr_tempkey **out)
{
    tempkeys_init(s);
    if (s->tempkeys.n >= TEMPKEY_MAX)
        sr_tempkeys_sweep(s);
    if (s->tempkeys.n >= TEMPKEY_MAX)
        return SG_ELIMIT;
    sr_tempkey *k = SG_NEW(sr_tempkey);
    if (!k)
        return SG_ENOMEM;
    k->expires_ms = (uint64_t)sg_unix_ms() + tempkey_lifetime_ms();
    if (s->cloud) {
        /* persisted (kid, owner, expiry) and derived from the data dir's secret: the key
         * survives a restart */
        sg_cloud_tempkey ck;
        int rc = sg_cloud_tempkey_issue(s->cloud, s->resource_id, oid, tid,
                                        (int64_t)k->expires_ms, &ck);
        if (rc != SG_OK) {
            sg_free(k);
            SG_LOGW("signalr", "event=temp_key_not_issued err=\"%s\"", sg_strerror(rc));
            return rc == SG_EINVAL ? SG_EINVAL : SG_EIO;
        }
        tempkey_from_cloud(k, &ck);
        OPENSSL_cleanse(&ck, sizeof ck);
    } else {
        char rnd[64];
        if (sg_random_token(rnd, sizeof rnd, 12) != SG_OK)
            goto fail;
        snprintf(k->kid, sizeof k->kid, "sigrid-tk-%.30s", rnd);
        unsigned char raw[32];
        if (sg_random_bytes(raw, sizeof raw) != SG_OK)
            goto fail;
        /* looks like an Azure key (base64 of 32 bytes); used as UTF-8 bytes, never decoded */
        if (sg_b64_encode(raw, sizeof raw, k->key, sizeof k->key) < 0)
            goto fail;
        snprintf(k->oid, sizeof k->oid, "%s", oid ? oid : "");
        snprintf(k->tid, sizeof k->tid, "%s", tid ? tid : "");
    }
    if (sr_map_put(&s->tempkeys, k) != SG_OK)
        goto fail;
    SG_LOGI("signalr", "event=temp_key_issued kid=%s oid=%s", k->kid, k->oid);
    *out = k;
    return SG_OK;
fail:
    sg_free(k);
    return SG_ENOMEM;
}

/* The live temporary key `kid`, or NULL; *ended_ms = its deadline when it is known to have
 * expired. */
static const sr_tempkey *tempkey_get(sg_signalr *s, const char *kid, int64_t *ended_ms)
{
    *ended_ms = 0;
    if (!s || !kid)
        return NULL;
    tempkeys_init(s);
    uint64_t now = (uint64_t)sg_unix_ms();
    const sr_tempkey *k = sr_map_get(&s->tempkeys, kid, strlen(kid));
    if (k && k->expires_ms <= now)
        *ended_ms = (int64_t)k->expires_ms;
    if (k)
        return k->expires_ms <= now ? NULL : k;
    /* issued before a restart (or by this data dir's store): found there, key re-derived */
    sg_cloud_tempkey ck;
    if (!s->cloud || strncmp(kid, "sigrid-tk-", 10) != 0)
        return NULL;
    int rc = sg_cloud_tempkey_find(s->cloud, s->resource_id, kid, &ck);
    if (rc == SG_ETIMEDOUT)
        *ended_ms = ck.expires_ms;
    if (rc != SG_OK)
        return NULL;
    if (s->tempkeys.n >= TEMPKEY_MAX)
        sr_tempkeys_sweep(s);
    sr_tempkey *nk = s->tempkeys.n < TEMPKEY_MAX ? SG_NEW(sr_tempkey) : NULL;
    if (nk) {
        tempkey_from_cloud(nk, &ck);
        if (sr_map_put(&s->tempkeys, nk) != SG_OK) {
            sg_free(nk);
            nk = NULL;
        }
    }
    OPENSSL_cleanse(&ck, sizeof ck);
    if (nk)
        SG_LOGI("signalr", "event=temp_key_loaded kid=%s oid=%s", nk->kid, nk->oid);
    return nk;
}

void sr_tempkeys_sweep(sg_signalr *s)
{
    uint64_t now = (uint64_t)sg_unix_ms();
    size_t i = 0, swept = 0;
    while (i < s->tempkeys.cap) {
        sr_tempkey *k = s->tempkeys.slots[i].val;
        if (k && k->expires_ms <= now) {
            sr_map_del(&s->tempkeys, k->kid, strlen(k->kid));
            sg_free(k);
            swept++;
            continue; /* backward shift may have moved another entry into slot i */
        }
        i++;
    }
    if (swept) /* tokens signed with them are forgotten (they are refused at use anyway) */
        sr_tokcache_invalidate(&s->tokcache);
    sr_tokcache_sweep(&s->tokcache, now);
    if (s->cloud)
        sg_cloud_tempkey_sweep(s->cloud); /* the persisted ones too */
}

void sr_tempkeys_free(sg_signalr *s)
{
    for (size_t i = 0; i < s->tempkeys.cap; i++)
        sg_free(s->tempkeys.slots[i].val);
    sr_map_free(&s->tempkeys);
}

/* ---- Entra ID (RS256) ------------------------------------------------------------------ */

static void copy_claim(const json_t *claims, const char *name, char *out, size_t outlen)
{
    const char *v = claim_str(claims, name);
    snprintf(out, outlen, "%s", v ? v : "");
}

static int aud_is_signalr(const json_t *aud)
{
    static const char *ok[] = {"https://signalr.azure.com", "https://signalr.azure.com/",
                               "https://signalr.azure.com/.default"};
    size_t n = json_is_array(aud) ? json_array_size(aud) : 1;
    for (size_t i = 0; i < n; i++) {
        const json_t *a = json_is_array(aud) ? json_array_get(aud, i) : aud;
        if (!json_is_string(a))
            continue;
        for (size_t j = 0; j < sizeof(ok) / sizeof(ok[0]); j++) {
            if (strcasecmp(json_string_value(a), ok[j]) == 0)
                return 1;
        }
    }
    return 0;
}

/* RBAC through the cloud: may oid do ac->action on this resource? 403 with the cloud's
 * reason when not. */
static int authorize(sg_signalr *s, const char *oid, const char *tid, const char *appid,
                     const sr_auth_ctx *ac, sr_auth_fail *f)
{
    if (!ac->action)
        return SG_OK;
    /* the same question under the same RBAC state gets the same answer (sr_authz.h) */
    uint64_t gen = sg_cloud_authz_generation(s->cloud);
    uint64_t now = (uint64_t)sg_unix_ms();
    const sg_authz_decision *hit = sr_authz_get(&s->authz, oid, tid, ac->action, gen, now);
    sg_authz_decision d;
    int rc = SG_OK;
    if (hit) {
        d = *hit;
    } else {
        memset(&d, 0, sizeof d);
        rc = sg_cloud_authorize(s->cloud, oid, tid, ac->action, s->resource_id, &d);
        if (rc == SG_OK)
            sr_authz_put(&s->authz, oid, tid, ac->action, gen, now, &d);
    }
    if (rc == SG_OK && d.allowed)
        return SG_OK;
    f->status = 403;
    snprintf(f->code, sizeof f->code, "%s", rc == SG_OK && d.code[0] ? d.code : "Forbidden");
    snprintf(f->message, sizeof f->message, "%s",
             rc == SG_OK && d.message[0] ? d.message
                                         : "The principal is not allowed to perform this action.");
    snprintf(f->hint, sizeof f->hint, "%s",
             rc == SG_OK && d.hint[0] ? d.hint
                                      : "Assign a SignalR role (e.g. SignalR App Server or SignalR "
                                        "REST API Owner) to this principal on the resource.");
    snprintf(f->oid, sizeof f->oid, "%s", oid ? oid : "");
    snprintf(f->tid, sizeof f->tid, "%s", tid ? tid : "");
    snprintf(f->appid, sizeof f->appid, "%s", appid ? appid : "");
    SG_LOGI("signalr", "event=authz_denied oid=%s action=%s code=%s", oid ? oid : "", ac->action,
            f->code);
    return SG_EPERM;
}

int sr_auth_entra_token(sg_signalr *s, const char *token, size_t len, const sr_auth_ctx *ac,
                        sr_principal *p, sr_auth_fail *f)
{
    memset(p, 0, sizeof(*p));
    if (!s || !s->cloud) {
        fail(f, 401, "Unauthorized.EntraNotSupported",
             "Microsoft Entra ID tokens are not accepted by this data plane.",
             "This data plane runs without the cloud layer: sign an HS256 token with the "
             "resource's access key instead.");
        return SG_EAUTH;
    }
    sg_jwt t = {0};
    sg_jwt_error je = {0};
    /* A token verified a moment ago (an app server's or a REST caller's token is presented on
     * every request until it is refreshed): its signature and issuer are settled while the
     * tenant's signing keys are unchanged; exp/nbf, audience, tenant and RBAC are not. */
    uint64_t kgen = sg_cloud_signing_generation(s->cloud);
    if (kgen != s->entra_keys_gen) {
        sr_tokcache_invalidate(&s->tokcache);
        s->entra_keys_gen = kgen;
    }
    const sr_tok_info *hit = sr_tokcache_get(&s->tokcache, token, len, (uint64_t)sg_unix_ms());
    int cached = hit && hit->kind == SR_PRINC_ENTRA;
    int rc = SG_OK;
    if (cached)
        t.payload = json_incref(hit->claims);
    else
        rc = sg_cloud_verify_token(s->cloud, token, len, &t, &je);
    if (rc == SG_EPERM) {
        char h[640];
        snprintf(h, sizeof h,
                 "%s. The token comes from another authority than this sigrid tenant (%s): use the "
                 "identity endpoints and Entra authority of this sigrid (`sigrid env`, "
                 "AZURE_AUTHORITY_HOST) rather than login.microsoftonline.com.",
                 je.reason, sg_cloud_issuer(s->cloud) ? sg_cloud_issuer(s->cloud) : "?");
        fail(f, 401, "Unauthorized.InvalidIssuer", "The token was issued by another authority.", h);
        sg_jwt_clear(&t);
        return SG_EAUTH;
    }
    if (rc != SG_OK) {
        fail(f, 401,
             je.status == SG_JWT_BAD_SIGNATURE || je.status == SG_JWT_UNKNOWN_KID
                 ? "Unauthorized.InvalidSignature"
                 : "Unauthorized.InvalidToken",
             "The Microsoft Entra ID token could not be verified.",
             je.reason[0] ? je.reason : "Get a fresh token from this sigrid's Entra endpoints.");
        sg_jwt_clear(&t);
        return SG_EAUTH;
    }
    sg_jwt_validate_opts vo = {0};
    vo.skew = SG_JWT_DEFAULT_SKEW;
    vo.require_exp = 1;
    if (sg_jwt_validate(&t, &vo, &je) != SG_OK) {
        fail(
            f, 401,
            je.status == SG_JWT_EXPIRED ? "Unauthorized.TokenExpired" : "Unauthorized.InvalidToken",
            "The Microsoft Entra ID token is not valid now.",
            je.reason[0] ? je.reason : "Acquire a new token (credentials cache and refresh them).");
        sg_jwt_clear(&t);
        if (cached)
            sr_tokcache_drop(&s->tokcache, token, len);
        return SG_EAUTH;
    }
    const json_t *aud = json_object_get(t.payload, "aud");
    if (!aud_is_signalr(aud)) {
        char h[640];
        const char *a = json_is_string(aud) ? json_string_value(aud) : "(none)";
        snprintf(
            h, sizeof h,
            "The token's audience is '%.200s', a token for another resource. Request it for "
            "the scope https://signalr.azure.com/.default (resource https://signalr.azure.com).",
            a);
        fail(f, 401, "Unauthorized.InvalidAudience", "Invalid authorization token audience.", h);
        sg_jwt_clear(&t);
        return SG_EAUTH;
    }
    copy_claim(t.payload, "oid", p->oid, sizeof p->oid);
    copy_claim(t.payload, "tid", p->tid, sizeof p->tid);
    char appid[64];
    copy_claim(t.payload, "appid", appid, sizeof appid);
    if (!appid[0])
        copy_claim(t.payload, "azp", appid, sizeof appid);
    const char *mytid = sg_cloud_tenant_id(s->cloud);
    if (!p->oid[0] || (mytid && p->tid[0] && strcasecmp(p->tid, mytid) != 0)) {
        char h[400];
        snprintf(h, sizeof h, "The token %s. Tokens must come from tenant %s.",
                 p->oid[0] ? "belongs to another tenant" : "has no oid claim", mytid ? mytid : "?");
        fail(f, 401, "Unauthorized.InvalidTenant",
             "The token does not identify a principal of this tenant.", h);
        sg_jwt_clear(&t);
        return SG_EAUTH;
    }
    if (authorize(s, p->oid, p->tid, appid, ac, f) != SG_OK) {
        sg_jwt_clear(&t);
        memset(p, 0, sizeof(*p));
        return SG_EPERM;
    }
    p->kind = SR_PRINC_ENTRA;
    p->claims = t.payload;
    t.payload = NULL;
    sg_jwt_clear(&t);
    if (!cached) {
        sr_tok_info ti;
        memset(&ti, 0, sizeof ti);
        ti.kind = SR_PRINC_ENTRA;
        ti.claims = p->claims;
        sr_tokcache_put(&s->tokcache, token, len, &ti);
    }
    return SG_OK;
}

/* THE Entra seam: RS256 tokens. */
static int sr_auth_entra(const sr_auth_keys *k, const char *token, size_t len,
                         const sr_auth_ctx *ac, sr_principal *p, sr_auth_fail *f)
{
    return sr_auth_entra_token(k->s, token, len, ac, p, f);
}

/* 401 for a token whose kid names a temporary key that is not (or no longer) live. */
static void tempkey_not_found(sr_auth_fail *f, const char *kid, int64_t ended_ms)
{
    if (ended_ms > 0) {
        char when[48], h[400];
        sg_time_iso8601(ended_ms / 1000, when, sizeof when);
        snprintf(h, sizeof h,
                 "The temporary key '%.48s' expired at %s (temporary keys live 90 minutes; "
                 "restarts keep them): fetch a new one from /api/v1/auth/accessKey (the SDK "
                 "does this by itself within minutes).",
                 kid, when);
        fail(f, 401, "Unauthorized.SigningKeyNotFound",
             "The signature key was not found: the temporary key has expired.", h);
        return;
    }
    fail(f, 401, "Unauthorized.SigningKeyNotFound", "The signature key was not found.",
         "The token names a temporary key that has expired (they live 90 minutes; restarts "
         "keep them) or that this service never issued for this resource (another data dir "
         "or resource): fetch a new one from /api/v1/auth/accessKey (the SDK does this by "
         "itself within minutes).");
}

/* The checks after the signature, shared by a fresh verification and a cached one: exp/nbf
 * (60 s skew) at every use, the audience of this request, and for a temporary key its owner's
 * role. claims is a reference the call consumes (it becomes p->claims on SG_OK). */
static int hs_finish(const sr_auth_keys *k, json_t *claims, const sr_tok_info *ti,
                     const char *host, const char *path, const sr_auth_ctx *ac, sr_principal *p,
                     sr_auth_fail *f)
{
    sg_jwt t = {NULL, claims, 0, 0};
    sg_jwt_error je = {0};
    sg_jwt_validate_opts vo2 = {0};
    vo2.now = k->now;
    vo2.skew = SG_JWT_DEFAULT_SKEW;
    vo2.require_exp = 1;
    int rc = sg_jwt_validate(&t, &vo2, &je);
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
        json_decref(claims);
        return SG_EAUTH;
    }
    const json_t *aud = json_object_get(claims, "aud");
    const char *apath = ac->kind == SR_AUD_CLIENT   ? "/client"
                        : ac->kind == SR_AUD_SERVER ? "/server"
                                                    : path;
    const char *ahub = ac->kind == SR_AUD_REST ? NULL : ac->hub;
    if (!aud_ok(aud, k->tls, host && *host ? host : "localhost", apath, ahub)) {
        fail(f, 401, "Unauthorized.InvalidAudience", "Invalid authorization token audience.", NULL);
        aud_hint(aud, host && *host ? host : "localhost", path, ac, f);
        json_decref(claims);
        return SG_EAUTH;
    }
    if (ti->kind == SR_PRINC_TEMP_KEY) {
        /* the key's owner must still hold the action (e.g. clientConnection/write) */
        if (authorize(k->s, ti->oid, ti->tid, NULL, ac, f) != SG_OK) {
            json_decref(claims);
            return SG_EPERM;
        }
        snprintf(p->oid, sizeof p->oid, "%s", ti->oid);
        snprintf(p->tid, sizeof p->tid, "%s", ti->tid);
    }
    p->kind = (sr_princ_kind)ti->kind;
    p->claims = claims;
    return SG_OK;
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
    /* the very token that passed every check a moment ago (negotiate, then the upgrade):
     * its signature and JSON are settled, what depends on the time and the request is not */
    if (k->cache) {
        const sr_tok_info *hit = sr_tokcache_get(k->cache, token, len, (uint64_t)sg_unix_ms());
        if (hit && hit->kind == SR_PRINC_ENTRA) /* an RS256 token: its own checks, its own hit */
            return sr_auth_entra(k, token, len, ac, p, f);
        if (hit) {
            sr_tok_info ti = *hit;
            int rc = hs_finish(k, json_incref(hit->claims), &ti, host, path, ac, p, f);
            if (rc != SG_OK && strcmp(f->code, "Unauthorized.TokenExpired") == 0)
                sr_tokcache_drop(k->cache, token, len);
            return rc;
        }
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
    /* parsed once: alg and kid come from this header, the signature is checked on it */
    const char *algname = json_string_value(json_object_get(t.header, "alg"));
    const char *kd = json_string_value(json_object_get(t.header, "kid"));
    char kidbuf[64] = "";
    if (kd)
        snprintf(kidbuf, sizeof kidbuf, "%s", kd);
    sg_jwt_alg alg = algname ? sg_jwt_alg_from_name(algname) : SG_JWT_ALG_NONE;
    if (alg == SG_JWT_RS256) {
        sg_jwt_clear(&t);
        return sr_auth_entra(k, token, len, ac, p, f);
    }
    if (alg != SG_JWT_HS256 && alg != SG_JWT_HS512) {
        char m[160];
        snprintf(m, sizeof m, "The token algorithm '%.40s' is not accepted.",
                 algname ? algname : "(none)");
        fail(f, 401, "Unauthorized.UnsupportedAlgorithm", m,
             algname && strcasecmp(algname, "none") == 0
                 ? "Unsigned tokens (alg 'none') are never accepted: sign with HS256 and the "
                   "access key."
                 : "Access-key tokens must be HS256 or HS512; Entra ID tokens RS256.");
        sg_jwt_clear(&t);
        return SG_EAUTH;
    }
    /* a temporary key (Entra-derived) is looked up by kid and works with local auth off */
    int64_t tk_ended = 0;
    const sr_tempkey *tk = kidbuf[0] ? tempkey_get(k->s, kidbuf, &tk_ended) : NULL;
    int tk_named = strncmp(kidbuf, "sigrid-tk-", 10) == 0;
    if (!tk && k->disable_local_auth && tk_named) {
        tempkey_not_found(f, kidbuf, tk_ended);
        sg_jwt_clear(&t);
        return SG_EAUTH;
    }
    sg_jwt_verify_opts vo = {SG_JWT_HS_ANY, SG_JWT_MAX_LEN};
    sr_tok_info ti;
    memset(&ti, 0, sizeof ti);
    if (tk) {
        sg_jwt_key tkey = {tk->key, strlen(tk->key)};
        if (sg_jwt_verify_hs_decoded(token, len, &t, &tkey, 1, &vo, &je) != SG_OK) {
            fail(f, 401, "Unauthorized.InvalidSignature",
                 "The token signature does not match the temporary key named by its kid.",
                 "Sign with the AccessKey returned together with this KeyId.");
            sg_jwt_clear(&t);
            return SG_EAUTH;
        }
        ti.kind = SR_PRINC_TEMP_KEY;
        snprintf(ti.oid, sizeof ti.oid, "%s", tk->oid);
        snprintf(ti.tid, sizeof ti.tid, "%s", tk->tid);
        ti.key_expires_ms = tk->expires_ms;
    } else if (k->disable_local_auth) {
        fail(f, 401, "Unauthorized.LocalAuthDisabled",
             "Local (access key) authentication is disabled for this resource.",
             "disableLocalAuth is true: tokens signed with access keys are refused. Use Microsoft "
             "Entra ID, or re-enable local auth with `sigrid signalr update --disable-local-auth "
             "false`.");
        sg_jwt_clear(&t);
        return SG_EAUTH;
    } else {
        sg_jwt_key keys[2];
        size_t nk = 0;
        if (k->primary && *k->primary)
            keys[nk++] = (sg_jwt_key){k->primary, strlen(k->primary)};
        if (k->secondary && *k->secondary)
            keys[nk++] = (sg_jwt_key){k->secondary, strlen(k->secondary)};
        int vrc = nk ? sg_jwt_verify_hs_decoded(token, len, &t, keys, nk, &vo, &je) : SG_EAUTH;
        if (vrc != SG_OK && tk_named) {
            /* named a temporary key we do not (or no longer) have: say so, not "wrong key" */
            tempkey_not_found(f, kidbuf, tk_ended);
            sg_jwt_clear(&t);
            return SG_EAUTH;
        }
        if (vrc != SG_OK) {
            fail(f, 401, "Unauthorized.InvalidSignature",
                 "The token signature does not match any access key of this resource.",
                 "The token was signed with another key: a key that has since been renewed, "
                 "another resource's key, or the key's base64-decoded bytes instead of the UTF-8 "
                 "bytes of the key string. Take the key from `sigrid signalr key list`.");
            sg_jwt_clear(&t);
            return SG_EAUTH;
        }
        ti.kind = SR_PRINC_ACCESS_KEY;
    }
    json_t *claims = t.payload;
    t.payload = NULL;
    sg_jwt_clear(&t);
    int rc = hs_finish(k, claims, &ti, host, path, ac, p, f);
    if (rc == SG_OK && k->cache) {
        ti.claims = p->claims;
        sr_tokcache_put(k->cache, token, len, &ti);
    }
    return rc;
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
                      sg_stream_is_tls(r->stream), 0, s, &s->tokcache};
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

int sr_auth_or_respond(sg_signalr *s, sg_http_req *r, const sr_auth_ctx *ac, sr_principal *p)
{
    sr_auth_fail f;
    int rc = sr_auth_request(s, r, ac, p, &f);
    if (rc != SG_OK)
        sr_auth_respond(s, r, ac, &f);
    return rc;
}

char *sr_auth_body(const char *resource_id, const sr_auth_ctx *ac, const sr_auth_fail *f)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "code", json_string(f->code));
    json_object_set_new(o, "message", json_string(f->message));
    if (f->oid[0]) {
        json_t *pr = json_object();
        json_object_set_new(pr, "oid", json_string(f->oid));
        if (f->appid[0])
            json_object_set_new(pr, "appid", json_string(f->appid));
        if (f->tid[0])
            json_object_set_new(pr, "tid", json_string(f->tid));
        json_object_set_new(o, "principal", pr);
    }
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

int sr_tempkey_for_entra(sg_signalr *s, const char *token, size_t len, const sr_tempkey **out,
                         sr_auth_fail *f)
{
    sr_auth_ctx ac = {SR_AUD_REST, NULL, SR_ACTION_ACCESS_KEY};
    sr_principal p;
    int rc = sr_auth_entra_token(s, token, len, &ac, &p, f);
    if (rc != SG_OK)
        return rc;
    rc = sr_tempkey_mint(s, p.oid, p.tid, out);
    sr_principal_clear(&p);
    return rc;
}

void sr_auth_access_key_endpoint(sg_signalr *s, sg_http_req *r)
{
    sr_auth_ctx ac = {SR_AUD_REST, NULL, SR_ACTION_ACCESS_KEY};
    sr_auth_fail f;
    memset(&f, 0, sizeof f);
    if (r->method != SG_HTTP_GET && r->method != SG_HTTP_POST) {
        sr_respond_error(r, 405, "MethodNotAllowed", "Use GET.", NULL);
        return;
    }
    char *owned = NULL;
    size_t len = 0;
    const char *tok = req_token(r, &owned, &len);
    sg_jwt t = {0};
    sg_jwt_error je = {0};
    int is_rs = 0;
    if (tok && len <= SG_JWT_MAX_LEN &&
        sg_jwt_decode_unverified(tok, len, SG_JWT_MAX_LEN, &t, &je) == SG_OK) {
        const char *an = json_string_value(json_object_get(t.header, "alg"));
        is_rs = an && sg_jwt_alg_from_name(an) == SG_JWT_RS256;
    }
    sg_jwt_clear(&t);
    if (!is_rs) {
        fail(&f, 401, tok ? "Unauthorized.EntraTokenRequired" : "Unauthorized.MissingToken",
             "GET /api/v1/auth/accessKey needs a Microsoft Entra ID access token.",
             "Send 'Authorization: Bearer <token>' with a token for the scope "
             "https://signalr.azure.com/.default (e.g. from ManagedIdentityCredential); "
             "access-key tokens cannot obtain temporary keys.");
        sr_auth_respond(s, r, &ac, &f);
        sg_free(owned);
        return;
    }
    const sr_tempkey *k = NULL;
    int rc = sr_tempkey_for_entra(s, tok, len, &k, &f);
    sg_free(owned);
    if (rc == SG_EAUTH || rc == SG_EPERM) {
        sr_auth_respond(s, r, &ac, &f);
        return;
    }
    if (rc != SG_OK) {
        sr_respond_error(r, rc == SG_ELIMIT ? 429 : 500, "TemporaryKeyUnavailable",
                         "No temporary key could be issued right now.", NULL);
        return;
    }
    json_t *o = json_pack("{s:s, s:s}", "KeyId", k->kid, "AccessKey", k->key);
    char *body = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    sr_respond(r, 200, "application/json", body ? body : "{}", body ? strlen(body) : 2);
    free(body); /* lint-ok: json_dumps memory (jansson uses malloc) */
}
