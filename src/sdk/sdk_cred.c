/* sdk_cred.c — sg_credential: the token cache and the five credentials of
 * include/sigrid/credential.h (managed identity, client secret, environment, workload
 * identity, the default chain). */
#include "sdk/sdk_internal.h"

#include "sg_alloc.h"
#include "sg_str.h"
#include "sg_time.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define CACHE_MAX 16
#define LINKS_MAX 4
#define DEFAULT_AUTHORITY "https://login.microsoftonline.com"
#define PROBE_TIMEOUT_MS 1000
#define MI_CONNECT_TIMEOUT_MS 2000
#define MAX_TOKEN_FILE (64 * 1024)

typedef enum { CK_MI = 1, CK_SECRET, CK_ENV, CK_WORKLOAD, CK_CHAIN } cred_kind;

typedef struct cache_ent {
    char *scope;
    char *token;
    int64_t expires_on, refresh_on;
} cache_ent;

struct sg_credential {
    cred_kind kind;
    const char *name;
    atomic_int refs;
    pthread_mutex_t mu;
    /* common, copied at construction */
    char *authority; /* https://host, no trailing '/' */
    char *ca_file;
    long timeout_ms;
    int max_retries;
    long retry_delay_ms;
    /* secret / workload */
    char *tenant;
    char *client_id;
    char *secret;
    char *token_file; /* workload identity (also inside MI when configured) */
    /* managed identity */
    sg__mi_source mi;
    sg__mi_id_kind mi_idk;
    char *mi_id;
    int probe;               /* DefaultAzureCredential: probe IMDS once before the first request */
    int probed;              /* under mu */
    sg_credential *exchange; /* MI: workload identity wins when configured */
    /* environment: the credential it stands for, or why it is unavailable */
    sg_credential *inner;
    char unavailable[512];
    /* chain */
    size_t nlinks;
    sg_credential *links[LINKS_MAX];
    const char *link_names[LINKS_MAX];
    char link_unavail[LINKS_MAX][512];
    int selected; /* under mu; -1 until a link answered */
    /* under mu */
    sg_credential_link report[LINKS_MAX];
    const char *answered_by;
    cache_ent cache[CACHE_MAX];
    size_t ncache;
};

static const char *const k_empty_env[] = {NULL};

/* ---- construction helpers ---------------------------------------------------------------- */

static sg_credential *cred_alloc(cred_kind k, const char *name)
{
    sg_credential *c = SG_NEW(sg_credential);
    if (!c)
        return NULL;
    c->kind = k;
    c->name = name;
    atomic_init(&c->refs, 1);
    pthread_mutex_init(&c->mu, NULL);
    c->selected = -1;
    c->nlinks = 1;
    c->report[0].name = name;
    return c;
}

/* The start of every public constructor: SG_EINVAL without `out`, else *out = NULL and *o the
 * caller's options with defaults filled in. */
static int new_begin(const sg_credential_options *in, sg_credential_options *o, sg_credential **out)
{
    if (!out)
        return SG_EINVAL;
    *out = NULL;
    sg__cred_opts_copy(in, o);
    return SG_OK;
}

static int dup_opt(char **dst, const char *v)
{
    if (!v || !*v)
        return SG_OK;
    *dst = sg_strdup(v);
    return *dst ? SG_OK : SG_ENOMEM;
}

static int common_opts(sg_credential *c, const sg_credential_options *o, sg_credential_error *err,
                       int need_authority)
{
    const char *const *env = o->environ;
    int rc = dup_opt(&c->ca_file, sg__ca_file(o->ca_file, env));
    c->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 30000;
    c->max_retries = o->max_retries == 0 ? 5 : (o->max_retries < 0 ? 0 : o->max_retries);
    if (c->max_retries > 10)
        c->max_retries = 10;
    c->retry_delay_ms = o->retry_delay_ms > 0 ? o->retry_delay_ms : 800;
    if (rc || !need_authority)
        return rc;
    const char *a = o->authority_host;
    if (!a || !*a)
        a = sg__env_get(env, "AZURE_AUTHORITY_HOST");
    if (!a)
        a = DEFAULT_AUTHORITY;
    if (strncasecmp(a, "https://", 8) != 0) {
        sg__cred_errf(err,
                      "%s: the authority host must use https (got '%.200s'): set "
                      "AZURE_AUTHORITY_HOST to an https URL.",
                      c->name, a);
        return SG_EINVAL;
    }
    size_t n = strlen(a);
    while (n > 8 && a[n - 1] == '/')
        n--;
    c->authority = sg_strndup(a, n);
    return c->authority ? SG_OK : SG_ENOMEM;
}

static int tenant_ok(const char *t)
{
    if (!t || !*t || strlen(t) > 100)
        return 0;
    for (const char *p = t; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.')
            return 0;
    return 1;
}

static void cred_destroy(sg_credential *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->ncache; i++) {
        sg_free(c->cache[i].scope);
        sg_free(c->cache[i].token);
    }
    if (c->kind == CK_CHAIN) {
        for (size_t i = 0; i < c->nlinks; i++)
            sg_credential_free(c->links[i]);
    }
    sg_credential_free(c->inner);
    sg_credential_free(c->exchange);
    sg_free(c->authority);
    sg_free(c->ca_file);
    sg_free(c->tenant);
    sg_free(c->client_id);
    sg_free(c->secret);
    sg_free(c->token_file);
    sg_free(c->mi_id);
    pthread_mutex_destroy(&c->mu);
    sg_free(c);
}

sg_credential *sg_credential_ref(sg_credential *c)
{
    if (c)
        atomic_fetch_add(&c->refs, 1);
    return c;
}

void sg_credential_free(sg_credential *c)
{
    if (c && atomic_fetch_sub(&c->refs, 1) == 1)
        cred_destroy(c);
}

const char *sg_credential_name(const sg_credential *c)
{
    return c ? c->name : NULL;
}

void sg_access_token_clear(sg_access_token *t)
{
    if (!t)
        return;
    sg_free(t->token);
    memset(t, 0, sizeof(*t));
}

const char *sg_credential_outcome_name(sg_credential_outcome o)
{
    switch (o) {
    case SG_CRED_NOT_TRIED:
        return "not tried";
    case SG_CRED_SUCCEEDED:
        return "succeeded";
    case SG_CRED_UNAVAILABLE:
        return "unavailable";
    case SG_CRED_FAILED:
        return "failed";
    }
    return "unknown";
}

size_t sg_credential_link_count(const sg_credential *c)
{
    return c ? c->nlinks : 0;
}

int sg_credential_link_get(sg_credential *c, size_t i, sg_credential_link *out)
{
    if (!c || !out || i >= c->nlinks)
        return SG_EINVAL;
    pthread_mutex_lock(&c->mu);
    *out = c->report[i];
    pthread_mutex_unlock(&c->mu);
    return SG_OK;
}

const char *sg_credential_answered_by(sg_credential *c)
{
    if (!c)
        return NULL;
    pthread_mutex_lock(&c->mu);
    const char *a = c->answered_by;
    pthread_mutex_unlock(&c->mu);
    return a;
}

static void report_set(sg_credential *c, size_t i, sg_credential_outcome o, const char *msg)
{
    pthread_mutex_lock(&c->mu);
    c->report[i].outcome = o;
    sg_snprintf(c->report[i].message, sizeof c->report[i].message, "%s", msg ? msg : "");
    pthread_mutex_unlock(&c->mu);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* ---- token responses --------------------------------------------------------------------- */

/* Parses a 200 token answer into *t. SG_EPROTO when it is not a token response. */
static int parse_token(const char *body, int64_t now, sg_access_token *t, char *why, size_t wn)
{
    json_error_t je;
    json_t *j = json_loads(body ? body : "", 0, &je);
    int rc = SG_EPROTO;
    const char *at = json_string_value(json_object_get(j, "access_token"));
    int64_t exp = 0;
    if (!json_is_object(j)) {
        sg_snprintf(why, wn, "the response was not in the expected format (not JSON)");
        goto done;
    }
    if (!at || !*at) {
        sg_snprintf(why, wn, "the response has no access_token");
        goto done;
    }
    if (sg__token_expiry(j, now, &exp) != SG_OK) {
        sg_snprintf(why, wn, "the response has no usable expires_on / expires_in");
        goto done;
    }
    t->token = sg_strdup(at);
    if (!t->token) {
        rc = SG_ENOMEM;
        goto done;
    }
    t->expires_on = exp;
    const char *tt = json_string_value(json_object_get(j, "token_type"));
    sg_snprintf(t->token_type, sizeof t->token_type, "%s", tt && strlen(tt) < 16 ? tt : "Bearer");
    rc = SG_OK;
done:
    json_decref(j);
    return rc;
}

/* ---- Entra client credentials (secret or assertion) --------------------------------------- */

static int form_add(sg_buf *b, const char *k, const char *v)
{
    int rc = sg_buf_appendf(b, "%s%s=", b->len ? "&" : "", k);
    if (rc == SG_OK)
        rc = sg_url_encode_append(b, v, strlen(v));
    return rc;
}

static int read_file(const char *path, char **out, char *why, size_t wn)
{
    sg_buf b;
    sg_buf_init(&b, MAX_TOKEN_FILE);
    int oerr;
    int rc = sg_buf_append_file(&b, path, &oerr);
    if (oerr) {
        sg_snprintf(why, wn, "cannot read '%s': %s", path, strerror(oerr));
        return SG_EIO;
    }
    if (rc == SG_OK && b.len == 0)
        rc = sg_buf_append(&b, "", 0);
    if (rc) {
        sg_snprintf(why, wn, "cannot read '%s': %s", path, sg_strerror(rc));
        sg_buf_free(&b);
        return rc;
    }
    while (b.len && isspace((unsigned char)b.data[b.len - 1]))
        b.data[--b.len] = 0;
    *out = sg_buf_steal(&b, NULL);
    return SG_OK;
}

static int entra_fetch(sg_credential *c, const char *scope, sg_access_token *t,
                       sg_credential_error *err)
{
    sg_buf form, url, sc;
    sg_buf_init(&form, 0);
    sg_buf_init(&url, 0);
    sg_buf_init(&sc, 0);
    sg__http_resp resp;
    memset(&resp, 0, sizeof resp);
    char *assertion = NULL;
    char why[512] = "";
    int rc = sg_buf_append_str(&sc, scope);
    size_t sn = strlen(scope);
    if (rc == SG_OK && !(sn > 9 && strcmp(scope + sn - 9, "/.default") == 0))
        rc = sg_buf_append_str(&sc, "/.default"); /* a resource: the v2 endpoint wants a scope */
    if (rc == SG_OK)
        rc = sg_buf_appendf(&url, "%s/%s/oauth2/v2.0/token", c->authority, c->tenant);
    if (rc == SG_OK)
        rc = form_add(&form, "client_id", c->client_id);
    if (rc == SG_OK)
        rc = form_add(&form, "scope", sc.data);
    if (rc == SG_OK)
        rc = form_add(&form, "grant_type", "client_credentials");
    if (rc == SG_OK && c->kind == CK_WORKLOAD) {
        rc = read_file(c->token_file, &assertion, why, sizeof why);
        if (rc) {
            sg__cred_errf(err, "%s: %s (AZURE_FEDERATED_TOKEN_FILE)", c->name, why);
            rc = SG_EAUTH;
            goto done;
        }
        rc = form_add(&form, "client_assertion_type",
                      "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
        if (rc == SG_OK)
            rc = form_add(&form, "client_assertion", assertion);
    } else if (rc == SG_OK) {
        rc = form_add(&form, "client_secret", c->secret);
    }
    if (rc)
        goto done;
    const char *hdrs[] = {"Content-Type: application/x-www-form-urlencoded",
                          "Accept: application/json", "x-client-SKU: libsigrid", NULL};
    sg__http_req req = {.method = "POST",
                        .url = url.data,
                        .headers = hdrs,
                        .body = form.data,
                        .body_len = form.len,
                        .ca_file = c->ca_file,
                        .timeout_ms = c->timeout_ms};
    char neterr[256];
    int64_t now = sg_unix_now();
    rc = sg__http_do(&req, &resp, neterr, sizeof neterr);
    if (rc == SG_ENOMEM)
        goto done;
    if (rc) {
        sg__cred_errf(err, "%s authentication failed: no answer from %s: %s", c->name, url.data,
                      neterr);
        rc = SG_EAUTH;
        goto done;
    }
    if (resp.status == 200) {
        rc = parse_token(resp.body.data, now, t, why, sizeof why);
        if (rc == SG_EPROTO) {
            sg__cred_errf(err, "%s authentication failed: %s (%s)", c->name, why, url.data);
            rc = SG_EAUTH;
        }
        goto done;
    }
    sg__error_text(resp.body.data, why, sizeof why);
    sg__cred_errf(err, "%s authentication failed: HTTP %ld from %s: %s", c->name, resp.status,
                  url.data, why[0] ? why : "(no body)");
    rc = SG_EAUTH;
done:
    if (assertion) {
        memset(assertion, 0, strlen(assertion));
        sg_free(assertion);
    }
    if (form.data)
        memset(form.data, 0, form.len); /* holds the secret */
    sg_buf_free(&form);
    sg_buf_free(&url);
    sg_buf_free(&sc);
    sg__http_resp_free(&resp);
    return rc;
}

/* ---- managed identity -------------------------------------------------------------------- */

static const char *idk_name(sg__mi_id_kind k)
{
    switch (k) {
    case SG_MI_CLIENT_ID:
        return "client_id";
    case SG_MI_OBJECT_ID:
        return "object_id";
    case SG_MI_RESOURCE_ID:
        return "resource_id";
    default:
        return "system-assigned";
    }
}

/* The DefaultAzureCredential probe: header-less GET, 1 s, no retries. SG_OK = IMDS answers. */
static int imds_probe(sg_credential *c, sg_credential_error *err)
{
    sg__http_resp resp;
    char neterr[256];
    const char *hdrs[] = {"Accept: application/json", NULL};
    sg__http_req req = {.method = "GET",
                        .url = c->mi.endpoint,
                        .headers = hdrs,
                        .timeout_ms = PROBE_TIMEOUT_MS,
                        .connect_timeout_ms = PROBE_TIMEOUT_MS,
                        .no_proxy = 1};
    int rc = sg__http_do(&req, &resp, neterr, sizeof neterr);
    if (rc == SG_ENOMEM)
        return rc;
    if (rc) {
        sg__cred_errf(err, "ManagedIdentityCredential: the IMDS endpoint is not available (%s: %s)",
                      c->mi.endpoint, neterr);
        return SG_ENOTFOUND;
    }
    if (sg__imds_probe_available(resp.status, resp.body.data) != SG_OK) {
        sg__cred_errf(err, "ManagedIdentityCredential: the IMDS endpoint is not available (a proxy "
                           "answered 403 'unreachable', e.g. Docker Desktop)");
        rc = SG_ENOTFOUND;
    }
    sg__http_resp_free(&resp);
    return rc;
}

static int mi_fetch(sg_credential *c, const char *scope, sg_access_token *t,
                    sg_credential_error *err)
{
    char resource[1024];
    if (sg__scope_to_resource(scope, resource, sizeof resource) != SG_OK) {
        sg__cred_errf(err, "ManagedIdentityCredential: one scope is required (got '%.200s')",
                      scope);
        return SG_EINVAL;
    }
    if (c->mi.kind == SG_MI_SERVICE_FABRIC || c->mi.kind == SG_MI_ARC) {
        sg__cred_errf(err,
                      "ManagedIdentityCredential: the %s managed identity source is not "
                      "supported by libsigrid",
                      sg__mi_kind_name(c->mi.kind));
        return SG_ENOTFOUND;
    }
    if (c->mi.kind == SG_MI_CLOUD_SHELL && c->mi_idk != SG_MI_SYSTEM) {
        sg__cred_errf(err, "ManagedIdentityCredential: Cloud Shell supports only the "
                           "system-assigned identity");
        return SG_ENOTFOUND;
    }
    if (c->probe) {
        pthread_mutex_lock(&c->mu);
        int probed = c->probed;
        pthread_mutex_unlock(&c->mu);
        if (!probed) {
            int prc = imds_probe(c, err);
            if (prc)
                return prc;
            pthread_mutex_lock(&c->mu);
            c->probed = 1;
            pthread_mutex_unlock(&c->mu);
        }
    }
    sg_buf url, body;
    sg_buf_init(&url, 0);
    sg_buf_init(&body, 0);
    char secret_hdr[600] = "";
    const char *hdrs[5] = {0};
    size_t nh = 0;
    const char *method = "GET";
    int rc = sg__mi_request_url(&c->mi, resource, c->mi_idk, c->mi_id, k_empty_env, &url);
    if (rc)
        goto done;
    switch (c->mi.kind) {
    case SG_MI_APP_SERVICE:
        sg_snprintf(secret_hdr, sizeof secret_hdr, "X-IDENTITY-HEADER: %s", c->mi.secret);
        hdrs[nh++] = secret_hdr;
        break;
    case SG_MI_MACHINE_LEARNING:
        sg_snprintf(secret_hdr, sizeof secret_hdr, "secret: %s", c->mi.secret);
        hdrs[nh++] = secret_hdr;
        hdrs[nh++] = "Metadata: true";
        break;
    case SG_MI_CLOUD_SHELL:
        method = "POST";
        hdrs[nh++] = "Metadata: true";
        hdrs[nh++] = "Content-Type: application/x-www-form-urlencoded";
        rc = sg_buf_append_str(&body, "resource=");
        if (rc == SG_OK)
            rc = sg_url_encode_append(&body, resource, strlen(resource));
        if (rc)
            goto done;
        break;
    default:
        hdrs[nh++] = "Metadata: true";
        break;
    }
    hdrs[nh++] = "Accept: application/json";
    sg__http_req req = {.method = method,
                        .url = url.data,
                        .headers = hdrs,
                        .body = body.data,
                        .body_len = body.len,
                        .timeout_ms = c->timeout_ms,
                        .connect_timeout_ms = MI_CONNECT_TIMEOUT_MS,
                        .no_proxy = 1};
    int net_retries = 0;
    char why[600];
    for (int attempt = 0;; attempt++) {
        sg__http_resp resp;
        char neterr[256];
        int64_t now = sg_unix_now();
        rc = sg__http_do(&req, &resp, neterr, sizeof neterr);
        if (rc == SG_ENOMEM)
            goto done;
        if (rc) {
            if (net_retries < 1 && attempt < c->max_retries) {
                net_retries++;
                sleep_ms(sg__mi_retry_delay(500, attempt, c->retry_delay_ms, 0, 20));
                continue;
            }
            sg__cred_errf(err, "ManagedIdentityCredential: no answer from the %s endpoint %s: %s",
                          sg__mi_kind_name(c->mi.kind), c->mi.endpoint, neterr);
            rc = SG_ENOTFOUND;
            goto done;
        }
        long st = resp.status;
        if (st == 200) {
            rc = parse_token(resp.body.data, now, t, why, sizeof why);
            sg__http_resp_free(&resp);
            if (rc == SG_EPROTO) {
                sg__cred_errf(err, "ManagedIdentityCredential: %s (%s)", why, c->mi.endpoint);
                rc = SG_ENOTFOUND; /* like the SDKs: unavailable, the chain moves on */
            }
            goto done;
        }
        sg__error_text(resp.body.data, why, sizeof why);
        int docker = st == 403 && strstr(resp.body.data, "unreachable");
        long ra = sg__retry_after(resp.headers.data);
        sg__http_resp_free(&resp);
        if (sg__mi_retryable(st) && attempt < c->max_retries) {
            sleep_ms(sg__mi_retry_delay(st, attempt, c->retry_delay_ms, ra, 20));
            continue;
        }
        if (st == 400 || docker) {
            sg__cred_errf(err, "ManagedIdentityCredential: %s (HTTP %ld from %s, %s%s%s)",
                          why[0] ? why : "identity unavailable", st, c->mi.endpoint,
                          idk_name(c->mi_idk), c->mi_id ? " " : "", c->mi_id ? c->mi_id : "");
            rc = SG_ENOTFOUND;
        } else {
            sg__cred_errf(err,
                          "ManagedIdentityCredential authentication failed: HTTP %ld from %s%s: %s",
                          st, c->mi.endpoint, sg__mi_retryable(st) ? " (retries exhausted)" : "",
                          why[0] ? why : "(no body)");
            rc = SG_EAUTH;
        }
        goto done;
    }
done:
    if (rc == SG_OK) {
        char m[900];
        sg_snprintf(m, sizeof m, "%s endpoint %s (%s%s%s)", sg__mi_kind_name(c->mi.kind),
                    c->mi.endpoint, idk_name(c->mi_idk), c->mi_id ? " " : "",
                    c->mi_id ? c->mi_id : "");
        report_set(c, 0, SG_CRED_SUCCEEDED, m);
    }
    sg_buf_free(&url);
    sg_buf_free(&body);
    return rc;
}

/* ---- get_token: the cache ------------------------------------------------------------------ */

static int fetch(sg_credential *c, const char *scope, sg_access_token *t, sg_credential_error *err)
{
    switch (c->kind) {
    case CK_MI:
        if (c->exchange) {
            int rc = sg_credential_get_token(c->exchange, scope, t, err);
            if (rc == SG_OK)
                report_set(c, 0, SG_CRED_SUCCEEDED, "workload identity (token exchange)");
            return rc;
        }
        return mi_fetch(c, scope, t, err);
    case CK_SECRET:
    case CK_WORKLOAD: {
        int rc = entra_fetch(c, scope, t, err);
        if (rc == SG_OK) {
            char m[700];
            sg_snprintf(m, sizeof m, "tenant %s, client id %s, authority %s", c->tenant,
                        c->client_id, c->authority);
            report_set(c, 0, SG_CRED_SUCCEEDED, m);
        }
        return rc;
    }
    default:
        return SG_EINVAL;
    }
}

static int cache_find(sg_credential *c, const char *scope)
{
    for (size_t i = 0; i < c->ncache; i++)
        if (strcmp(c->cache[i].scope, scope) == 0)
            return (int)i;
    return -1;
}

static int tok_copy(sg_access_token *t, const cache_ent *e)
{
    t->token = sg_strdup(e->token);
    if (!t->token)
        return SG_ENOMEM;
    t->expires_on = e->expires_on;
    t->refresh_on = e->refresh_on;
    sg_snprintf(t->token_type, sizeof t->token_type, "Bearer");
    return SG_OK;
}

static void cache_store(sg_credential *c, const char *scope, const sg_access_token *t)
{
    int i = cache_find(c, scope);
    char *tok = sg_strdup(t->token);
    if (!tok)
        return; /* the cache is an optimisation */
    if (i < 0) {
        char *sc = sg_strdup(scope);
        if (!sc) {
            sg_free(tok);
            return;
        }
        if (c->ncache == CACHE_MAX) { /* evict the entry expiring first */
            size_t v = 0;
            for (size_t k = 1; k < c->ncache; k++)
                if (c->cache[k].expires_on < c->cache[v].expires_on)
                    v = k;
            sg_free(c->cache[v].scope);
            sg_free(c->cache[v].token);
            c->cache[v] = c->cache[--c->ncache];
        }
        i = (int)c->ncache++;
        c->cache[i].scope = sc;
        c->cache[i].token = NULL;
    }
    sg_free(c->cache[i].token);
    c->cache[i].token = tok;
    c->cache[i].expires_on = t->expires_on;
    c->cache[i].refresh_on = t->refresh_on;
}

static int chain_get(sg_credential *c, const char *scope, sg_access_token *t,
                     sg_credential_error *err);

int sg_credential_get_token(sg_credential *c, const char *scope, sg_access_token *t,
                            sg_credential_error *err)
{
    if (err)
        err->message[0] = 0;
    if (!t)
        return SG_EINVAL;
    memset(t, 0, sizeof(*t));
    if (!c || !scope || !*scope || strchr(scope, ' ')) {
        sg__cred_errf(err, "exactly one scope is required");
        return SG_EINVAL;
    }
    if (c->kind == CK_CHAIN)
        return chain_get(c, scope, t, err);
    if (c->kind == CK_ENV) {
        if (!c->inner) {
            sg__cred_errf(err, "%s", c->unavailable);
            report_set(c, 0, SG_CRED_UNAVAILABLE, c->unavailable);
            return SG_ENOTFOUND;
        }
        int rc = sg_credential_get_token(c->inner, scope, t, err);
        sg_credential_link l;
        sg_credential_link_get(c->inner, 0, &l);
        report_set(c, 0, l.outcome, l.message);
        if (rc == SG_OK) {
            pthread_mutex_lock(&c->mu);
            c->answered_by = c->name;
            pthread_mutex_unlock(&c->mu);
        }
        return rc;
    }
    int64_t now = sg_unix_now();
    sg_access_token stale = {0};
    pthread_mutex_lock(&c->mu);
    int i = cache_find(c, scope);
    int rc = SG_EAGAIN;
    if (i >= 0 && now < c->cache[i].refresh_on)
        rc = tok_copy(t, &c->cache[i]);
    else if (i >= 0 && now < c->cache[i].expires_on - 300 && tok_copy(&stale, &c->cache[i]))
        sg_access_token_clear(&stale);
    if (rc == SG_OK)
        c->answered_by = c->name;
    pthread_mutex_unlock(&c->mu);
    if (rc != SG_EAGAIN)
        return rc;
    rc = fetch(c, scope, t, err);
    if (rc == SG_OK) {
        t->refresh_on = sg__refresh_on(now, t->expires_on);
        pthread_mutex_lock(&c->mu);
        cache_store(c, scope, t);
        c->answered_by = c->name;
        pthread_mutex_unlock(&c->mu);
        sg_access_token_clear(&stale);
        return SG_OK;
    }
    if (stale.token && rc != SG_ENOMEM) { /* refresh failed: the old token still has > 5 min */
        *t = stale;
        return SG_OK;
    }
    sg_access_token_clear(&stale);
    report_set(c, 0, rc == SG_ENOTFOUND ? SG_CRED_UNAVAILABLE : SG_CRED_FAILED,
               err ? err->message : sg_strerror(rc));
    return rc;
}

/* ---- constructors -------------------------------------------------------------------------- */

static int finish(sg_credential *c, int rc, sg_credential **out)
{
    if (rc) {
        cred_destroy(c);
        return rc;
    }
    *out = c;
    return SG_OK;
}

static int mi_setup(sg_credential *c, const sg_credential_options *o, sg_credential_error *err)
{
    int n = (o->managed_identity_client_id && *o->managed_identity_client_id) +
            (o->managed_identity_object_id && *o->managed_identity_object_id) +
            (o->managed_identity_resource_id && *o->managed_identity_resource_id);
    if (n > 1) {
        sg__cred_errf(err, "ManagedIdentityCredential: only one of client id, object id and "
                           "resource id can be given");
        return SG_EINVAL;
    }
    int rc = common_opts(c, o, err, 0);
    if (rc == SG_OK)
        rc = sg__mi_detect(o->environ, &c->mi);
    if (rc == SG_EINVAL)
        sg__cred_errf(err, "ManagedIdentityCredential: an identity endpoint variable is too long");
    if (rc)
        return rc;
    if (o->managed_identity_resource_id && *o->managed_identity_resource_id) {
        c->mi_idk = SG_MI_RESOURCE_ID;
        rc = dup_opt(&c->mi_id, o->managed_identity_resource_id);
    } else if (o->managed_identity_object_id && *o->managed_identity_object_id) {
        c->mi_idk = SG_MI_OBJECT_ID;
        rc = dup_opt(&c->mi_id, o->managed_identity_object_id);
    } else if (o->managed_identity_client_id && *o->managed_identity_client_id) {
        c->mi_idk = SG_MI_CLIENT_ID;
        rc = dup_opt(&c->mi_id, o->managed_identity_client_id);
    } else if (c->mi.kind == SG_MI_MACHINE_LEARNING) {
        const char *d = sg__env_get(o->environ, "DEFAULT_IDENTITY_CLIENT_ID");
        if (d) {
            c->mi_idk = SG_MI_CLIENT_ID;
            rc = dup_opt(&c->mi_id, d);
        }
    }
    if (rc)
        return rc;
    if ((c->mi_idk == SG_MI_OBJECT_ID || c->mi_idk == SG_MI_RESOURCE_ID) &&
        c->mi.kind == SG_MI_MACHINE_LEARNING) {
        sg__cred_errf(err, "ManagedIdentityCredential: Machine Learning accepts only a client id");
        return SG_EINVAL;
    }
    /* workload identity (token exchange) wins when fully configured, as in the SDKs */
    const char *tf = sg__env_get(o->environ, "AZURE_FEDERATED_TOKEN_FILE");
    const char *tid = sg__env_get(o->environ, "AZURE_TENANT_ID");
    const char *cid =
        c->mi_idk == SG_MI_CLIENT_ID ? c->mi_id : sg__env_get(o->environ, "AZURE_CLIENT_ID");
    if (tf && tid && cid && c->mi_idk != SG_MI_OBJECT_ID && c->mi_idk != SG_MI_RESOURCE_ID) {
        sg_credential_options wo = *o;
        wo.managed_identity_client_id = cid;
        sg_credential_error e2;
        if (sg_workload_identity_credential_new(&wo, &c->exchange, &e2) != SG_OK)
            c->exchange = NULL; /* fall back to the endpoint */
    }
    return SG_OK;
}

int sg_managed_identity_credential_new(const sg_credential_options *in, sg_credential **out,
                                       sg_credential_error *err)
{
    sg_credential_options o;
    if (new_begin(in, &o, out) != SG_OK)
        return SG_EINVAL;
    sg_credential *c = cred_alloc(CK_MI, "ManagedIdentityCredential");
    if (!c)
        return SG_ENOMEM;
    return finish(c, mi_setup(c, &o, err), out);
}

static int secret_setup(sg_credential *c, const char *tenant, const char *client_id,
                        const char *secret, const sg_credential_options *o,
                        sg_credential_error *err)
{
    if (!tenant_ok(tenant)) {
        sg__cred_errf(err, "%s: invalid tenant id '%.100s' (letters, digits, '-' and '.')", c->name,
                      tenant ? tenant : "");
        return SG_EINVAL;
    }
    if (!client_id || !*client_id || (c->kind == CK_SECRET && (!secret || !*secret))) {
        sg__cred_errf(err, "%s: a client id and a client secret are required", c->name);
        return SG_EINVAL;
    }
    int rc = common_opts(c, o, err, 1);
    if (rc == SG_OK)
        rc = dup_opt(&c->tenant, tenant);
    if (rc == SG_OK)
        rc = dup_opt(&c->client_id, client_id);
    if (rc == SG_OK && secret)
        rc = dup_opt(&c->secret, secret);
    return rc;
}

int sg_client_secret_credential_new(const char *tenant_id, const char *client_id,
                                    const char *client_secret, const sg_credential_options *in,
                                    sg_credential **out, sg_credential_error *err)
{
    sg_credential_options o;
    if (new_begin(in, &o, out) != SG_OK)
        return SG_EINVAL;
    sg_credential *c = cred_alloc(CK_SECRET, "ClientSecretCredential");
    if (!c)
        return SG_ENOMEM;
    return finish(c, secret_setup(c, tenant_id, client_id, client_secret, &o, err), out);
}

int sg_workload_identity_credential_new(const sg_credential_options *in, sg_credential **out,
                                        sg_credential_error *err)
{
    sg_credential_options o;
    if (new_begin(in, &o, out) != SG_OK)
        return SG_EINVAL;
    const char *tf = sg__env_get(o.environ, "AZURE_FEDERATED_TOKEN_FILE");
    const char *tid =
        o.tenant_id && *o.tenant_id ? o.tenant_id : sg__env_get(o.environ, "AZURE_TENANT_ID");
    const char *cid = o.managed_identity_client_id && *o.managed_identity_client_id
                          ? o.managed_identity_client_id
                          : sg__env_get(o.environ, "AZURE_CLIENT_ID");
    sg_credential *c = cred_alloc(CK_WORKLOAD, "WorkloadIdentityCredential");
    if (!c)
        return SG_ENOMEM;
    if (!tf || !tid || !cid) {
        sg__cred_errf(err,
                      "WorkloadIdentityCredential is unavailable: set AZURE_FEDERATED_TOKEN_FILE, "
                      "AZURE_TENANT_ID and AZURE_CLIENT_ID");
        cred_destroy(c);
        return SG_ENOTFOUND;
    }
    int rc = secret_setup(c, tid, cid, NULL, &o, err);
    if (rc == SG_OK)
        rc = dup_opt(&c->token_file, tf);
    return finish(c, rc, out);
}

int sg_environment_credential_new(const sg_credential_options *in, sg_credential **out,
                                  sg_credential_error *err)
{
    sg_credential_options o;
    if (new_begin(in, &o, out) != SG_OK)
        return SG_EINVAL;
    sg_credential *c = cred_alloc(CK_ENV, "EnvironmentCredential");
    if (!c)
        return SG_ENOMEM;
    const char *const *env = o.environ;
    const char *tid =
        o.tenant_id && *o.tenant_id ? o.tenant_id : sg__env_get(env, "AZURE_TENANT_ID");
    const char *cid = sg__env_get(env, "AZURE_CLIENT_ID");
    const char *sec = sg__env_get(env, "AZURE_CLIENT_SECRET");
    if (tid && cid && sec) {
        sg_credential_error e2 = {0};
        int rc = sg_client_secret_credential_new(tid, cid, sec, &o, &c->inner, &e2);
        if (rc == SG_ENOMEM)
            return finish(c, rc, out);
        if (rc)
            sg_snprintf(c->unavailable, sizeof c->unavailable,
                        "EnvironmentCredential is unavailable: %s", e2.message);
    } else if (tid && cid && sg__env_get(env, "AZURE_CLIENT_CERTIFICATE_PATH")) {
        sg_snprintf(c->unavailable, sizeof c->unavailable,
                    "EnvironmentCredential is unavailable: certificate authentication "
                    "(AZURE_CLIENT_CERTIFICATE_PATH) is not supported by libsigrid");
    } else if (tid && cid && sg__env_get(env, "AZURE_USERNAME")) {
        sg_snprintf(c->unavailable, sizeof c->unavailable,
                    "EnvironmentCredential is unavailable: username/password authentication is "
                    "not supported by libsigrid");
    } else {
        sg_snprintf(c->unavailable, sizeof c->unavailable,
                    "EnvironmentCredential is unavailable. Environment variables are not fully "
                    "configured: missing%s%s%s",
                    tid ? "" : " AZURE_TENANT_ID", cid ? "" : " AZURE_CLIENT_ID",
                    sec ? "" : " AZURE_CLIENT_SECRET");
    }
    (void)err;
    return finish(c, SG_OK, out);
}

/* ---- DefaultAzureCredential ------------------------------------------------------------------ */

enum { L_ENV = 0, L_WI, L_MI, L_CLI };

static const char *const link_name[] = {"EnvironmentCredential", "WorkloadIdentityCredential",
                                        "ManagedIdentityCredential", "AzureCliCredential"};

int sg_default_azure_credential_new(const sg_credential_options *in, sg_credential **out,
                                    sg_credential_error *err)
{
    sg_credential_options o;
    if (new_begin(in, &o, out) != SG_OK)
        return SG_EINVAL;
    unsigned use = 0xF & ~o.exclude;
    int probe = !o.disable_imds_probe;
    const char *tc = sg__env_get(o.environ, "AZURE_TOKEN_CREDENTIALS");
    if (tc) {
        char v[64];
        size_t n = 0;
        while (*tc == ' ')
            tc++;
        for (; *tc && n < sizeof v - 1; tc++)
            v[n++] = (char)tolower((unsigned char)*tc);
        while (n && v[n - 1] == ' ')
            n--;
        v[n] = 0;
        unsigned only = 0;
        if (strcmp(v, "prod") == 0)
            only = 1u << L_ENV | 1u << L_WI | 1u << L_MI;
        else if (strcmp(v, "dev") == 0)
            only = 1u << L_CLI;
        else if (strcmp(v, "environmentcredential") == 0)
            only = 1u << L_ENV;
        else if (strcmp(v, "workloadidentitycredential") == 0)
            only = 1u << L_WI;
        else if (strcmp(v, "managedidentitycredential") == 0) {
            only = 1u << L_MI;
            probe = 0;
        } else if (strcmp(v, "azureclicredential") == 0)
            only = 1u << L_CLI;
        else {
            sg__cred_errf(err, "Invalid value for AZURE_TOKEN_CREDENTIALS = %s", v);
            return SG_EINVAL;
        }
        use &= only;
    }
    sg_credential *c = cred_alloc(CK_CHAIN, "DefaultAzureCredential");
    if (!c)
        return SG_ENOMEM;
    c->nlinks = 0;
    int rc = SG_OK;
    for (int l = L_ENV; l <= L_CLI && rc == SG_OK; l++) {
        if (!(use & (1u << l)))
            continue;
        size_t i = c->nlinks++;
        c->link_names[i] = link_name[l];
        c->report[i].name = link_name[l];
        sg_credential_error e2 = {0};
        int lrc = SG_OK;
        if (l == L_ENV) {
            lrc = sg_environment_credential_new(&o, &c->links[i], &e2);
        } else if (l == L_WI) {
            lrc = sg_workload_identity_credential_new(&o, &c->links[i], &e2);
        } else if (l == L_MI) {
            sg_credential_options mo = o;
            if (!mo.managed_identity_object_id && !mo.managed_identity_resource_id &&
                !mo.managed_identity_client_id)
                mo.managed_identity_client_id = sg__env_get(o.environ, "AZURE_CLIENT_ID");
            lrc = sg_managed_identity_credential_new(&mo, &c->links[i], &e2);
            if (lrc == SG_OK && probe && c->links[i]->mi.kind == SG_MI_IMDS &&
                !c->links[i]->mi.imds_overridden)
                c->links[i]->probe = 1;
        } else {
            sg_snprintf(e2.message, sizeof e2.message,
                        "AzureCliCredential is unavailable: libsigrid does not run the Azure CLI "
                        "(use `az account get-access-token`, or set AZURE_TENANT_ID, "
                        "AZURE_CLIENT_ID and AZURE_CLIENT_SECRET)");
            lrc = SG_ENOTFOUND;
        }
        if (lrc == SG_ENOMEM)
            rc = lrc;
        else if (lrc)
            sg_snprintf(c->link_unavail[i], sizeof c->link_unavail[i], "%s", e2.message);
    }
    return finish(c, rc, out);
}

static int chain_get(sg_credential *c, const char *scope, sg_access_token *t,
                     sg_credential_error *err)
{
    pthread_mutex_lock(&c->mu);
    int sel = c->selected;
    pthread_mutex_unlock(&c->mu);
    sg_credential_error e2;
    if (sel >= 0) { /* like .NET: the first credential that answered is used from then on */
        int rc = sg_credential_get_token(c->links[sel], scope, t, &e2);
        sg_credential_link l;
        sg_credential_link_get(c->links[sel], 0, &l);
        report_set(c, (size_t)sel, l.outcome, l.message);
        if (rc)
            sg__cred_errf(err, "DefaultAzureCredential: %s", e2.message);
        return rc;
    }
    sg_buf agg;
    sg_buf_init(&agg, 8192);
    for (size_t i = 0; i < c->nlinks; i++)
        report_set(c, i, SG_CRED_NOT_TRIED, "");
    int rc = SG_ENOTFOUND;
    for (size_t i = 0; i < c->nlinks; i++) {
        if (!c->links[i]) {
            report_set(c, i, SG_CRED_UNAVAILABLE, c->link_unavail[i]);
            sg_buf_appendf(&agg, "\n  %s", c->link_unavail[i]);
            continue;
        }
        e2.message[0] = 0;
        int lrc = sg_credential_get_token(c->links[i], scope, t, &e2);
        sg_credential_link l;
        sg_credential_link_get(c->links[i], 0, &l);
        if (lrc == SG_OK) {
            report_set(c, i, SG_CRED_SUCCEEDED, l.message);
            pthread_mutex_lock(&c->mu);
            c->selected = (int)i;
            c->answered_by = c->link_names[i];
            pthread_mutex_unlock(&c->mu);
            rc = SG_OK;
            break;
        }
        if (lrc == SG_ENOMEM || lrc == SG_EINVAL) {
            sg__cred_errf(err, "DefaultAzureCredential: %s", e2.message);
            rc = lrc;
            break;
        }
        /* managed identity never stops the chain (JS); others stop on authentication failure */
        if (lrc == SG_ENOTFOUND || c->links[i]->kind == CK_MI) {
            report_set(c, i, SG_CRED_UNAVAILABLE, e2.message);
            sg_buf_appendf(&agg, "\n  %s", e2.message);
            continue;
        }
        report_set(c, i, SG_CRED_FAILED, e2.message);
        sg__cred_errf(err,
                      "DefaultAzureCredential: %s (the chain stops at a configured credential that "
                      "fails, as in the Azure SDKs)",
                      e2.message);
        rc = SG_EAUTH;
        break;
    }
    if (rc == SG_ENOTFOUND)
        sg__cred_errf(err,
                      "DefaultAzureCredential failed to retrieve a token from the included "
                      "credentials.%s",
                      agg.data ? agg.data : "");
    sg_buf_free(&agg);
    return rc;
}
