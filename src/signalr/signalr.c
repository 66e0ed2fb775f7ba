/* signalr.c — one SignalR resource's data plane: listener, request dispatch, the 1 s tick,
 * start / update / stop. */
#include "sr_auth.h"
#include "sr_authz.h"
#include "sr_internal.h"

#include "proto/hubmsg.h"
#include "sg_alloc.h"
#include "sg_err.h"
#include "sg_id.h"
#include "sg_log.h"
#include "sg_time.h"

#include <string.h>

#define TICK_MS 1000u
#define STOP_GRACE_MS 3000u

static const char *conn_id_key(const void *v)
{
    return ((const sr_conn *)v)->id;
}
static const char *conn_token_key(const void *v)
{
    return ((const sr_conn *)v)->token;
}

static void handler(sg_http_req *r, void *ud)
{
    sg_signalr *s = ud;
    sg_slice p = r->path;
    if (r->method == SG_HTTP_OPTIONS && sg_http_req_header(r, "Origin")) {
        sr_respond_preflight(r); /* CORS preflight: no token is sent with it */
        return;
    }
    if (sg_slice_starts(p, "/client")) {
        sg_slice sub = {p.p + 7, p.n - 7};
        if (sub.n == 0 || sub.p[0] == '/') {
            sr_client_handle(s, r, sub);
            return;
        }
    }
    if (sg_slice_starts(p, "/api/")) {
        sr_rest_handle(s, r);
        return;
    }
    if (sg_slice_eq(p, "/server") || sg_slice_eq(p, "/server/")) {
        sr_server_handle(s, r);
        return;
    }
    sr_respond_error(r, 404, "NotFound", "Not found.", NULL);
}

static void on_tick(uv_timer_t *t)
{
    sg_signalr *s = t->data;
    uint64_t now = sr_now(s);
    sr_conns_tick(s, now);
    sr_servers_tick(s, now);
    if ((s->tempkeys.n || s->tokcache.n || s->authz.map.n) && ++s->ticks % 60 == 0) {
        sr_tempkeys_sweep(s);
        sr_authz_sweep(&s->authz, sg_cloud_authz_generation(s->cloud), (uint64_t)sg_unix_ms());
    }
    /* user-group TTLs */
    for (size_t i = 0; i < s->hubs.hubs.cap; i++) {
        sr_hub *h = s->hubs.hubs.slots[i].val;
        if (h && h->users.n)
            sr_hub_expire(h, now);
    }
}

static int copy_str(char **dst, const char *src)
{
    char *n = sg_strdup(src ? src : "");
    if (!n)
        return SG_ENOMEM;
    sg_free(*dst);
    *dst = n;
    return SG_OK;
}

static int same_str(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

static int apply_opts(sg_signalr *s, const sg_signalr_opts *o)
{
    /* tokens verified with the old keys / policy are verified again */
    if (!same_str(s->primary_key, o->primary_key) ||
        !same_str(s->secondary_key, o->secondary_key) ||
        s->disable_local_auth != o->disable_local_auth || !same_str(s->resource_id, o->resource_id))
        sr_tokcache_invalidate(&s->tokcache);
    if (copy_str(&s->resource_id, o->resource_id) != SG_OK ||
        copy_str(&s->name, o->name) != SG_OK ||
        copy_str(&s->primary_key, o->primary_key) != SG_OK ||
        copy_str(&s->secondary_key, o->secondary_key) != SG_OK)
        return SG_ENOMEM;
    s->serverless = o->serverless;
    s->disable_local_auth = o->disable_local_auth;
    s->max_message = o->max_message ? o->max_message : 32u * 1024u;
    s->max_connections = o->max_connections ? o->max_connections : 19000u;
    s->keepalive_ms = o->keepalive_ms ? o->keepalive_ms : 15000u;
    s->client_timeout_ms = o->client_timeout_ms ? o->client_timeout_ms : 30000u;
    s->handshake_timeout_ms = o->handshake_timeout_ms ? o->handshake_timeout_ms : 15000u;
    if (o->cloud)
        s->cloud = o->cloud;
    return SG_OK;
}

static void free_ctx(sg_signalr *s)
{
    sr_msg_release(&s->ping);
    sr_tempkeys_free(s);
    sr_tokcache_free(&s->tokcache);
    sr_authz_free(&s->authz);
    sr_hubs_free(&s->hubs);
    sr_map_free(&s->by_id);
    sr_map_free(&s->by_token);
    sg_free(s->resource_id);
    sg_free(s->name);
    sg_free(s->primary_key);
    sg_free(s->secondary_key);
    sg_free(s);
}

int sg_signalr_start(uv_loop_t *loop, const sg_signalr_opts *opts, sg_signalr **out)
{
    *out = NULL;
    sg_signalr *s = SG_NEW(sg_signalr);
    if (!s)
        return SG_ENOMEM;
    int rc;
    uint32_t seed = 0;
    sg_random_bytes(&seed, sizeof seed);
    s->loop = loop;
    s->reconnect_window_ms = 30000u;
    s->poll_timeout_ms = 90000u;
    s->replay_max = 2u << 20;
    s->lp_max = 4u << 20;
    s->out_soft = 2u << 20;
    s->out_grace_ms = 15000u;
    s->out_hard = 16u << 20;
    sr_hubs_init(&s->hubs, seed);
    uint64_t tseed = 0;
    sg_random_bytes(&tseed, sizeof tseed);
    sr_tokcache_init(&s->tokcache, tseed);
    sr_authz_init(&s->authz, seed);
    sr_map_init(&s->by_id, conn_id_key, seed ^ 0x5bd1e995u);
    sr_map_init(&s->by_token, conn_token_key, seed ^ 0x27d4eb2fu);
    sr_list_init(&s->all);
    sr_list_init(&s->servers);
    rc = apply_opts(s, opts);
    if (rc != SG_OK)
        goto fail;
    s->ping.payload[SR_PROTO_JSON] = sg_rcbuf_from(sg_hub_json_ping, strlen(sg_hub_json_ping));
    s->ping.payload[SR_PROTO_MSGPACK] =
        sg_rcbuf_from(sg_hub_msgpack_ping, sizeof sg_hub_msgpack_ping);
    if (!s->ping.payload[SR_PROTO_JSON] || !s->ping.payload[SR_PROTO_MSGPACK]) {
        rc = SG_ENOMEM;
        goto fail;
    }
    sg_http_server_opts ho;
    memset(&ho, 0, sizeof ho);
    ho.host = opts->host ? opts->host : "127.0.0.1";
    ho.port = opts->port;
    ho.tls = opts->tls;
    ho.max_body_bytes = 1u << 20;
    ho.max_connections = s->max_connections + 256 > 19744 ? 19744 : s->max_connections + 256;
    ho.handler = handler;
    ho.ud = s;
    rc = sg_http_server_start(loop, &ho, &s->http);
    if (rc != SG_OK)
        goto fail;
    uv_timer_init(loop, &s->tick);
    s->tick.data = s;
    uv_timer_start(&s->tick, on_tick, TICK_MS, TICK_MS);
    s->handles_open = 1;
    SG_LOGI("signalr", "event=listening resource=%s port=%d serverless=%d local_auth=%d", s->name,
            sg_http_server_port(s->http), s->serverless, !s->disable_local_auth);
    *out = s;
    return SG_OK;
fail:
    free_ctx(s);
    return rc;
}

int sg_signalr_update(sg_signalr *s, const sg_signalr_opts *opts)
{
    if (!s || !opts)
        return SG_EINVAL;
    return apply_opts(s, opts);
}

int sg_signalr_port(const sg_signalr *s)
{
    return s && s->http ? sg_http_server_port(s->http) : 0;
}

/* ---- stop ---------------------------------------------------------------------------------- */

static void finish(sg_signalr *s)
{
    void (*done)(void *) = s->stop_done;
    void *ud = s->stop_ud;
    free_ctx(s);
    if (done)
        done(ud);
}

static void on_handle_closed(uv_handle_t *h)
{
    sg_signalr *s = h->data;
    if (--s->handles_open == 0)
        finish(s);
}

static void on_http_stopped(void *ud)
{
    sg_signalr *s = ud;
    s->http = NULL;
    sr_conns_free_all(s);
    sr_servers_close_all(s, 1);
    s->handles_open = 2;
    uv_close((uv_handle_t *)&s->tick, on_handle_closed);
    uv_close((uv_handle_t *)&s->stop_timer, on_handle_closed);
}

static void stop_http(sg_signalr *s)
{
    uv_timer_stop(&s->stop_timer);
    uv_timer_stop(&s->tick);
    /* transports are detached below: the server closes the sockets */
    sg_http_server_stop(s->http, on_http_stopped, s);
}

static void on_stop_check(uv_timer_t *t)
{
    sg_signalr *s = t->data;
    sr_conns_tick(s, sr_now(s));
    if ((sr_list_empty(&s->all) && sr_list_empty(&s->servers)) ||
        sr_now(s) - s->stop_started_ms >= STOP_GRACE_MS)
        stop_http(s);
}

void sg_signalr_stop(sg_signalr *s, void (*done)(void *ud), void *ud)
{
    if (!s)
        return;
    if (s->stopping)
        return;
    s->stopping = 1;
    s->stop_done = done;
    s->stop_ud = ud;
    s->stop_started_ms = sr_now(s);
    SG_LOGI("signalr", "event=stopping resource=%s connections=%zu", s->name, s->nconns);
    /* every client gets a Close message with an error text before its socket closes */
    sr_conns_close_all(s, "Service is shutting down.", 1);
    sr_servers_close_all(s, 0);
    uv_timer_init(s->loop, &s->stop_timer);
    s->stop_timer.data = s;
    uv_timer_start(&s->stop_timer, on_stop_check, 50, 100);
}
