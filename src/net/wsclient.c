/* wsclient.c — WebSocket client on libuv (see wsclient.h).
 *
 * States: RESOLVING -> CONNECTING -> (TLS handshake) -> UPGRADING -> OPEN -> CLOSING -> DONE.
 * Plaintext goes through tls_write()/on_plain(); with TLS those pass through memory BIOs
 * (ciphertext in: BIO_write(rbio); out: drain wbio into uv_write), without TLS they are the
 * socket directly. The close path is deferred to an idle-free point: finish() stops reading,
 * closes the timer and the TCP handle, and the final uv_close callback reports on_close and
 * frees. */
#include "net/wsclient.h"

#include "proto/ws_codec.h"
#include "sg_alloc.h"
#include "sg_b64.h"
#include "sg_buf.h"
#include "sg_err.h"
#include "sg_id.h"
#include "sg_str.h"

#include <openssl/err.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>
#include <arpa/inet.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define WSC_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define WSC_MAX_HEAD (16u << 10)
#define WSC_MAX_BODY (16u << 10)

enum { ST_RESOLVING, ST_CONNECTING, ST_TLS, ST_UPGRADING, ST_BODY, ST_OPEN, ST_CLOSING, ST_DONE };

struct sg_wsclient {
    uv_loop_t *loop;
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_getaddrinfo_t gai;
    uv_connect_t creq;
    sg_wsclient_cbs cbs;
    void *ud;
    int state;
    int tls_on;
    SSL_CTX *own_ctx;
    SSL *ssl;
    BIO *rbio, *wbio;
    char host[256];
    int port;
    char *path;
    char **headers;
    char key[32];
    uint32_t timeout_ms;
    size_t hard_limit;
    size_t queued;
    sg_buf head;      /* upgrade response head (and body of a refused upgrade) */
    size_t body_want; /* refused upgrade: Content-Length, or SIZE_MAX = until EOF */
    size_t head_len;
    sg_wsc_reader reader;
    /* outcome */
    int reason;
    int http_status;
    uint16_t code;
    char detail[160];
    int handles; /* open uv handles still to close */
    int tcp_inited, timer_inited;
    int finishing;
    int close_sent;
    char rbuf[16384];
};

typedef struct wreq {
    uv_write_t req;
    sg_wsclient *c;
    size_t n;
    char data[];
} wreq;

static void finish(sg_wsclient *c, int reason, const char *detail);
static void report(sg_wsclient *c);

/* ---- URL / keys ----------------------------------------------------------------------------- */

int sg_wsclient_parse_url(const char *url, int *tls, char *host, size_t hostlen, int *port,
                          char *path, size_t pathlen)
{
    if (!url || !host || !path || !hostlen || !pathlen)
        return SG_EINVAL;
    const char *p;
    int secure;
    if (!strncasecmp(url, "ws://", 5)) {
        secure = 0, p = url + 5;
    } else if (!strncasecmp(url, "wss://", 6)) {
        secure = 1, p = url + 6;
    } else if (!strncasecmp(url, "http://", 7)) {
        secure = 0, p = url + 7;
    } else if (!strncasecmp(url, "https://", 8)) {
        secure = 1, p = url + 8;
    } else {
        return SG_EINVAL;
    }
    size_t auth_len = strcspn(p, "/?#");
    const char *a = p, *ae = p + auth_len;
    const char *hs, *he, *colon = NULL;
    if (a < ae && *a == '[') {
        hs = a + 1;
        he = memchr(a, ']', auth_len);
        if (!he)
            return SG_EINVAL;
        if (he + 1 < ae) {
            if (he[1] != ':')
                return SG_EINVAL;
            colon = he + 1;
        }
    } else {
        hs = a;
        colon = memchr(a, ':', auth_len);
        he = colon ? colon : ae;
    }
    if (he <= hs || (size_t)(he - hs) >= hostlen || memchr(hs, '@', (size_t)(he - hs)))
        return SG_EINVAL;
    memcpy(host, hs, (size_t)(he - hs));
    host[he - hs] = 0;
    int pt = secure ? 443 : 80;
    if (colon) {
        int64_t v;
        if (sg_parse_i64(colon + 1, (size_t)(ae - colon - 1), &v) || v < 1 || v > 65535)
            return SG_EINVAL;
        pt = (int)v;
    }
    const char *rest = ae;
    size_t rl = strcspn(rest, "#");
    if (rl == 0)
        rest = "/", rl = 1;
    if (rl + 2 > pathlen)
        return SG_EINVAL;
    size_t o = 0;
    if (rest[0] == '?')
        path[o++] = '/';
    memcpy(path + o, rest, rl);
    path[o + rl] = 0;
    if (tls)
        *tls = secure;
    if (port)
        *port = pt;
    return SG_OK;
}

int sg_wsclient_accept_key(const char *key, char *out, size_t outlen)
{
    unsigned char md[SHA_DIGEST_LENGTH];
    char buf[128];
    int n = snprintf(buf, sizeof buf, "%s%s", key, WSC_GUID); /* lint-ok: bounded snprintf */
    if (n < 0 || (size_t)n >= sizeof buf)
        return SG_EINVAL;
    SHA1((const unsigned char *)buf, (size_t)n, md);
    return sg_b64_encode(md, sizeof md, out, outlen) < 0 ? SG_EINVAL : SG_OK;
}

/* ---- output --------------------------------------------------------------------------------- */

static void on_written(uv_write_t *req, int status)
{
    wreq *w = (wreq *)req;
    sg_wsclient *c = w->c;
    c->queued -= w->n;
    sg_free(w);
    if (status < 0 && status != UV_ECANCELED && !c->finishing)
        finish(c, SG_EIO, uv_strerror(status));
}

/* Writes raw bytes to the socket. */
static int sock_write(sg_wsclient *c, const void *p, size_t n)
{
    if (c->finishing || !c->tcp_inited)
        return SG_ECLOSED;
    if (n == 0)
        return SG_OK;
    if (c->queued + n > c->hard_limit) {
        finish(c, SG_ELIMIT, "output queue over the hard limit");
        return SG_ELIMIT;
    }
    wreq *w = sg_malloc(sizeof(*w) + n);
    if (!w)
        return SG_ENOMEM;
    w->c = c;
    w->n = n;
    memcpy(w->data, p, n);
    uv_buf_t b = uv_buf_init(w->data, (unsigned)n);
    int r = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_written);
    if (r < 0) {
        sg_free(w);
        finish(c, SG_EIO, uv_strerror(r));
        return SG_EIO;
    }
    c->queued += n;
    return SG_OK;
}

/* Moves ciphertext produced by OpenSSL to the socket. */
static int tls_flush(sg_wsclient *c)
{
    char buf[16384];
    for (;;) {
        int n = BIO_read(c->wbio, buf, sizeof buf);
        if (n <= 0)
            break;
        int rc = sock_write(c, buf, (size_t)n);
        if (rc)
            return rc;
    }
    return SG_OK;
}

/* Plaintext out (through TLS when on). */
static int plain_write(sg_wsclient *c, const void *p, size_t n)
{
    if (!c->tls_on)
        return sock_write(c, p, n);
    if (c->finishing)
        return SG_ECLOSED;
    while (n > 0) {
        int w = SSL_write(c->ssl, p, n > INT32_MAX ? INT32_MAX : (int)n);
        if (w <= 0) {
            finish(c, SG_EPROTO, "TLS write failed");
            return SG_EPROTO;
        }
        p = (const char *)p + w;
        n -= (size_t)w;
    }
    return tls_flush(c);
}

/* ---- upgrade -------------------------------------------------------------------------------- */

static int send_upgrade(sg_wsclient *c)
{
    uint8_t raw[16];
    if (sg_random_bytes(raw, sizeof raw))
        return SG_EIO;
    if (sg_b64_encode(raw, sizeof raw, c->key, sizeof c->key) < 0)
        return SG_EINTERNAL;
    sg_buf b;
    sg_buf_init(&b, 0);
    int hostport_default = c->port == (c->tls_on ? 443 : 80);
    int v6 = strchr(c->host, ':') != NULL;
    int rc = sg_buf_appendf(&b, "GET %s HTTP/1.1\r\nHost: %s%s%s", c->path, v6 ? "[" : "", c->host,
                            v6 ? "]" : "");
    if (rc == SG_OK && !hostport_default)
        rc = sg_buf_appendf(&b, ":%d", c->port);
    if (rc == SG_OK)
        rc = sg_buf_appendf(&b,
                            "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                            "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n",
                            c->key);
    for (size_t i = 0; rc == SG_OK && c->headers && c->headers[i]; i++)
        rc = sg_buf_appendf(&b, "%s\r\n", c->headers[i]);
    if (rc == SG_OK)
        rc = sg_buf_append_str(&b, "\r\n");
    if (rc == SG_OK) {
        c->state = ST_UPGRADING;
        rc = plain_write(c, b.data, b.len);
    }
    sg_buf_free(&b);
    return rc;
}

static int reader_event(void *ud, const sg_wsc_event *ev)
{
    sg_wsclient *c = ud;
    switch (ev->type) {
    case SG_WSC_EV_MESSAGE:
        if (c->state == ST_OPEN && c->cbs.on_message)
            c->cbs.on_message(c, ev->binary, ev->p, ev->n, c->ud);
        break;
    case SG_WSC_EV_PING: {
        sg_buf f;
        sg_buf_init(&f, 0);
        if (sg_wsc_build_masked_frame(&f, 1, SG_WSC_PONG, ev->p, ev->n) == SG_OK)
            plain_write(c, f.data, f.len);
        sg_buf_free(&f);
        break;
    }
    case SG_WSC_EV_PONG:
        break;
    case SG_WSC_EV_CLOSE: {
        c->code = ev->code;
        if (!c->close_sent) {
            sg_buf f;
            sg_buf_init(&f, 0);
            uint8_t mask[4];
            sg_random_bytes(mask, sizeof mask);
            uint16_t code = ev->code == SG_WSC_NO_STATUS ? 0 : ev->code;
            if (sg_wsc_build_close(&f, code, NULL, mask) == SG_OK)
                plain_write(c, f.data, f.len);
            sg_buf_free(&f);
            c->close_sent = 1;
        }
        char d[160];
        snprintf(d, sizeof d, "close frame %u %.*s", ev->code, /* lint-ok: bounded */
                 (int)(ev->n > 100 ? 100 : ev->n), ev->p ? ev->p : "");
        finish(c, c->state == ST_CLOSING ? SG_OK : SG_ECLOSED, d);
        return 1;
    }
    }
    return c->finishing ? 1 : 0;
}

/* Header value (case-insensitive name) inside the response head; copies into out. */
static int head_header(const char *head, size_t n, const char *name, char *out, size_t outlen)
{
    size_t nl = strlen(name);
    const char *p = memchr(head, '\n', n);
    const char *end = head + n;
    while (p && p < end) {
        p++;
        const char *le = memchr(p, '\n', (size_t)(end - p));
        if (!le)
            le = end;
        if ((size_t)(le - p) > nl && !strncasecmp(p, name, nl) && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (v < le && (*v == ' ' || *v == '\t'))
                v++;
            const char *ve = le;
            while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            size_t vl = (size_t)(ve - v);
            if (vl >= outlen)
                vl = outlen - 1;
            memcpy(out, v, vl);
            out[vl] = 0;
            return 1;
        }
        p = le;
    }
    return 0;
}

static void refused_done(sg_wsclient *c)
{
    int st = c->http_status;
    int reason = st == 401 ? SG_EAUTH : st == 403 ? SG_EPERM : SG_EPROTO;
    char d[64];
    snprintf(d, sizeof d, "upgrade refused with HTTP %d", st); /* lint-ok: bounded */
    finish(c, reason, d);
}

int sg_wsclient_parse_head(const char *p, size_t n, const char *key, sg_wsclient_head *out,
                           const char **why)
{
    memset(out, 0, sizeof *out);
    out->content_length = SIZE_MAX;
    const char *e = n >= 4 ? memmem(p, n, "\r\n\r\n", 4) : NULL;
    if (!e) {
        if (n > WSC_MAX_HEAD) {
            *why = "upgrade answer head too large";
            return SG_ETOOBIG;
        }
        return SG_EAGAIN;
    }
    size_t hl = (size_t)(e - p) + 4;
    if (n < 12 || strncmp(p, "HTTP/1.", 7) || p[8] != ' ') {
        *why = "not an HTTP answer";
        return SG_EPROTO;
    }
    int64_t v;
    if (sg_parse_i64(p + 9, 3, &v)) {
        *why = "bad HTTP status line";
        return SG_EPROTO;
    }
    out->len = hl;
    out->status = (int)v;
    if (out->status == 101) {
        char acc[64], want[64], up[64];
        out->accepted = head_header(p, hl, "Sec-WebSocket-Accept", acc, sizeof acc) &&
                        !sg_wsclient_accept_key(key, want, sizeof want) && !strcmp(acc, want) &&
                        head_header(p, hl, "Upgrade", up, sizeof up) &&
                        !strcasecmp(up, "websocket");
    }
    char cl[32];
    if (head_header(p, hl, "Content-Length", cl, sizeof cl) &&
        sg_parse_i64(cl, strlen(cl), &v) == SG_OK && v >= 0)
        out->content_length = (size_t)v;
    return SG_OK;
}

/* Bytes of the upgrade answer. Returns 1 when the caller should stop (finished). */
static int on_head_bytes(sg_wsclient *c, const char *p, size_t n)
{
    if (c->state == ST_BODY) {
        size_t want = c->body_want - (c->head.len - c->head_len);
        size_t take = n < want ? n : want;
        if (c->head.len - c->head_len + take > WSC_MAX_BODY)
            take = WSC_MAX_BODY - (c->head.len - c->head_len);
        sg_buf_append(&c->head, p, take);
        if (c->head.len - c->head_len >= c->body_want ||
            c->head.len - c->head_len >= WSC_MAX_BODY) {
            refused_done(c);
            return 1;
        }
        return 0;
    }
    if (sg_buf_append(&c->head, p, n)) {
        finish(c, SG_ENOMEM, "out of memory");
        return 1;
    }
    sg_wsclient_head h;
    const char *why = NULL;
    int prc = sg_wsclient_parse_head(c->head.data, c->head.len, c->key, &h, &why);
    if (prc == SG_EAGAIN)
        return 0;
    if (prc) {
        finish(c, SG_EPROTO, why);
        return 1;
    }
    size_t hl = h.len;
    c->http_status = h.status;
    if (h.status == 101) {
        if (!h.accepted) {
            finish(c, SG_EPROTO, "bad 101 answer (Upgrade / Sec-WebSocket-Accept)");
            return 1;
        }
        size_t rest = c->head.len - hl;
        if (rest && sg_wsc_reader_push(&c->reader, c->head.data + hl, rest)) {
            finish(c, SG_ENOMEM, "out of memory");
            return 1;
        }
        sg_buf_free(&c->head);
        c->state = ST_OPEN;
        uv_timer_stop(&c->timer);
        if (c->cbs.on_open)
            c->cbs.on_open(c, c->ud);
        if (c->finishing)
            return 1;
        if (rest && sg_wsc_reader_feed(&c->reader, NULL, 0, reader_event, c) && !c->finishing)
            finish(c, SG_EPROTO, "bad frame");
        return 1;
    }
    /* refused: read the body (Content-Length, else until EOF), capped */
    c->head_len = hl;
    c->body_want = h.content_length;
    c->state = ST_BODY;
    if (c->head.len - hl >= c->body_want || c->head.len - hl >= WSC_MAX_BODY) {
        refused_done(c);
        return 1;
    }
    return 0;
}

/* Plaintext in. */
static void on_plain(sg_wsclient *c, char *p, size_t n)
{
    if (c->finishing)
        return;
    if (c->state == ST_UPGRADING || c->state == ST_BODY) {
        on_head_bytes(c, p, n);
        return;
    }
    if (c->state != ST_OPEN && c->state != ST_CLOSING)
        return;
    int code = sg_wsc_reader_feed(&c->reader, p, n, reader_event, c);
    if (code && !c->finishing) {
        char d[64];
        snprintf(d, sizeof d, "bad frame from the server (close %d)", code); /* lint-ok: bounded */
        finish(c, SG_EPROTO, d);
    }
}

static void tls_progress(sg_wsclient *c)
{
    if (c->state == ST_TLS) {
        int r = SSL_do_handshake(c->ssl);
        tls_flush(c);
        if (c->finishing)
            return;
        if (r == 1) {
            if (send_upgrade(c) && !c->finishing)
                finish(c, SG_ENOMEM, "upgrade request");
        } else {
            int e = SSL_get_error(c->ssl, r);
            if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
                char d[160];
                unsigned long ec = ERR_get_error();
                snprintf(d, sizeof d, "TLS handshake failed: %s", /* lint-ok: bounded */
                         ec ? ERR_reason_error_string(ec) : "peer closed");
                ERR_clear_error();
                finish(c, SG_EPROTO, d);
                return;
            }
        }
        if (c->state == ST_TLS)
            return;
    }
    char buf[16384];
    for (;;) {
        int n = SSL_read(c->ssl, buf, sizeof buf);
        if (n <= 0) {
            int e = SSL_get_error(c->ssl, n);
            if (e == SSL_ERROR_ZERO_RETURN) {
                if (c->state == ST_BODY)
                    refused_done(c);
                else
                    finish(c, SG_ECLOSED, "TLS closed by the peer");
            } else if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
                ERR_clear_error();
                finish(c, SG_EPROTO, "TLS read failed");
            }
            break;
        }
        on_plain(c, buf, (size_t)n);
        if (c->finishing)
            break;
    }
    if (!c->finishing)
        tls_flush(c);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    (void)suggested;
    sg_wsclient *c = h->data;
    b->base = c->rbuf;
    b->len = sizeof c->rbuf;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    sg_wsclient *c = s->data;
    if (n < 0) {
        if (c->finishing)
            return;
        if (c->state == ST_BODY)
            refused_done(c);
        else if (n == UV_EOF)
            finish(c, c->state == ST_CLOSING ? SG_OK : SG_ECLOSED, "connection closed by the peer");
        else
            finish(c, SG_EIO, uv_strerror((int)n));
        return;
    }
    if (n == 0 || c->finishing)
        return;
    if (c->tls_on) {
        if (BIO_write(c->rbio, b->base, (int)n) != (int)n) {
            finish(c, SG_ENOMEM, "TLS buffer");
            return;
        }
        tls_progress(c);
    } else {
        on_plain(c, b->base, (size_t)n);
    }
}

static int tls_setup(sg_wsclient *c, const sg_wsclient_opts *o)
{
    SSL_CTX *ctx = o->tls;
    if (!ctx) {
        c->own_ctx = SSL_CTX_new(TLS_client_method());
        if (!c->own_ctx)
            return SG_ENOMEM;
        SSL_CTX_set_min_proto_version(c->own_ctx, TLS1_2_VERSION);
        SSL_CTX_set_verify(c->own_ctx, SSL_VERIFY_PEER, NULL);
        const char *ca = o->ca_file;
        if (!ca || !*ca)
            ca = getenv("SSL_CERT_FILE");
        if (ca && *ca) {
            if (SSL_CTX_load_verify_locations(c->own_ctx, ca, NULL) != 1)
                return SG_EINVAL;
        } else {
            SSL_CTX_set_default_verify_paths(c->own_ctx);
        }
        ctx = c->own_ctx;
    }
    c->ssl = SSL_new(ctx);
    c->rbio = BIO_new(BIO_s_mem());
    c->wbio = BIO_new(BIO_s_mem());
    if (!c->ssl || !c->rbio || !c->wbio) {
        BIO_free(c->rbio);
        BIO_free(c->wbio);
        c->rbio = c->wbio = NULL;
        return SG_ENOMEM;
    }
    SSL_set_bio(c->ssl, c->rbio, c->wbio);
    SSL_set_connect_state(c->ssl);
    unsigned char ip[16];
    if (inet_pton(AF_INET, c->host, ip) == 1 || inet_pton(AF_INET6, c->host, ip) == 1) {
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), c->host);
    } else {
        SSL_set_tlsext_host_name(c->ssl, c->host);
        SSL_set1_host(c->ssl, c->host);
    }
    return SG_OK;
}

static void on_connect(uv_connect_t *req, int status)
{
    sg_wsclient *c = req->data;
    if (c->finishing)
        return;
    if (status < 0) {
        char d[160];
        snprintf(d, sizeof d, "connect to %.100s:%d: %s", c->host, c->port, /* lint-ok: bounded */
                 uv_strerror(status));
        finish(c, SG_EIO, d);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    int r = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    if (r < 0) {
        finish(c, SG_EIO, uv_strerror(r));
        return;
    }
    if (c->tls_on) {
        c->state = ST_TLS;
        tls_progress(c);
    } else if (send_upgrade(c) && !c->finishing) {
        finish(c, SG_ENOMEM, "upgrade request");
    }
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    sg_wsclient *c = req->data;
    c->handles--; /* the resolve request is done */
    if (c->finishing) {
        uv_freeaddrinfo(res);
        if (c->handles == 0)
            report(c);
        return;
    }
    if (status < 0 || !res) {
        char d[160];
        snprintf(d, sizeof d, "resolve %.100s: %s", c->host, uv_strerror(status)); /* lint-ok */
        uv_freeaddrinfo(res);
        finish(c, SG_EIO, d);
        return;
    }
    c->state = ST_CONNECTING;
    c->creq.data = c;
    int r = uv_tcp_connect(&c->creq, &c->tcp, res->ai_addr, on_connect);
    uv_freeaddrinfo(res);
    if (r < 0)
        finish(c, SG_EIO, uv_strerror(r));
}

static void on_timeout(uv_timer_t *t)
{
    sg_wsclient *c = t->data;
    if (c->state == ST_CLOSING)
        finish(c, SG_OK, "close handshake timed out");
    else if (c->state != ST_OPEN)
        finish(c, SG_ETIMEDOUT, "connect/upgrade timed out");
}

/* ---- teardown ------------------------------------------------------------------------------- */

static void destroy(sg_wsclient *c)
{
    if (c->ssl)
        SSL_free(c->ssl); /* frees the BIOs */
    if (c->own_ctx)
        SSL_CTX_free(c->own_ctx);
    sg_free(c->path);
    if (c->headers) {
        for (size_t i = 0; c->headers[i]; i++)
            sg_free(c->headers[i]);
        sg_free(c->headers);
    }
    sg_buf_free(&c->head);
    sg_wsc_reader_free(&c->reader);
    sg_free(c);
}

static void report(sg_wsclient *c)
{
    sg_wsclient_close_info info;
    memset(&info, 0, sizeof info);
    info.reason = c->reason;
    info.http_status = c->http_status;
    info.body = "";
    if (c->http_status && c->http_status != 101 && c->head.data && c->head_len <= c->head.len)
        info.body = c->head.data + c->head_len; /* sg_buf keeps a NUL after len */
    info.code = c->code;
    info.detail = c->detail;
    if (c->cbs.on_close)
        c->cbs.on_close(c, &info, c->ud);
    destroy(c);
}

static void on_handle_closed(uv_handle_t *h)
{
    sg_wsclient *c = h->data;
    if (--c->handles == 0)
        report(c);
}

static void finish(sg_wsclient *c, int reason, const char *detail)
{
    if (!c->finishing) {
        c->finishing = 1;
        c->reason = reason;
        if (detail)
            snprintf(c->detail, sizeof c->detail, "%s", detail); /* lint-ok: bounded */
        c->state = ST_DONE;
        if (c->tcp_inited) {
            uv_read_stop((uv_stream_t *)&c->tcp);
            uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
        }
        if (c->timer_inited)
            uv_close((uv_handle_t *)&c->timer, on_handle_closed);
    }
    /* a pending resolve holds c->handles until its callback runs */
}

/* ---- API ------------------------------------------------------------------------------------ */

int sg_wsclient_connect(uv_loop_t *loop, const sg_wsclient_opts *o, const sg_wsclient_cbs *cbs,
                        void *ud, sg_wsclient **out)
{
    if (!loop || !o || !o->url || !out)
        return SG_EINVAL;
    *out = NULL;
    sg_wsclient *c = sg_calloc(1, sizeof(*c));
    if (!c)
        return SG_ENOMEM;
    int rc = SG_OK;
    char path[4096];
    c->loop = loop;
    if (cbs)
        c->cbs = *cbs;
    c->ud = ud;
    c->timeout_ms = o->timeout_ms ? o->timeout_ms : 15000;
    c->hard_limit = o->hard_limit ? o->hard_limit : (64u << 20);
    sg_buf_init(&c->head, 0);
    sg_wsc_reader_init(&c->reader, 0, o->max_message ? o->max_message : (16u << 20));
    c->code = SG_WSC_NO_STATUS;
    rc = sg_wsclient_parse_url(o->url, &c->tls_on, c->host, sizeof c->host, &c->port, path,
                               sizeof path);
    if (rc)
        goto fail;
    c->path = sg_strdup(path);
    if (!c->path) {
        rc = SG_ENOMEM;
        goto fail;
    }
    if (o->headers) {
        size_t n = 0;
        while (o->headers[n])
            n++;
        c->headers = sg_calloc(n + 1, sizeof(char *));
        if (!c->headers) {
            rc = SG_ENOMEM;
            goto fail;
        }
        for (size_t i = 0; i < n; i++) {
            if (strpbrk(o->headers[i], "\r\n")) {
                rc = SG_EINVAL;
                goto fail;
            }
            c->headers[i] = sg_strdup(o->headers[i]);
            if (!c->headers[i]) {
                rc = SG_ENOMEM;
                goto fail;
            }
        }
    }
    if (c->tls_on) {
        rc = tls_setup(c, o);
        if (rc)
            goto fail;
    }
    if (uv_tcp_init(loop, &c->tcp) < 0) {
        rc = SG_EIO;
        goto fail;
    }
    c->tcp.data = c;
    c->tcp_inited = 1;
    c->handles++;
    uv_timer_init(loop, &c->timer);
    c->timer.data = c;
    c->timer_inited = 1;
    c->handles++;
    uv_timer_start(&c->timer, on_timeout, c->timeout_ms, 0);

    char portstr[8];
    snprintf(portstr, sizeof portstr, "%d", c->port); /* lint-ok: bounded */
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    c->gai.data = c;
    c->state = ST_RESOLVING;
    int r = uv_getaddrinfo(loop, &c->gai, on_resolved, c->host, portstr, &hints);
    if (r < 0) {
        /* report asynchronously through on_close like any other network failure */
        snprintf(c->detail, sizeof c->detail, "resolve %.100s: %s", c->host, /* lint-ok */
                 uv_strerror(r));
        finish(c, SG_EIO, NULL);
    } else {
        c->handles++;
    }
    *out = c;
    return SG_OK;
fail:
    if (c->tcp_inited || c->timer_inited) {
        /* cannot happen: handles are initialised after every failing step */
    }
    destroy(c);
    return rc;
}

int sg_wsclient_send(sg_wsclient *c, int binary, const void *p, size_t n)
{
    if (!c || c->finishing || c->state != ST_OPEN)
        return SG_ECLOSED;
    uint8_t mask[4];
    uint8_t hdr[SG_WSC_MAX_HEADER];
    if (sg_random_bytes(mask, sizeof mask))
        return SG_EIO;
    size_t hl = sg_wsc_build_header(hdr, 1, binary ? SG_WSC_BINARY : SG_WSC_TEXT, n, mask);
    /* one allocation: header + masked payload */
    if (!c->tls_on && c->queued + hl + n > c->hard_limit) {
        finish(c, SG_ELIMIT, "output queue over the hard limit");
        return SG_ELIMIT;
    }
    char *buf = sg_malloc(hl + n ? hl + n : 1);
    if (!buf)
        return SG_ENOMEM;
    memcpy(buf, hdr, hl);
    if (n)
        memcpy(buf + hl, p, n);
    sg_wsc_mask(buf + hl, n, mask, 0);
    int rc = plain_write(c, buf, hl + n);
    sg_free(buf);
    return rc;
}

size_t sg_wsclient_queued(const sg_wsclient *c)
{
    return c ? c->queued : 0;
}

void sg_wsclient_close(sg_wsclient *c, uint16_t code, const char *reason)
{
    if (!c || c->finishing || c->state == ST_CLOSING)
        return;
    if (c->state != ST_OPEN) {
        finish(c, SG_OK, "closed by the application");
        return;
    }
    sg_buf f;
    sg_buf_init(&f, 0);
    uint8_t mask[4];
    sg_random_bytes(mask, sizeof mask);
    int rc = sg_wsc_build_close(&f, code, reason, mask);
    c->state = ST_CLOSING;
    if (rc == SG_OK)
        rc = plain_write(c, f.data, f.len);
    sg_buf_free(&f);
    c->close_sent = 1;
    if (c->finishing)
        return;
    if (rc) {
        finish(c, SG_OK, "closed by the application");
        return;
    }
    uv_timer_start(&c->timer, on_timeout, 2000, 0);
}

void sg_wsclient_set_ud(sg_wsclient *c, void *ud)
{
    if (c)
        c->ud = ud;
}
