/* idep.c — identity endpoint listeners (one per compute resource, on its stored port) and the
 * per-endpoint token cache. Request logic is in idep_logic.c.
 *
 * Cache: like IMDS, an endpoint hands out the same token for (identity, resource) until it
 * is within REFRESH_MARGIN of expiry; the cached path parses the query, picks the identity,
 * finds the entry and formats the answer into a reused buffer (no allocation, no store). */
#include "cloud/entra_internal.h"
#include "cloud/idep.h"

#include "sg_alloc.h"
#include "sg_buf.h"
#include "sg_err.h"
#include "sg_log.h"
#include "sg_str.h"
#include "sg_time.h"

#include <string.h>
#include <strings.h>

#define CACHE_MAX 256
#define REFRESH_MARGIN_S 900

typedef struct idep_cache {
    struct idep_cache *next;
    char oid[SG_STORE_GUID_MAX];
    char *resource;
    char *token;
    int64_t nbf, exp;
} idep_cache;

typedef struct sg_idep sg_idep;

typedef struct idep_ep {
    struct idep_ep *next;
    sg_idep *owner;
    sg_idep_proto proto;
    char id[SG_STORE_ID_MAX];
    int port;
    char secret[64];
    sg_idep_idset set;
    sg_http_server *srv;
    idep_cache *cache;
    size_t ncache;
    int seen;
} idep_ep;

struct sg_idep {
    sg_cloud *c;
    idep_ep *eps;
    size_t stopping_eps; /* endpoints whose server is stopping */
    int closing;
    void (*done)(void *ud);
    void *done_ud;
    sg_buf out; /* reused response buffer (one loop) */
};

static const sg_http_header k_imds_hdr[] = {
    {SG_SLICE_LIT("Server"), SG_SLICE_LIT("IMDS/150.870.65.1854")},
};

/* ---- cache -------------------------------------------------------------------------------- */

static void cache_free_ent(idep_cache *e)
{
    sg_free(e->resource);
    sg_free(e->token);
    sg_free(e);
}

static void cache_clear(idep_ep *ep)
{
    while (ep->cache) {
        idep_cache *e = ep->cache;
        ep->cache = e->next;
        cache_free_ent(e);
    }
    ep->ncache = 0;
}

/* Drops entries whose identity is no longer attached, or (now != 0) that are stale. */
static void cache_prune(idep_ep *ep, int64_t now)
{
    idep_cache **pp = &ep->cache;
    while (*pp) {
        idep_cache *e = *pp;
        int keep = 0;
        for (size_t i = 0; i < ep->set.n; i++)
            if (strcmp(ep->set.ids[i].oid, e->oid) == 0)
                keep = 1;
        if (keep && now && e->exp - now < REFRESH_MARGIN_S)
            keep = 0;
        if (keep) {
            pp = &e->next;
        } else {
            *pp = e->next;
            cache_free_ent(e);
            ep->ncache--;
        }
    }
}

static idep_cache *cache_find(idep_ep *ep, const char *oid, const char *resource)
{
    idep_cache **pp = &ep->cache;
    for (; *pp; pp = &(*pp)->next) {
        idep_cache *e = *pp;
        if (strcmp(e->resource, resource) == 0 && strcmp(e->oid, oid) == 0) {
            if (pp != &ep->cache) { /* move to front */
                *pp = e->next;
                e->next = ep->cache;
                ep->cache = e;
            }
            return e;
        }
    }
    return NULL;
}

/* ---- request handling --------------------------------------------------------------------- */

static void respond_buf(sg_http_req *req, idep_ep *ep, int status, const sg_buf *b)
{
    if (ep->proto == SG_IDEP_IMDS)
        sg_http_respond_ex(req, status, "application/json; charset=utf-8", k_imds_hdr, 1, b->data,
                           b->len);
    else
        sg_http_respond(req, status, "application/json; charset=utf-8", b->data, b->len);
}

static void respond_error(sg_http_req *req, idep_ep *ep, const sg_idep_out *out)
{
    sg_buf *b = &ep->owner->out;
    sg_buf_reset(b);
    if (sg_idep_error_body(ep->proto, out, b) != 0) {
        sg_http_respond(req, 500, "text/plain", "out of memory", 13);
        return;
    }
    if (out->status == 405) {
        sg_http_header h[2] = {{SG_SLICE_LIT("Allow"), SG_SLICE_LIT("GET")}, k_imds_hdr[0]};
        sg_http_respond_ex(req, 405, "application/json; charset=utf-8", h,
                           ep->proto == SG_IDEP_IMDS ? 2 : 1, b->data, b->len);
        return;
    }
    respond_buf(req, ep, out->status, b);
}

static void respond_invalid_resource(sg_http_req *req, idep_ep *ep, const char *resource)
{
    sg_cloud *c = ep->owner->c;
    sg_buf *b = &ep->owner->out;
    sg_buf_reset(b);
    int rc;
    if (ep->proto == SG_IDEP_IMDS)
        rc = sg_buf_append_str(b, "{\"error\":\"invalid_resource\",\"error_description\":\"");
    else
        rc = sg_buf_append_str(b, "{\"statusCode\":400,\"message\":\"");
    if (rc == 0)
        rc = sg_buf_append_str(b, "AADSTS500011: The resource principal named ");
    if (rc == 0)
        rc = sg_idep_json_escape(b, resource, strlen(resource));
    if (rc == 0)
        rc = sg_buf_appendf(b, " was not found in the tenant named %s.\"}", c->tenant_id);
    if (rc != 0) {
        sg_http_respond(req, 500, "text/plain", "out of memory", 13);
        return;
    }
    respond_buf(req, ep, 400, b);
}

static void ep_handle(sg_http_req *req, void *ud)
{
    idep_ep *ep = ud;
    sg_idep *d = ep->owner;
    sg_cloud *c = d->c;
    sg_idep_in in;
    sg_idep_out out;
    in.method = req->method;
    in.path = req->path;
    in.query = req->query;
    in.metadata = ep->proto == SG_IDEP_IMDS ? sg_http_req_header(req, "Metadata") : NULL;
    in.forwarded = ep->proto == SG_IDEP_IMDS ? sg_http_req_header(req, "X-Forwarded-For") : NULL;
    in.identity_header =
        ep->proto == SG_IDEP_APPSVC ? sg_http_req_header(req, "X-IDENTITY-HEADER") : NULL;
    sg_idep_evaluate(ep->proto, &ep->set, ep->secret, &in, &out);
    if (out.status != 200) {
        SG_LOGD("cloud",
                "event=identity_request_refused resource_id=%s port=%d status=%d "
                "reason=\"%s\"",
                ep->id, ep->port, out.status, out.message);
        respond_error(req, ep, &out);
        return;
    }
    const sg_idep_ident *who = &ep->set.ids[out.ident];
    int64_t now = sg_unix_now();
    idep_cache *e = cache_find(ep, who->oid, out.resource);
    if (e && e->exp - now < REFRESH_MARGIN_S) {
        ep->cache = e->next; /* found entries are at the front */
        ep->ncache--;
        cache_free_ent(e);
        e = NULL;
    }
    if (!e) {
        if (!sg__entra_resource_known(c, out.resource)) {
            respond_invalid_resource(req, ep, out.resource);
            return;
        }
        e = SG_NEW(idep_cache);
        if (!e)
            goto oom;
        snprintf(e->oid, sizeof e->oid, "%s", who->oid);
        e->resource = sg_strdup(out.resource);
        sg_tok_subject subj = {
            .oid = who->oid,
            .appid = who->client_id,
            .mirid = who->mirid,
            .az_rid = who->system ? NULL : ep->set.compute_id,
            .appidacr = "2",
        };
        sg_entra *en = c->entra;
        int64_t life = en ? en->mi_lifetime_s : SG_MI_TOKEN_LIFETIME_S;
        e->token =
            e->resource ? sg__entra_mint(c, &subj, out.resource, life, &e->nbf, &e->exp) : NULL;
        if (!e->token) {
            cache_free_ent(e);
            goto oom;
        }
        if (ep->ncache >= CACHE_MAX)
            cache_prune(ep, now);
        if (ep->ncache >= CACHE_MAX) { /* still full: drop the least recently used */
            idep_cache **pp = &ep->cache;
            while ((*pp)->next)
                pp = &(*pp)->next;
            cache_free_ent(*pp);
            *pp = NULL;
            ep->ncache--;
        }
        e->next = ep->cache;
        ep->cache = e;
        ep->ncache++;
    }
    sg_buf *b = &d->out;
    sg_buf_reset(b);
    if (sg_idep_token_body(ep->proto, e->token, who->client_id, out.resource, now, e->nbf, e->exp,
                           b) != 0)
        goto oom;
    respond_buf(req, ep, 200, b);
    return;
oom : {
    sg_idep_out err = out;
    err.status = 500;
    err.error = "server_error";
    err.message = "Failed to issue a token";
    respond_error(req, ep, &err);
}
}

/* ---- lifecycle ---------------------------------------------------------------------------- */

static void finish_close(sg_idep *d)
{
    void (*done)(void *) = d->done;
    void *ud = d->done_ud;
    d->c->idep = NULL;
    sg_buf_free(&d->out);
    sg_free(d);
    if (done)
        done(ud);
}

static void ep_stopped(void *ud)
{
    idep_ep *ep = ud;
    sg_idep *d = ep->owner;
    cache_clear(ep);
    sg_free(ep);
    d->stopping_eps--;
    if (d->closing && d->stopping_eps == 0 && !d->eps)
        finish_close(d);
}

static void ep_stop(idep_ep *ep)
{
    SG_LOGI("cloud", "event=identity_endpoint_stopped resource_id=%s port=%d", ep->id, ep->port);
    ep->owner->stopping_eps++;
    if (ep->srv)
        sg_http_server_stop(ep->srv, ep_stopped, ep);
    else
        ep_stopped(ep);
}

static int ep_start(sg_idep *d, idep_ep *ep)
{
    sg_http_server_opts o;
    memset(&o, 0, sizeof o);
    o.host = d->c->host ? d->c->host : "127.0.0.1";
    o.port = ep->port;
    o.max_header_bytes = 16 * 1024;
    o.max_body_bytes = 16 * 1024;
    o.handler = ep_handle;
    o.ud = ep;
    int rc = sg_http_server_start(d->c->loop, &o, &ep->srv);
    if (rc != 0) {
        SG_LOGW("cloud", "event=identity_endpoint_unavailable resource_id=%s port=%d err=%s",
                ep->id, ep->port, sg_strerror(rc));
        ep->srv = NULL;
        return rc;
    }
    SG_LOGI("cloud",
            "event=identity_endpoint_started resource_id=%s port=%d protocol=%s "
            "identities=%zu",
            ep->id, ep->port, ep->proto == SG_IDEP_IMDS ? "imds" : "appservice", ep->set.n);
    return SG_OK;
}

typedef struct sync_ctx {
    sg_idep *d;
    int rc;
} sync_ctx;

static int sync_cb(const sg_compute_rec *r, void *ud)
{
    sync_ctx *sc = ud;
    sg_idep *d = sc->d;
    sg_idep_proto proto;
    if (r->kind == SG_KIND_VM)
        proto = SG_IDEP_IMDS;
    else if (r->kind == SG_KIND_FUNCTIONAPP || r->kind == SG_KIND_WEBAPP)
        proto = SG_IDEP_APPSVC;
    else
        return 0;
    if (r->identity_port <= 0)
        return 0;
    if (proto == SG_IDEP_APPSVC && !r->system_principal_id[0] && r->n_uami == 0)
        return 0; /* App Service sets IDENTITY_ENDPOINT only when an identity is enabled */

    idep_ep *ep = NULL;
    for (idep_ep *x = d->eps; x; x = x->next)
        if (!x->seen && strcasecmp(x->id, r->id) == 0)
            ep = x;
    if (ep && (ep->port != r->identity_port || ep->proto != proto || !ep->srv))
        ep = NULL; /* replaced below; the old one is stopped as unseen */
    if (ep) {
        ep->seen = 1;
        sg_idep_idset_from_compute(&ep->set, r);
        snprintf(ep->secret, sizeof ep->secret, "%s", r->identity_header);
        cache_prune(ep, 0);
        return 0;
    }
    /* a previous endpoint on the same port must go first */
    for (idep_ep **pp = &d->eps; *pp;) {
        idep_ep *x = *pp;
        if (x->port == r->identity_port || strcasecmp(x->id, r->id) == 0) {
            *pp = x->next;
            ep_stop(x);
        } else {
            pp = &x->next;
        }
    }
    ep = SG_NEW(idep_ep);
    if (!ep) {
        sc->rc = SG_ENOMEM;
        return 0;
    }
    ep->owner = d;
    ep->proto = proto;
    ep->port = r->identity_port;
    ep->seen = 1;
    snprintf(ep->id, sizeof ep->id, "%s", r->id);
    snprintf(ep->secret, sizeof ep->secret, "%s", r->identity_header);
    sg_idep_idset_from_compute(&ep->set, r);
    if (ep_start(d, ep) != 0) {
        sg_free(ep);
        return 0; /* retried at the next sync */
    }
    ep->next = d->eps;
    d->eps = ep;
    return 0;
}

int sg_idep_sync(sg_cloud *c)
{
    if (!c || !c->store)
        return SG_EINVAL;
    sg_idep *d = c->idep;
    if (!d) {
        d = SG_NEW(sg_idep);
        if (!d)
            return SG_ENOMEM;
        d->c = c;
        sg_buf_init(&d->out, 0);
        c->idep = d;
    }
    if (d->closing)
        return SG_ECLOSED;
    for (idep_ep *x = d->eps; x; x = x->next)
        x->seen = 0;
    sync_ctx sc = {d, 0};
    int rc = sg_store_compute_list(c->store, sync_cb, &sc);
    if (rc != 0) {
        for (idep_ep *x = d->eps; x; x = x->next)
            x->seen = 1; /* keep what runs */
        SG_LOGW("cloud", "event=identity_sync_failed err=%s", sg_strerror(rc));
        return rc;
    }
    for (idep_ep **pp = &d->eps; *pp;) {
        idep_ep *x = *pp;
        if (!x->seen) {
            *pp = x->next;
            ep_stop(x);
        } else {
            pp = &x->next;
        }
    }
    return sc.rc;
}

static void deferred_closed(uv_handle_t *h)
{
    sg_idep *d = h->data;
    sg_free(h);
    d->stopping_eps--;
    if (d->stopping_eps == 0 && !d->eps)
        finish_close(d);
}

typedef struct done_only {
    void (*done)(void *);
    void *ud;
} done_only;

static void done_only_closed(uv_handle_t *h)
{
    done_only *x = h->data;
    sg_free(h);
    if (x->done)
        x->done(x->ud);
    sg_free(x);
}

void sg_idep_stop(sg_cloud *c, void (*done)(void *ud), void *ud)
{
    sg_idep *d = c ? c->idep : NULL;
    if (!d || d->closing) {
        /* nothing to stop: still call done from the loop, never from inside this call */
        uv_timer_t *t = SG_NEW(uv_timer_t);
        done_only *x = SG_NEW(done_only);
        if (!t || !x || !c || uv_timer_init(c->loop, t) != 0) {
            sg_free(t);
            sg_free(x);
            if (done)
                done(ud);
            return;
        }
        x->done = done;
        x->ud = ud;
        t->data = x;
        uv_close((uv_handle_t *)t, done_only_closed);
        return;
    }
    d->closing = 1;
    d->done = done;
    d->done_ud = ud;
    /* hold one count for a deferred final check, so done never runs inside this call */
    uv_timer_t *t = SG_NEW(uv_timer_t);
    int deferred = t && uv_timer_init(c->loop, t) == 0;
    if (deferred)
        d->stopping_eps++;
    else
        sg_free(t);
    while (d->eps) {
        idep_ep *x = d->eps;
        d->eps = x->next;
        ep_stop(x);
    }
    if (deferred) {
        t->data = d;
        uv_close((uv_handle_t *)t, deferred_closed);
    } else if (d->stopping_eps == 0) {
        finish_close(d);
    }
}
