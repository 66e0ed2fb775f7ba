/* cloud.c — the sg_cloud facade: open/bootstrap the store, TLS for the cloud listener, the
 * listener itself (ARM vs Entra routing), SignalR resource watching, authorization. */
#include "cloud/cloud_internal.h"
#include "cloud/rbac.h"

#include "sg_alloc.h"
#include "sg_b64.h"
#include "sg_err.h"
#include "sg_id.h"
#include "sg_log.h"
#include "sg_str.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MOD "cloud"

struct sg_cloud_sr_url {
    struct sg_cloud_sr_url *next;
    char *id;
    char *url;
};

/* ---- small helpers ------------------------------------------------------------------------ */

int sg__cloud_gen_access_key(char *out, size_t outlen)
{
    unsigned char raw[32];
    char b64[SG_B64_ENC_LEN(32)];
    if (sg_random_bytes(raw, sizeof raw) != 0)
        return SG_EIO;
    long n = sg_b64_encode(raw, sizeof raw, b64, sizeof b64);
    if (n < 0)
        return SG_EINTERNAL;
    while (n > 0 && b64[n - 1] == '=')
        b64[--n] = 0; /* 43 characters, as Azure prints them */
    return sg_snprintf(out, outlen, "%s", b64);
}

static int mkdir_p(const char *dir, mode_t mode)
{
    char tmp[SG_CLOUD_PATH_MAX];
    if (sg_snprintf(tmp, sizeof tmp, "%s", dir) != SG_OK)
        return SG_ETOOBIG;
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = 0;
            if (mkdir(tmp, mode) != 0 && errno != EEXIST)
                return sg_err_from_errno(errno);
            *p = '/';
        }
    }
    if (mkdir(tmp, mode) != 0 && errno != EEXIST)
        return sg_err_from_errno(errno);
    return SG_OK;
}

/* Writes data to path atomically (tmp + fsync + rename), mode 0600. */
int sg__cloud_write_secret_file(const char *path, const char *data)
{
    char tmp[SG_CLOUD_PATH_MAX + 16];
    int fd, rc = SG_OK;
    size_t n = strlen(data);
    if (sg_snprintf(tmp, sizeof tmp, "%s.tmp", path) != SG_OK)
        return SG_ETOOBIG;
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return sg_err_from_errno(errno);
    if (write(fd, data, n) != (ssize_t)n || fsync(fd) != 0)
        rc = SG_EIO;
    close(fd);
    if (rc == SG_OK && rename(tmp, path) != 0)
        rc = sg_err_from_errno(errno);
    if (rc != SG_OK)
        unlink(tmp);
    return rc;
}

/* ---- bootstrap ----------------------------------------------------------------------------- */

static int create_default_signalr(sg_cloud *c)
{
    sg_resource_rec r;
    sg_signalr_rec s;
    memset(&r, 0, sizeof r);
    memset(&s, 0, sizeof s);
    sg_snprintf(r.id, sizeof r.id,
                "/subscriptions/%s/resourceGroups/local/providers/Microsoft.SignalRService/SignalR/"
                "default",
                c->subscription_id);
    sg_snprintf(r.subscription_id, sizeof r.subscription_id, "%s", c->subscription_id);
    sg_snprintf(r.resource_group, sizeof r.resource_group, "local");
    sg_snprintf(r.type, sizeof r.type, "Microsoft.SignalRService/SignalR");
    sg_snprintf(r.name, sizeof r.name, "default");
    r.kind = SG_KIND_SIGNALR;
    int rc = sg_store_resource_add(c->store, &r);
    if (rc)
        return rc;
    memcpy(s.id, r.id, sizeof s.id);
    s.port = c->signalr_port;
    s.tls = c->signalr_tls;
    s.serverless = 1;
    if (sg__cloud_gen_access_key(s.primary_key, sizeof s.primary_key) != SG_OK ||
        sg__cloud_gen_access_key(s.secondary_key, sizeof s.secondary_key) != SG_OK)
        return SG_EIO;
    return sg_store_signalr_add(c->store, &s);
}

static int ensure_admin_credential(sg_cloud *c, int force)
{
    char cred[64], hash[SG_SECRET_HASH_MAX];
    int rc;
    if (!force && access(c->admin_cred_file, R_OK) == 0) {
        char have[SG_SECRET_HASH_MAX];
        if (sg_store_meta_get(c->store, SG_META_ADMIN_CRED_HASH, have, sizeof have) == SG_OK)
            return SG_OK;
    }
    rc = sg_random_token(cred, sizeof cred, 32);
    if (rc)
        return rc;
    rc = sg_secret_hash(cred, hash, sizeof hash);
    if (rc)
        return rc;
    rc = sg_store_meta_set(c->store, SG_META_ADMIN_CRED_HASH, hash);
    if (rc)
        return rc;
    char line[80];
    sg_snprintf(line, sizeof line, "%s\n", cred);
    rc = sg__cloud_write_secret_file(c->admin_cred_file, line);
    if (rc == SG_OK)
        SG_LOGI(MOD, "event=admin_credential_created file=%s", c->admin_cred_file);
    return rc;
}

static int bootstrap(sg_cloud *c)
{
    int rc = sg_store_begin(c->store);
    if (rc)
        return rc;
    rc = sg_store_meta_get(c->store, SG_META_TENANT_ID, c->tenant_id, sizeof c->tenant_id);
    if (rc == SG_ENOTFOUND) {
        /* first start */
        rc = sg_uuid4(c->tenant_id);
        if (rc == SG_OK)
            rc = sg_uuid4(c->subscription_id);
        if (rc == SG_OK)
            rc = sg_store_meta_set(c->store, SG_META_TENANT_ID, c->tenant_id);
        if (rc == SG_OK)
            rc = sg_store_meta_set(c->store, SG_META_DEFAULT_SUBSCRIPTION, c->subscription_id);
        if (rc == SG_OK)
            rc = sg_store_subscription_add(c->store, c->subscription_id, "sigrid");
        if (rc == SG_OK)
            rc = sg_store_rgroup_add(c->store, c->subscription_id, "local", "local");
        if (rc == SG_OK)
            rc = create_default_signalr(c);
        if (rc == SG_OK)
            SG_LOGI(MOD, "event=tenant_created tenant=%s subscription=%s", c->tenant_id,
                    c->subscription_id);
    } else if (rc == SG_OK) {
        rc = sg_store_meta_get(c->store, SG_META_DEFAULT_SUBSCRIPTION, c->subscription_id,
                               sizeof c->subscription_id);
    }
    if (rc == SG_OK)
        rc = sg_rbac_seed_builtin(c->store);
    if (rc == SG_OK) {
        /* the built-in resource follows --signalr-port / --signalr-tls */
        sg_signalr_rec s;
        char id[SG_STORE_ID_MAX];
        sg_snprintf(id, sizeof id,
                    "/subscriptions/%s/resourceGroups/local/providers/"
                    "Microsoft.SignalRService/SignalR/default",
                    c->subscription_id);
        if (sg_store_signalr_get(c->store, id, &s) == SG_OK &&
            (s.port != c->signalr_port || s.tls != c->signalr_tls)) {
            s.port = c->signalr_port;
            s.tls = c->signalr_tls;
            int urc = sg_store_signalr_update(c->store, &s);
            if (urc == SG_EEXIST)
                SG_LOGW(MOD, "event=default_port_taken port=%d", c->signalr_port);
            else
                rc = urc;
        }
    }
    if (rc == SG_OK)
        rc = ensure_admin_credential(c, 0);
    if (rc == SG_OK)
        return sg_store_commit(c->store);
    sg_store_rollback(c->store);
    return rc;
}

/* ---- TLS ------------------------------------------------------------------------------------ */

static int tls_init(sg_cloud *c, char *errmsg, size_t errlen)
{
    sg_ca_paths paths;
    memset(&paths, 0, sizeof paths);
    int rc = sg_ca_ensure(c->data_dir, c->host, &paths);
    if (rc != SG_OK) {
        if (errmsg)
            sg_snprintf(errmsg, errlen, "cannot create the local CA in %s/tls: %s", c->data_dir,
                        sg_strerror(rc));
        return rc;
    }
    sg_snprintf(c->ca_file, sizeof c->ca_file, "%s", paths.ca_file);
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx)
        return SG_ENOMEM;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    if (SSL_CTX_use_certificate_chain_file(ctx, paths.cert_file) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, paths.key_file, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        char e[256];
        ERR_error_string_n(ERR_get_error(), e, sizeof e);
        if (errmsg)
            sg_snprintf(errmsg, errlen, "cannot load the cloud listener certificate %s: %s",
                        paths.cert_file, e);
        SSL_CTX_free(ctx);
        return SG_EIO;
    }
    c->tls = ctx;
    return SG_OK;
}

/* ---- the listener ---------------------------------------------------------------------------- */

static void on_request(sg_http_req *req, void *ud)
{
    sg_cloud *c = ud;
    if (sg_arm_claims(req))
        sg_arm_handle(c, req);
    else
        sg_entra_handle(c, req);
}

/* ---- open / close ---------------------------------------------------------------------------- */

int sg_cloud_open(uv_loop_t *loop, const sg_cloud_opts *opts, sg_cloud **out, char *errmsg,
                  size_t errlen)
{
    int rc;
    sg_cloud *c = NULL;
    char dbpath[SG_CLOUD_PATH_MAX + 16];

    *out = NULL;
    if (errmsg && errlen)
        errmsg[0] = 0;
    if (!opts || !opts->data_dir || !opts->data_dir[0])
        return SG_EINVAL;
    c = SG_NEW(sg_cloud);
    if (!c)
        return SG_ENOMEM;
    c->loop = loop;
    c->data_dir = sg_strdup(opts->data_dir);
    c->host = sg_strdup(opts->host && opts->host[0] ? opts->host : "127.0.0.1");
    if (!c->data_dir || !c->host) {
        rc = SG_ENOMEM;
        goto fail;
    }
    c->cloud_port = opts->cloud_port > 0 ? opts->cloud_port : (opts->cloud_port == 0 ? 8443 : 0);
    if (opts->cloud_port < 0)
        c->cloud_port = 0; /* any free port (tests) */
    c->cloud_http = opts->cloud_http;
    c->identity_port_base = opts->identity_port_base > 0 ? opts->identity_port_base : 8900;
    c->signalr_port = opts->signalr_port > 0 ? opts->signalr_port : 8888;
    c->signalr_tls = opts->signalr_tls;
    c->propagation_delay_s = opts->propagation_delay_s > 0 ? opts->propagation_delay_s : 0;

    rc = mkdir_p(c->data_dir, 0700);
    if (rc != SG_OK) {
        if (errmsg)
            sg_snprintf(errmsg, errlen, "cannot create data dir %s: %s", c->data_dir,
                        sg_strerror(rc));
        goto fail;
    }
    sg_snprintf(c->admin_cred_file, sizeof c->admin_cred_file, "%s/admin-credential",
                c->data_dir);
    sg_snprintf(dbpath, sizeof dbpath, "%s/sigrid.db", c->data_dir);
    rc = sg_store_open(dbpath, &c->store, errmsg, errlen);
    if (rc != SG_OK)
        goto fail;
    rc = bootstrap(c);
    if (rc != SG_OK) {
        if (errmsg && !errmsg[0])
            sg_snprintf(errmsg, errlen, "cannot initialise the store in %s: %s", c->data_dir,
                        sg_strerror(rc));
        goto fail;
    }
    rc = sg__cloud_tempkey_init(c);
    if (rc != SG_OK) {
        if (errmsg && !errmsg[0])
            sg_snprintf(errmsg, errlen, "cannot create or read %s/tempkey-secret: %s",
                        c->data_dir, sg_strerror(rc));
        goto fail;
    }

    if (!c->cloud_http) {
        rc = tls_init(c, errmsg, errlen);
        if (rc != SG_OK)
            goto fail;
    }
    rc = sg_entra_init(c);
    if (rc != SG_OK) {
        if (errmsg && !errmsg[0])
            sg_snprintf(errmsg, errlen, "cannot initialise the Entra ID endpoints: %s",
                        sg_strerror(rc));
        goto fail;
    }

    sg_http_server_opts ho = {
        .host = c->host,
        .port = c->cloud_port,
        .tls = c->tls,
        .handler = on_request,
        .ud = c,
    };
    rc = sg_http_server_start(loop, &ho, &c->http);
    if (rc != SG_OK) {
        c->http = NULL;
        if (errmsg && !errmsg[0])
            sg_snprintf(errmsg, errlen, "cannot listen on %s:%d: %s", c->host, c->cloud_port,
                        sg_strerror(rc));
        goto fail_entra;
    }
    c->cloud_port = sg_http_server_port(c->http);
    {
        const char *uh = c->host;
        if (strcmp(uh, "0.0.0.0") == 0 || strcmp(uh, "::") == 0)
            uh = "127.0.0.1";
        sg_snprintf(c->cloud_url, sizeof c->cloud_url, "%s://%s%s%s:%d",
                    c->cloud_http ? "http" : "https", strchr(uh, ':') ? "[" : "", uh,
                    strchr(uh, ':') ? "]" : "", c->cloud_port);
    }

    rc = sg_idep_sync(c);
    if (rc != SG_OK)
        SG_LOGW(MOD, "event=idep_sync_failed err=\"%s\"", sg_strerror(rc));
    SG_LOGI(MOD, "event=cloud_started url=%s tenant=%s subscription=%s", c->cloud_url,
            c->tenant_id, c->subscription_id);
    *out = c;
    return SG_OK;

fail_entra:
    sg_entra_free(c);
fail:
    /* nothing asynchronous has started yet */
    if (c->tls)
        SSL_CTX_free(c->tls);
    sg_store_close(c->store);
    sg_free(c->data_dir);
    sg_free(c->host);
    sg_free(c);
    return rc;
}

static void cloud_free(sg_cloud *c)
{
    void (*done)(void *) = c->close_done;
    void *ud = c->close_ud;
    sg_entra_free(c);
    sg_store_close(c->store);
    if (c->tls)
        SSL_CTX_free(c->tls);
    while (c->sr_urls) {
        struct sg_cloud_sr_url *u = c->sr_urls;
        c->sr_urls = u->next;
        sg_free(u->id);
        sg_free(u->url);
        sg_free(u);
    }
    sg_free(c->data_dir);
    sg_free(c->host);
    sg_free(c);
    SG_LOGI(MOD, "event=cloud_stopped");
    if (done)
        done(ud);
}

static void on_http_stopped(void *ud)
{
    sg_cloud *c = ud;
    c->http = NULL;
    cloud_free(c);
}

static void on_idep_stopped(void *ud)
{
    sg_cloud *c = ud;
    if (c->http)
        sg_http_server_stop(c->http, on_http_stopped, c);
    else
        cloud_free(c);
}

void sg_cloud_close(sg_cloud *c, void (*done)(void *ud), void *ud)
{
    if (!c || c->closing)
        return;
    c->closing = 1;
    c->close_done = done;
    c->close_ud = ud;
    sg_idep_stop(c, on_idep_stopped, c);
}

/* ---- getters ---------------------------------------------------------------------------------- */

const char *sg_cloud_tenant_id(const sg_cloud *c)
{
    return c->tenant_id;
}

const char *sg_cloud_subscription_id(const sg_cloud *c)
{
    return c->subscription_id;
}

const char *sg_cloud_url(const sg_cloud *c)
{
    return c->cloud_url;
}

const char *sg_cloud_ca_file(const sg_cloud *c)
{
    return c->ca_file;
}

const char *sg_cloud_admin_cred_file(const sg_cloud *c)
{
    return c->admin_cred_file;
}

/* ---- SignalR resources -------------------------------------------------------------------- */

static void rec_to_res(const sg_signalr_rec *r, sg_signalr_resource *o)
{
    memset(o, 0, sizeof *o);
    o->id = r->id;
    o->name = r->name;
    o->resource_group = r->resource_group;
    o->subscription_id = r->subscription_id;
    o->port = r->port;
    o->tls = r->tls;
    o->serverless = r->serverless;
    o->disable_local_auth = r->disable_local_auth;
    o->primary_key = r->primary_key;
    o->secondary_key = r->secondary_key;
}

void sg__cloud_signalr_notify(sg_cloud *c, sg_res_event ev, const sg_signalr_rec *r)
{
    sg_signalr_resource res;
    SG_LOGI(MOD, "event=signalr_%s resource=%s port=%d mode=%s",
            ev == SG_RES_ADDED ? "added" : ev == SG_RES_UPDATED ? "updated" : "removed", r->id,
            r->port, r->serverless ? "Serverless" : "Default");
    if (ev == SG_RES_REMOVED) {
        /* forget its URL */
        for (struct sg_cloud_sr_url **pp = &c->sr_urls; *pp; pp = &(*pp)->next) {
            if (strcasecmp((*pp)->id, r->id) == 0) {
                struct sg_cloud_sr_url *u = *pp;
                *pp = u->next;
                sg_free(u->id);
                sg_free(u->url);
                sg_free(u);
                break;
            }
        }
    }
    if (!c->watch_fn || c->closing)
        return;
    rec_to_res(r, &res);
    c->watch_fn(c, ev, &res, c->watch_ud);
}

static int watch_each(const sg_signalr_rec *r, void *ud)
{
    sg_cloud *c = ud;
    sg_signalr_resource res;
    rec_to_res(r, &res);
    c->watch_fn(c, SG_RES_ADDED, &res, c->watch_ud);
    return 0;
}

int sg_cloud_signalr_watch(sg_cloud *c, sg_cloud_signalr_watch_fn fn, void *ud)
{
    c->watch_fn = fn;
    c->watch_ud = ud;
    if (!fn)
        return SG_OK;
    int rc = sg_store_signalr_list(c->store, watch_each, c);
    return rc < 0 ? rc : SG_OK;
}

void sg_cloud_signalr_set_url(sg_cloud *c, const char *resource_id, const char *url)
{
    if (!c || !resource_id)
        return;
    for (struct sg_cloud_sr_url *u = c->sr_urls; u; u = u->next) {
        if (strcasecmp(u->id, resource_id) == 0) {
            char *nu = sg_strdup(url ? url : "");
            if (nu) {
                sg_free(u->url);
                u->url = nu;
            }
            return;
        }
    }
    struct sg_cloud_sr_url *u = SG_NEW(struct sg_cloud_sr_url);
    if (!u)
        return;
    u->id = sg_strdup(resource_id);
    u->url = sg_strdup(url ? url : "");
    if (!u->id || !u->url) {
        sg_free(u->id);
        sg_free(u->url);
        sg_free(u);
        return;
    }
    u->next = c->sr_urls;
    c->sr_urls = u;
}

const char *sg__cloud_signalr_url(const sg_cloud *c, const char *resource_id)
{
    for (const struct sg_cloud_sr_url *u = c->sr_urls; u; u = u->next)
        if (strcasecmp(u->id, resource_id) == 0)
            return u->url;
    return NULL;
}

/* ---- authorization -------------------------------------------------------------------------- */

uint64_t sg_cloud_authz_generation(const sg_cloud *c)
{
    return c ? sg_store_generation(c->store) : 0;
}

int sg_cloud_authorize(sg_cloud *c, const char *oid, const char *tid, const char *action,
                       const char *resource_id, sg_authz_decision *out)
{
    int rc = sg_rbac_authorize(c->store, c->tenant_id, oid, tid, action, resource_id,
                               (int64_t)time(NULL), out);
    SG_LOGD(MOD, "event=authorize oid=%s action=%s resource=%s allowed=%d code=%s",
            oid ? oid : "-", action ? action : "-", resource_id ? resource_id : "-",
            out->allowed, out->code);
    return rc;
}
