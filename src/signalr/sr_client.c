/* sr_client.c — the client side of the data plane: POST /client/negotiate and the
 * transports on /client/?hub=..&id=<connectionToken> (WebSockets, Server-Sent Events, Long
 * Polling), the hub handshake, inbound hub messages, keep-alive, timeouts, stateful
 * reconnect and connection teardown. See docs/internals/signalr.md for the lifecycle. */
#include "sr_auth.h"
#include "sr_internal.h"

#include "proto/handshake.h"
#include "proto/hubmsg.h"
#include "sg_alloc.h"
#include "sg_b64.h"
#include "sg_err.h"
#include "sg_id.h"
#include "sg_log.h"
#include "sg_str.h"
#include "sg_time.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define LP_LINGER_MS 5000u

static void conn_release_transports(sr_conn *c);

sr_conn *sr_conn_by_id(sg_signalr *s, const char *id)
{
    return sr_map_get(&s->by_id, id, strlen(id));
}

static sr_conn *conn_by_token(sg_signalr *s, const char *tok)
{
    return sr_map_get(&s->by_token, tok, strlen(tok));
}

static int proto_of(sg_hub_protocol p)
{
    return p == SG_HUB_PROTO_MSGPACK ? SR_PROTO_MSGPACK : SR_PROTO_JSON;
}

static sg_hub_protocol hubproto(const sr_conn *c)
{
    return c->protocol == SR_PROTO_MSGPACK ? SG_HUB_PROTO_MSGPACK : SG_HUB_PROTO_JSON;
}

/* ---- output ------------------------------------------------------------------------------ */

static void replay_free(sr_replay *rp)
{
    if (!rp)
        return;
    sr_qnode *n = rp->head;
    while (n) {
        sr_qnode *nx = n->next;
        sg_rcbuf_unref(n->b);
        sg_free(n);
        n = nx;
    }
    sg_free(rp);
}

static void lpq_free(sr_lpq *q)
{
    if (!q)
        return;
    sr_qnode *n = q->head;
    while (n) {
        sr_qnode *nx = n->next;
        sg_rcbuf_unref(n->b);
        sg_free(n);
        n = nx;
    }
    sg_free(q);
}

static int q_push(sr_qnode **head, sr_qnode **tail, sg_rcbuf *b)
{
    sr_qnode *n = SG_NEW(sr_qnode);
    if (!n)
        return SG_ENOMEM;
    n->b = sg_rcbuf_ref(b);
    if (*tail)
        (*tail)->next = n;
    else
        *head = n;
    *tail = n;
    return SG_OK;
}

/* Answers the pending poll with everything queued (200), or 204 when there is nothing and
 * the connection is closed. */
static void lp_flush(sr_conn *c, int force_empty)
{
    sg_http_req *r = c->poll;
    if (!r)
        return;
    sr_lpq *q = c->lpq;
    if ((!q || !q->head) && !force_empty && c->state != SR_ST_CLOSED)
        return;
    c->poll = NULL;
    sg_http_req_on_abort(r, NULL, NULL);
    const char *ctype =
        c->protocol == SR_PROTO_MSGPACK ? "application/octet-stream" : "text/plain; charset=utf-8";
    if (!q || !q->head) {
        if (c->state == SR_ST_CLOSED)
            sr_respond(r, 204, NULL, NULL, 0);
        else
            sr_respond(r, 200, ctype, "", 0);
    } else if (q->head == q->tail) {
        /* one message: answer straight from the shared buffer */
        sg_rcbuf *b = q->head->b;
        sr_respond(r, 200, ctype, b->data, b->len);
    } else {
        sg_buf all;
        sg_buf_init(&all, 0);
        for (sr_qnode *n = q->head; n; n = n->next) {
            if (sg_buf_append(&all, n->b->data, n->b->len) != SG_OK)
                break;
        }
        sr_respond(r, 200, ctype, all.data ? all.data : "", all.len);
        sg_buf_free(&all);
    }
    if (q) {
        lpq_free(q);
        c->lpq = NULL;
    }
    c->last_recv_ms = sr_now(c->s); /* the client polls again right away */
}

/* Low-level: put m on c's transport (no sequence accounting). */
static int conn_emit(sr_conn *c, sr_msg *m)
{
    int rc = SG_OK;
    switch (c->transport) {
    case SR_T_WS: {
        if (!c->ws)
            return SG_OK; /* reconnecting: replay buffer has it if trackable */
        sg_rcbuf *f = sr_msg_ws(m, c->protocol);
        if (!f)
            return m->payload[c->protocol] ? SG_ENOMEM : SG_OK;
        rc = sg_ws_send_rc(c->ws, f);
        break;
    }
    case SR_T_SSE: {
        if (!c->sse)
            return SG_ECLOSED;
        sg_rcbuf *f = sr_msg_sse(m);
        if (!f)
            return m->payload[SR_PROTO_JSON] ? SG_ENOMEM : SG_OK;
        rc = sg_http_stream_write_rc(c->sse, f, 0, f->len);
        break;
    }
    case SR_T_LP: {
        sg_rcbuf *p = m->payload[c->protocol];
        if (!p)
            return SG_OK;
        if (!c->lpq) {
            c->lpq = SG_NEW(sr_lpq);
            if (!c->lpq)
                return SG_ENOMEM;
        }
        if (c->lpq->bytes + p->len > c->s->lp_max)
            return SG_ELIMIT;
        rc = q_push(&c->lpq->head, &c->lpq->tail, p);
        if (rc == SG_OK) {
            c->lpq->bytes += p->len;
            lp_flush(c, 0);
        }
        break;
    }
    default:
        return SG_ECLOSED;
    }
    if (rc == SG_OK)
        c->last_send_ms = sr_now(c->s);
    return rc;
}

int sr_conn_emit_raw(sr_conn *c, const void *p, size_t n)
{
    if (c->state == SR_ST_CLOSED || c->protocol == SR_PROTO_NONE)
        return SG_ECLOSED;
    sr_msg m = {0};
    m.payload[c->protocol] = sg_rcbuf_from(p, n);
    if (!m.payload[c->protocol])
        return SG_ENOMEM;
    int rc = conn_emit(c, &m);
    sr_msg_release(&m);
    if (rc == SG_ELIMIT || rc == SG_ENOMEM)
        sr_conn_close(c, NULL, 0);
    return rc;
}

int sr_conn_send(sr_conn *c, sr_msg *m)
{
    if (c->state == SR_ST_CLOSED || c->state == SR_ST_NEGOTIATED)
        return SG_ECLOSED;
    if (!m->payload[c->protocol])
        return SG_OK; /* pre-framed REST payload without this protocol */
    if ((c->flags & SR_F_STATEFUL) && m->trackable && c->replay) {
        sr_replay *rp = c->replay;
        sg_rcbuf *f = sr_msg_ws(m, c->protocol);
        if (!f || q_push(&rp->head, &rp->tail, f) != SG_OK) {
            sr_conn_close(c, "Out of memory.", 1);
            return SG_ENOMEM;
        }
        if (rp->head == rp->tail)
            rp->head_seq = rp->next_seq;
        rp->next_seq++;
        rp->bytes += f->len;
        if (rp->bytes > c->s->replay_max) {
            SG_LOGW("signalr", "event=replay_overflow conn=%s bytes=%zu", c->id, rp->bytes);
            sr_conn_close(c,
                          "The stateful reconnect buffer is full: messages were not "
                          "acknowledged in time.",
                          0);
            return SG_ELIMIT;
        }
    }
    if (c->state == SR_ST_RECONNECTING)
        return SG_OK;
    int rc = conn_emit(c, m);
    if (rc == SG_ELIMIT || rc == SG_ENOMEM) {
        SG_LOGW("signalr", "event=slow_consumer conn=%s hub=%s rc=%s", c->id,
                c->hub ? c->hub->name : "", sg_strerror(rc));
        sr_conn_close(c, NULL, 0);
    }
    return rc;
}

/* One hub message for one connection (Completion, Close, Ack, Sequence). */
static int send_one(sr_conn *c, const sg_hub_msg *hm, int trackable)
{
    sg_buf b;
    sg_buf_init(&b, 0);
    int rc = sg_hub_write(hubproto(c), hm, &b);
    if (rc != SG_OK) {
        sg_buf_free(&b);
        return rc;
    }
    sr_msg m = {0};
    m.trackable = trackable;
    m.payload[c->protocol] = sg_rcbuf_from(b.data, b.len);
    sg_buf_free(&b);
    if (!m.payload[c->protocol])
        return SG_ENOMEM;
    rc = sr_conn_send(c, &m);
    sr_msg_release(&m);
    return rc;
}

/* Handshake response (JSON text, in the connection's transfer format). */
static int send_handshake(sr_conn *c, const char *error)
{
    sg_buf b;
    sg_buf_init(&b, 0);
    int rc = error ? sg_handshake_write_error(&b, error) : sg_handshake_write_ok(&b);
    if (rc != SG_OK) {
        sg_buf_free(&b);
        return rc;
    }
    sr_msg m = {0};
    m.payload[c->protocol] = sg_rcbuf_from(b.data, b.len);
    sg_buf_free(&b);
    if (!m.payload[c->protocol])
        return SG_ENOMEM;
    rc = conn_emit(c, &m);
    sr_msg_release(&m);
    return rc;
}

static void conn_unregister(sr_conn *c)
{
    sg_signalr *s = c->s;
    sr_hub_leave(c);
    if (sr_map_get(&s->by_id, c->id, strlen(c->id)) == c) {
        sr_map_del(&s->by_id, c->id, strlen(c->id));
        s->nconns--;
    }
}

void sr_conn_close(sr_conn *c, const char *error, int allow_reconnect)
{
    if (c->state == SR_ST_CLOSED)
        return;
    int was = c->state;
    if (was == SR_ST_CONNECTED && c->transport != SR_T_NONE && !(c->flags & SR_F_SILENT_CLOSE)) {
        sg_hub_msg m;
        sg_hub_msg_init(&m);
        m.type = SG_HUB_CLOSE;
        m.error = (char *)error;
        m.allow_reconnect = allow_reconnect;
        m.has_allow_reconnect = allow_reconnect;
        send_one(c, &m, 0);
        m.error = NULL;
        sg_hub_msg_clear(&m);
    }
    SG_LOGI("signalr", "event=disconnect conn=%s hub=%s error=\"%s\"", c->id,
            c->hub ? c->hub->name : "", error ? error : "");
    if (c->server)
        sr_server_client_closed(c, error);
    conn_unregister(c);
    c->state = SR_ST_CLOSED;
    c->state_ms = sr_now(c->s);
    replay_free(c->replay);
    c->replay = NULL;
    conn_release_transports(c);
}

/* Ends the transports of a closed connection. */
static void conn_release_transports(sr_conn *c)
{
    /* c->ws stays until its on_close: the connection is reaped only after that */
    if (c->ws)
        sg_ws_close(c->ws, 1000, "");
    if (c->sse) {
        sg_http_req *r = c->sse;
        c->sse = NULL;
        sg_http_req_on_abort(r, NULL, NULL);
        sg_http_stream_end(r);
    }
    if (c->poll)
        lp_flush(c, 1);
}

/* Frees a closed connection once no transport refers to it. */
static void conn_reap(sr_conn *c)
{
    sg_signalr *s = c->s;
    if (sr_map_get(&s->by_token, c->token, strlen(c->token)) == c)
        sr_map_del(&s->by_token, c->token, strlen(c->token));
    sr_list_del(&c->all_link);
    if (c->hub) {
        c->hub->refs--;
        sr_hub_maybe_free(c->hub);
    }
    lpq_free(c->lpq);
    replay_free(c->replay);
    sg_free(c->uid);
    sr_pending_open_free(c->open);
    if (c->inbuf) {
        sg_buf_free(c->inbuf);
        sg_free(c->inbuf);
    }
    sg_free(c);
}

/* ---- inbound ------------------------------------------------------------------------------ */

static void ack_inbound(sr_conn *c)
{
    sr_replay *rp = c->replay;
    if (!rp || !(c->flags & SR_F_WANT_ACK) || c->state != SR_ST_CONNECTED || !c->ws)
        return;
    sg_hub_msg m;
    sg_hub_msg_init(&m);
    m.type = SG_HUB_ACK;
    m.sequence_id = rp->in_latest;
    if (send_one(c, &m, 0) == SG_OK) {
        rp->in_acked = rp->in_latest;
        c->flags &= (uint8_t)~SR_F_WANT_ACK;
    }
}

static void on_ack(sr_conn *c, uint64_t seq)
{
    sr_replay *rp = c->replay;
    if (!rp)
        return;
    while (rp->head && rp->head_seq <= seq) {
        sr_qnode *n = rp->head;
        rp->head = n->next;
        if (!rp->head)
            rp->tail = NULL;
        rp->bytes -= n->b->len;
        sg_rcbuf_unref(n->b);
        sg_free(n);
        rp->head_seq++;
    }
}

/* Serverless mode without upstream: nobody can answer a hub method. */
static void on_invocation(sr_conn *c, const sg_hub_msg *m)
{
    if (!m->invocation_id) {
        SG_LOGD("signalr",
                "event=invocation_ignored conn=%s target=%s reason=serverless_no_upstream", c->id,
                m->target ? m->target : "");
        return;
    }
    char err[400];
    snprintf(err, sizeof err,
             "Failed to invoke '%.100s': hub '%.100s' is in Serverless mode and no upstream is "
             "configured, so no server can handle client invocations.",
             m->target ? m->target : "", c->hub ? c->hub->name : "");
    sg_hub_msg r;
    sg_hub_msg_init(&r);
    r.type = SG_HUB_COMPLETION;
    r.invocation_id = m->invocation_id;
    r.completion = SG_HUB_COMPLETION_ERROR;
    r.error = err;
    send_one(c, &r, 1);
    r.invocation_id = NULL;
    r.error = NULL;
    sg_hub_msg_clear(&r);
}

static int trackable(int type)
{
    return type == SG_HUB_INVOCATION || type == SG_HUB_STREAM_ITEM || type == SG_HUB_COMPLETION ||
           type == SG_HUB_STREAM_INVOCATION || type == SG_HUB_CANCEL_INVOCATION;
}

/* Returns 0 to continue, -1 if the connection closed. */
static int on_hub_message(sr_conn *c, const sg_hub_msg *m)
{
    sr_replay *rp = (c->flags & SR_F_STATEFUL) ? c->replay : NULL;
    if (rp && trackable(m->type)) {
        uint64_t id = rp->in_next++;
        if (id <= rp->in_latest)
            return 0; /* duplicate replayed by the client after a reconnect */
        rp->in_latest = id;
        c->flags |= SR_F_WANT_ACK;
    }
    switch (m->type) {
    case SG_HUB_INVOCATION:
    case SG_HUB_STREAM_INVOCATION:
        on_invocation(c, m);
        break;
    case SG_HUB_CLOSE:
        sr_conn_close(c, NULL, 0);
        return -1;
    case SG_HUB_ACK:
        on_ack(c, m->sequence_id);
        break;
    case SG_HUB_SEQUENCE:
        if (rp) {
            if (m->sequence_id > rp->in_latest + 1) {
                sr_conn_close(c, "Sequence ID greater than amount of messages we've received.", 0);
                return -1;
            }
            rp->in_next = m->sequence_id;
        }
        break;
    default: /* Ping, StreamItem, Completion, CancelInvocation: nothing to do serverless */
        break;
    }
    return c->state == SR_ST_CLOSED ? -1 : 0;
}

static int do_handshake(sr_conn *c, const char *p, size_t n, size_t *used)
{
    sg_handshake_req req;
    const char *why = NULL;
    int rc = sg_handshake_parse_request(p, n, SG_HANDSHAKE_MAX, &req, used, &why);
    if (rc == SG_EAGAIN)
        return SG_EAGAIN;
    char err[200];
    if (rc != SG_OK) {
        snprintf(err, sizeof err, "Handshake was canceled: %s",
                 why ? why : "invalid handshake request");
        goto refuse;
    }
    if (sg_handshake_check(&req, err, sizeof err) != SG_OK)
        goto refuse;
    if (req.protocol == SG_HUB_PROTO_MSGPACK && c->transport == SR_T_SSE) {
        snprintf(err, sizeof err,
                 "Cannot use the 'messagepack' protocol on the current transport. The transport "
                 "does not support 'Binary' transfer format.");
        goto refuse;
    }
    c->protocol = (uint8_t)proto_of(req.protocol);
    if (req.version >= 2 && (c->flags & SR_F_STATEFUL_OFFERED) && c->transport == SR_T_WS) {
        c->replay = SG_NEW(sr_replay);
        if (!c->replay) {
            snprintf(err, sizeof err, "Out of memory.");
            goto refuse;
        }
        c->replay->next_seq = 1;
        c->replay->head_seq = 1;
        c->replay->in_next = 1;
        c->flags |= SR_F_STATEFUL;
    }
    if (send_handshake(c, NULL) != SG_OK) {
        sr_conn_close(c, NULL, 0);
        return SG_ECLOSED;
    }
    if (sr_conn_join(c, c->protocol) != SG_OK) {
        sr_conn_close(c, "Out of memory.", 0);
        return SG_ECLOSED;
    }
    return SG_OK;
refuse:
    SG_LOGI("signalr", "event=handshake_refused conn=%s reason=\"%s\"", c->id, err);
    /* the error reply goes out as text even for binary transports (JSON) */
    if (c->protocol == SR_PROTO_NONE)
        c->protocol = SR_PROTO_JSON;
    send_handshake(c, err);
    sr_conn_close(c, NULL, 0);
    return SG_ECLOSED;
}

int sr_conn_join(sr_conn *c, int protocol)
{
    c->protocol = (uint8_t)protocol;
    if (sr_hub_join(c->hub, c, c->uid) != SG_OK)
        return SG_ENOMEM;
    sg_free(c->uid);
    c->uid = NULL;
    c->state = SR_ST_CONNECTED;
    c->state_ms = sr_now(c->s);
    SG_LOGI("signalr",
            "event=connect conn=%s hub=%s user=%s transport=%s protocol=%s stateful=%d mode=%s",
            c->id, c->hub->name, c->user ? c->user->id : "",
            c->transport == SR_T_WS    ? "WebSockets"
            : c->transport == SR_T_SSE ? "ServerSentEvents"
                                       : "LongPolling",
            protocol == SR_PROTO_MSGPACK ? "messagepack" : "json",
            (c->flags & SR_F_STATEFUL) ? 1 : 0,
            (c->flags & SR_F_DEFAULT) ? "default" : "serverless");
    return SG_OK;
}

/* Processes bytes; returns the number consumed or -1 if the connection closed. */
static long process(sr_conn *c, const char *p, size_t n)
{
    size_t off = 0;
    if (c->state == SR_ST_HANDSHAKE) {
        size_t used = 0;
        int rc = do_handshake(c, p, n, &used);
        if (rc == SG_EAGAIN)
            return 0;
        if (rc != SG_OK)
            return -1;
        off = used;
    }
    sg_hub_limits lim;
    sg_hub_limits_default(&lim);
    lim.max_message = c->s->max_message;
    while (off < n && c->state == SR_ST_CONNECTED) {
        sg_hub_msg m;
        sg_hub_msg_init(&m);
        size_t used = 0;
        const char *why = NULL;
        int rc = sg_hub_parse(hubproto(c), p + off, n - off, &lim, &m, &used, &why);
        if (rc == SG_EAGAIN)
            break;
        if (rc != SG_OK) {
            char err[300];
            if (rc == SG_ETOOBIG)
                snprintf(err, sizeof err,
                         "The maximum message size of %zuB was exceeded. The message size can be "
                         "configured with max_message.",
                         c->s->max_message);
            else
                snprintf(err, sizeof err, "Connection closed with an error: invalid message (%s).",
                         why ? why : sg_strerror(rc));
            SG_LOGI("signalr", "event=bad_message conn=%s rc=%s why=\"%s\"", c->id, sg_strerror(rc),
                    why ? why : "");
            sr_conn_close(c, err, 0);
            return -1;
        }
        off += used;
        int r = on_hub_message(c, &m);
        sg_hub_msg_clear(&m);
        if (r < 0)
            return -1;
    }
    return (long)off;
}

/* Entry for every inbound chunk (a WebSocket message, a POST body). */
static void conn_recv(sr_conn *c, const char *p, size_t n)
{
    if (c->state != SR_ST_HANDSHAKE && c->state != SR_ST_CONNECTED)
        return;
    c->last_recv_ms = sr_now(c->s);
    if (c->flags & SR_F_DEFAULT) {
        sr_server_client_data(c, p, n);
        return;
    }
    size_t cap = (c->state == SR_ST_HANDSHAKE ? SG_HANDSHAKE_MAX : c->s->max_message) + 16;
    if (c->inbuf && c->inbuf->len) {
        if (c->inbuf->len + n > cap + c->s->max_message) {
            sr_conn_close(c, "The maximum message size was exceeded.", 0);
            return;
        }
        if (sg_buf_append(c->inbuf, p, n) != SG_OK) {
            sr_conn_close(c, "Out of memory.", 0);
            return;
        }
        long used = process(c, c->inbuf->data, c->inbuf->len);
        if (used < 0)
            return;
        sg_buf_consume(c->inbuf, (size_t)used);
        if (c->inbuf->len == 0) {
            sg_buf_free(c->inbuf);
            sg_free(c->inbuf);
            c->inbuf = NULL;
        }
        return;
    }
    long used = process(c, p, n);
    if (used < 0 || (size_t)used == n)
        return;
    /* keep a partial message for the next chunk */
    if (n - (size_t)used > cap) {
        sr_conn_close(c, "The maximum message size was exceeded.", 0);
        return;
    }
    c->inbuf = SG_NEW(sg_buf);
    if (!c->inbuf ||
        (sg_buf_init(c->inbuf, 0), sg_buf_append(c->inbuf, p + used, n - (size_t)used)) != SG_OK) {
        sr_conn_close(c, "Out of memory.", 0);
        return;
    }
}

/* ---- WebSocket callbacks ----------------------------------------------------------------- */

static void ws_on_message(sg_ws *ws, int binary, const char *p, size_t n, void *ud)
{
    (void)ws;
    (void)binary;
    sr_conn *c = ud;
    if (c)
        conn_recv(c, p, n);
}

static void ws_on_close(sg_ws *ws, uint16_t code, const char *reason, void *ud)
{
    (void)reason;
    sr_conn *c = ud;
    if (!c || c->ws != ws)
        return;
    c->ws = NULL;
    if (c->state == SR_ST_CONNECTED && (c->flags & SR_F_STATEFUL) && !c->s->stopping) {
        SG_LOGI("signalr", "event=transport_lost conn=%s code=%u stateful=1", c->id, code);
        c->state = SR_ST_RECONNECTING;
        c->state_ms = sr_now(c->s);
        return;
    }
    sr_conn_close(c, NULL, 0);
}

/* After a stateful reconnect: Sequence, then every unacknowledged message. */
static void resume(sr_conn *c)
{
    sr_replay *rp = c->replay;
    c->state = SR_ST_CONNECTED;
    c->state_ms = c->last_recv_ms = sr_now(c->s);
    sg_hub_msg m;
    sg_hub_msg_init(&m);
    m.type = SG_HUB_SEQUENCE;
    m.sequence_id = rp->head ? rp->head_seq : rp->next_seq;
    send_one(c, &m, 0);
    size_t n = 0;
    for (sr_qnode *q = rp->head; q && c->ws; q = q->next, n++)
        sg_ws_send_rc(c->ws, q->b);
    c->flags |= SR_F_WANT_ACK; /* tell the client where we are */
    SG_LOGI("signalr", "event=reconnected conn=%s replayed=%zu", c->id, n);
}

/* ---- HTTP: negotiate ------------------------------------------------------------------- */

static const char *transport_json(uint8_t allowed, sr_conn *c, sg_buf *b)
{
    (void)c;
    sg_buf_append_str(b, "[");
    int first = 1;
    if (allowed & SR_T_WS) {
        sg_buf_append_str(
            b, "{\"transport\":\"WebSockets\",\"transferFormats\":[\"Text\",\"Binary\"]}");
        first = 0;
    }
    if (allowed & SR_T_SSE) {
        sg_buf_appendf(b, "%s{\"transport\":\"ServerSentEvents\",\"transferFormats\":[\"Text\"]}",
                       first ? "" : ",");
        first = 0;
    }
    if (allowed & SR_T_LP)
        sg_buf_appendf(
            b, "%s{\"transport\":\"LongPolling\",\"transferFormats\":[\"Text\",\"Binary\"]}",
            first ? "" : ",");
    sg_buf_append_str(b, "]");
    return b->data;
}

static void negotiate(sg_signalr *s, sg_http_req *r, const char *hubkey, sr_principal *pr)
{
    char *vs = sg_query_get(r->query, "negotiateVersion");
    int64_t ver = 0;
    if (vs && sg_parse_i64(vs, strlen(vs), &ver) != SG_OK) {
        char m[160];
        snprintf(m, sizeof m, "The client requested an invalid protocol version '%.40s'", vs);
        sg_free(vs);
        sr_respond_error(r, 400, "InvalidNegotiateVersion", m, "negotiateVersion");
        return;
    }
    sg_free(vs);
    if (ver < 0) {
        sr_respond_error(r, 400, "InvalidNegotiateVersion",
                         "The client requested an invalid protocol version.", "negotiateVersion");
        return;
    }
    int v1 = ver >= 1;
    char *st = sg_query_get(r->query, "useStatefulReconnect");
    int stateful = st && strcasecmp(st, "true") == 0 && v1;
    sg_free(st);

    if (!s->serverless && !sr_hub_has_server(sr_hub_get(&s->hubs, hubkey))) {
        /* Default mode needs an app server of this hub over /server */
        const char *e =
            "{\"error\":\"SignalR Service is now in 'Default' service mode. Current mode "
            "works as a proxy that routes client traffic to the connected app servers. "
            "However app servers are not connected.\"}";
        sr_respond(r, 200, "application/json", e, strlen(e));
        return;
    }
    if (s->nconns >= s->max_connections) {
        SG_LOGW("signalr", "event=connection_limit max=%zu", s->max_connections);
        sr_respond_error(r, 429, "ConnectionLimitReached",
                         "The connection limit of this SignalR resource has been reached.", NULL);
        return;
    }
    uint8_t allowed = SR_T_WS | SR_T_SSE | SR_T_LP;
    int64_t htt = 0;
    if (sr_principal_int(pr, "asrs.s.htt", &htt) && htt > 0 && htt <= 7)
        allowed = (uint8_t)htt; /* same bit values as HttpTransportType */
    int64_t cht = 0, aeo = 0, ttl = 0;
    if (!sr_principal_int(pr, "asrs.s.ttl", &ttl) || ttl < 1 || ttl > 300)
        ttl = 0;
    if (!sr_principal_int(pr, "asrs.s.cht", &cht) || cht < 1 || cht > 30)
        cht = 0;
    const char *coae = json_string_value(json_object_get(pr->claims, "asrs.s.coae"));
    if (!coae || strcasecmp(coae, "true") != 0 || !sr_principal_int(pr, "asrs.s.aeo", &aeo) ||
        aeo <= 0 || aeo > UINT32_MAX)
        aeo = 0;

    sr_conn *c = SG_NEW(sr_conn);
    sr_hub *hub = sr_hub_obtain(&s->hubs, hubkey);
    const char *uid = sr_principal_user(pr);
    if (!c || !hub)
        goto oom;
    sr_list_init(&c->all_link);
    sr_list_init(&c->hub_link);
    sr_list_init(&c->user_link);
    sr_list_init(&c->server_link);
    c->s = s;
    c->hub = hub;
    if (!s->serverless) {
        c->flags |= SR_F_DEFAULT;
        stateful = 0; /* not offered through app servers yet */
        c->open = SG_NEW(sr_pending_open);
        if (!c->open)
            goto oom_c;
        c->open->claims = json_incref(pr->claims);
    }
    hub->refs++;
    c->allowed = allowed;
    c->hs_timeout_s = (uint8_t)cht;
    c->lp_ttl_s = (uint16_t)ttl;
    c->auth_expires = (uint32_t)aeo;
    if (uid) {
        c->uid = sg_strdup(uid);
        if (!c->uid)
            goto oom_c;
    }
    /* one getrandom(2) per connect: 16 bytes of id and 32 of token from the same draw */
    unsigned char rnd[48];
    char enc[64];
    for (int tries = 0;; tries++) {
        if (tries > 5 || sg_random_bytes(rnd, sizeof rnd) != SG_OK ||
            sg_b64url_encode(rnd, 16, enc, sizeof enc) != (long)sizeof c->id - 1)
            goto oom_c;
        memcpy(c->id, enc, sizeof c->id);
        if (!sr_conn_by_id(s, c->id) && !conn_by_token(s, c->id))
            break;
    }
    if (v1) {
        if (sg_b64url_encode(rnd + 16, 32, enc, sizeof enc) != (long)sizeof c->token - 1)
            goto oom_c;
        memcpy(c->token, enc, sizeof c->token);
        c->flags |= SR_F_NEGOTIATE_V1;
    } else {
        memcpy(c->token, c->id, sizeof c->id);
    }
    OPENSSL_cleanse(rnd, sizeof rnd);
    if (stateful)
        c->flags |= SR_F_STATEFUL_OFFERED;
    if (sr_map_put(&s->by_id, c) != SG_OK)
        goto oom_c;
    if (sr_map_put(&s->by_token, c) != SG_OK) {
        sr_map_del(&s->by_id, c->id, strlen(c->id));
        goto oom_c;
    }
    s->nconns++;
    sr_list_push(&s->all, &c->all_link);
    c->state = SR_ST_NEGOTIATED;
    c->state_ms = c->last_recv_ms = c->last_send_ms = sr_now(c->s);

    sg_buf b;
    sg_buf_init(&b, 0);
    if (v1)
        sg_buf_appendf(&b,
                       "{\"negotiateVersion\":1,\"connectionId\":\"%s\",\"connectionToken\":\"%s\","
                       "\"availableTransports\":",
                       c->id, c->token);
    else
        sg_buf_appendf(
            &b, "{\"negotiateVersion\":0,\"connectionId\":\"%s\",\"availableTransports\":", c->id);
    sg_buf tj;
    sg_buf_init(&tj, 0);
    transport_json(allowed, c, &tj);
    sg_buf_append(&b, tj.data, tj.len);
    sg_buf_free(&tj);
    if (stateful)
        sg_buf_append_str(&b, ",\"useStatefulReconnect\":true");
    sg_buf_append_str(&b, "}");
    SG_LOGD("signalr", "event=negotiate conn=%s hub=%s version=%d stateful=%d", c->id, hubkey, v1,
            stateful);
    sr_respond(r, 200, "application/json", b.data ? b.data : "{}", b.len);
    sg_buf_free(&b);
    return;
oom_c:
    if (c) {
        hub->refs--;
        sg_free(c->uid);
        sr_pending_open_free(c->open);
    }
oom:
    sg_free(c);
    if (hub)
        sr_hub_maybe_free(hub);
    sr_respond_error(r, 500, "InternalServerError", "Out of memory.", NULL);
}

/* ---- HTTP: transports ------------------------------------------------------------------- */

static void sse_on_abort(sg_http_req *r, void *ud)
{
    (void)r;
    sr_conn *c = ud;
    if (!c || c->sse != r)
        return;
    c->sse = NULL;
    sr_conn_close(c, NULL, 0);
}

static void poll_on_abort(sg_http_req *r, void *ud)
{
    sr_conn *c = ud;
    if (c && c->poll == r)
        c->poll = NULL;
}

/* Default mode: OpenConnection carries the query string of the transport request. */
static void remember_query(sr_conn *c, const sg_http_req *r)
{
    if (c->open && !c->open->query)
        c->open->query = sg_slice_dup(r->query);
}

static int wants_sse(const sg_http_req *r)
{
    const sg_slice *a = sg_http_req_header(r, "Accept");
    if (!a)
        return 0;
    for (size_t i = 0; i + 17 <= a->n; i++) {
        if (strncasecmp(a->p + i, "text/event-stream", 17) == 0)
            return 1;
    }
    return 0;
}

static void ws_connect(sg_signalr *s, sg_http_req *r, sr_conn *c)
{
    int takeover = 0;
    if (c->state == SR_ST_RECONNECTING) {
        takeover = 1;
    } else if (c->state == SR_ST_NEGOTIATED) {
        if (!(c->allowed & SR_T_WS)) {
            sr_respond_error(r, 404, "TransportNotAllowed",
                             "The WebSockets transport is disabled for this connection.", NULL);
            return;
        }
    } else if (c->transport == SR_T_WS && (c->flags & SR_F_STATEFUL) &&
               c->state == SR_ST_CONNECTED) {
        takeover = 1; /* the client reconnected before we noticed the old socket died */
    } else {
        sr_respond_error(r, 409, "Conflict",
                         c->transport == SR_T_WS
                             ? "Connection ID is already in use by another WebSocket."
                             : "Cannot change transports mid-connection.",
                         NULL);
        return;
    }
    sg_stream_limits lim = {s->out_soft, s->out_grace_ms, s->out_hard};
    size_t wsmax = s->max_message * 4;
    if (wsmax < (1u << 20))
        wsmax = 1u << 20;
    sg_ws_opts o = {wsmax, &lim};
    sg_ws_cbs cbs = {ws_on_message, ws_on_close};
    sg_ws *ws = NULL;
    remember_query(c, r); /* r is gone after the accept */
    if (sg_ws_accept(r, &o, &cbs, c, &ws) != SG_OK)
        return; /* ws answered 400 */
    if (takeover && c->ws) {
        sg_ws *old = c->ws;
        sg_ws_set_ud(old, NULL);
        sg_ws_close(old, 1000, "");
    }
    c->ws = ws;
    c->transport = SR_T_WS;
    if (takeover) {
        resume(c);
    } else {
        c->state = SR_ST_HANDSHAKE;
        c->state_ms = c->last_recv_ms = sr_now(c->s);
    }
}

static void sse_connect(sg_signalr *s, sg_http_req *r, sr_conn *c)
{
    if (c->state != SR_ST_NEGOTIATED) {
        sr_respond_error(r, 409, "Conflict", "Cannot change transports mid-connection.", NULL);
        return;
    }
    if (!(c->allowed & SR_T_SSE)) {
        sr_respond_error(r, 404, "TransportNotAllowed",
                         "The ServerSentEvents transport is disabled for this connection.", NULL);
        return;
    }
    sg_http_header h[2] = {{SG_SLICE_LIT("Cache-Control"), SG_SLICE_LIT("no-cache")},
                           {SG_SLICE_LIT("X-Accel-Buffering"), SG_SLICE_LIT("no")}};
    if (sr_stream_start(r, 200, "text/event-stream", h, 2) != SG_OK)
        return;
    sg_stream_limits lim = {s->out_soft, s->out_grace_ms, s->out_hard};
    sg_stream_set_limits(r->stream, &lim);
    sg_http_stream_write(r, ":\r\n", 3); /* some EventSource versions open on first bytes */
    remember_query(c, r);
    c->sse = r;
    sg_http_req_on_abort(r, sse_on_abort, c);
    c->transport = SR_T_SSE;
    c->state = SR_ST_HANDSHAKE;
    c->state_ms = c->last_recv_ms = sr_now(c->s);
}

static void lp_poll(sg_signalr *s, sg_http_req *r, sr_conn *c)
{
    (void)s;
    if (c->state == SR_ST_NEGOTIATED) {
        if (!(c->allowed & SR_T_LP)) {
            sr_respond_error(r, 404, "TransportNotAllowed",
                             "The LongPolling transport is disabled for this connection.", NULL);
            return;
        }
        remember_query(c, r);
        c->transport = SR_T_LP;
        c->state = SR_ST_HANDSHAKE;
        c->state_ms = c->last_recv_ms = sr_now(c->s);
        /* the first poll only establishes the connection */
        sr_respond(r, 200, "text/plain", "", 0);
        return;
    }
    if (c->transport != SR_T_LP) {
        sr_respond_error(r, 400, "BadRequest", "Cannot change transports mid-connection.", NULL);
        return;
    }
    if (c->poll) {
        /* superseded: the old poll ends with 204 */
        sg_http_req *old = c->poll;
        c->poll = NULL;
        sg_http_req_on_abort(old, NULL, NULL);
        sr_respond(old, 204, NULL, NULL, 0);
    }
    c->poll = r;
    c->poll_ms = c->last_recv_ms = sr_now(c->s);
    sg_http_req_on_abort(r, poll_on_abort, c);
    if ((c->lpq && c->lpq->head) || c->state == SR_ST_CLOSED)
        lp_flush(c, 0);
}

static void transport_request(sg_signalr *s, sg_http_req *r, const char *hubkey)
{
    char *id = sg_query_get(r->query, "id");
    if (!id || !*id) {
        sg_free(id);
        sr_respond_error(r, 400, "BadRequest", "Connection ID required", "id");
        return;
    }
    sr_conn *c = conn_by_token(s, id);
    sg_free(id);
    if (!c || !c->hub || strcmp(c->hub->name, hubkey) != 0) {
        sr_respond_error(r, 404, "NotFound", "No Connection with that ID", "id");
        return;
    }
    if (r->method == SG_HTTP_GET) {
        if (sg_ws_is_upgrade(r)) {
            if (c->state == SR_ST_CLOSED || s->stopping)
                sr_respond_error(r, 404, "NotFound", "No Connection with that ID", "id");
            else
                ws_connect(s, r, c);
        } else if (wants_sse(r)) {
            if (c->state == SR_ST_CLOSED || s->stopping)
                sr_respond_error(r, 404, "NotFound", "No Connection with that ID", "id");
            else
                sse_connect(s, r, c);
        } else {
            if (c->state == SR_ST_CLOSED && c->transport != SR_T_LP)
                sr_respond_error(r, 404, "NotFound", "No Connection with that ID", "id");
            else
                lp_poll(s, r, c);
        }
        return;
    }
    if (r->method == SG_HTTP_POST) {
        if (c->state == SR_ST_CLOSED) {
            sr_respond_error(r, 404, "NotFound", "No Connection with that ID", "id");
            return;
        }
        if (c->transport == SR_T_WS) {
            sr_respond_error(r, 405, "MethodNotAllowed",
                             "POST requests are not allowed for WebSocket connections.", NULL);
            return;
        }
        if (c->transport == SR_T_NONE) {
            sr_respond_error(r, 400, "BadRequest", "The connection has no transport yet.", NULL);
            return;
        }
        conn_recv(c, r->body.p, r->body.n);
        sr_respond(r, 200, "text/plain", "", 0);
        return;
    }
    if (r->method == SG_HTTP_DELETE) {
        if (c->state != SR_ST_CLOSED)
            sr_conn_close(c, NULL, 0);
        sr_respond(r, 202, "text/plain", "", 0);
        return;
    }
    sr_respond_error(r, 405, "MethodNotAllowed", "Method not allowed.", NULL);
}

void sr_client_handle(sg_signalr *s, sg_http_req *r, sg_slice sub)
{
    int is_negotiate = sg_slice_eq(sub, "/negotiate") || sg_slice_eq(sub, "/negotiate/");
    if (!is_negotiate && !sg_slice_eq(sub, "/") && sub.n != 0) {
        sr_respond_error(r, 404, "NotFound", "Not found.", NULL);
        return;
    }
    char hubkey[300];
    if (sr_hub_key_from_query(r, hubkey, sizeof hubkey) != SG_OK) {
        sr_respond_error(r, 400, "InvalidHubName",
                         "The 'hub' query parameter is missing or is not a valid hub name "
                         "(^[A-Za-z][A-Za-z0-9_`,.[\\]]{0,127}$).",
                         "hub");
        return;
    }
    if (s->stopping) {
        sr_respond_error(r, 503, "ServiceUnavailable", "Service is shutting down.", NULL);
        return;
    }
    if (is_negotiate && r->method != SG_HTTP_POST) {
        sr_respond_error(r, 405, "MethodNotAllowed", "Negotiate requires POST.", NULL);
        return;
    }
    sr_auth_ctx ac = {SR_AUD_CLIENT, hubkey,
                      "Microsoft.SignalRService/SignalR/clientConnection/write"};
    sr_principal pr;
    if (sr_auth_or_respond(s, r, &ac, &pr) != SG_OK)
        return;
    if (is_negotiate)
        negotiate(s, r, hubkey, &pr);
    else
        transport_request(s, r, hubkey);
    sr_principal_clear(&pr);
}

/* ---- timers ------------------------------------------------------------------------------ */

void sr_conns_tick(sg_signalr *s, uint64_t now)
{
    sr_link *l = s->all.next;
    while (l != &s->all) {
        sr_link *next = l->next;
        sr_conn *c = SR_CONTAINER(l, sr_conn, all_link);
        switch (c->state) {
        case SR_ST_NEGOTIATED:
            if (now - c->state_ms > s->handshake_timeout_ms + 5000u)
                sr_conn_close(c, NULL, 0);
            break;
        case SR_ST_HANDSHAKE:
            if (now - c->state_ms >
                (c->hs_timeout_s ? c->hs_timeout_s * 1000u : s->handshake_timeout_ms)) {
                SG_LOGI("signalr", "event=handshake_timeout conn=%s", c->id);
                sr_conn_close(c, NULL, 0);
            }
            break;
        case SR_ST_CONNECTED:
            if (c->auth_expires && sg_unix_now() >= (int64_t)c->auth_expires) {
                SG_LOGI("signalr", "event=auth_expired conn=%s", c->id);
                sr_conn_close(c, "Authentication expired.", 1);
                break;
            }
            if (c->transport == SR_T_LP) {
                if (c->poll && now - c->poll_ms >= s->poll_timeout_ms)
                    lp_flush(c, 1);
                else if (!c->poll && now - c->last_recv_ms >
                                         (c->lp_ttl_s ? c->lp_ttl_s * 1000u : s->client_timeout_ms))
                    sr_conn_close(c, NULL, 0);
                break;
            }
            if (now - c->last_recv_ms > s->client_timeout_ms) {
                SG_LOGI("signalr", "event=client_timeout conn=%s", c->id);
                sr_conn_close(
                    c, "Server timeout elapsed without receiving a message from the client.", 1);
                break;
            }
            if (c->flags & SR_F_WANT_ACK)
                ack_inbound(c);
            /* Default mode: the app server's hub sends the pings, inside the byte stream */
            if (c->state == SR_ST_CONNECTED && !(c->flags & SR_F_DEFAULT) &&
                now - c->last_send_ms >= s->keepalive_ms)
                conn_emit(c, &s->ping);
            break;
        case SR_ST_RECONNECTING:
            if (now - c->state_ms > s->reconnect_window_ms)
                sr_conn_close(c, NULL, 0);
            break;
        default:
            break;
        }
        if (c->state == SR_ST_HANDSHAKE && c->transport == SR_T_LP && c->poll &&
            now - c->poll_ms >= s->poll_timeout_ms)
            lp_flush(c, 1);
        if (c->state == SR_ST_CLOSED && !c->ws && !c->sse && !c->poll &&
            (c->transport != SR_T_LP || now - c->state_ms > LP_LINGER_MS ||
             (s->stopping && (!c->lpq || !c->lpq->head))))
            conn_reap(c);
        l = next;
    }
}

void sr_conns_close_all(sg_signalr *s, const char *error, int allow_reconnect)
{
    sr_link *l = s->all.next;
    while (l != &s->all) {
        sr_link *next = l->next;
        sr_conn *c = SR_CONTAINER(l, sr_conn, all_link);
        sr_conn_close(c, error, allow_reconnect);
        l = next;
    }
}

void sr_conns_free_all(sg_signalr *s)
{
    while (!sr_list_empty(&s->all)) {
        sr_conn *c = SR_CONTAINER(s->all.next, sr_conn, all_link);
        sr_conn_close(c, NULL, 0);
        if (c->ws) {
            sg_ws_set_ud(c->ws, NULL);
            c->ws = NULL;
        }
        c->sse = NULL;
        c->poll = NULL;
        conn_reap(c);
    }
}
