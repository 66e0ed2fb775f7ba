/* entra.c — the local Entra ID authority on the cloud listener:
 *   GET  /{tenant}/.well-known/openid-configuration          v1 discovery
 *   GET  /{tenant}/v2.0/.well-known/openid-configuration     v2 discovery
 *   GET  /{tenant}/discovery/keys, /{tenant}/discovery/v2.0/keys   JWKS
 *   POST /{tenant}/oauth2/token                               v1 client credentials (resource=)
 *   POST /{tenant}/oauth2/v2.0/token                          v2 client credentials (scope=)
 *   GET  /common/discovery/instance                           instance discovery (aliases)
 * {tenant} = the tenant GUID, "common" or "organizations"; anything else is AADSTS90002.
 * Errors follow Entra: {"error","error_description":"AADSTSnnn: ...\r\nTrace ID...",
 * "error_codes":[n],"timestamp","trace_id","correlation_id","error_uri"}. */
#include "cloud/entra_internal.h"
#include "cloud/identity.h"

#include "sg_alloc.h"
#include "sg_b64.h"
#include "sg_buf.h"
#include "sg_err.h"
#include "sg_id.h"
#include "sg_log.h"
#include "sg_str.h"
#include "sg_time.h"

#include <jansson.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define MAINT_INTERVAL_MS (3600u * 1000u)

/* Azure first-party resources every tenant has a service principal for. */
static const char *const k_resources[] = {
    "https://signalr.azure.com",
    "https://management.azure.com",
    "https://management.core.windows.net",
    "https://vault.azure.net",
    "https://storage.azure.com",
    "https://graph.microsoft.com",
    "https://database.windows.net",
    "https://eventhubs.azure.net",
    "https://servicebus.azure.net",
    "https://cognitiveservices.azure.com",
    "https://webpubsub.azure.com",
    "https://cosmos.azure.com",
    "https://monitor.azure.com",
    "https://ossrdbms-aad.database.windows.net",
    "https://redis.azure.com",
    "https://app.azconfig.io",
    "https://api.loganalytics.io",
    "https://digitaltwins.azure.net",
    "https://search.azure.com",
    "https://batch.core.windows.net",
    "https://kusto.kusto.windows.net",
    "https://eventgrid.azure.net",
    "https://azconfig.io",
    NULL,
};

static sg_entra *entra_of(sg_cloud *c)
{
    return c ? (sg_entra *)c->entra : NULL;
}

/* ---- resource principals ----------------------------------------------------------------- */

static int looks_like_guid(const char *s)
{
    if (strlen(s) != 36)
        return 0;
    for (int i = 0; i < 36; i++) {
        char ch = s[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (ch != '-')
                return 0;
        } else if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') ||
                     (ch >= 'A' && ch <= 'F'))) {
            return 0;
        }
    }
    return 1;
}

int sg__entra_resource_known(sg_cloud *c, const char *resource)
{
    size_t n = strlen(resource);
    if (n > 0 && resource[n - 1] == '/')
        n--;
    if (n == 0)
        return 0;
    for (size_t i = 0; k_resources[i]; i++)
        if (strlen(k_resources[i]) == n && strncasecmp(k_resources[i], resource, n) == 0)
            return 1;
    /* api://{appId} or {appId} of an app registration in this tenant */
    char app[64];
    const char *p = resource;
    if (strncasecmp(p, "api://", 6) == 0)
        p += 6;
    size_t an = n - (size_t)(p - resource);
    if (an >= sizeof app)
        return 0;
    memcpy(app, p, an);
    app[an] = 0;
    if (!looks_like_guid(app) || !c || !c->store)
        return 0;
    sg_str_lower(app);
    sg_principal_rec pr;
    if (sg_store_principal_by_app_id(c->store, app, &pr) != 0)
        return 0;
    return 1;
}

/* ---- minting ------------------------------------------------------------------------------ */

char *sg__entra_mint(sg_cloud *c, const sg_tok_subject *who, const char *resource,
                     int64_t lifetime_s, int64_t *iat, int64_t *exp)
{
    sg_entra *e = entra_of(c);
    if (!e || !who || !resource)
        return NULL;
    char iss[320];
    if (sg_snprintf(iss, sizeof iss, "%s/%s/", c->cloud_url, c->tenant_id) != 0)
        return NULL;
    int64_t now = sg_unix_now();
    sg_tok_claims cl;
    memset(&cl, 0, sizeof cl);
    cl.aud = resource;
    cl.iss = iss;
    cl.tid = c->tenant_id;
    cl.oid = who->oid;
    cl.appid = who->appid;
    cl.appidacr = who->appidacr ? who->appidacr : "2";
    cl.xms_mirid = who->mirid;
    cl.xms_az_rid = who->az_rid;
    cl.iat = now - SG_TOK_SKEW_S;
    cl.nbf = cl.iat;
    cl.exp = now + lifetime_s;
    char *jwt = sg_keyring_sign(&e->kr, &cl);
    if (jwt) {
        if (iat)
            *iat = cl.iat;
        if (exp)
            *exp = cl.exp;
        SG_LOGI("cloud", "event=token_issued oid=%s appid=%s aud=%s exp=%lld kid=%s", who->oid,
                who->appid, resource, (long long)cl.exp, e->kr.keys[e->kr.active].kid);
    }
    return jwt;
}

/* ---- lifecycle ---------------------------------------------------------------------------- */

static void maint_timer_cb(uv_timer_t *t)
{
    sg_entra *e = t->data;
    if (!e)
        return;
    int rc = sg_keyring_maintain(&e->kr, e->c->store, sg_unix_now(), 0);
    if (rc != 0)
        SG_LOGW("cloud", "event=signing_key_maintenance_failed err=%s", sg_strerror(rc));
}

static void timer_closed(uv_handle_t *h)
{
    sg_free(h);
}

int sg_entra_init(sg_cloud *c)
{
    if (!c || !c->store)
        return SG_EINVAL;
    sg_entra *e = SG_NEW(sg_entra);
    if (!e)
        return SG_ENOMEM;
    e->c = c;
    e->mi_lifetime_s = SG_MI_TOKEN_LIFETIME_S;
    e->app_lifetime_s = SG_APP_TOKEN_LIFETIME_S;
    int64_t maxlife = e->mi_lifetime_s > e->app_lifetime_s ? e->mi_lifetime_s : e->app_lifetime_s;
    int rc = sg_keyring_load(&e->kr, c->store, sg_unix_now(), (int64_t)SG_KEY_ROTATE_DAYS * 86400,
                             maxlife);
    if (rc != 0) {
        SG_LOGE("cloud", "event=signing_keys_unavailable err=%s", sg_strerror(rc));
        sg_free(e);
        return rc;
    }
    e->timer = SG_NEW(uv_timer_t);
    if (e->timer && uv_timer_init(c->loop, e->timer) == 0) {
        e->timer->data = e;
        uv_timer_start(e->timer, maint_timer_cb, MAINT_INTERVAL_MS, MAINT_INTERVAL_MS);
        uv_unref((uv_handle_t *)e->timer);
    } else {
        sg_free(e->timer);
        e->timer = NULL;
    }
    c->entra = e;
    SG_LOGI("cloud", "event=entra_ready tenant=%s keys=%zu kid=%s", c->tenant_id, e->kr.n,
            e->kr.keys[e->kr.active].kid);
    return SG_OK;
}

void sg_entra_free(sg_cloud *c)
{
    sg_entra *e = entra_of(c);
    if (!e)
        return;
    if (e->timer) {
        e->timer->data = NULL;
        uv_timer_stop(e->timer);
        uv_close((uv_handle_t *)e->timer, timer_closed);
    }
    sg_keyring_free(&e->kr);
    sg_free(e);
    c->entra = NULL;
}

int sg_entra_rotate_key(sg_cloud *c)
{
    sg_entra *e = entra_of(c);
    if (!e)
        return SG_EINVAL;
    return sg_keyring_maintain(&e->kr, c->store, sg_unix_now(), 1);
}

/* ---- responses ---------------------------------------------------------------------------- */

typedef struct rq {
    sg_cloud *c;
    sg_http_req *req;
    char correlation[64];
    char trace[40];
} rq;

static void respond_json(rq *q, int status, const char *body, size_t n)
{
    sg_http_header h[4];
    size_t nh = 0;
    h[nh].name = SG_SLICE_LIT("Cache-Control");
    h[nh++].value = SG_SLICE_LIT("no-store, no-cache");
    h[nh].name = SG_SLICE_LIT("Pragma");
    h[nh++].value = SG_SLICE_LIT("no-cache");
    h[nh].name = SG_SLICE_LIT("x-ms-request-id");
    h[nh++].value = sg_slice_cstr(q->trace);
    if (q->correlation[0]) {
        h[nh].name = SG_SLICE_LIT("client-request-id");
        h[nh++].value = sg_slice_cstr(q->correlation);
    }
    sg_http_respond_ex(q->req, status, "application/json; charset=utf-8", h, nh, body, n);
}

static void respond_j(rq *q, int status, json_t *j)
{
    size_t n = 0;
    char *s = j ? sg__json_dump(j, &n) : NULL;
    if (!s) {
        static const char oom[] = "{\"error\":\"temporarily_unavailable\"}";
        respond_json(q, 503, oom, sizeof oom - 1);
    } else {
        respond_json(q, status, s, n);
    }
    sg_free(s);
    json_decref(j);
}

static void aad_error(rq *q, int status, const char *error, int code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void aad_error(rq *q, int status, const char *error, int code, const char *fmt, ...)
{
    char msg[1024], desc[1400], ts[64], uri[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    time_t t = (time_t)sg_unix_now();
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%d %H:%M:%SZ", &tm);
    const char *cid = q->correlation[0] ? q->correlation : q->trace;
    snprintf(desc, sizeof desc,
             "AADSTS%d: %s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\nTimestamp: %s", code, msg,
             q->trace, cid, ts);
    snprintf(uri, sizeof uri, "%s/error?code=%d", q->c->cloud_url, code);
    json_t *j = json_pack("{s:s,s:s,s:[i],s:s,s:s,s:s,s:s}", "error", error, "error_description",
                          desc, "error_codes", code, "timestamp", ts, "trace_id", q->trace,
                          "correlation_id", cid, "error_uri", uri);
    SG_LOGI("cloud", "event=entra_error status=%d error=%s code=AADSTS%d", status, error, code);
    respond_j(q, status, j);
}

/* ---- discovery ---------------------------------------------------------------------------- */

/* The authority as the client addressed it, when that is another loopback spelling of this
 * listener (https://localhost:P vs https://127.0.0.1:P): MSAL requires the v2 `issuer` and
 * endpoints on the authority's own host. Anything else falls back to the cloud URL. */
static void request_base(rq *q, char *out, size_t outlen)
{
    sg_cloud *c = q->c;
    snprintf(out, outlen, "%s", c->cloud_url);
    const sg_slice *h = sg_http_req_header(q->req, "Host");
    if (!h || h->n == 0 || h->n > 200)
        return;
    char host[256];
    snprintf(host, sizeof host, "%.*s", (int)h->n, h->p);
    char *colon = strrchr(host, ':');
    if (!colon || strchr(colon, ']'))
        return; /* no port: not how our clients address us */
    int64_t port = 0;
    if (sg_parse_i64(colon + 1, strlen(colon + 1), &port) != 0 || port != c->cloud_port)
        return;
    *colon = 0;
    if (strcasecmp(host, "localhost") != 0 && strcmp(host, "127.0.0.1") != 0 &&
        strcmp(host, "[::1]") != 0)
        return;
    const char *scheme = strncmp(c->cloud_url, "https", 5) == 0 ? "https" : "http";
    snprintf(out, outlen, "%s://%s:%d", scheme, host, (int)port);
}

static void discovery(rq *q, const char *tseg, int v2)
{
    sg_cloud *c = q->c;
    char cu[300];
    request_base(q, cu, sizeof cu);
    const char *tid = c->tenant_id;
    char iss[360], tok[400], auth[400], jwks[400], dev[400], logout[400], ui[400], kerb[400];
    const char *ver = v2 ? "/v2.0" : "";
    if (v2)
        snprintf(iss, sizeof iss, "%s/%s/v2.0", cu, tid);
    else /* exactly the `iss` of the tokens, whatever host the client used */
        snprintf(iss, sizeof iss, "%s/%s/", c->cloud_url, tid);
    snprintf(tok, sizeof tok, "%s/%s/oauth2%s/token", cu, tseg, ver);
    snprintf(auth, sizeof auth, "%s/%s/oauth2%s/authorize", cu, tseg, ver);
    snprintf(jwks, sizeof jwks, "%s/%s/discovery%s/keys", cu, tseg, ver);
    snprintf(dev, sizeof dev, "%s/%s/oauth2%s/devicecode", cu, tseg, ver);
    snprintf(logout, sizeof logout, "%s/%s/oauth2%s/logout", cu, tseg, ver);
    snprintf(ui, sizeof ui, "%s/%s/openid/userinfo", cu, tseg);
    snprintf(kerb, sizeof kerb, "%s/%s/kerberos", cu, tseg);
    json_t *j = json_pack(
        "{s:s,s:[sss],s:s,s:[sss],s:[s],s:[s],s:[ssssss],s:s,s:b,s:s,s:s,s:s,s:b,s:b,s:s,"
        "s:[sssssssssss],s:s,s:n,s:s,s:s,s:s,s:s}",
        "token_endpoint", tok, "token_endpoint_auth_methods_supported", "client_secret_post",
        "private_key_jwt", "client_secret_basic", "jwks_uri", jwks, "response_modes_supported",
        "query", "fragment", "form_post", "subject_types_supported", "pairwise",
        "id_token_signing_alg_values_supported", "RS256", "response_types_supported", "code",
        "id_token", "code id_token", "id_token token", "token", "token id_token", "issuer", iss,
        "request_uri_parameter_supported", 0, "userinfo_endpoint", ui, "authorization_endpoint",
        auth, "device_authorization_endpoint", dev, "http_logout_supported", 1,
        "frontchannel_logout_supported", 1, "end_session_endpoint", logout, "claims_supported",
        "sub", "iss", "cloud_instance_name", "cloud_graph_host_name", "msgraph_host", "aud", "exp",
        "iat", "auth_time", "acr", "nonce", "kerberos_endpoint", kerb, "tenant_region_scope",
        "cloud_instance_name", "sigrid.local", "cloud_graph_host_name", "graph.windows.net",
        "msgraph_host", "graph.microsoft.com", "rbac_url", "https://pas.windows.net");
    if (j && v2)
        json_object_set_new(j, "scopes_supported",
                            json_pack("[ssss]", "openid", "profile", "email", "offline_access"));
    respond_j(q, 200, j);
}

static void jwks(rq *q)
{
    sg_entra *e = entra_of(q->c);
    if (!e || !e->kr.jwks) {
        aad_error(q, 503, "temporarily_unavailable", 90033, "Signing keys are not available.");
        return;
    }
    respond_json(q, 200, e->kr.jwks, e->kr.jwks_len);
}

static void instance_discovery(rq *q)
{
    sg_cloud *c = q->c;
    char host[256], tde[400];
    const char *h = strstr(c->cloud_url, "://");
    snprintf(host, sizeof host, "%s", h ? h + 3 : c->cloud_url);
    snprintf(tde, sizeof tde, "%s/%s/v2.0/.well-known/openid-configuration", c->cloud_url,
             c->tenant_id);
    json_t *j = json_pack("{s:s,s:s,s:[{s:s,s:s,s:[s]}]}", "tenant_discovery_endpoint", tde,
                          "api-version", "1.1", "metadata", "preferred_network", host,
                          "preferred_cache", host, "aliases", host);
    respond_j(q, 200, j);
}

/* ---- token endpoint ----------------------------------------------------------------------- */

typedef sg__entra_form form;

void sg__entra_form_free(form *f)
{
    sg_free(f->grant_type);
    sg_free(f->client_id);
    if (f->client_secret) {
        memset(f->client_secret, 0, strlen(f->client_secret));
        sg_free(f->client_secret);
    }
    sg_free(f->scope);
    sg_free(f->resource);
    sg_free(f->client_assertion);
}

int sg__entra_form_parse(sg_slice body, form *f)
{
    size_t pos = 0;
    sg_slice k, v;
    struct {
        const char *name;
        char **slot;
    } keys[] = {{"grant_type", &f->grant_type},       {"client_id", &f->client_id},
                {"client_secret", &f->client_secret}, {"scope", &f->scope},
                {"resource", &f->resource},           {"client_assertion", &f->client_assertion}};
    while (sg_query_next(body, &pos, &k, &v)) {
        for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
            if (!sg_slice_eq(k, keys[i].name) || *keys[i].slot)
                continue;
            *keys[i].slot = sg_url_decode(v.p, v.n, 1, NULL);
            if (!*keys[i].slot)
                return SG_EINVAL;
        }
    }
    return SG_OK;
}

/* HTTP Basic client authentication (RFC 6749 §2.3.1). */
void sg__entra_basic_auth(const sg_http_req *req, form *f)
{
    const sg_slice *a = sg_http_req_header(req, "Authorization");
    if (!a || a->n < 7 || strncasecmp(a->p, "Basic ", 6) != 0 || a->n > 2048)
        return;
    char dec[1600];
    long n = sg_b64_decode(a->p + 6, a->n - 6, dec, sizeof dec - 1);
    if (n <= 0)
        return;
    dec[n] = 0;
    char *colon = memchr(dec, ':', (size_t)n);
    if (!colon)
        return;
    if (!f->client_id)
        f->client_id = sg_url_decode(dec, (size_t)(colon - dec), 1, NULL);
    if (!f->client_secret)
        f->client_secret = sg_url_decode(colon + 1, (size_t)(dec + n - colon - 1), 1, NULL);
    memset(dec, 0, sizeof dec);
}

/* v2: exactly one resource, "<resource>/.default" (openid/profile/offline_access ignored).
 * Writes the resource into out; returns 0, or the AADSTS code of the failure. */
int sg__entra_scope_to_resource(const char *scope, char *out, size_t outlen, char *bad,
                                size_t badlen)
{
    int found = 0;
    const char *p = scope;
    out[0] = 0;
    while (*p) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        const char *s = p;
        while (*p && *p != ' ')
            p++;
        size_t n = (size_t)(p - s);
        if ((n == 6 && strncmp(s, "openid", 6) == 0) || (n == 7 && strncmp(s, "profile", 7) == 0) ||
            (n == 14 && strncmp(s, "offline_access", 14) == 0))
            continue;
        snprintf(bad, badlen, "%.*s", (int)n, s);
        const char *suffix = "/.default";
        size_t sn = strlen(suffix);
        if (n <= sn || strncmp(s + n - sn, suffix, sn) != 0)
            return 1002012;
        if (found)
            return 70011;
        if (n - sn >= outlen)
            return 70011;
        memcpy(out, s, n - sn);
        out[n - sn] = 0;
        found = 1;
    }
    if (!found) {
        snprintf(bad, badlen, "%s", scope);
        return 70011;
    }
    return 0;
}

static void token_endpoint(rq *q, const char *tenant_in, int v2)
{
    sg_cloud *c = q->c;
    sg_http_req *req = q->req;
    form f;
    memset(&f, 0, sizeof f);
    char resource[1024];
    char bad[1024];
    if (req->method != SG_HTTP_POST) {
        aad_error(q, 400, "invalid_request", 900561,
                  "The endpoint only accepts POST, OPTIONS requests. Received a %.*s request.",
                  (int)req->method_name.n, req->method_name.p);
        return;
    }
    if (sg__entra_form_parse(req->body, &f) != 0) {
        aad_error(q, 400, "invalid_request", 900144, "The request body is not valid form data.");
        goto done;
    }
    sg__entra_basic_auth(req, &f);
    if (!f.grant_type || !*f.grant_type) {
        aad_error(q, 400, "invalid_request", 900144,
                  "The request body must contain the following parameter: 'grant_type'.");
        goto done;
    }
    if (strcmp(f.grant_type, "client_credentials") != 0) {
        aad_error(q, 400, "unsupported_grant_type", 70003,
                  "The app requested an unsupported grant type '%s'. sigrid's local tenant "
                  "supports client_credentials.",
                  f.grant_type);
        goto done;
    }
    if (!f.client_id || !*f.client_id) {
        aad_error(q, 400, "invalid_request", 900144,
                  "The request body must contain the following parameter: 'client_id'.");
        goto done;
    }
    if (v2 && (!f.scope || !*f.scope)) {
        aad_error(q, 400, "invalid_request", 900144,
                  "The request body must contain the following parameter: 'scope'.");
        goto done;
    }
    if (!v2 && (!f.resource || !*f.resource)) {
        aad_error(q, 400, "invalid_request", 900144,
                  "The request body must contain the following parameter: 'resource'.");
        goto done;
    }
    /* the application */
    sg_principal_rec pr;
    char appid[SG_STORE_GUID_MAX];
    snprintf(appid, sizeof appid, "%s", f.client_id);
    sg_str_lower(appid);
    if (strlen(f.client_id) >= sizeof appid || !looks_like_guid(appid) ||
        sg_store_principal_by_app_id(c->store, appid, &pr) != 0 ||
        strcmp(pr.type, "Application") != 0) {
        aad_error(q, 400, "unauthorized_client", 700016,
                  "Application with identifier '%s' was not found in the directory '%s'. This "
                  "can happen if the application has not been installed by the administrator of "
                  "the tenant or consented to by any user in the tenant. You may have sent your "
                  "authentication request to the wrong tenant.",
                  f.client_id, tenant_in);
        goto done;
    }
    if (f.client_assertion && !f.client_secret) {
        aad_error(q, 401, "invalid_client", 700027,
                  "Client assertions are not supported by sigrid's local tenant; use a client "
                  "secret.");
        goto done;
    }
    if (!f.client_secret || !*f.client_secret) {
        aad_error(q, 401, "invalid_client", 7000218,
                  "The request body must contain the following parameter: 'client_assertion' "
                  "or 'client_secret'.");
        goto done;
    }
    if (sg_store_app_secret_verify(c->store, appid, f.client_secret) != SG_OK) {
        aad_error(q, 401, "invalid_client", 7000215,
                  "Invalid client secret provided. Ensure the secret being sent in the request "
                  "is the client secret value, not the client secret ID, for a secret added to "
                  "app '%s'.",
                  appid);
        goto done;
    }
    /* the resource */
    if (v2) {
        int code = sg__entra_scope_to_resource(f.scope, resource, sizeof resource, bad, sizeof bad);
        if (code == 1002012) {
            aad_error(q, 400, "invalid_scope", 1002012,
                      "The provided value for scope %s is not valid. Client credential flows "
                      "must have a scope value with /.default suffixed to the resource "
                      "identifier (application ID URI).",
                      bad);
            goto done;
        }
        if (code) {
            aad_error(q, 400, "invalid_scope", 70011,
                      "The provided request must include a 'scope' input parameter. The "
                      "provided value for the input parameter 'scope' is not valid. The scope "
                      "%s is not valid.",
                      f.scope);
            goto done;
        }
    } else {
        snprintf(resource, sizeof resource, "%s", f.resource);
    }
    if (!sg__entra_resource_known(c, resource)) {
        aad_error(q, 400, "invalid_resource", 500011,
                  "The resource principal named %s was not found in the tenant named %s. This "
                  "can happen if the application has not been installed by the administrator of "
                  "the tenant or consented to by any user in the tenant. You might have sent "
                  "your authentication request to the wrong tenant.",
                  resource, c->tenant_id);
        goto done;
    }
    sg_entra *e = entra_of(c);
    sg_tok_subject who = {.oid = pr.object_id, .appid = pr.app_id, .appidacr = "1"};
    int64_t iat = 0, exp = 0;
    int64_t lifetime = e ? e->app_lifetime_s - 1 : SG_APP_TOKEN_LIFETIME_S - 1;
    char *jwt = sg__entra_mint(c, &who, resource, lifetime, &iat, &exp);
    if (!jwt) {
        aad_error(q, 500, "temporarily_unavailable", 90033,
                  "A transient error has occurred. Please try again.");
        goto done;
    }
    int64_t now = sg_unix_now();
    json_t *j;
    if (v2) {
        j = json_pack("{s:s,s:I,s:I,s:s}", "token_type", "Bearer", "expires_in",
                      (json_int_t)(exp - now), "ext_expires_in", (json_int_t)(exp - now),
                      "access_token", jwt);
    } else {
        char ein[24], eon[24], nbf[24];
        snprintf(ein, sizeof ein, "%lld", (long long)(exp - now));
        snprintf(eon, sizeof eon, "%lld", (long long)exp);
        snprintf(nbf, sizeof nbf, "%lld", (long long)iat);
        j = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "token_type", "Bearer", "expires_in", ein,
                      "ext_expires_in", ein, "expires_on", eon, "not_before", nbf, "resource",
                      resource, "access_token", jwt);
    }
    sg_free(jwt);
    respond_j(q, 200, j);
done:
    sg__entra_form_free(&f);
}

/* ---- routing ------------------------------------------------------------------------------ */

/* Splits the path into at most 6 segments (raw). Returns the count, or -1 if more. */
static int split_path(sg_slice path, sg_slice *seg, int max)
{
    int n = 0;
    size_t i = 0;
    while (i < path.n) {
        while (i < path.n && path.p[i] == '/')
            i++;
        if (i >= path.n)
            break;
        size_t s = i;
        while (i < path.n && path.p[i] != '/')
            i++;
        if (n == max)
            return -1;
        seg[n].p = path.p + s;
        seg[n].n = i - s;
        n++;
    }
    return n;
}

static int seg_is(sg_slice s, const char *lit)
{
    return sg_slice_ieq(s, lit);
}

void sg_entra_handle(sg_cloud *c, sg_http_req *req)
{
    rq q;
    memset(&q, 0, sizeof q);
    q.c = c;
    q.req = req;
    sg_uuid4(q.trace);
    /* client-request-id: query (msal-node) or header */
    char *crid = sg_query_get(req->query, "client-request-id");
    if (!crid) {
        const sg_slice *h = sg_http_req_header(req, "client-request-id");
        if (h)
            crid = sg_slice_dup(*h);
    }
    if (crid && strlen(crid) < sizeof q.correlation) {
        int ok = 1;
        for (const char *p = crid; *p; p++)
            if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') ||
                  (*p >= 'A' && *p <= 'Z') || *p == '-'))
                ok = 0;
        if (ok)
            snprintf(q.correlation, sizeof q.correlation, "%s", crid);
    }
    sg_free(crid);

    sg_slice seg[6];
    int n = split_path(req->path, seg, 6);
    if (n <= 0) {
        aad_error(&q, 404, "invalid_request", 900561, "The requested path was not found.");
        return;
    }
    char tenant[128];
    snprintf(tenant, sizeof tenant, "%.*s", (int)(seg[0].n < 100 ? seg[0].n : 100), seg[0].p);
    int is_get = req->method == SG_HTTP_GET || req->method == SG_HTTP_HEAD;

    if (n == 3 && seg_is(seg[0], "common") && seg_is(seg[1], "discovery") &&
        seg_is(seg[2], "instance")) {
        instance_discovery(&q);
        return;
    }

    /* the tenant segment */
    int tenant_ok =
        seg_is(seg[0], c->tenant_id) || seg_is(seg[0], "common") || seg_is(seg[0], "organizations");
    const char *tseg = seg_is(seg[0], c->tenant_id) ? c->tenant_id : tenant;

    enum { R_NONE, R_DISCO1, R_DISCO2, R_KEYS, R_TOKEN1, R_TOKEN2, R_INTERACTIVE } route = R_NONE;
    if (n == 3 && seg_is(seg[1], ".well-known") && seg_is(seg[2], "openid-configuration"))
        route = R_DISCO1;
    else if (n == 4 && seg_is(seg[1], "v2.0") && seg_is(seg[2], ".well-known") &&
             seg_is(seg[3], "openid-configuration"))
        route = R_DISCO2;
    else if ((n == 3 && seg_is(seg[1], "discovery") && seg_is(seg[2], "keys")) ||
             (n == 4 && seg_is(seg[1], "discovery") && seg_is(seg[2], "v2.0") &&
              seg_is(seg[3], "keys")))
        route = R_KEYS;
    else if (n == 3 && seg_is(seg[1], "oauth2") && seg_is(seg[2], "token"))
        route = R_TOKEN1;
    else if (n == 4 && seg_is(seg[1], "oauth2") && seg_is(seg[2], "v2.0") &&
             seg_is(seg[3], "token"))
        route = R_TOKEN2;
    else if (n >= 3 && seg_is(seg[1], "oauth2"))
        route = R_INTERACTIVE;

    if (route == R_NONE) {
        aad_error(&q, 404, "invalid_request", 900561, "The requested path '%.*s' was not found.",
                  (int)(req->path.n < 300 ? req->path.n : 300), req->path.p);
        return;
    }
    if (!tenant_ok) {
        int token = route == R_TOKEN1 || route == R_TOKEN2;
        aad_error(&q, 400, token ? "invalid_request" : "invalid_tenant", 90002,
                  "Tenant '%s' not found. Check to make sure you have the correct tenant ID and "
                  "are signing into the correct cloud. Check with your subscription "
                  "administrator, this may happen if there are no active subscriptions for the "
                  "tenant.",
                  tenant);
        return;
    }
    switch (route) {
    case R_DISCO1:
    case R_DISCO2:
    case R_KEYS:
        if (!is_get) {
            aad_error(&q, 405, "invalid_request", 900561,
                      "The endpoint only accepts GET requests.");
            return;
        }
        if (route == R_KEYS)
            jwks(&q);
        else
            discovery(&q, tseg, route == R_DISCO2);
        return;
    case R_TOKEN1:
    case R_TOKEN2:
        token_endpoint(&q, tenant, route == R_TOKEN2);
        return;
    case R_INTERACTIVE:
    default:
        aad_error(&q, 400, "unsupported_response_type", 900144,
                  "sigrid's local tenant issues tokens to applications (client credentials) "
                  "and managed identities only; interactive and delegated flows are not "
                  "supported.");
        return;
    }
}

/* ---- verification for the data plane (cloud.h) ---------------------------------------- */

const char *sg_cloud_issuer(const sg_cloud *c)
{
    sg_entra *e = c ? (sg_entra *)c->entra : NULL;
    if (!e || !c->cloud_url[0])
        return NULL;
    if (sg_snprintf(e->iss, sizeof e->iss, "%s/%s/", c->cloud_url, c->tenant_id) != 0)
        return NULL;
    return e->iss;
}

uint64_t sg_cloud_signing_generation(const sg_cloud *c)
{
    const sg_entra *e = c ? (const sg_entra *)c->entra : NULL;
    return e ? e->kr.gen : 0;
}

int sg_cloud_verify_token(sg_cloud *c, const char *token, size_t len, sg_jwt *out,
                          sg_jwt_error *err)
{
    sg_entra *e = entra_of(c);
    if (out)
        memset(out, 0, sizeof *out);
    if (!e || !out || !token || !e->kr.pub)
        return SG_EINVAL;
    sg_jwt_verify_opts vo = {.algs = SG_JWT_RS256};
    int rc = sg_jwt_verify_rs(token, len, e->kr.pub, &vo, out, err);
    if (rc != SG_OK)
        return rc;
    const char *want = sg_cloud_issuer(c);
    const char *iss = json_string_value(json_object_get(out->payload, "iss"));
    if (!want || !iss || strcmp(iss, want) != 0) {
        if (err)
            snprintf(err->reason, sizeof err->reason, "issuer '%.80s' is not this tenant's '%.80s'",
                     iss ? iss : "(none)", want ? want : "(none)");
        sg_jwt_clear(out);
        return SG_EPERM;
    }
    return SG_OK;
}
