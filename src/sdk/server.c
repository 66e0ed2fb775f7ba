/* server.c — the app-server runtime (include/sigrid/server.h): service connections per
 * endpoint, the service protocol, clients, sending, graceful stop. See
 * docs/internals/sdk-server.md for the state machine. Loop thread only, except the token
 * work items, which run sg_service_token on libuv's thread pool and touch nothing else. */
#include "net/wsclient.h"
#include "proto/hubmsg.h"
#include "proto/svcproto.h"
#include "sdk_internal.h"
#include "server_internal.h"
#include "sg_alloc.h"
#include "sg_err.h"
#include "sg_id.h"
#include "sg_log.h"
#include "sg_rcbuf.h"
#include "sg_str.h"
#include "sg_time.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <uv.h>

#define LOGM "sdk.server"
#define TICK_MS 250
#define HANDSHAKE_TIMEOUT_MS 15000
#define AKR_INTERVAL_MS (10 * 60 * 1000)
#define SVC_MAX_BUFFER (32u << 20)

enum {
    C_IDLE = 0,   /* waiting for retry_at */
    C_TOKEN,      /* token work in flight */
    C_CONNECTING, /* WebSocket connecting */
    C_HANDSHAKE,  /* HandshakeRequest sent */
    C_CONNECTED,
    C_FIN,    /* shutdown fin:0 sent, waiting for finack */
    C_CLOSING /* WebSocket close requested */
};

typedef struct sg__svc_conn {
    sg_server *srv;
    struct ep_state *ep;
    int index;
    int state;
    sg_wsclient *ws;
    char cid[37];
    sg_buf in;
    uint64_t last_sent, last_recv, state_at, retry_at, next_akr;
    unsigned attempt;
    int akr_pending;
    size_t n_clients;
} svc_conn;

typedef struct ep_state {
    sg_service_endpoint *ep;
    int owned;
    svc_conn *conns;
    size_t rr;
    char *last_refusal; /* last logged refusal, to keep one line per distinct reason */
    char *temp_kid;     /* from AccessKeyResponse */
    int akr_warned;     /* an AccessKeyResponse error was logged */
} ep_state;

typedef struct method {
    char *name;
    sg_hub_method_fn fn;
    void *ud;
} method;

struct sg_server {
    uv_loop_t *loop;
    uv_loop_t *own_loop;
    sg_server_options o;
    char *hub;    /* as given */
    char *hub_lc; /* lower-case */
    char server_id[64];
    ep_state *eps;
    size_t n_eps;
    size_t ep_rr;
    method *methods;
    size_t n_methods;
    /* clients */
    sg__client **buckets;
    size_t n_buckets;
    size_t n_clients;
    sg__client *clients; /* list head */
    /* loop handles */
    uv_timer_t tick;
    uv_signal_t sigint, sigterm;
    int tick_on, signals_on;
    int handles_open;
    int started, stopping, stopped;
    uint64_t stop_deadline;
    int negotiate_stopping, negotiate_done;
    void *negotiate;
    size_t work;
    void (*done)(void *);
    void *done_ud;
};

typedef struct token_work {
    uv_work_t req;
    svc_conn *c;
    int akr;
    char *token;
    int rc;
    sg_service_result res;
} token_work;

static void conn_schedule_retry(svc_conn *c, unsigned min_ms);
static void conn_drop_clients(svc_conn *c, const char *why);
static void maybe_finish_stop(sg_server *s);

/* ---- small accessors for server_negotiate.c ------------------------------------------------- */

struct uv_loop_s *sg__server_loop(sg_server *s)
{
    return s->loop;
}

const char *sg__server_hub(sg_server *s)
{
    return s->hub;
}

void sg__server_work_begin(sg_server *s)
{
    s->work++;
}

void sg__server_work_end(sg_server *s)
{
    s->work--;
    maybe_finish_stop(s);
}

int sg__server_stopping(sg_server *s)
{
    return s->stopping || s->stopped;
}

void **sg__server_negotiate_slot(sg_server *s)
{
    return &s->negotiate;
}

static size_t ep_live(const ep_state *e, int n)
{
    size_t live = 0;
    for (int i = 0; i < n; i++)
        if (e->conns[i].state == C_CONNECTED)
            live++;
    return live;
}

static int conns_per_ep(const sg_server *s)
{
    return s->o.connections_per_endpoint > 0 ? s->o.connections_per_endpoint : 5;
}

sg_service_endpoint *sg__server_pick_endpoint(sg_server *s)
{
    if (!s->n_eps)
        return NULL;
    size_t rr = s->ep_rr;
    for (size_t k = 0; k < s->n_eps; k++) {
        ep_state *e = &s->eps[(rr + k) % s->n_eps];
        if (ep_live(e, conns_per_ep(s))) {
            s->ep_rr = (rr + k + 1) % s->n_eps;
            return e->ep;
        }
    }
    s->ep_rr = (rr + 1) % s->n_eps;
    return s->eps[rr % s->n_eps].ep;
}

size_t sg_server_connected(const sg_server *s)
{
    size_t n = 0;
    for (size_t i = 0; s && i < s->n_eps; i++)
        n += ep_live(&s->eps[i], conns_per_ep(s));
    return n;
}

/* ---- client table --------------------------------------------------------------------------- */

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

static sg__client *client_find(sg_server *s, const char *id)
{
    if (!id || !s->n_buckets)
        return NULL;
    for (sg__client *c = s->buckets[hash_str(id) & (s->n_buckets - 1)]; c; c = c->hnext)
        if (!strcmp(c->id, id))
            return c;
    return NULL;
}

static int client_insert(sg_server *s, sg__client *c)
{
    if (s->n_clients + 1 > s->n_buckets) {
        size_t nb = s->n_buckets ? s->n_buckets * 2 : 64;
        sg__client **b = sg_calloc(nb, sizeof(*b));
        if (!b)
            return SG_ENOMEM;
        for (size_t i = 0; i < s->n_buckets; i++) {
            sg__client *x = s->buckets[i];
            while (x) {
                sg__client *nx = x->hnext;
                size_t k = hash_str(x->id) & (nb - 1);
                x->hnext = b[k];
                b[k] = x;
                x = nx;
            }
        }
        sg_free(s->buckets);
        s->buckets = b;
        s->n_buckets = nb;
    }
    size_t k = hash_str(c->id) & (s->n_buckets - 1);
    c->hnext = s->buckets[k];
    s->buckets[k] = c;
    c->next = s->clients;
    c->prev = NULL;
    if (s->clients)
        s->clients->prev = c;
    s->clients = c;
    s->n_clients++;
    return SG_OK;
}

static void client_remove(sg_server *s, sg__client *c)
{
    sg__client **pp = &s->buckets[hash_str(c->id) & (s->n_buckets - 1)];
    while (*pp && *pp != c)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = c->hnext;
    if (c->prev)
        c->prev->next = c->next;
    else
        s->clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
    s->n_clients--;
    if (c->conn)
        c->conn->n_clients--;
}

/* ---- sending on a service connection -------------------------------------------------------- */

static int conn_send_msg(svc_conn *c, const sg_svc_msg *m)
{
    if (!c->ws || (c->state != C_CONNECTED && c->state != C_HANDSHAKE && c->state != C_FIN))
        return SG_ECLOSED;
    sg_buf b;
    sg_buf_init(&b, 0);
    int rc = sg_svc_write(m, &b);
    if (rc == SG_OK)
        rc = sg_wsclient_send(c->ws, 1, b.data, b.len);
    if (rc == SG_OK)
        c->last_sent = uv_now(c->srv->loop);
    sg_buf_free(&b);
    return rc;
}

static int conn_send_ping(svc_conn *c, const char **strs, size_t n)
{
    sg_svc_msg m;
    sg_svc_msg_init(&m);
    m.type = SG_SVC_PING;
    m.ids = strs;
    m.n_ids = n;
    return conn_send_msg(c, &m);
}

static int client_send_bytes(sg__client *cl, const void *p, size_t n)
{
    if (!cl->conn || !n)
        return cl->conn ? SG_OK : SG_ECLOSED;
    sg_svc_msg m;
    sg_svc_msg_init(&m);
    m.type = SG_SVC_CONNECTION_DATA;
    m.connection_id = cl->id;
    m.payload = p;
    m.payload_len = n;
    int rc = conn_send_msg(cl->conn, &m);
    if (rc == SG_OK)
        cl->last_sent_ms = uv_now(cl->server->loop);
    return rc;
}

/* Next connected connection of an endpoint (round robin), NULL if none. */
static svc_conn *ep_pick(sg_server *s, ep_state *e)
{
    int n = conns_per_ep(s);
    for (int k = 0; k < n; k++) {
        svc_conn *c = &e->conns[(e->rr + (size_t)k) % (size_t)n];
        if (c->state == C_CONNECTED) {
            e->rr = (e->rr + (size_t)k + 1) % (size_t)n;
            return c;
        }
    }
    return NULL;
}

/* Sends m on one live connection of every endpoint. SG_OK if at least one took it. */
static int send_every_endpoint(sg_server *s, const sg_svc_msg *m)
{
    int any = 0, rc = SG_ECLOSED;
    for (size_t i = 0; i < s->n_eps; i++) {
        svc_conn *c = ep_pick(s, &s->eps[i]);
        if (!c)
            continue;
        int r = conn_send_msg(c, m);
        if (r == SG_OK)
            any = 1;
        else
            rc = r;
    }
    return any ? SG_OK : rc;
}

/* ---- clients over the service --------------------------------------------------------------- */

static int dispatch(void *ud, sg__client *c, const char *target, const char *args,
                    sg_hub_result *res)
{
    sg_server *s = ud;
    for (size_t i = 0; i < s->n_methods; i++) {
        if (!strcasecmp(s->methods[i].name, target))
            return s->methods[i].fn(c, args, res, s->methods[i].ud) ? SG_EINTERNAL : SG_OK;
    }
    return SG_ENOTFOUND;
}

/* Ends a client locally: callback, unlink, free. */
static void client_end(sg_server *s, sg__client *cl, const char *error)
{
    if (cl->handshaken && s->o.on_disconnected)
        s->o.on_disconnected(cl, error, s->o.ud);
    client_remove(s, cl);
    SG_LOGD(LOGM, "event=client_closed connection=%s error=\"%s\"", cl->id, error ? error : "");
    sg__client_free(cl);
}

/* Closes a client from our side: optional hub Close, then CloseConnection to the service. */
static void client_kick(sg_server *s, sg__client *cl, const char *error, int send_close_msg)
{
    if (cl->conn) {
        if (send_close_msg && cl->handshaken) {
            sg_buf b;
            sg_buf_init(&b, 0);
            if (sg__client_write_close(cl, error, &b) == SG_OK)
                client_send_bytes(cl, b.data, b.len);
            sg_buf_free(&b);
        }
        sg_svc_msg m;
        sg_svc_msg_init(&m);
        m.type = SG_SVC_CLOSE_CONNECTION;
        m.connection_id = cl->id;
        m.error_message = error ? error : "";
        conn_send_msg(cl->conn, &m);
    }
    client_end(s, cl, error);
}

static void on_open_connection(svc_conn *c, const sg_svc_msg *m)
{
    sg_server *s = c->srv;
    sg__client *old = client_find(s, m->connection_id);
    if (old)
        client_end(s, old, "reopened");
    sg__client *cl = sg__client_new(m);
    if (!cl || client_insert(s, cl)) {
        SG_LOGW(LOGM, "event=client_refused connection=%s error=out_of_memory", m->connection_id);
        sg__client_free(cl);
        sg_svc_msg cm;
        sg_svc_msg_init(&cm);
        cm.type = SG_SVC_CLOSE_CONNECTION;
        cm.connection_id = m->connection_id;
        cm.error_message = "The app server is out of memory.";
        conn_send_msg(c, &cm);
        return;
    }
    cl->server = s;
    cl->conn = c;
    c->n_clients++;
    cl->last_sent_ms = uv_now(s->loop);
    SG_LOGD(LOGM, "event=client_open connection=%s user=%s", cl->id,
            cl->user_id ? cl->user_id : "");
}

static void on_connection_data(svc_conn *c, const sg_svc_msg *m)
{
    sg_server *s = c->srv;
    sg__client *cl = client_find(s, m->connection_id);
    if (!cl) {
        SG_LOGD(LOGM, "event=data_for_unknown_client connection=%s", m->connection_id);
        return;
    }
    if (cl->conn != c) { /* the service moved it (migration): follow */
        if (cl->conn)
            cl->conn->n_clients--;
        cl->conn = c;
        c->n_clients++;
    }
    sg_buf out;
    sg_buf_init(&out, 0);
    int hs_done = 0;
    const char *why = NULL;
    int rc = sg__client_feed(cl, m->payload, m->payload_len, dispatch, s, &out, &hs_done, &why);
    /* a method may have closed this client: look it up again */
    if (client_find(s, m->connection_id) != cl) {
        sg_buf_free(&out);
        return;
    }
    if (out.len)
        client_send_bytes(cl, out.data, out.len);
    sg_buf_free(&out);
    if (hs_done && s->o.on_connected)
        s->o.on_connected(cl, s->o.ud);
    if (client_find(s, m->connection_id) != cl)
        return;
    if (rc != SG_OK || cl->closed) {
        SG_LOGD(LOGM, "event=client_protocol_end connection=%s why=\"%s\"", cl->id,
                why ? why : "closed by the client");
        client_kick(s, cl, why, rc != SG_OK && cl->handshaken);
    }
}

static void on_close_connection(svc_conn *c, const sg_svc_msg *m)
{
    sg__client *cl = client_find(c->srv, m->connection_id);
    if (cl)
        client_end(c->srv, cl, m->error_message && *m->error_message ? m->error_message : NULL);
}

/* ---- service messages ----------------------------------------------------------------------- */

static void conn_set_state(svc_conn *c, int st)
{
    c->state = st;
    c->state_at = uv_now(c->srv->loop);
}

static void on_ping(svc_conn *c, const sg_svc_msg *m)
{
    if (m->n_ids >= 2 && !strcmp(m->ids[0], "echo")) {
        conn_send_ping(c, m->ids, m->n_ids);
        return;
    }
    const char *sd = sg_svc_ping_get(m, "shutdown");
    if (sd && !strcmp(sd, "finack")) {
        SG_LOGD(LOGM, "event=finack endpoint=%s cid=%s", sg_service_endpoint_url(c->ep->ep),
                c->cid);
        if (c->state == C_FIN && c->ws) {
            conn_set_state(c, C_CLOSING);
            sg_wsclient_close(c->ws, 1000, "shutdown");
        }
        return;
    }
    /* keep-alive, status, servers, target (rebalance), offline, d-m: nothing to do here */
}

static void handle_msg(svc_conn *c, const sg_svc_msg *m)
{
    sg_server *s = c->srv;
    switch (m->type) {
    case SG_SVC_HANDSHAKE_RESPONSE:
        if (c->state != C_HANDSHAKE)
            break;
        if (m->error_message && *m->error_message) {
            SG_LOGE(LOGM, "event=handshake_refused endpoint=%s hub=%s error=\"%s\" action=retry",
                    sg_service_endpoint_url(c->ep->ep), s->hub_lc, m->error_message);
            c->attempt = 6; /* a refusal will not cure itself quickly: long backoff */
            conn_set_state(c, C_CLOSING);
            sg_wsclient_close(c->ws, 1000, "handshake refused");
            break;
        }
        conn_set_state(c, C_CONNECTED);
        c->attempt = 0;
        sg_free(c->ep->last_refusal);
        c->ep->last_refusal = NULL;
        c->next_akr = sg_service_endpoint_credential(c->ep->ep) ? uv_now(s->loop) : 0;
        SG_LOGI(LOGM, "event=connected endpoint=%s hub=%s cid=%s connections=%zu",
                sg_service_endpoint_url(c->ep->ep), s->hub_lc, c->cid, sg_server_connected(s));
        break;
    case SG_SVC_PING:
        on_ping(c, m);
        break;
    case SG_SVC_OPEN_CONNECTION:
        on_open_connection(c, m);
        break;
    case SG_SVC_CONNECTION_DATA:
        on_connection_data(c, m);
        break;
    case SG_SVC_CLOSE_CONNECTION:
        on_close_connection(c, m);
        break;
    case SG_SVC_SERVICE_ERROR:
        SG_LOGW(LOGM, "event=service_error endpoint=%s cid=%s error=\"%s\"",
                sg_service_endpoint_url(c->ep->ep), c->cid,
                m->error_message ? m->error_message : "");
        if (c->ws && c->state != C_CLOSING) {
            conn_set_state(c, C_CLOSING);
            sg_wsclient_close(c->ws, 1000, "service error");
        }
        break;
    case SG_SVC_ACCESS_KEY_RESPONSE:
        if (m->access_key && m->kid) {
            sg_free(c->ep->temp_kid);
            c->ep->temp_kid = sg_strdup(m->kid);
            SG_LOGD(LOGM, "event=access_key endpoint=%s kid=%s", sg_service_endpoint_url(c->ep->ep),
                    m->kid);
        } else if (!c->ep->akr_warned) {
            /* once per endpoint: negotiate still gets keys from /api/v1/auth/accessKey */
            c->ep->akr_warned = 1;
            SG_LOGW(LOGM, "event=access_key_refused endpoint=%s type=\"%s\" error=\"%s\"",
                    sg_service_endpoint_url(c->ep->ep), m->error_type ? m->error_type : "",
                    m->error_message ? m->error_message : "");
        }
        break;
    default: /* Acks (we use fire-and-forget), ServiceEvent, mapping, flow control, unknown */
        break;
    }
}

static void ws_on_message(sg_wsclient *ws, int binary, const char *p, size_t n, void *ud)
{
    (void)ws;
    (void)binary;
    svc_conn *c = ud;
    c->last_recv = uv_now(c->srv->loop);
    if (sg_buf_append(&c->in, p, n)) {
        SG_LOGW(LOGM, "event=service_buffer_full cid=%s", c->cid);
        conn_set_state(c, C_CLOSING);
        sg_wsclient_close(c->ws, 1009, "too big");
        return;
    }
    size_t off = 0;
    while (off < c->in.len && c->ws) {
        sg_svc_msg m;
        sg_svc_msg_init(&m);
        size_t used = 0;
        const char *why = NULL;
        int rc = sg_svc_parse(c->in.data + off, c->in.len - off, 0, &m, &used, &why);
        if (rc == SG_EAGAIN) {
            sg_svc_msg_clear(&m);
            break;
        }
        if (rc) {
            SG_LOGW(LOGM, "event=service_protocol_error cid=%s error=%s why=\"%s\"", c->cid,
                    sg_strerror(rc), why ? why : "");
            sg_svc_msg_clear(&m);
            off = c->in.len;
            conn_set_state(c, C_CLOSING);
            sg_wsclient_close(c->ws, 1002, "protocol error");
            break;
        }
        off += used;
        int st = c->state;
        handle_msg(c, &m);
        sg_svc_msg_clear(&m);
        if (c->state == C_CLOSING && st != C_CLOSING)
            break;
    }
    sg_buf_consume(&c->in, off <= c->in.len ? off : c->in.len);
}

static void ws_on_open(sg_wsclient *ws, void *ud)
{
    (void)ws;
    svc_conn *c = ud;
    conn_set_state(c, C_HANDSHAKE);
    c->last_recv = uv_now(c->srv->loop);
    sg_svc_msg m;
    sg_svc_msg_init(&m);
    m.type = SG_SVC_HANDSHAKE_REQUEST;
    m.version = 1;
    m.connection_type = SG_SVC_CONN_DEFAULT;
    m.target = "";
    m.migration_level = SG_SVC_MIGRATE_OFF;
    if (conn_send_msg(c, &m) != SG_OK) {
        conn_set_state(c, C_CLOSING);
        sg_wsclient_close(c->ws, 1011, "handshake");
    }
}

static void log_refusal(svc_conn *c, const sg_wsclient_close_info *info)
{
    char reason[900];
    sg__refusal_text(info->body, reason, sizeof reason);
    char line[1100];
    snprintf(line, sizeof line, "status=%d %s", info->http_status, reason); /* lint-ok */
    ep_state *e = c->ep;
    unsigned next = sg__backoff_ms(c->attempt, c->srv->o.reconnect_max_ms, 0);
    if (!e->last_refusal || strcmp(e->last_refusal, line)) {
        SG_LOGE(LOGM, "event=connection_refused endpoint=%s hub=%s %s action=retry retry_in_ms=%u",
                sg_service_endpoint_url(e->ep), c->srv->hub_lc, line, next);
        sg_free(e->last_refusal);
        e->last_refusal = sg_strdup(line);
    } else {
        SG_LOGD(LOGM, "event=connection_refused endpoint=%s cid=%s %s",
                sg_service_endpoint_url(e->ep), c->cid, line);
    }
}

static void ws_on_close(sg_wsclient *ws, const sg_wsclient_close_info *info, void *ud)
{
    (void)ws;
    svc_conn *c = ud;
    sg_server *s = c->srv;
    int was = c->state;
    c->ws = NULL;
    sg_buf_reset(&c->in);
    if (info->http_status && info->http_status != 101) {
        log_refusal(c, info);
    } else if (was == C_CONNECTED || was == C_HANDSHAKE) {
        SG_LOGW(LOGM,
                "event=disconnected endpoint=%s hub=%s cid=%s reason=%s code=%u detail=\"%s\"",
                sg_service_endpoint_url(c->ep->ep), s->hub_lc, c->cid, sg_strerror(info->reason),
                info->code, info->detail ? info->detail : "");
    } else if (!s->stopping && was == C_CONNECTING) {
        SG_LOGW(LOGM, "event=connect_failed endpoint=%s hub=%s reason=%s detail=\"%s\"",
                sg_service_endpoint_url(c->ep->ep), s->hub_lc, sg_strerror(info->reason),
                info->detail ? info->detail : "");
    }
    conn_drop_clients(c, "The app server connection was lost.");
    conn_set_state(c, C_IDLE);
    if (s->stopping) {
        maybe_finish_stop(s);
        return;
    }
    conn_schedule_retry(c, 0);
}

/* ---- connecting ----------------------------------------------------------------------------- */

static void token_work_run(uv_work_t *req)
{
    token_work *w = req->data;
    w->rc = sg_service_token(w->c->ep->ep, SG_TOKEN_SERVER, w->c->srv->hub, NULL, NULL, &w->token,
                             &w->res);
}

static int ws_url(svc_conn *c, sg_buf *u)
{
    const char *base = sg_service_endpoint_server_url(c->ep->ep);
    int rc;
    if (!strncasecmp(base, "https://", 8))
        rc = sg_buf_appendf(u, "wss://%s", base + 8);
    else if (!strncasecmp(base, "http://", 7))
        rc = sg_buf_appendf(u, "ws://%s", base + 7);
    else
        rc = sg_buf_append_str(u, base);
    if (rc == SG_OK)
        rc = sg_buf_append_str(u, "/server/?hub=");
    if (rc == SG_OK)
        rc = sg_url_encode_append(u, c->srv->hub_lc, strlen(c->srv->hub_lc));
    if (rc == SG_OK)
        rc = sg_buf_appendf(u, "&cid=%s", c->cid);
    return rc;
}

static void conn_open_ws(svc_conn *c, const char *token)
{
    sg_server *s = c->srv;
    sg_buf url, auth, sid;
    sg_buf_init(&url, 0);
    sg_buf_init(&auth, 0);
    sg_buf_init(&sid, 0);
    sg_uuid4(c->cid);
    int rc = ws_url(c, &url);
    if (rc == SG_OK)
        rc = sg_buf_appendf(&auth, "Authorization: Bearer %s", token);
    if (rc == SG_OK)
        rc = sg_buf_appendf(&sid, "X-ASRS-Server-Id: %s", s->server_id);
    const char *hdrs[] = {auth.data, sid.data, "X-Requested-With: XMLHttpRequest",
                          "Asrs-User-Agent: libsigrid/0.1 (C; Linux)", NULL};
    sg_wsclient_opts o;
    memset(&o, 0, sizeof o);
    o.url = url.data;
    o.headers = hdrs;
    o.ca_file = s->o.ca_file;
    o.timeout_ms = HANDSHAKE_TIMEOUT_MS;
    sg_wsclient_cbs cbs = {ws_on_open, ws_on_message, ws_on_close};
    if (rc == SG_OK) {
        conn_set_state(c, C_CONNECTING);
        rc = sg_wsclient_connect(s->loop, &o, &cbs, c, &c->ws);
    }
    if (rc) {
        SG_LOGE(LOGM, "event=connect_failed endpoint=%s error=%s",
                sg_service_endpoint_url(c->ep->ep), sg_strerror(rc));
        c->ws = NULL;
        conn_set_state(c, C_IDLE);
        conn_schedule_retry(c, 0);
    }
    if (auth.data)
        memset(auth.data, 0, auth.len);
    sg_buf_free(&auth);
    sg_buf_free(&sid);
    sg_buf_free(&url);
}

static void send_akr(svc_conn *c, const char *token)
{
    sg_svc_msg m;
    sg_svc_msg_init(&m);
    m.type = SG_SVC_ACCESS_KEY_REQUEST;
    m.token = token;
    m.kid = NULL;
    if (conn_send_msg(c, &m) == SG_OK)
        SG_LOGD(LOGM, "event=access_key_request endpoint=%s cid=%s",
                sg_service_endpoint_url(c->ep->ep), c->cid);
}

static void token_work_done(uv_work_t *req, int status)
{
    token_work *w = req->data;
    svc_conn *c = w->c;
    sg_server *s = c->srv;
    (void)status;
    if (w->akr) {
        c->akr_pending = 0;
        if (w->rc == SG_OK && !s->stopping && c->state == C_CONNECTED)
            send_akr(c, w->token);
    } else if (s->stopping) {
        conn_set_state(c, C_IDLE);
    } else if (w->rc != SG_OK) {
        const char *m = w->res.message[0] ? w->res.message : sg_strerror(w->rc);
        ep_state *e = c->ep;
        if (!e->last_refusal || strcmp(e->last_refusal, m)) {
            SG_LOGE(LOGM, "event=token_failed endpoint=%s auth=%s error=\"%s\" action=retry",
                    sg_service_endpoint_url(e->ep), sg_service_endpoint_auth_name(e->ep), m);
            sg_free(e->last_refusal);
            e->last_refusal = sg_strdup(m);
        }
        conn_set_state(c, C_IDLE);
        conn_schedule_retry(c, 0);
    } else {
        conn_open_ws(c, w->token);
    }
    if (w->token) {
        memset(w->token, 0, strlen(w->token));
        sg_service_string_free(w->token);
    }
    sg_service_result_clear(&w->res);
    sg_free(w);
    sg__server_work_end(s);
}

static int queue_token(svc_conn *c, int akr)
{
    token_work *w = sg_calloc(1, sizeof(*w));
    if (!w)
        return SG_ENOMEM;
    w->c = c;
    w->akr = akr;
    w->req.data = w;
    if (uv_queue_work(c->srv->loop, &w->req, token_work_run, token_work_done) < 0) {
        sg_free(w);
        return SG_EINTERNAL;
    }
    sg__server_work_begin(c->srv);
    return SG_OK;
}

static void conn_start(svc_conn *c)
{
    conn_set_state(c, C_TOKEN);
    if (queue_token(c, 0) != SG_OK) {
        conn_set_state(c, C_IDLE);
        conn_schedule_retry(c, 0);
    }
}

static void conn_schedule_retry(svc_conn *c, unsigned min_ms)
{
    unsigned d = sg__backoff_ms(c->attempt, c->srv->o.reconnect_max_ms, 20);
    if (d < min_ms)
        d = min_ms;
    if (c->attempt < 30)
        c->attempt++;
    c->retry_at = uv_now(c->srv->loop) + d;
}

static void conn_drop_clients(svc_conn *c, const char *why)
{
    sg_server *s = c->srv;
    sg__client *cl = s->clients;
    while (cl && c->n_clients) {
        sg__client *nx = cl->next;
        if (cl->conn == c)
            client_end(s, cl, why);
        cl = nx;
    }
}

/* ---- the tick: keep-alive, timeouts, retries, client pings --------------------------------- */

static void on_tick(uv_timer_t *t)
{
    sg_server *s = t->data;
    uint64_t now = uv_now(s->loop);
    int n = conns_per_ep(s);
    for (size_t i = 0; i < s->n_eps; i++) {
        for (int k = 0; k < n; k++) {
            svc_conn *c = &s->eps[i].conns[k];
            switch (c->state) {
            case C_IDLE:
                if (!s->stopping && now >= c->retry_at)
                    conn_start(c);
                break;
            case C_HANDSHAKE:
                if (now - c->state_at > HANDSHAKE_TIMEOUT_MS) {
                    SG_LOGW(LOGM, "event=handshake_timeout cid=%s", c->cid);
                    conn_set_state(c, C_CLOSING);
                    sg_wsclient_close(c->ws, 1000, "handshake timeout");
                }
                break;
            case C_CONNECTED:
            case C_FIN:
                if (now - c->last_recv > s->o.timeout_ms) {
                    SG_LOGW(LOGM, "event=service_timeout endpoint=%s cid=%s silent_ms=%llu",
                            sg_service_endpoint_url(c->ep->ep), c->cid,
                            (unsigned long long)(now - c->last_recv));
                    conn_set_state(c, C_CLOSING);
                    sg_wsclient_close(c->ws, 1000, "timeout");
                    break;
                }
                if (now - c->last_sent >= s->o.keepalive_ms)
                    conn_send_ping(c, NULL, 0);
                if (c->state == C_CONNECTED && c->next_akr && now >= c->next_akr &&
                    !c->akr_pending) {
                    c->next_akr = now + AKR_INTERVAL_MS;
                    if (queue_token(c, 1) == SG_OK)
                        c->akr_pending = 1;
                }
                if (c->state == C_FIN && now >= s->stop_deadline) {
                    SG_LOGW(LOGM, "event=finack_timeout cid=%s", c->cid);
                    conn_set_state(c, C_CLOSING);
                    sg_wsclient_close(c->ws, 1000, "shutdown");
                }
                break;
            default:
                break;
            }
        }
    }
    if (!s->stopping && s->o.client_keepalive_ms) {
        sg_buf b;
        sg_buf_init(&b, 0);
        for (sg__client *cl = s->clients; cl; cl = cl->next) {
            if (!cl->handshaken || now - cl->last_sent_ms < s->o.client_keepalive_ms)
                continue;
            sg_buf_reset(&b);
            if (sg__client_write_ping(cl, &b) == SG_OK)
                client_send_bytes(cl, b.data, b.len);
        }
        sg_buf_free(&b);
    }
}

/* ---- lifecycle ------------------------------------------------------------------------------ */

static int opt_copy(sg_server *s, const sg_server_options *in)
{
    sg__opts_copy(&s->o, sizeof s->o, in, in->size);
    s->o.size = sizeof s->o;
    if (!s->o.keepalive_ms)
        s->o.keepalive_ms = 5000;
    if (!s->o.timeout_ms)
        s->o.timeout_ms = 30000;
    if (!s->o.client_keepalive_ms)
        s->o.client_keepalive_ms = 15000;
    if (!s->o.reconnect_max_ms)
        s->o.reconnect_max_ms = 30000;
    if (!s->o.shutdown_timeout_ms)
        s->o.shutdown_timeout_ms = 5000;
    s->o.hub = NULL;
    s->o.connection_string = NULL;
    s->o.endpoints = NULL;
    s->o.endpoint_options = NULL;
    if (s->o.ca_file) {
        s->o.ca_file = sg_strdup(in->ca_file);
        if (!s->o.ca_file)
            return SG_ENOMEM;
    }
    return SG_OK;
}

static void msgf(char *msg, size_t msglen, const char *fmt, const char *a)
{
    if (msg && msglen)
        snprintf(msg, msglen, fmt, a); /* lint-ok: bounded */
}

int sg_server_new(struct uv_loop_s *loop, const sg_server_options *o, sg_server **out, char *msg,
                  size_t msglen)
{
    if (msg && msglen)
        msg[0] = 0;
    if (!o || !out)
        return SG_EINVAL;
    *out = NULL;
    if (!o->hub || !*o->hub) {
        msgf(msg, msglen, "%s", "a hub name is required");
        return SG_EINVAL;
    }
    for (const char *p = o->hub; *p; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_')) {
            msgf(msg, msglen, "invalid hub name '%.100s' (letters, digits and _)", o->hub);
            return SG_EINVAL;
        }
    }
    size_t n_eps = (o->connection_string ? 1 : 0) + o->n_endpoints;
    if (!n_eps) {
        msgf(msg, msglen, "%s", "no endpoint: give a connection string or endpoints");
        return SG_EINVAL;
    }
    sg_server *s = sg_calloc(1, sizeof(*s));
    if (!s)
        return SG_ENOMEM;
    int rc = opt_copy(s, o);
    if (rc)
        goto fail;
    s->hub = sg_strdup(o->hub);
    s->hub_lc = sg_strdup(o->hub);
    s->eps = sg_calloc(n_eps, sizeof(*s->eps));
    if (!s->hub || !s->hub_lc || !s->eps) {
        rc = SG_ENOMEM;
        goto fail;
    }
    sg_str_lower(s->hub_lc);
    char host[48] = "host", uuid[37];
    gethostname(host, sizeof host - 1);
    sg_uuid4(uuid);
    snprintf(s->server_id, sizeof s->server_id, "%.20s_%.8s", host, uuid); /* lint-ok */
    if (o->connection_string) {
        rc = sg_service_endpoint_from_connection_string(o->connection_string, o->endpoint_options,
                                                        &s->eps[0].ep, msg, msglen);
        if (rc)
            goto fail;
        s->eps[0].owned = 1;
        s->n_eps = 1;
    }
    for (size_t i = 0; i < o->n_endpoints; i++) {
        if (!o->endpoints[i]) {
            msgf(msg, msglen, "%s", "endpoint is NULL");
            rc = SG_EINVAL;
            goto fail;
        }
        s->eps[s->n_eps++].ep = o->endpoints[i];
    }
    int per = conns_per_ep(s);
    for (size_t i = 0; i < s->n_eps; i++) {
        s->eps[i].conns = sg_calloc((size_t)per, sizeof(svc_conn));
        if (!s->eps[i].conns) {
            rc = SG_ENOMEM;
            goto fail;
        }
        for (int k = 0; k < per; k++) {
            svc_conn *c = &s->eps[i].conns[k];
            c->srv = s;
            c->ep = &s->eps[i];
            c->index = k;
            sg_buf_init(&c->in, SVC_MAX_BUFFER);
        }
    }
    if (!loop) {
        s->own_loop = sg_malloc(sizeof(uv_loop_t));
        if (!s->own_loop || uv_loop_init(s->own_loop) < 0) {
            sg_free(s->own_loop);
            s->own_loop = NULL;
            rc = SG_ENOMEM;
            goto fail;
        }
        loop = s->own_loop;
    }
    s->loop = loop;
    *out = s;
    return SG_OK;
fail:
    sg_server_free(s);
    return rc;
}

int sg_server_add_method(sg_server *s, const char *name, sg_hub_method_fn fn, void *ud)
{
    if (!s || !name || !*name || !fn)
        return SG_EINVAL;
    for (size_t i = 0; i < s->n_methods; i++)
        if (!strcasecmp(s->methods[i].name, name))
            return SG_EEXIST;
    method *m = sg_realloc(s->methods, (s->n_methods + 1) * sizeof(*m));
    if (!m)
        return SG_ENOMEM;
    s->methods = m;
    m[s->n_methods].name = sg_strdup(name);
    if (!m[s->n_methods].name)
        return SG_ENOMEM;
    m[s->n_methods].fn = fn;
    m[s->n_methods].ud = ud;
    s->n_methods++;
    return SG_OK;
}

static void on_handle_closed(uv_handle_t *h)
{
    sg_server *s = h->data;
    s->handles_open--;
    maybe_finish_stop(s);
}

static void on_signal(uv_signal_t *h, int signum)
{
    sg_server *s = h->data;
    SG_LOGI(LOGM, "event=signal signal=%d action=%s", signum, s->stopping ? "ignored" : "stop");
    if (!s->stopping)
        sg_server_stop(s, NULL, NULL);
}

int sg_server_start(sg_server *s)
{
    if (!s || s->started)
        return s ? SG_OK : SG_EINVAL;
    s->started = 1;
    if (uv_timer_init(s->loop, &s->tick) < 0)
        return SG_EINTERNAL;
    s->tick.data = s;
    s->tick_on = 1;
    s->handles_open++;
    uv_timer_start(&s->tick, on_tick, TICK_MS, TICK_MS);
    for (size_t i = 0; i < s->n_eps; i++)
        for (int k = 0; k < conns_per_ep(s); k++)
            conn_start(&s->eps[i].conns[k]);
    SG_LOGI(LOGM, "event=start hub=%s endpoints=%zu connections_per_endpoint=%d server_id=%s",
            s->hub_lc, s->n_eps, conns_per_ep(s), s->server_id);
    return SG_OK;
}

int sg_server_listen_negotiate(sg_server *s, const char *host, int port, int *bound)
{
    if (!s)
        return SG_EINVAL;
    return sg__negotiate_listen(s, host, port, bound);
}

static void negotiate_stopped(void *ud)
{
    sg_server *s = ud;
    s->negotiate_done = 1;
    maybe_finish_stop(s);
}

static void maybe_finish_stop(sg_server *s)
{
    if (!s->stopping || s->stopped)
        return;
    int n = conns_per_ep(s);
    for (size_t i = 0; i < s->n_eps; i++)
        for (int k = 0; k < n; k++)
            if (s->eps[i].conns[k].ws || s->eps[i].conns[k].state == C_TOKEN)
                return;
    if (s->negotiate && !s->negotiate_stopping) {
        s->negotiate_stopping = 1;
        sg__negotiate_stop(s, negotiate_stopped, s);
        return;
    }
    if (s->negotiate_stopping && !s->negotiate_done)
        return;
    if (s->work)
        return;
    if (s->tick_on) {
        s->tick_on = 0;
        uv_close((uv_handle_t *)&s->tick, on_handle_closed);
    }
    if (s->signals_on) {
        s->signals_on = 0;
        uv_close((uv_handle_t *)&s->sigint, on_handle_closed);
        uv_close((uv_handle_t *)&s->sigterm, on_handle_closed);
    }
    if (s->handles_open)
        return;
    /* everything closed: clients were dropped with their connections */
    while (s->clients)
        client_end(s, s->clients, "stopped");
    s->stopped = 1;
    SG_LOGI(LOGM, "event=stopped hub=%s", s->hub_lc);
    if (s->done)
        s->done(s->done_ud);
}

void sg_server_stop(sg_server *s, void (*done)(void *ud), void *ud)
{
    if (!s || s->stopping)
        return;
    s->stopping = 1;
    s->done = done;
    s->done_ud = ud;
    s->stop_deadline = uv_now(s->loop) + s->o.shutdown_timeout_ms;
    SG_LOGI(LOGM, "event=stopping hub=%s clients=%zu", s->hub_lc, s->n_clients);
    int n = conns_per_ep(s);
    const char *fin[] = {"shutdown", "fin:0"};
    for (size_t i = 0; i < s->n_eps; i++) {
        for (int k = 0; k < n; k++) {
            svc_conn *c = &s->eps[i].conns[k];
            if (c->state == C_CONNECTED) {
                conn_set_state(c, C_FIN);
                if (conn_send_ping(c, fin, 2) != SG_OK) {
                    conn_set_state(c, C_CLOSING);
                    sg_wsclient_close(c->ws, 1000, "shutdown");
                }
            } else if (c->ws && c->state != C_CLOSING) {
                conn_set_state(c, C_CLOSING);
                sg_wsclient_close(c->ws, 1000, "shutdown");
            }
        }
    }
    if (!s->started) {
        s->stopped = 1;
        if (done)
            done(ud);
        return;
    }
    maybe_finish_stop(s);
}

int sg_server_run(sg_server *s)
{
    if (!s || !s->own_loop)
        return SG_EINVAL;
    if (uv_signal_init(s->loop, &s->sigint) == 0 && uv_signal_init(s->loop, &s->sigterm) == 0) {
        s->sigint.data = s->sigterm.data = s;
        uv_signal_start(&s->sigint, on_signal, SIGINT);
        uv_signal_start(&s->sigterm, on_signal, SIGTERM);
        s->signals_on = 1;
        s->handles_open += 2;
    }
    int rc = sg_server_start(s);
    if (rc)
        return rc;
    uv_run(s->loop, UV_RUN_DEFAULT);
    return SG_OK;
}

void sg_server_free(sg_server *s)
{
    if (!s)
        return;
    if (s->started && !s->stopped && s->own_loop) {
        sg_server_stop(s, NULL, NULL);
        uv_run(s->loop, UV_RUN_DEFAULT);
    }
    while (s->clients)
        client_end(s, s->clients, "freed");
    for (size_t i = 0; i < s->n_eps; i++) {
        ep_state *e = &s->eps[i];
        if (e->conns)
            for (int k = 0; k < conns_per_ep(s); k++)
                sg_buf_free(&e->conns[k].in);
        sg_free(e->conns);
        sg_free(e->last_refusal);
        sg_free(e->temp_kid);
        if (e->owned)
            sg_service_endpoint_free(e->ep);
    }
    sg_free(s->eps);
    for (size_t i = 0; i < s->n_methods; i++)
        sg_free(s->methods[i].name);
    sg_free(s->methods);
    sg_free(s->buckets);
    sg_free((char *)s->o.ca_file);
    sg_free(s->hub);
    sg_free(s->hub_lc);
    if (s->own_loop) {
        uv_run(s->own_loop, UV_RUN_NOWAIT);
        uv_loop_close(s->own_loop);
        sg_free(s->own_loop);
    }
    sg_free(s);
}

/* ---- sending API ---------------------------------------------------------------------------- */

static int parse_args(const char *arguments, json_t **out)
{
    json_error_t je;
    *out = json_loads(arguments ? arguments : "[]", 0, &je);
    if (!json_is_array(*out)) {
        json_decref(*out);
        *out = NULL;
        return SG_EINVAL;
    }
    return SG_OK;
}

/* Builds both protocols' payloads for target(arguments) and sends m (filled by the caller
 * except payloads) through send_every_endpoint. */
static int send_multicast(sg_server *s, sg_svc_msg *m, const char *target, const char *arguments)
{
    if (!s || !target || !*target)
        return SG_EINVAL;
    json_t *args;
    int rc = parse_args(arguments, &args);
    if (rc)
        return rc;
    sg_rcbuf *j = NULL, *mp = NULL;
    rc = sg_hub_invocation_encode(target, args, NULL, &j, &mp);
    json_decref(args);
    if (rc)
        return rc;
    sg_svc_payload pl[2] = {{"json", (const uint8_t *)j->data, j->len},
                            {"messagepack", (const uint8_t *)mp->data, mp->len}};
    m->payloads = pl;
    m->n_payloads = 2;
    rc = send_every_endpoint(s, m);
    sg_rcbuf_unref(j);
    sg_rcbuf_unref(mp);
    return rc;
}

static size_t count_list(const char *const *l)
{
    size_t n = 0;
    while (l && l[n])
        n++;
    return n;
}

int sg_server_send_all(sg_server *s, const char *target, const char *arguments,
                       const char *const *excluded)
{
    sg_svc_msg m;
    sg_svc_msg_init(&m);
    m.type = SG_SVC_BROADCAST_DATA;
    m.ids = (const char **)excluded;
    m.n_ids = count_list(excluded);
    return send_multicast(s, &m, target, arguments);
}

int sg_server_send_user(sg_server *s, const char *user_id, const char *target,
                        const char *arguments)
{
    if (!user_id || !*user_id)
        return SG_EINVAL;
    sg_svc_msg m;
    sg_svc_msg_init(&m);
    m.type = SG_SVC_USER_DATA;
    m.user_id = user_id;
    return send_multicast(s, &m, target, arguments);
}

int sg_server_send_group(sg_server *s, const char *group, const char *target, const char *arguments,
                         const char *const *excluded)
{
    if (!group || !*group)
        return SG_EINVAL;
    sg_svc_msg m;
    sg_svc_msg_init(&m);
    m.type = SG_SVC_GROUP_BROADCAST_DATA;
    m.group_name = group;
    m.ids = (const char **)excluded;
    m.n_ids = count_list(excluded);
    return send_multicast(s, &m, target, arguments);
}

int sg_server_send_connection(sg_server *s, const char *connection_id, const char *target,
                              const char *arguments)
{
    if (!s || !connection_id || !*connection_id || !target || !*target)
        return SG_EINVAL;
    sg__client *cl = client_find(s, connection_id);
    if (cl && cl->handshaken) {
        /* our own client: encode for its protocol and send on its connection */
        json_t *args;
        int rc = parse_args(arguments, &args);
        if (rc)
            return rc;
        sg_rcbuf *b = NULL;
        rc = sg_hub_invocation_encode(target, args, NULL,
                                      cl->protocol == SG_HUB_PROTO_MSGPACK ? NULL : &b,
                                      cl->protocol == SG_HUB_PROTO_MSGPACK ? &b : NULL);
        json_decref(args);
        if (rc)
            return rc;
        rc = client_send_bytes(cl, b->data, b->len);
        sg_rcbuf_unref(b);
        return rc;
    }
    const char *ids[] = {connection_id};
    sg_svc_msg m;
    sg_svc_msg_init(&m);
    m.type = SG_SVC_MULTI_CONNECTION_DATA;
    m.ids = ids;
    m.n_ids = 1;
    return send_multicast(s, &m, target, arguments);
}

static int group_op(sg_server *s, int type, const char *connection_id, const char *group)
{
    if (!s || !connection_id || !*connection_id || !group || !*group)
        return SG_EINVAL;
    sg_svc_msg m;
    sg_svc_msg_init(&m);
    m.type = type;
    m.connection_id = connection_id;
    m.group_name = group;
    sg__client *cl = client_find(s, connection_id);
    if (cl && cl->conn) /* same connection as the client's data: ordered before later replies */
        return conn_send_msg(cl->conn, &m);
    return send_every_endpoint(s, &m);
}

int sg_server_group_add(sg_server *s, const char *connection_id, const char *group)
{
    return group_op(s, SG_SVC_JOIN_GROUP, connection_id, group);
}

int sg_server_group_remove(sg_server *s, const char *connection_id, const char *group)
{
    return group_op(s, SG_SVC_LEAVE_GROUP, connection_id, group);
}

int sg_server_close_connection(sg_server *s, const char *connection_id, const char *reason)
{
    if (!s || !connection_id)
        return SG_EINVAL;
    sg__client *cl = client_find(s, connection_id);
    if (cl) {
        client_kick(s, cl, reason, 1);
        return SG_OK;
    }
    sg_svc_msg m;
    sg_svc_msg_init(&m);
    m.type = SG_SVC_CLOSE_CONNECTION;
    m.connection_id = connection_id;
    m.error_message = reason ? reason : "";
    return send_every_endpoint(s, &m);
}
