/* http.c — HTTP/1.1 server: listener, per-connection request FIFO, responses, streamed
 * responses and hand-over to WebSocket. See http.h and docs/internals/net.md. */
#include "net/http.h"

#include "net/http_internal.h"
#include "net/http_parse.h"
#include "net/net_internal.h"
#include "sg_alloc.h"
#include "sg_err.h"
#include "sg_log.h"
#include "sg_str.h"

#include <string.h>

#define MAX_HELD 16            /* parsed requests waiting behind an unanswered one */
#define MAX_REST (256 * 1024)  /* bytes buffered while paused or after an upgrade request */
#define OUT_HIGH (1024 * 1024) /* answers queued but unread: stop dispatching pipelined requests   \
                                */

enum { M_HELD = 0, M_ACTIVE = 1, M_STREAMING = 2, M_DETACHED = 3 };

struct sg_http_server {
    sg__netctx ctx;
    uv_tcp_t listener;
    sg_http_server_opts opts;
    sg__http_limits lim;
    int port;
    int stopping;
    void (*done)(void *ud);
    void *done_ud;
};

typedef struct sg__http_conn {
    sg_stream *s;
    sg_http_server *srv;
    sg__http_parser hp;
    sg__http_msg *qhead, *qtail;
    uint32_t nq;
    sg_buf rest;         /* unparsed bytes (parser paused, or after an upgrade request) */
    uint8_t head_active; /* qhead handed to the handler, not finished */
    uint8_t parse_paused;
    uint8_t parse_done;  /* error or upgrade: no more HTTP on this connection */
    uint8_t close_after; /* answer with Connection: close */
    uint8_t streaming;
    uint8_t in_pump;
    uint8_t dead; /* taken over while pumping: free at the end of the pump */
    uint8_t closing;
} sg__http_conn;

static void conn_pump(sg__http_conn *c);
static void conn_free(sg__http_conn *c);

/* ---- reason phrases --------------------------------------------------------------------- */

const char *sg_http_reason(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 101:
        return "Switching Protocols";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 206:
        return "Partial Content";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 304:
        return "Not Modified";
    case 307:
        return "Temporary Redirect";
    case 308:
        return "Permanent Redirect";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 406:
        return "Not Acceptable";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 410:
        return "Gone";
    case 411:
        return "Length Required";
    case 412:
        return "Precondition Failed";
    case 413:
        return "Payload Too Large";
    case 414:
        return "URI Too Long";
    case 415:
        return "Unsupported Media Type";
    case 422:
        return "Unprocessable Entity";
    case 426:
        return "Upgrade Required";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return "Unknown";
    }
}

const sg_slice *sg_http_req_header(const sg_http_req *r, const char *name)
{
    for (size_t i = 0; i < r->nheaders; i++)
        if (sg_slice_ieq(r->headers[i].name, name))
            return &r->headers[i].value;
    return NULL;
}

/* ---- request queue ---------------------------------------------------------------------- */

static sg__http_msg *msg_of(sg_http_req *r)
{
    return (sg__http_msg *)r; /* req is the first member */
}

static void q_pop(sg__http_conn *c)
{
    sg__http_msg *m = c->qhead;
    c->qhead = m->next;
    if (!c->qhead)
        c->qtail = NULL;
    c->nq--;
    m->next = NULL;
}

static void set_idle_deadline(sg__http_conn *c)
{
    if (c->closing || c->streaming)
        return;
    if (c->qhead) {
        sg__stream_set_timeout(c->s, 0); /* the handler owns the time */
    } else if (sg__http_parser_busy(&c->hp)) {
        sg__stream_set_timeout(c->s, c->srv->opts.header_timeout_ms); /* half-received */
    } else {
        sg__stream_set_timeout(c->s, c->srv->opts.idle_timeout_ms);
    }
}

/* Appends m to the connection's queue of requests in arrival order. */
static void conn_enqueue(sg__http_conn *c, sg__http_msg *m)
{
    m->conn = c;
    m->req.stream = c->s;
    if (c->qtail)
        c->qtail->next = m;
    else
        c->qhead = m;
    c->qtail = m;
    c->nq++;
}

static int on_msg(sg__http_msg *m, void *ud)
{
    sg__http_conn *c = ud;
    m->state = M_HELD;
    m->req.server_ud = c->srv->opts.ud;
    conn_enqueue(c, m);
    if (m->upgrade)
        return 0; /* llhttp stops by itself */
    return c->nq >= MAX_HELD;
}

static void on_begin(void *ud)
{
    sg__http_conn *c = ud;
    if (!c->qhead)
        sg__stream_set_timeout(c->s, c->srv->opts.header_timeout_ms);
}

static void on_head(sg__http_msg *m, void *ud)
{
    sg__http_conn *c = ud;
    if (!c->qhead)
        sg__stream_set_timeout(c->s, c->srv->opts.idle_timeout_ms); /* body may be slow */
    /* 100-continue only when nothing is ahead of it, or the interim answer would jump the queue */
    if (m->expect_continue && !c->qhead && m->req.http_minor >= 1)
        sg_stream_write(c->s, "HTTP/1.1 100 Continue\r\n\r\n", 25);
}

/* Feeds p[0..n) to the parser; buffers what it does not take. */
static void conn_feed(sg__http_conn *c, const char *p, size_t n)
{
    while (n && !c->parse_done && !c->parse_paused && !c->closing) {
        size_t used = 0;
        int r = sg__http_parser_feed(&c->hp, p, n, &used);
        p += used;
        n -= used;
        if (r == SG__HP_OK)
            break;
        if (r == SG__HP_PAUSED) {
            c->parse_paused = 1;
            sg_stream_pause(c->s);
            break;
        }
        if (r == SG__HP_UPGRADE) {
            c->parse_done = 1;
            c->close_after = 1; /* unless someone takes the connection over */
            sg_stream_pause(c->s);
            break;
        }
        /* parse error: queue the error answer behind what came before, then close */
        c->parse_done = 1;
        c->close_after = 1;
        sg_stream_pause(c->s);
        sg__http_msg *m = sg__http_msg_new_error(c->hp.err_status);
        if (!m) {
            c->closing = 1;
            sg__stream_close_reason(c->s, SG_ENOMEM, 0);
            return;
        }
        SG_LOGD("net", "event=http_bad_request peer=%s status=%d", sg_stream_peer_ip(c->s),
                c->hp.err_status);
        conn_enqueue(c, m);
        return;
    }
    if (n && (c->parse_paused || (c->parse_done && c->hp.err_status == 0))) {
        if (c->rest.len + n > MAX_REST || sg_buf_append(&c->rest, p, n) != SG_OK) {
            c->closing = 1;
            sg__stream_close_reason(c->s, SG_ELIMIT, 0);
        }
    }
}

static void conn_on_data(sg_stream *s, const char *p, size_t n, void *ud)
{
    (void)s;
    sg__http_conn *c = ud;
    if (c->streaming || c->closing)
        return; /* nothing more is read as HTTP on this connection */
    if (c->parse_paused || c->parse_done) {
        /* bytes that were already in flight when we paused */
        if (c->parse_done && c->hp.err_status)
            return;
        if (c->rest.len + n > MAX_REST || sg_buf_append(&c->rest, p, n) != SG_OK) {
            c->closing = 1;
            sg__stream_close_reason(c->s, SG_ELIMIT, 0);
        }
        return;
    }
    conn_feed(c, p, n);
    conn_pump(c);
}

/* ---- responses -------------------------------------------------------------------------- */

static int append_head(sg_buf *b, const sg_http_req *r, int status, const char *ctype,
                       const sg_http_header *hdrs, size_t nhdrs)
{
    int rc = sg_buf_appendf(b, "HTTP/1.1 %d %s\r\n", status, sg_http_reason(status));
    if (rc == SG_OK && ctype)
        rc = sg_buf_appendf(b, "Content-Type: %s\r\n", ctype);
    for (size_t i = 0; rc == SG_OK && i < nhdrs; i++) {
        rc = sg_buf_append(b, hdrs[i].name.p, hdrs[i].name.n);
        if (rc == SG_OK)
            rc = sg_buf_append(b, ": ", 2);
        if (rc == SG_OK)
            rc = sg_buf_append(b, hdrs[i].value.p, hdrs[i].value.n);
        if (rc == SG_OK)
            rc = sg_buf_append(b, "\r\n", 2);
    }
    (void)r;
    return rc;
}

/* The head request is done: pop it, free it, and let the queue move. */
static void finish_head(sg__http_conn *c, sg__http_msg *m, int close)
{
    if (c->qhead == m)
        q_pop(c);
    c->head_active = 0;
    sg__http_msg_free(m);
    if (close) {
        c->closing = 1;
        sg_stream_close(c->s, 1);
        return;
    }
    set_idle_deadline(c);
    if (!c->in_pump)
        sg__stream_defer(c->s);
}

static int respond_error(sg__http_conn *c, int status)
{
    char buf[256];
    const char *msg = sg_http_reason(status);
    int n = 0;
    sg_snprintf(buf, sizeof buf,
                "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
                "Connection: close\r\n\r\n%s\n",
                status, msg, strlen(msg) + 1, msg);
    n = (int)strlen(buf);
    return sg_stream_write(c->s, buf, (size_t)n);
}

int sg_http_respond_ex(sg_http_req *r, int status, const char *content_type,
                       const sg_http_header *hdrs, size_t nhdrs, const void *body, size_t n)
{
    sg__http_msg *m = msg_of(r);
    sg__http_conn *c = m->conn;
    if (!c || m->state == M_DETACHED) {
        sg__http_msg_free(m);
        return SG_ECLOSED;
    }
    if (m->state != M_ACTIVE || c->qhead != m)
        return SG_EINVAL;
    int close = !r->keep_alive || c->close_after || c->srv->stopping;
    int no_body = r->method == SG_HTTP_HEAD || status == 204 || status == 304 ||
                  (status >= 100 && status < 200);
    sg_buf b;
    sg_buf_init(&b, 0);
    int rc = append_head(&b, r, status, content_type, hdrs, nhdrs);
    if (rc == SG_OK && status != 204 && status != 304 && !(status >= 100 && status < 200))
        rc = sg_buf_appendf(&b, "Content-Length: %zu\r\n", n);
    if (rc == SG_OK) {
        if (close)
            rc = sg_buf_append_str(&b, "Connection: close\r\n\r\n");
        else if (r->http_minor == 0)
            rc = sg_buf_append_str(&b, "Connection: keep-alive\r\n\r\n");
        else
            rc = sg_buf_append(&b, "\r\n", 2);
    }
    if (rc == SG_OK && !no_body && n && n <= 1024) {
        rc = sg_buf_append(&b, body, n); /* small bodies travel with the head */
        n = 0;
    }
    if (rc == SG_OK)
        rc = sg_stream_write(c->s, b.data, b.len);
    if (rc == SG_OK && !no_body && n)
        rc = sg_stream_write(c->s, body, n);
    sg_buf_free(&b);
    if (rc == SG_ENOMEM) {
        close = 1;
        sg__stream_close_reason(c->s, SG_ENOMEM, 0);
    }
    finish_head(c, m, close);
    return rc == SG_OK || rc == SG_ELIMIT ? rc : SG_ECLOSED;
}

int sg_http_respond(sg_http_req *r, int status, const char *content_type, const void *body,
                    size_t n)
{
    return sg_http_respond_ex(r, status, content_type, NULL, 0, body, n);
}

void sg_http_req_on_abort(sg_http_req *r, void (*cb)(sg_http_req *r, void *ud), void *ud)
{
    sg__http_msg *m = msg_of(r);
    m->abort_cb = cb;
    m->abort_ud = ud;
}

int sg_http_stream_start(sg_http_req *r, int status, const char *content_type,
                         const sg_http_header *hdrs, size_t nhdrs)
{
    sg__http_msg *m = msg_of(r);
    sg__http_conn *c = m->conn;
    if (!c || m->state == M_DETACHED)
        return SG_ECLOSED;
    if (m->state != M_ACTIVE || c->qhead != m)
        return SG_EINVAL;
    sg_buf b;
    sg_buf_init(&b, 0);
    int rc = append_head(&b, r, status, content_type, hdrs, nhdrs);
    if (rc == SG_OK)
        rc = sg_buf_append_str(&b, "Connection: close\r\n\r\n");
    if (rc == SG_OK)
        rc = sg_stream_write(c->s, b.data, b.len);
    sg_buf_free(&b);
    if (rc != SG_OK)
        return rc == SG_ENOMEM ? rc : SG_ECLOSED;
    m->state = M_STREAMING;
    c->streaming = 1;
    sg__stream_set_coalesce(c->s);
    c->close_after = 1;
    /* Nothing more is parsed; requests queued behind will never be answered. Keep reading
     * (and discarding) so a peer that goes away is noticed and the stream aborted. */
    while (c->qhead && c->qhead->next) {
        sg__http_msg *x = c->qhead->next;
        c->qhead->next = x->next;
        if (c->qtail == x)
            c->qtail = c->qhead;
        c->nq--;
        sg__http_msg_free(x);
    }
    sg_buf_free(&c->rest);
    sg__stream_set_timeout(c->s, 0);
    c->parse_done = 1;
    c->parse_paused = 0;
    sg_stream_resume(c->s);
    return SG_OK;
}

int sg_http_stream_write(sg_http_req *r, const void *p, size_t n)
{
    sg__http_msg *m = msg_of(r);
    if (!m->conn || m->state != M_STREAMING)
        return SG_ECLOSED;
    return sg_stream_write(m->conn->s, p, n);
}

int sg_http_stream_write_rc(sg_http_req *r, sg_rcbuf *b, size_t off, size_t len)
{
    sg__http_msg *m = msg_of(r);
    if (!m->conn || m->state != M_STREAMING)
        return SG_ECLOSED;
    return sg_stream_write_rc(m->conn->s, b, off, len);
}

void sg_http_stream_end(sg_http_req *r)
{
    sg__http_msg *m = msg_of(r);
    sg__http_conn *c = m->conn;
    if (!c || m->state != M_STREAMING) {
        sg__http_msg_free(m);
        return;
    }
    finish_head(c, m, 1);
}

/* ---- connection ------------------------------------------------------------------------- */

static void conn_pump(sg__http_conn *c)
{
    if (c->in_pump)
        return;
    c->in_pump = 1;
    for (int guard = 0; guard < 1024; guard++) {
        while (c->qhead && !c->head_active && !c->closing && !c->dead &&
               !sg_stream_is_closing(c->s)) {
            sg__http_msg *m = c->qhead;
            if (m->err_status) {
                respond_error(c, m->err_status);
                q_pop(c);
                sg__http_msg_free(m);
                c->closing = 1;
                sg_stream_close(c->s, 1);
                break;
            }
            if (sg_stream_queued(c->s) > OUT_HIGH) {
                /* the peer is not reading its answers: hold the next request (and, once
                 * MAX_HELD are parsed, reading) until the output drains */
                sg__stream_want_drain(c->s);
                break;
            }
            c->head_active = 1;
            m->state = M_ACTIVE;
            sg__stream_set_timeout(c->s, 0);
            c->srv->opts.handler(&m->req, c->srv->opts.ud);
        }
        if (c->dead || c->closing)
            break;
        if (c->parse_paused && c->nq < MAX_HELD / 2 && !c->streaming) {
            /* feed what was left when we paused */
            c->parse_paused = 0;
            sg_buf tmp = c->rest;
            sg_buf_init(&c->rest, 0);
            conn_feed(c, tmp.data, tmp.len);
            sg_buf_free(&tmp);
            if (!c->parse_paused && !c->parse_done && !c->closing)
                sg_stream_resume(c->s);
            continue;
        }
        break;
    }
    c->in_pump = 0;
    if (c->dead) {
        conn_free(c);
        return;
    }
    set_idle_deadline(c);
}

static void conn_on_defer(sg_stream *s, void *ud)
{
    (void)s;
    conn_pump(ud);
}

static void conn_on_eof(sg_stream *s, void *ud)
{
    sg__http_conn *c = ud;
    if (c->closing)
        return;
    c->closing = 1;
    if (!c->qhead) {
        sg__stream_close_reason(s, SG_ECLOSED, 1); /* flush what was answered */
        return;
    }
    /* a request is still being handled (async, long poll, stream): the peer is gone */
    sg__stream_close_reason(s, SG_ECLOSED, 0);
}

static void conn_free(sg__http_conn *c)
{
    while (c->qhead) {
        sg__http_msg *m = c->qhead;
        q_pop(c);
        if (m->state == M_ACTIVE || m->state == M_STREAMING) {
            m->state = M_DETACHED;
            m->conn = NULL;
            if (m->abort_cb) {
                m->abort_cb(&m->req, m->abort_ud);
                sg__http_msg_free(m);
            }
            /* else: kept until the handler answers (sg_http_respond* returns SG_ECLOSED) */
        } else {
            sg__http_msg_free(m);
        }
    }
    sg__http_parser_free(&c->hp);
    sg_buf_free(&c->rest);
    sg_free(c);
}

static void conn_on_close(sg_stream *s, int reason, void *ud)
{
    (void)s;
    (void)reason;
    sg__http_conn *c = ud;
    c->closing = 1;
    conn_free(c);
}

/* ---- hand-over (WebSocket) -------------------------------------------------------------- */

int sg__http_take_over(sg_http_req *r, sg_stream **s_out, sg_buf *rest_out)
{
    sg__http_msg *m = msg_of(r);
    sg__http_conn *c = m->conn;
    if (!c || m->state != M_ACTIVE || c->qhead != m || c->closing)
        return SG_ECLOSED;
    sg_stream *s = c->s;
    *s_out = s;
    *rest_out = c->rest;
    sg_buf_init(&c->rest, 0);
    sg_stream_cbs none = {0};
    sg_stream_set_cbs(s, &none, NULL);
    sg__stream_set_hooks(s, NULL);
    sg__stream_set_timeout(s, 0);
    q_pop(c);
    c->head_active = 0;
    sg__http_msg_free(m);
    if (c->in_pump)
        c->dead = 1;
    else
        conn_free(c);
    return SG_OK;
}

/* ---- server ----------------------------------------------------------------------------- */

static void on_connection(uv_stream_t *l, int status)
{
    sg_http_server *srv = l->data;
    if (status < 0 || srv->stopping)
        return;
    sg_stream *s = NULL;
    int full = srv->ctx.nstreams >= srv->opts.max_connections;
    if (sg__stream_accept(&srv->ctx, l, srv->opts.tls, &s) != SG_OK)
        return;
    if (full) {
        SG_LOGD("net", "event=conn_rejected reason=max_connections peer=%s", sg_stream_peer_ip(s));
        sg__stream_set_no_linger(s);
        sg__stream_close_reason(s, SG_ELIMIT, 0);
        return;
    }
    sg__http_conn *c = SG_NEW(sg__http_conn);
    if (!c) {
        sg__stream_close_reason(s, SG_ENOMEM, 0);
        return;
    }
    c->s = s;
    c->srv = srv;
    sg__http_parser_init(&c->hp, &srv->lim, on_msg, c);
    c->hp.on_head = on_head;
    c->hp.on_begin = on_begin;
    sg_buf_init(&c->rest, 0);
    sg_stream_cbs cbs = {conn_on_data, conn_on_close};
    sg_stream_set_cbs(s, &cbs, c);
    sg__stream_hooks hooks = {conn_on_eof, conn_on_defer};
    sg__stream_set_hooks(s, &hooks);
    sg__stream_set_timeout(s, srv->opts.header_timeout_ms);
}

static int resolve(const char *host, int port, struct sockaddr_storage *ss)
{
    if (!host || !*host || strcmp(host, "localhost") == 0)
        host = host && *host ? "127.0.0.1" : "0.0.0.0";
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)ss) == 0)
        return SG_OK;
    if (uv_ip6_addr(host, port, (struct sockaddr_in6 *)ss) == 0)
        return SG_OK;
    return SG_EINVAL;
}

int sg_http_server_start(uv_loop_t *loop, const sg_http_server_opts *opts, sg_http_server **out)
{
    int rc = SG_OK;
    *out = NULL;
    if (!opts || !opts->handler || opts->port < 0 || opts->port > 65535)
        return SG_EINVAL;
    sg_http_server *srv = SG_NEW(sg_http_server);
    if (!srv)
        return SG_ENOMEM;
    srv->opts = *opts;
    srv->opts.host = NULL; /* not kept */
    if (!srv->opts.max_header_bytes)
        srv->opts.max_header_bytes = 16 * 1024;
    if (!srv->opts.max_body_bytes)
        srv->opts.max_body_bytes = 1024 * 1024;
    if (!srv->opts.header_timeout_ms)
        srv->opts.header_timeout_ms = 10000;
    if (!srv->opts.idle_timeout_ms)
        srv->opts.idle_timeout_ms = 120000;
    if (!srv->opts.max_connections)
        srv->opts.max_connections = 20000 - 256;
    srv->lim.max_header_bytes = srv->opts.max_header_bytes;
    srv->lim.max_body_bytes = srv->opts.max_body_bytes;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    rc = resolve(opts->host, opts->port, &ss);
    if (rc != SG_OK) {
        sg_free(srv);
        return rc;
    }
    sg__netctx_init(&srv->ctx, loop);
    srv->ctx.owner = srv;
    uv_tcp_init(loop, &srv->listener);
    srv->listener.data = srv;
    int e = uv_tcp_bind(&srv->listener, (const struct sockaddr *)&ss, 0);
    if (e == 0)
        e = uv_listen((uv_stream_t *)&srv->listener, 1024, on_connection);
    if (e != 0) {
        SG_LOGE("net", "event=listen_failed host=%s port=%d err=%s", opts->host ? opts->host : "",
                opts->port, uv_strerror(e));
        sg_http_server_stop(srv, NULL, NULL);
        return e == UV_EADDRINUSE ? SG_EEXIST : sg_err_from_errno(e);
    }
    struct sockaddr_storage bound;
    int blen = sizeof bound;
    if (uv_tcp_getsockname(&srv->listener, (struct sockaddr *)&bound, &blen) == 0) {
        if (bound.ss_family == AF_INET)
            srv->port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
        else
            srv->port = ntohs(((struct sockaddr_in6 *)&bound)->sin6_port);
    }
    *out = srv;
    return SG_OK;
}

int sg_http_server_port(const sg_http_server *s)
{
    return s->port;
}

size_t sg_http_server_connections(const sg_http_server *s)
{
    return s->ctx.nstreams;
}

static void srv_on_empty(sg__netctx *ctx)
{
    sg_http_server *srv = ctx->owner;
    void (*done)(void *) = srv->done;
    void *ud = srv->done_ud;
    sg_free(srv);
    if (done)
        done(ud);
}

static void on_listener_closed(uv_handle_t *h)
{
    sg_http_server *srv = h->data;
    srv->ctx.on_empty = srv_on_empty;
    sg__netctx_stop(&srv->ctx);
}

void sg_http_server_stop(sg_http_server *s, void (*done)(void *ud), void *ud)
{
    if (!s || s->stopping)
        return;
    s->stopping = 1;
    s->done = done;
    s->done_ud = ud;
    uv_close((uv_handle_t *)&s->listener, on_listener_closed);
}

sg_stream_limits *sg__http_server_deflim(sg_http_server *s)
{
    return &s->ctx.deflim;
}
