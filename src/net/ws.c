/* ws.c — server-side WebSocket connections on an upgraded HTTP stream. Framing rules live in
 * proto/ws_codec; this file does the handshake and the I/O. */
#include "net/ws.h"

#include "net/http_internal.h"
#include "net/net_internal.h"
#include "proto/ws_codec.h"
#include "sg_alloc.h"
#include "sg_b64.h"
#include "sg_err.h"
#include "sg_log.h"
#include "sg_str.h"

#include <openssl/evp.h>
#include <string.h>

#define CLOSE_WAIT_MS 2000

struct sg_ws {
    sg_stream *s;
    sg_ws_cbs cbs;
    void *ud;
    sg_wsc_reader rd;
    char *close_reason; /* allocated only when a close happens */
    uint16_t close_code;
    uint8_t close_sent;
    uint8_t close_rcvd;
};

static const char WS_GUID[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/* 1 if the comma-separated header value contains token (case-insensitive). */
static int has_token(const sg_slice *v, const char *token)
{
    if (!v)
        return 0;
    size_t tl = strlen(token);
    size_t i = 0;
    while (i < v->n) {
        while (i < v->n && (v->p[i] == ' ' || v->p[i] == '\t' || v->p[i] == ','))
            i++;
        size_t st = i;
        while (i < v->n && v->p[i] != ',')
            i++;
        size_t en = i;
        while (en > st && (v->p[en - 1] == ' ' || v->p[en - 1] == '\t'))
            en--;
        sg_slice t = {v->p + st, en - st};
        if (t.n == tl && sg_slice_ieq(t, token))
            return 1;
    }
    return 0;
}

int sg_ws_is_upgrade(const sg_http_req *r)
{
    return r->method == SG_HTTP_GET && has_token(sg_http_req_header(r, "upgrade"), "websocket") &&
           has_token(sg_http_req_header(r, "connection"), "upgrade") &&
           sg_http_req_header(r, "sec-websocket-key") != NULL &&
           sg_http_req_header(r, "sec-websocket-version") != NULL;
}

/* Sec-WebSocket-Accept for a client key: base64(SHA1(key + GUID)). out >= 29 bytes. */
int sg_ws_accept_key(const char *key, size_t n, char out[29])
{
    unsigned char dig[EVP_MAX_MD_SIZE];
    unsigned int dl = 0;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    int ok = c && EVP_DigestInit_ex(c, EVP_sha1(), NULL) == 1 && EVP_DigestUpdate(c, key, n) == 1 &&
             EVP_DigestUpdate(c, WS_GUID, sizeof(WS_GUID) - 1) == 1 &&
             EVP_DigestFinal_ex(c, dig, &dl) == 1 && dl == 20;
    EVP_MD_CTX_free(c);
    if (!ok)
        return SG_EINTERNAL;
    return sg_b64_encode(dig, (size_t)dl, out, 29) == 28 ? SG_OK : SG_EINTERNAL;
}

/* ---- output ----------------------------------------------------------------------------- */

static int send_frame(sg_ws *ws, int opcode, const void *p, size_t n)
{
    uint8_t hdr[SG_WSC_MAX_HEADER];
    size_t hl = sg_wsc_build_header(hdr, 1, opcode, n, NULL);
    if (n > 4096) {
        /* one exact-size buffer instead of a header chunk plus a big private copy */
        sg_rcbuf *b = sg_rcbuf_new(hl + n);
        if (!b)
            return SG_ENOMEM;
        memcpy(b->data, hdr, hl);
        memcpy(b->data + hl, p, n);
        int rc = sg_stream_write_rc(ws->s, b, 0, hl + n);
        sg_rcbuf_unref(b);
        return rc;
    }
    int rc = sg_stream_write(ws->s, hdr, hl);
    if (rc == SG_OK && n)
        rc = sg_stream_write(ws->s, p, n);
    return rc;
}

sg_rcbuf *sg_ws_frame_rc(int binary, const void *p, size_t n)
{
    uint8_t hdr[SG_WSC_MAX_HEADER];
    size_t hl = sg_wsc_build_header(hdr, 1, binary ? SG_WSC_BINARY : SG_WSC_TEXT, n, NULL);
    if (n > UINT32_MAX - 64)
        return NULL;
    sg_rcbuf *b = sg_rcbuf_new(hl + n);
    if (!b)
        return NULL;
    memcpy(b->data, hdr, hl);
    if (n)
        memcpy(b->data + hl, p, n);
    return b;
}

int sg_ws_send(sg_ws *ws, int binary, const void *p, size_t n)
{
    if (ws->close_sent || sg_stream_is_closing(ws->s))
        return SG_ECLOSED;
    return send_frame(ws, binary ? SG_WSC_BINARY : SG_WSC_TEXT, p, n);
}

int sg_ws_send_rc(sg_ws *ws, sg_rcbuf *frame)
{
    if (ws->close_sent || sg_stream_is_closing(ws->s))
        return SG_ECLOSED;
    return sg_stream_write_rc(ws->s, frame, 0, frame->len);
}

static void set_reason(sg_ws *ws, const char *p, size_t n)
{
    sg_free(ws->close_reason);
    ws->close_reason = sg_strndup(p ? p : "", n);
}

static void send_close(sg_ws *ws, uint16_t code, const char *reason)
{
    if (ws->close_sent)
        return;
    ws->close_sent = 1;
    sg_buf b;
    sg_buf_init(&b, 0);
    if (sg_wsc_build_close(&b, code, reason, NULL) == SG_OK)
        sg_stream_write(ws->s, b.data, b.len);
    sg_buf_free(&b);
}

void sg_ws_close(sg_ws *ws, uint16_t code, const char *reason)
{
    if (ws->close_sent || sg_stream_is_closing(ws->s))
        return;
    if (!sg_wsc_close_code_valid(code))
        code = SG_WSC_NORMAL;
    ws->close_code = code;
    set_reason(ws, reason, reason ? strlen(reason) : 0);
    send_close(ws, code, reason);
    /* wait for the peer's close frame, bounded */
    sg__stream_set_timeout(ws->s, CLOSE_WAIT_MS);
}

/* Protocol violation: send the code and drop the connection after flushing it. */
static void ws_fail(sg_ws *ws, uint16_t code)
{
    SG_LOGD("net", "event=ws_fail peer=%s code=%u", sg_stream_peer_ip(ws->s), code);
    if (!ws->close_sent) {
        ws->close_code = code;
        set_reason(ws, "", 0);
        send_close(ws, code, "");
    }
    sg_stream_close(ws->s, 1);
}

size_t sg_ws_queued(const sg_ws *ws)
{
    return sg_stream_queued(ws->s);
}

sg_stream *sg_ws_stream(sg_ws *ws)
{
    return ws->s;
}

void sg_ws_set_ud(sg_ws *ws, void *ud)
{
    ws->ud = ud;
}

/* ---- input ------------------------------------------------------------------------------ */

static int on_event(void *ud, const sg_wsc_event *ev)
{
    sg_ws *ws = ud;
    switch (ev->type) {
    case SG_WSC_EV_MESSAGE:
        if (ws->close_sent)
            return 0; /* closing: data is discarded until the peer's close */
        if (ws->cbs.on_message)
            ws->cbs.on_message(ws, ev->binary, ev->p, ev->n, ws->ud);
        return sg_stream_is_closing(ws->s);
    case SG_WSC_EV_PING:
        if (!ws->close_sent)
            send_frame(ws, SG_WSC_PONG, ev->p, ev->n);
        return 0;
    case SG_WSC_EV_PONG:
        return 0;
    case SG_WSC_EV_CLOSE:
        ws->close_rcvd = 1;
        if (!ws->close_sent) {
            ws->close_code = ev->code;
            set_reason(ws, ev->p, ev->n);
            send_close(ws, ev->code == SG_WSC_NO_STATUS ? SG_WSC_NORMAL : ev->code, "");
        }
        sg_stream_close(ws->s, 1);
        return 1;
    default:
        return 0;
    }
}

static void ws_feed(sg_ws *ws, char *p, size_t n)
{
    if (sg_stream_is_closing(ws->s))
        return;
    int code = sg_wsc_reader_feed(&ws->rd, p, n, on_event, ws);
    if (code)
        ws_fail(ws, (uint16_t)code);
}

static void ws_on_data(sg_stream *s, const char *p, size_t n, void *ud)
{
    (void)s;
    /* p is the loop's shared read buffer (net_internal.h): writable scratch, so payloads are
     * unmasked in place and only an incomplete frame tail is copied. */
    ws_feed(ud, (char *)p, n);
}

static void ws_on_defer(sg_stream *s, void *ud)
{
    (void)s;
    ws_feed(ud, NULL, 0); /* bytes that came with the upgrade request */
}

static void ws_on_eof(sg_stream *s, void *ud)
{
    (void)ud;
    sg__stream_close_reason(s, SG_ECLOSED, 0);
}

static void ws_on_close(sg_stream *s, int reason, void *ud)
{
    (void)s;
    (void)reason;
    sg_ws *ws = ud;
    uint16_t code = (ws->close_sent || ws->close_rcvd) ? ws->close_code : SG_WSC_ABNORMAL;
    if (!code)
        code = SG_WSC_ABNORMAL;
    if (ws->cbs.on_close)
        ws->cbs.on_close(ws, code, ws->close_reason ? ws->close_reason : "", ws->ud);
    sg_wsc_reader_free(&ws->rd);
    sg_free(ws->close_reason);
    sg_free(ws);
}

/* ---- handshake -------------------------------------------------------------------------- */

static int reject(sg_http_req *r, const char *why)
{
    sg_http_header h[1] = {{SG_SLICE_LIT("Sec-WebSocket-Version"), SG_SLICE_LIT("13")}};
    sg_http_respond_ex(r, 400, "text/plain", h, 1, why, strlen(why));
    return SG_EINVAL;
}

int sg_ws_accept(sg_http_req *r, const sg_ws_opts *opts, const sg_ws_cbs *cbs, void *ud,
                 sg_ws **out)
{
    *out = NULL;
    if (!sg_ws_is_upgrade(r))
        return reject(r, "not a websocket upgrade");
    const sg_slice *ver = sg_http_req_header(r, "sec-websocket-version");
    if (!sg_slice_eq(*ver, "13"))
        return reject(r, "unsupported websocket version");
    const sg_slice *key = sg_http_req_header(r, "sec-websocket-key");
    unsigned char raw[SG_B64_DEC_LEN(64)];
    if (key->n != 24 || sg_b64_decode(key->p, key->n, raw, sizeof raw) != 16)
        return reject(r, "bad Sec-WebSocket-Key");
    char acc[29];
    if (sg_ws_accept_key(key->p, key->n, acc) != SG_OK)
        return reject(r, "internal error");
    sg_ws *ws = SG_NEW(sg_ws);
    if (!ws) {
        sg_http_respond(r, 503, "text/plain", "out of memory", 13);
        return SG_ENOMEM;
    }
    sg_buf head;
    sg_buf_init(&head, 0);
    int rc = sg_buf_appendf(&head,
                            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                            "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n",
                            acc);
    if (rc == SG_OK)
        rc = sg_buf_append(&head, "\r\n", 2);
    if (rc != SG_OK) {
        sg_buf_free(&head);
        sg_free(ws);
        sg_http_respond(r, 503, "text/plain", "out of memory", 13);
        return SG_ENOMEM;
    }
    sg_stream *s = NULL;
    sg_buf rest;
    rc = sg__http_take_over(r, &s, &rest);
    if (rc != SG_OK) {
        sg_buf_free(&head);
        sg_free(ws);
        return rc;
    }
    /* r is gone from here on */
    ws->s = s;
    ws->cbs = *cbs;
    ws->ud = ud;
    sg_wsc_reader_init(&ws->rd, 1, opts && opts->max_message ? opts->max_message : 1024 * 1024);
    sg_stream_cbs scbs = {ws_on_data, ws_on_close};
    sg_stream_set_cbs(s, &scbs, ws);
    sg__stream_hooks hooks = {ws_on_eof, ws_on_defer};
    sg__stream_set_hooks(s, &hooks);
    sg__stream_set_coalesce(s);
    if (opts && opts->out)
        sg_stream_set_limits(s, opts->out);
    rc = sg_stream_write(s, head.data, head.len);
    sg_buf_free(&head);
    if (rest.len) {
        if (sg_wsc_reader_push(&ws->rd, rest.data, rest.len) != SG_OK)
            rc = SG_ENOMEM;
        sg__stream_defer(s);
    }
    sg_buf_free(&rest);
    if (rc != SG_OK && rc != SG_ELIMIT) {
        sg__stream_close_reason(s, rc, 0);
        /* on_close (1006) still runs and frees ws; the caller gets the handle until then */
    }
    sg_stream_resume(s);
    *out = ws;
    return SG_OK;
}
