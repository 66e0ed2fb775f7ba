/* sdk_signalr.c — sg_service_endpoint: connection strings / settings → endpoint + credential,
 * REST sends, negotiate, tokens (access-key HS256 or Entra + temporary keys). See
 * include/sigrid/signalr.h. */
#include "sdk/sdk_internal.h"

#include "proto/connstr.h"
#include "proto/jwt.h"
#include "sg_alloc.h"
#include "sg_id.h"
#include "sg_str.h"
#include "sg_time.h"

#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>

#define ENTRA_SCOPE "https://signalr.azure.com/.default"
#define TEMP_KEY_REFRESH_S (55 * 60)
#define REST_API_VERSION "2022-06-01"

struct sg_service_endpoint {
    sg_connstr cs;
    sg_credential *cred; /* NULL: access key */
    char *ca_file;
    long timeout_ms;
    char server_id[48];
    pthread_mutex_t mu;
    char *temp_kid; /* under mu */
    char *temp_key;
    int64_t temp_at;
};

/* ---- construction ------------------------------------------------------------------------ */

static void ep_destroy(sg_service_endpoint *ep)
{
    if (!ep)
        return;
    sg_connstr_free(&ep->cs);
    sg_credential_free(ep->cred);
    sg_free(ep->ca_file);
    sg_free(ep->temp_kid);
    if (ep->temp_key) {
        memset(ep->temp_key, 0, strlen(ep->temp_key));
        sg_free(ep->temp_key);
    }
    pthread_mutex_destroy(&ep->mu);
    sg_free(ep);
}

void sg_service_endpoint_free(sg_service_endpoint *ep)
{
    ep_destroy(ep);
}

static void opts_copy(const sg_endpoint_options *in, sg_endpoint_options *o)
{
    sg__opts_copy(o, sizeof(*o), in, in ? in->size : 0);
    if (in)
        o->size = sizeof(*o);
}

static int ep_alloc(const sg_endpoint_options *o, sg_service_endpoint **out)
{
    sg_service_endpoint *ep = SG_NEW(sg_service_endpoint);
    if (!ep)
        return SG_ENOMEM;
    pthread_mutex_init(&ep->mu, NULL);
    ep->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 30000;
    const char *ca = sg__ca_file(o->ca_file, o->environ);
    if (!ca && o->credential && o->credential->ca_file)
        ca = o->credential->ca_file;
    if (ca && !(ep->ca_file = sg_strdup(ca))) {
        ep_destroy(ep);
        return SG_ENOMEM;
    }
    char uuid[37];
    if (sg_uuid4(uuid) == SG_OK)
        sg_snprintf(ep->server_id, sizeof ep->server_id, "libsigrid_%.8s", uuid);
    *out = ep;
    return SG_OK;
}

/* The endpoint's credential options, defaults filled in; without an environment of their own
 * they read the endpoint's. */
static void cred_opts_for(const sg_endpoint_options *o, sg_credential_options *co)
{
    sg__cred_opts_copy(o->credential, co);
    if (!co->environ)
        co->environ = o->environ;
}

static int cred_from_connstr(const sg_connstr *cs, const sg_endpoint_options *o,
                             sg_credential **cred, char *msg, size_t msglen)
{
    sg_credential_options co;
    cred_opts_for(o, &co);
    sg_credential_error e = {0};
    int rc = SG_OK;
    *cred = NULL;
    switch (cs->cred) {
    case SG_CRED_ACCESS_KEY:
        return SG_OK;
    case SG_CRED_DEFAULT:
        rc = sg_default_azure_credential_new(&co, cred, &e);
        break;
    case SG_CRED_MI_SYSTEM:
        co.managed_identity_client_id = co.managed_identity_object_id =
            co.managed_identity_resource_id = NULL;
        rc = sg_managed_identity_credential_new(&co, cred, &e);
        break;
    case SG_CRED_MI_USER:
        co.managed_identity_client_id = cs->client_id;
        co.managed_identity_object_id = co.managed_identity_resource_id = NULL;
        rc = sg_managed_identity_credential_new(&co, cred, &e);
        break;
    case SG_CRED_APP_SECRET:
        rc = sg_client_secret_credential_new(cs->tenant_id, cs->client_id, cs->client_secret, &co,
                                             cred, &e);
        break;
    case SG_CRED_APP_CERT:
        sg_snprintf(msg, msglen,
                    "ClientCert (certificate credentials) is not supported by libsigrid");
        return SG_EUNSUPPORTED;
    }
    if (rc && msg && msglen)
        sg_snprintf(msg, msglen, "%s", e.message);
    return rc;
}

int sg_service_endpoint_from_connection_string(const char *cs, const sg_endpoint_options *in,
                                               sg_service_endpoint **out, char *msg, size_t msglen)
{
    if (msg && msglen)
        msg[0] = 0;
    if (!out || !cs)
        return SG_EINVAL;
    *out = NULL;
    sg_endpoint_options o;
    opts_copy(in, &o);
    sg_service_endpoint *ep = NULL;
    int rc = ep_alloc(&o, &ep);
    if (rc)
        return rc;
    rc = sg_connstr_parse(cs, &ep->cs, msg, msglen);
    if (rc == SG_OK)
        rc = cred_from_connstr(&ep->cs, &o, &ep->cred, msg, msglen);
    if (rc) {
        ep_destroy(ep);
        return rc;
    }
    *out = ep;
    return SG_OK;
}

int sg_service_endpoint_new(const char *url, sg_credential *cred, const sg_endpoint_options *in,
                            sg_service_endpoint **out, char *msg, size_t msglen)
{
    if (msg && msglen)
        msg[0] = 0;
    if (!out || !url || !cred)
        return SG_EINVAL;
    *out = NULL;
    if (strchr(url, ';')) {
        sg_snprintf(msg, msglen, "the endpoint URL cannot contain ';'");
        return SG_EINVAL;
    }
    sg_endpoint_options o;
    opts_copy(in, &o);
    sg_service_endpoint *ep = NULL;
    int rc = ep_alloc(&o, &ep);
    if (rc)
        return rc;
    sg_buf b;
    sg_buf_init(&b, 0);
    rc = sg_buf_appendf(&b, "Endpoint=%s;AuthType=azure;Version=1.0;", url);
    if (rc == SG_OK)
        rc = sg_connstr_parse(b.data, &ep->cs, msg, msglen);
    sg_buf_free(&b);
    if (rc) {
        ep_destroy(ep);
        return rc;
    }
    ep->cred = sg_credential_ref(cred);
    *out = ep;
    return SG_OK;
}

/* Settings → credential, ClientFactory.CreateCredential order (reference §6b). */
static int cred_from_settings(const sg__settings *s, const sg_endpoint_options *o,
                              sg_credential **cred, char *msg, size_t msglen)
{
    sg_credential_options co;
    cred_opts_for(o, &co);
    sg_credential_error e = {0};
    int rc;
    const char *cr = s->credential;
    if (cr && strcasecmp(cr, "managedidentity") == 0) {
        int n = !!s->mi_resource_id + !!s->mi_object_id + !!(s->mi_client_id || s->client_id);
        if (n > 1) {
            sg_snprintf(msg, msglen,
                        "only one of managedIdentityResourceId, "
                        "managedIdentityObjectId and managedIdentityClientId/clientId "
                        "can be set");
            return SG_EINVAL;
        }
        co.managed_identity_resource_id = s->mi_resource_id;
        co.managed_identity_object_id = s->mi_object_id;
        co.managed_identity_client_id = s->mi_client_id ? s->mi_client_id : s->client_id;
        rc = sg_managed_identity_credential_new(&co, cred, &e);
    } else if (cr && strcasecmp(cr, "workloadidentity") == 0) {
        const char *envv[4] = {0};
        char b[3][1100];
        size_t n = 0;
        const char *tf = s->token_file_path ? s->token_file_path
                                            : sg__env_get(co.environ, "AZURE_FEDERATED_TOKEN_FILE");
        const char *tid = s->tenant_id ? s->tenant_id : sg__env_get(co.environ, "AZURE_TENANT_ID");
        const char *cid = s->client_id ? s->client_id : sg__env_get(co.environ, "AZURE_CLIENT_ID");
        if (tf && sg_snprintf(b[n], sizeof b[n], "AZURE_FEDERATED_TOKEN_FILE=%s", tf) == 0)
            envv[n] = b[n], n++;
        if (tid && sg_snprintf(b[n], sizeof b[n], "AZURE_TENANT_ID=%s", tid) == 0)
            envv[n] = b[n], n++;
        if (cid && sg_snprintf(b[n], sizeof b[n], "AZURE_CLIENT_ID=%s", cid) == 0)
            envv[n] = b[n], n++;
        if (!co.authority_host)
            co.authority_host = sg__env_get(co.environ, "AZURE_AUTHORITY_HOST");
        if (!co.ca_file)
            co.ca_file = sg__env_get(co.environ, "SSL_CERT_FILE");
        co.environ = envv;
        rc = sg_workload_identity_credential_new(&co, cred, &e);
    } else if (cr) {
        sg_snprintf(msg, msglen,
                    "credential '%s' is not supported by libsigrid (use "
                    "managedidentity, workloadidentity, or clientSecret settings)",
                    cr);
        return SG_EUNSUPPORTED;
    } else if (s->tenant_id && s->client_id && s->client_secret) {
        rc = sg_client_secret_credential_new(s->tenant_id, s->client_id, s->client_secret, &co,
                                             cred, &e);
    } else if (s->mi_object_id) {
        sg_snprintf(msg, msglen, "managedIdentityObjectId needs credential=managedidentity");
        return SG_EINVAL;
    } else {
        /* DefaultAzureCredential, with whatever was given mapped onto it */
        if (s->tenant_id)
            co.tenant_id = s->tenant_id;
        if (s->mi_resource_id)
            co.managed_identity_resource_id = s->mi_resource_id;
        else if (s->mi_client_id || s->client_id)
            co.managed_identity_client_id = s->mi_client_id ? s->mi_client_id : s->client_id;
        rc = sg_default_azure_credential_new(&co, cred, &e);
    }
    if (rc && msg && msglen)
        sg_snprintf(msg, msglen, "%s", e.message);
    return rc;
}

int sg_service_endpoint_from_settings(const sg_endpoint_options *in, sg_service_endpoint **out,
                                      char *msg, size_t msglen)
{
    if (msg && msglen)
        msg[0] = 0;
    if (!out)
        return SG_EINVAL;
    *out = NULL;
    sg_endpoint_options o;
    opts_copy(in, &o);
    sg__settings s;
    int rc = sg__settings_read(o.prefix, o.settings_file, o.environ, &s, msg, msglen);
    if (rc)
        return rc;
    if (s.connection_string) {
        rc = sg_service_endpoint_from_connection_string(s.connection_string, &o, out, msg, msglen);
    } else {
        sg_credential *cred = NULL;
        rc = cred_from_settings(&s, &o, &cred, msg, msglen);
        if (rc == SG_OK)
            rc = sg_service_endpoint_new(s.service_uri, cred, &o, out, msg, msglen);
        sg_credential_free(cred);
    }
    sg__settings_free(&s);
    return rc;
}

const char *sg_service_endpoint_url(const sg_service_endpoint *ep)
{
    return ep ? ep->cs.endpoint : NULL;
}

const char *sg_service_endpoint_server_url(const sg_service_endpoint *ep)
{
    if (!ep)
        return NULL;
    return ep->cs.server_endpoint ? ep->cs.server_endpoint : ep->cs.endpoint;
}

sg_credential *sg_service_endpoint_credential(const sg_service_endpoint *ep)
{
    return ep ? ep->cred : NULL;
}

const char *sg_service_endpoint_auth_name(const sg_service_endpoint *ep)
{
    if (!ep)
        return NULL;
    return ep->cred ? sg_credential_name(ep->cred) : "accessKey";
}

void sg_service_result_clear(sg_service_result *r)
{
    if (!r)
        return;
    sg_free(r->body);
    memset(r, 0, sizeof(*r));
}

void sg_negotiate_result_clear(sg_negotiate_result *n)
{
    if (!n)
        return;
    sg_free(n->url);
    sg_free(n->access_token);
    memset(n, 0, sizeof(*n));
}

void sg_service_string_free(char *s)
{
    sg_free(s);
}

/* ---- helpers ------------------------------------------------------------------------------- */

static void res_msg(sg_service_result *res, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void res_msg(sg_service_result *res, const char *fmt, ...)
{
    if (!res)
        return;
    sg_buf b;
    sg_buf_init(&b, sizeof res->message - 1);
    va_list ap;
    va_start(ap, fmt);
    sg_buf_vappendf(&b, fmt, ap);
    va_end(ap);
    sg_snprintf(res->message, sizeof res->message, "%s", b.data ? b.data : "");
    sg_buf_free(&b);
}

static int status_rc(long st)
{
    if (st >= 200 && st < 300)
        return SG_OK;
    if (st == 401)
        return SG_EAUTH;
    if (st == 403)
        return SG_EPERM;
    if (st == 404)
        return SG_ENOTFOUND;
    return SG_EPROTO;
}

/* Stores an HTTP answer in res (body copied) and returns its status' sg_err. */
static int res_fill(sg_service_result *res, const char *what, const sg__http_resp *r)
{
    int rc = status_rc(r->status);
    if (!res)
        return rc;
    sg_free(res->body);
    res->body = sg_strdup(r->body.data ? r->body.data : "");
    res->status = r->status;
    if (rc != SG_OK) {
        char why[900];
        sg__error_text(r->body.data, why, sizeof why);
        res_msg(res, "%s: HTTP %ld%s%s", what, r->status, why[0] ? ": " : "", why);
    } else {
        res->message[0] = 0;
    }
    return rc;
}

static int hub_ok(const char *hub)
{
    if (!hub || !isalpha((unsigned char)hub[0]) || strlen(hub) > 128)
        return 0;
    for (const char *p = hub; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("_`,.[]", *p))
            return 0;
    return 1;
}

static char *lower_dup(const char *s)
{
    char *d = sg_strdup(s);
    if (d)
        sg_str_lower(d);
    return d;
}

/* HS256 token with aud and extra string claims (pairs, NULL-terminated). */
static int sign_hs(const char *key, const char *kid, const char *aud, long lifetime_s,
                   const char *const *pairs, char **out, int64_t *exp_out)
{
    int64_t now = sg_unix_now();
    json_t *c = json_object();
    if (!c)
        return SG_ENOMEM;
    int rc = SG_OK;
    if (json_object_set_new(c, "aud", json_string(aud)) ||
        json_object_set_new(c, "iat", json_integer(now)) ||
        json_object_set_new(c, "nbf", json_integer(now)) ||
        json_object_set_new(c, "exp", json_integer(now + lifetime_s)) ||
        json_object_set_new(c, "iss", json_string("azure-signalr")))
        rc = SG_ENOMEM;
    for (const char *const *p = pairs; rc == SG_OK && p && p[0] && p[1]; p += 2)
        if (json_object_set_new(c, p[0], json_string(p[1])))
            rc = SG_EINVAL;
    if (rc == SG_OK)
        rc = sg_jwt_sign_hs(SG_JWT_HS256, key, strlen(key), kid, c, out);
    if (exp_out)
        *exp_out = now + lifetime_s;
    json_decref(c);
    return rc;
}

static int entra_token(sg_service_endpoint *ep, char **out, sg_service_result *res)
{
    sg_access_token t = {0};
    sg_credential_error e = {0};
    int rc = sg_credential_get_token(ep->cred, ENTRA_SCOPE, &t, &e);
    if (rc) {
        res_msg(res, "%s", e.message);
        return rc;
    }
    *out = t.token; /* ownership moves */
    return SG_OK;
}

static int http_call(sg_service_endpoint *ep, const char *method, const char *url,
                     const char *bearer, const char *body, const char *ctype, sg__http_resp *resp,
                     sg_service_result *res)
{
    sg_buf auth, ct;
    sg_buf_init(&auth, 0);
    sg_buf_init(&ct, 0);
    const char *hdrs[5] = {0};
    size_t n = 0;
    int rc = sg_buf_appendf(&auth, "Authorization: Bearer %s", bearer);
    if (rc == SG_OK && ctype)
        rc = sg_buf_appendf(&ct, "Content-Type: %s", ctype);
    if (rc) {
        sg_buf_free(&auth);
        sg_buf_free(&ct);
        return rc;
    }
    hdrs[n++] = auth.data;
    if (ctype)
        hdrs[n++] = ct.data;
    hdrs[n++] = "Accept: application/json";
    hdrs[n++] = "Asrs-User-Agent: libsigrid/0.1";
    sg__http_req req = {.method = method,
                        .url = url,
                        .headers = hdrs,
                        .body = body,
                        .body_len = body ? strlen(body) : 0,
                        .ca_file = ep->ca_file,
                        .timeout_ms = ep->timeout_ms};
    char neterr[256];
    rc = sg__http_do(&req, resp, neterr, sizeof neterr);
    if (rc && rc != SG_ENOMEM) {
        if (res)
            res->status = 0;
        res_msg(res, "no answer from %s: %s", url, neterr);
        rc = SG_EIO;
    }
    sg_buf_free(&auth);
    sg_buf_free(&ct);
    return rc;
}

/* The temporary key of identity auth: GET /api/v1/auth/accessKey, cached 55 minutes. */
static int temp_key(sg_service_endpoint *ep, char **kid, char **key, sg_service_result *res)
{
    int64_t now = sg_unix_now();
    pthread_mutex_lock(&ep->mu);
    if (ep->temp_key && now - ep->temp_at < TEMP_KEY_REFRESH_S) {
        *kid = sg_strdup(ep->temp_kid);
        *key = sg_strdup(ep->temp_key);
        pthread_mutex_unlock(&ep->mu);
        if (!*kid || !*key) {
            sg_free(*kid);
            sg_free(*key);
            return SG_ENOMEM;
        }
        return SG_OK;
    }
    pthread_mutex_unlock(&ep->mu);
    char *bearer = NULL;
    sg_buf url;
    sg_buf_init(&url, 0);
    sg__http_resp resp;
    memset(&resp, 0, sizeof resp);
    json_t *j = NULL;
    int rc = entra_token(ep, &bearer, res);
    if (rc)
        goto done;
    rc = sg_buf_appendf(&url, "%s/api/v1/auth/accessKey", sg_service_endpoint_server_url(ep));
    if (rc == SG_OK)
        rc = http_call(ep, "GET", url.data, bearer, NULL, NULL, &resp, res);
    if (rc)
        goto done;
    rc = res_fill(res, "GET /api/v1/auth/accessKey", &resp);
    if (rc)
        goto done;
    j = json_loads(resp.body.data, 0, NULL);
    const char *k_id = json_string_value(json_object_get(j, "KeyId"));
    const char *k_key = json_string_value(json_object_get(j, "AccessKey"));
    if (!k_id || !*k_id || !k_key || !*k_key) {
        res_msg(res, "GET /api/v1/auth/accessKey: missing required <%s> field",
                !k_id || !*k_id ? "KeyId" : "AccessKey");
        rc = SG_EPROTO;
        goto done;
    }
    *kid = sg_strdup(k_id);
    *key = sg_strdup(k_key);
    char *ck = sg_strdup(k_id), *cv = sg_strdup(k_key);
    if (!*kid || !*key || !ck || !cv) {
        sg_free(*kid);
        sg_free(*key);
        sg_free(ck);
        sg_free(cv);
        *kid = *key = NULL;
        rc = SG_ENOMEM;
        goto done;
    }
    pthread_mutex_lock(&ep->mu);
    sg_free(ep->temp_kid);
    sg_free(ep->temp_key);
    ep->temp_kid = ck;
    ep->temp_key = cv;
    ep->temp_at = now;
    pthread_mutex_unlock(&ep->mu);
done:
    json_decref(j);
    sg_free(bearer);
    sg_buf_free(&url);
    sg__http_resp_free(&resp);
    return rc;
}

/* ---- tokens ------------------------------------------------------------------------------------
 */

static int client_token(sg_service_endpoint *ep, const char *hub_lc, const char *user,
                        const sg_negotiate_options *no, char **out, int64_t *exp,
                        sg_service_result *res)
{
    sg_buf aud;
    sg_buf_init(&aud, 0);
    char *kid = NULL, *key = NULL;
    const char *pairs[2 * 16 + 5] = {0};
    size_t np = 0;
    char *extra[16] = {0};
    size_t ne = 0;
    long life = no && no->lifetime_s > 0 ? no->lifetime_s : 3600;
    int rc = sg_buf_appendf(&aud, "%sclient/?hub=%s", ep->cs.audience_base, hub_lc);
    if (rc)
        goto done;
    if (user && *user) {
        pairs[np++] = "asrs.s.uid";
        pairs[np++] = user;
        pairs[np++] = "nameid";
        pairs[np++] = user;
    }
    for (const char *const *c = no ? no->claims : NULL; c && *c && ne < 16; c++) {
        const char *eq = strchr(*c, '=');
        if (!eq || eq == *c) {
            res_msg(res, "claim '%s' is not name=value", *c);
            rc = SG_EINVAL;
            goto done;
        }
        extra[ne] = sg_strndup(*c, (size_t)(eq - *c));
        if (!extra[ne]) {
            rc = SG_ENOMEM;
            goto done;
        }
        pairs[np++] = extra[ne++];
        pairs[np++] = eq + 1;
    }
    if (ep->cred) {
        rc = temp_key(ep, &kid, &key, res);
        if (rc)
            goto done;
        rc = sign_hs(key, kid, aud.data, life, pairs, out, exp);
    } else {
        rc = sign_hs(ep->cs.access_key, NULL, aud.data, life, pairs, out, exp);
    }
done:
    for (size_t i = 0; i < ne; i++)
        sg_free(extra[i]);
    if (key) {
        memset(key, 0, strlen(key));
        sg_free(key);
    }
    sg_free(kid);
    sg_buf_free(&aud);
    return rc;
}

int sg_service_token(sg_service_endpoint *ep, sg_token_kind kind, const char *hub, const char *path,
                     const char *user_id, char **token, sg_service_result *res)
{
    if (!ep || !token)
        return SG_EINVAL;
    *token = NULL;
    if (kind != SG_TOKEN_REST && !hub_ok(hub)) {
        res_msg(res, "invalid hub name '%.100s'", hub ? hub : "");
        return SG_EINVAL;
    }
    if (kind == SG_TOKEN_REST && (!path || path[0] != '/')) {
        res_msg(res, "a REST path starting with '/' is required");
        return SG_EINVAL;
    }
    if (kind == SG_TOKEN_CLIENT) {
        char *h = lower_dup(hub);
        if (!h)
            return SG_ENOMEM;
        int rc = client_token(ep, h, user_id, NULL, token, NULL, res);
        sg_free(h);
        return rc;
    }
    if (ep->cred)
        return entra_token(ep, token, res);
    sg_buf aud;
    sg_buf_init(&aud, 0);
    int rc;
    if (kind == SG_TOKEN_SERVER) {
        char *h = lower_dup(hub);
        rc = h ? sg_buf_appendf(&aud, "%sserver/?hub=%s", ep->cs.audience_base, h) : SG_ENOMEM;
        sg_free(h);
        const char *pairs[] = {"nameid", ep->server_id, NULL};
        if (rc == SG_OK)
            rc = sign_hs(ep->cs.access_key, NULL, aud.data, 3600, pairs, token, NULL);
    } else {
        rc = sg_buf_appendf(&aud, "%s%s", ep->cs.audience_base, path + 1);
        if (rc == SG_OK)
            rc = sign_hs(ep->cs.access_key, NULL, aud.data, 3600, NULL, token, NULL);
    }
    sg_buf_free(&aud);
    return rc;
}

/* ---- REST send ------------------------------------------------------------------------------- */

int sg_service_send(sg_service_endpoint *ep, const char *hub, sg_send_kind kind, const char *id,
                    const char *target, const char *arguments_json, sg_service_result *res)
{
    if (res) {
        sg_free(res->body);
        memset(res, 0, sizeof(*res));
    }
    if (!ep || !target || !*target)
        return SG_EINVAL;
    if (!hub_ok(hub)) {
        res_msg(res, "invalid hub name '%.100s' (a letter, then letters, digits or _`,.[])",
                hub ? hub : "");
        return SG_EINVAL;
    }
    if (kind != SG_SEND_ALL && (!id || !*id)) {
        res_msg(res, "a user, group or connection id is required");
        return SG_EINVAL;
    }
    json_error_t je;
    json_t *args = json_loads(arguments_json ? arguments_json : "[]", JSON_DECODE_ANY, &je);
    if (!json_is_array(args)) {
        res_msg(res, "arguments must be a JSON array (got %s).",
                args ? "another JSON value" : je.text);
        json_decref(args);
        return SG_EINVAL;
    }
    json_t *body = json_object();
    char *token = NULL, *h = lower_dup(hub);
    sg_buf path, url, payload;
    sg_buf_init(&payload, 0);
    sg_buf_init(&path, 0);
    sg_buf_init(&url, 0);
    sg__http_resp resp;
    memset(&resp, 0, sizeof resp);
    int rc = body && h ? SG_OK : SG_ENOMEM;
    if (rc == SG_OK && (json_object_set_new(body, "target", json_string(target)) ||
                        json_object_set(body, "arguments", args)))
        rc = SG_EINVAL;
    if (rc == SG_OK)
        rc = sg__sdk_json_dump(body, &payload);
    if (rc == SG_OK)
        rc = sg_buf_appendf(&path, "/api/hubs/%s", h);
    if (rc == SG_OK && kind != SG_SEND_ALL) {
        rc = sg_buf_append_str(&path, kind == SG_SEND_USER    ? "/users/"
                                      : kind == SG_SEND_GROUP ? "/groups/"
                                                              : "/connections/");
        if (rc == SG_OK)
            rc = sg_url_encode_append(&path, id, strlen(id));
    }
    if (rc == SG_OK)
        rc = sg_buf_append_str(&path, "/:send");
    if (rc)
        goto done;
    rc = sg_service_token(ep, SG_TOKEN_REST, hub, path.data, NULL, &token, res);
    if (rc)
        goto done;
    rc = sg_buf_appendf(&url, "%s%s?api-version=%s", sg_service_endpoint_server_url(ep), path.data,
                        REST_API_VERSION);
    if (rc == SG_OK)
        rc = http_call(ep, "POST", url.data, token, payload.data, "application/json", &resp, res);
    if (rc == SG_OK)
        rc = res_fill(res, "POST send", &resp);
done:
    json_decref(args);
    json_decref(body);
    sg_buf_free(&payload);
    if (token)
        memset(token, 0, strlen(token));
    sg_free(token);
    sg_free(h);
    sg_buf_free(&path);
    sg_buf_free(&url);
    sg__http_resp_free(&resp);
    return rc;
}

/* ---- negotiate ------------------------------------------------------------------------------- */

int sg_service_negotiate(sg_service_endpoint *ep, const char *hub, const char *user_id,
                         const sg_negotiate_options *in, sg_negotiate_result *out,
                         sg_service_result *res)
{
    if (!out)
        return SG_EINVAL;
    memset(out, 0, sizeof(*out));
    if (res) {
        sg_free(res->body);
        memset(res, 0, sizeof(*res));
    }
    if (!ep)
        return SG_EINVAL;
    if (!hub_ok(hub)) {
        res_msg(res, "invalid hub name '%.100s'", hub ? hub : "");
        return SG_EINVAL;
    }
    sg_negotiate_options no;
    sg__opts_copy(&no, sizeof no, in, in ? in->size : 0);
    char *h = lower_dup(hub);
    sg_buf url;
    sg_buf_init(&url, 0);
    if (!h)
        return SG_ENOMEM;
    const char *base = ep->cs.client_endpoint ? ep->cs.client_endpoint : ep->cs.endpoint;
    int rc = sg_buf_appendf(&url, "%s/client/?hub=%s", base, h);
    if (rc == SG_OK)
        rc = client_token(ep, h, user_id, &no, &out->access_token, &out->expires_on, res);
    if (rc == SG_OK) {
        out->url = sg_buf_steal(&url, NULL);
        if (!out->url)
            rc = SG_ENOMEM;
    }
    if (rc)
        sg_negotiate_result_clear(out);
    sg_buf_free(&url);
    sg_free(h);
    return rc;
}
