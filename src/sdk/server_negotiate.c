/* server_negotiate.c — the app server's negotiate endpoint: `POST /<hub>/negotiate` answers the
 * redirect {negotiateVersion: 0, url, accessToken, availableTransports: []} (reference §1.1).
 * The client token is made by sg_service_negotiate on libuv's thread pool (it may fetch the
 * temporary key over HTTP with Entra auth); the answer is sent back on the loop. */
#include "net/http.h"
#include "sdk_internal.h"
#include "server_internal.h"
#include "sg_alloc.h"
#include "sg_err.h"
#include "sg_log.h"
#include "sg_str.h"

#include <string.h>
#include <strings.h>
#include <uv.h>

#define LOGM "sdk.server"

typedef struct neg_state {
    sg_http_server *http;
    sg_server *srv;
    char *path; /* "/<hub>/negotiate" */
} neg_state;

typedef struct neg_work {
    uv_work_t req;
    sg_server *srv;
    sg_http_req *http; /* NULL once the client went away */
    sg_service_endpoint *ep;
    char *hub;
    char *user;
    char *query;
    sg_negotiate_result res;
    sg_service_result sres;
    int rc;
} neg_work;

static void respond_json(sg_http_req *r, int status, json_t *body)
{
    sg_buf b;
    sg_buf_init(&b, 0);
    const sg_slice *origin = sg_http_req_header(r, "Origin");
    char *o = origin ? sg_slice_dup(*origin) : NULL;
    sg_http_header h[2] = {
        {SG_SLICE_LIT("Access-Control-Allow-Origin"), o ? sg_slice_cstr(o) : SG_SLICE_LIT("*")},
        {SG_SLICE_LIT("Access-Control-Allow-Credentials"), SG_SLICE_LIT("true")},
    };
    if (sg__sdk_json_dump(body, &b) == SG_OK)
        sg_http_respond_ex(r, status, "application/json", h, 2, b.data, b.len);
    else
        sg_http_respond(r, 500, "text/plain", "out of memory", 13);
    sg_free(o);
    sg_buf_free(&b);
}

static void respond_error(sg_http_req *r, int status, const char *msg)
{
    json_t *j = json_pack("{s:s}", "error", msg);
    if (j)
        respond_json(r, status, j);
    else
        sg_http_respond(r, 500, "text/plain", "out of memory", 13);
    json_decref(j);
}

static void on_abort(sg_http_req *r, void *ud)
{
    (void)r;
    neg_work *w = ud;
    w->http = NULL;
}

static void work_run(uv_work_t *req)
{
    neg_work *w = req->data;
    w->rc = sg_service_negotiate(w->ep, w->hub, w->user, NULL, &w->res, &w->sres);
}

static void work_free(neg_work *w)
{
    sg_negotiate_result_clear(&w->res);
    sg_service_result_clear(&w->sres);
    sg_free(w->hub);
    sg_free(w->user);
    sg_free(w->query);
    sg_free(w);
}

static void work_done(uv_work_t *req, int status)
{
    (void)status;
    neg_work *w = req->data;
    sg_server *s = w->srv;
    if (w->http) {
        if (w->rc != SG_OK) {
            const char *m = w->sres.message[0] ? w->sres.message : sg_strerror(w->rc);
            SG_LOGW(LOGM, "event=negotiate_failed hub=%s user=%s error=\"%s\"", w->hub,
                    w->user ? w->user : "", m);
            /* 200 + {"error"} makes SignalR clients show the message itself */
            respond_error(w->http, 200, m);
        } else {
            sg_buf url;
            sg_buf_init(&url, 0);
            json_t *j = NULL;
            if (sg__negotiate_url(w->res.url, w->hub, w->query, &url) == SG_OK)
                j = json_pack("{s:i,s:s,s:s,s:[]}", "negotiateVersion", 0, "url", url.data,
                              "accessToken", w->res.access_token, "availableTransports");
            if (j) {
                respond_json(w->http, 200, j);
                SG_LOGD(LOGM, "event=negotiate hub=%s user=%s", w->hub, w->user ? w->user : "");
            } else {
                respond_error(w->http, 500, "out of memory");
            }
            json_decref(j);
            sg_buf_free(&url);
        }
    }
    work_free(w);
    sg__server_work_end(s);
}

/* The client's query without `user` (it stays in the token) — everything else is passed on. */
static char *query_dup(sg_slice q)
{
    sg_buf b;
    sg_buf_init(&b, 0);
    size_t pos = 0;
    sg_slice k, v;
    while (sg_query_next(q, &pos, &k, &v)) {
        if (sg_slice_eq(k, "user"))
            continue;
        if (b.len)
            sg_buf_append_byte(&b, '&');
        sg_buf_append(&b, k.p, k.n);
        if (v.p) {
            sg_buf_append_byte(&b, '=');
            sg_buf_append(&b, v.p, v.n);
        }
    }
    char *r = b.data ? sg_buf_steal(&b, NULL) : sg_strdup("");
    sg_buf_free(&b);
    return r;
}

static void handler(sg_http_req *r, void *ud)
{
    neg_state *ns = ud;
    sg_server *s = ns->srv;
    size_t pl = strlen(ns->path);
    int path_ok = r->path.n == pl && !strncasecmp(r->path.p, ns->path, pl);
    if (!path_ok) {
        respond_error(r, 404, "not found");
        return;
    }
    if (r->method == SG_HTTP_OPTIONS) {
        const sg_slice *origin = sg_http_req_header(r, "Origin");
        char *o = origin ? sg_slice_dup(*origin) : NULL;
        sg_http_header h[4] = {
            {SG_SLICE_LIT("Access-Control-Allow-Origin"), o ? sg_slice_cstr(o) : SG_SLICE_LIT("*")},
            {SG_SLICE_LIT("Access-Control-Allow-Credentials"), SG_SLICE_LIT("true")},
            {SG_SLICE_LIT("Access-Control-Allow-Methods"), SG_SLICE_LIT("POST, OPTIONS")},
            {SG_SLICE_LIT("Access-Control-Allow-Headers"),
             SG_SLICE_LIT("Authorization, Content-Type, X-Requested-With, X-SignalR-User-Agent")},
        };
        sg_http_respond_ex(r, 204, NULL, h, 4, NULL, 0);
        sg_free(o);
        return;
    }
    if (r->method != SG_HTTP_POST) {
        respond_error(r, 405, "use POST");
        return;
    }
    if (sg__server_stopping(s)) {
        respond_error(r, 503, "The app server is shutting down.");
        return;
    }
    sg_service_endpoint *ep = sg__server_pick_endpoint(s);
    neg_work *w = sg_calloc(1, sizeof(*w));
    if (!w || !ep) {
        sg_free(w);
        respond_error(r, 500, ep ? "out of memory" : "no endpoint");
        return;
    }
    w->srv = s;
    w->http = r;
    w->ep = ep;
    w->hub = sg_strdup(sg__server_hub(s));
    w->user = sg_query_get(r->query, "user");
    w->query = query_dup(r->query);
    w->req.data = w;
    if (!w->hub || !w->query) {
        work_free(w);
        respond_error(r, 500, "out of memory");
        return;
    }
    if (w->user && !*w->user) {
        sg_free(w->user);
        w->user = NULL;
    }
    if (uv_queue_work(sg__server_loop(s), &w->req, work_run, work_done) < 0) {
        work_free(w);
        respond_error(r, 500, "could not queue the negotiate work");
        return;
    }
    sg__server_work_begin(s);
    sg_http_req_on_abort(r, on_abort, w);
}

int sg__negotiate_listen(sg_server *s, const char *host, int port, int *bound)
{
    void **slot = sg__server_negotiate_slot(s);
    if (*slot)
        return SG_EEXIST;
    neg_state *ns = sg_calloc(1, sizeof(*ns));
    if (!ns)
        return SG_ENOMEM;
    ns->srv = s;
    sg_buf p;
    sg_buf_init(&p, 0);
    if (sg_buf_appendf(&p, "/%s/negotiate", sg__server_hub(s)) != SG_OK) {
        sg_free(ns);
        return SG_ENOMEM;
    }
    ns->path = sg_buf_steal(&p, NULL);
    sg_http_server_opts o;
    memset(&o, 0, sizeof o);
    o.host = host ? host : "127.0.0.1";
    o.port = port;
    o.handler = handler;
    o.ud = ns;
    o.max_body_bytes = 64 << 10;
    int rc = sg_http_server_start(sg__server_loop(s), &o, &ns->http);
    if (rc) {
        SG_LOGE(LOGM, "event=listen_failed host=%s port=%d error=%s", o.host, port,
                sg_strerror(rc));
        sg_free(ns->path);
        sg_free(ns);
        return rc;
    }
    if (bound)
        *bound = sg_http_server_port(ns->http);
    *slot = ns;
    SG_LOGI(LOGM, "event=negotiate_listening url=http://%s:%d%s", o.host,
            sg_http_server_port(ns->http), ns->path);
    return SG_OK;
}

typedef struct stop_ctx {
    neg_state *ns;
    void (*done)(void *);
    void *ud;
} stop_ctx;

static void http_stopped(void *ud)
{
    stop_ctx *sc = ud;
    neg_state *ns = sc->ns;
    void (*done)(void *) = sc->done;
    void *dud = sc->ud;
    sg_free(ns->path);
    sg_free(ns);
    sg_free(sc);
    if (done)
        done(dud);
}

void sg__negotiate_stop(sg_server *s, void (*done)(void *ud), void *ud)
{
    void **slot = sg__server_negotiate_slot(s);
    neg_state *ns = *slot;
    stop_ctx *sc = ns ? sg_calloc(1, sizeof(*sc)) : NULL;
    if (!sc) {
        if (done)
            done(ud);
        return;
    }
    *slot = NULL;
    sc->ns = ns;
    sc->done = done;
    sc->ud = ud;
    sg_http_server_stop(ns->http, http_stopped, sc);
}
