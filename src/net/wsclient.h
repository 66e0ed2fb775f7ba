/* wsclient.h — a WebSocket CLIENT on libuv (RFC 6455): TCP connect (getaddrinfo), optional
 * TLS through OpenSSL memory BIOs, the HTTP/1.1 upgrade, then frames via proto/ws_codec.h.
 *
 *   sg_wsclient_opts o = {.url = "ws://127.0.0.1:8888/server/?hub=chat", .headers = hdrs};
 *   sg_wsclient_cbs cbs = {.on_open = open_cb, .on_message = msg_cb, .on_close = close_cb};
 *   sg_wsclient *c;
 *   sg_wsclient_connect(loop, &o, &cbs, ud, &c);
 *
 * A refused upgrade (any status but 101) is reported through on_close with the HTTP status
 * and up to 16 KiB of the response body (e.g. the service's JSON 401 reason), so callers can
 * log why. Pings from the server are answered with pongs; a close frame is answered and the
 * connection then closed.
 *
 * Lifetime: close is a request. on_close runs exactly once, from the loop (never inside a
 * call the user made), and the client's memory is freed right after it returns. Every
 * function must be called on the loop's thread. */
#ifndef SG_NET_WSCLIENT_H
#define SG_NET_WSCLIENT_H

#include <openssl/ssl.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct sg_wsclient sg_wsclient;

/* Why the connection ended (on_close). */
typedef struct sg_wsclient_close_info {
    int reason;         /* SG_OK: closed by us; SG_ECLOSED: closed by the peer (close frame or
                           EOF); SG_EAUTH/SG_EPERM: upgrade refused with 401/403; SG_EPROTO: the
                           upgrade answer or a frame was malformed (or another HTTP status);
                           SG_ETIMEDOUT: connect/upgrade took too long; SG_EIO: network error
                           (resolve, connect, reset); SG_ELIMIT: output over the hard limit */
    int http_status;    /* status of a refused upgrade, else 0 (101 after a successful one) */
    const char *body;   /* refused upgrade: response body (NUL-terminated, may be ""), else "" */
    uint16_t code;      /* close code from the peer's close frame, SG_WSC_NO_STATUS if none */
    const char *detail; /* human-readable detail ("connection refused", "1002 bad frame") */
} sg_wsclient_close_info;

typedef struct sg_wsclient_cbs {
    /* The upgrade succeeded: messages may be sent now. */
    void (*on_open)(sg_wsclient *c, void *ud);
    /* One complete message (fragments reassembled). p is valid only during the call. */
    void (*on_message)(sg_wsclient *c, int binary, const char *p, size_t n, void *ud);
    /* Exactly once; the client is freed after it returns. */
    void (*on_close)(sg_wsclient *c, const sg_wsclient_close_info *info, void *ud);
} sg_wsclient_cbs;

typedef struct sg_wsclient_opts {
    const char *url;            /* ws://, wss://, http:// or https:// host[:port]/path?query */
    const char *const *headers; /* extra request headers "Name: value", NULL-terminated */
    SSL_CTX *tls;               /* client context for wss (borrowed); NULL = one is built per
                                   connection verifying against ca_file / the system store */
    const char *ca_file;        /* used when tls == NULL */
    uint32_t timeout_ms;        /* connect + TLS + upgrade; 0 = 15 s */
    size_t max_message;         /* inbound message cap; 0 = 16 MiB (close 1009 beyond) */
    size_t hard_limit;          /* queued output cap in bytes; 0 = 64 MiB (closes SG_ELIMIT) */
} sg_wsclient_opts;

/* Starts connecting. On SG_OK *out is the client (callbacks follow from the loop). Errors:
 * SG_EINVAL (bad URL: the message is not reported through on_close), SG_ENOMEM. */
int sg_wsclient_connect(uv_loop_t *loop, const sg_wsclient_opts *o, const sg_wsclient_cbs *cbs,
                        void *ud, sg_wsclient **out);

/* Queues one message (binary != 0: opcode 2, else text). Only after on_open. SG_OK,
 * SG_ECLOSED (closing / not open), SG_ENOMEM, SG_ELIMIT (the connection is being closed). */
int sg_wsclient_send(sg_wsclient *c, int binary, const void *p, size_t n);

/* Bytes queued for the socket and not yet written. */
size_t sg_wsclient_queued(const sg_wsclient *c);

/* Requests a close: after open, a close frame (code, reason) is sent and the TCP connection
 * closed once the peer answers (or after 2 s); before open, the attempt is abandoned.
 * on_close follows with reason SG_OK. Idempotent. */
void sg_wsclient_close(sg_wsclient *c, uint16_t code, const char *reason);

/* Sets/gets the user data passed to callbacks. */
void sg_wsclient_set_ud(sg_wsclient *c, void *ud);

/* Splits a ws/wss/http/https URL. *tls = 1 for wss/https. host gets the host without
 * brackets, path the path+query ("/" when empty). SG_OK or SG_EINVAL. Pure (for tests). */
int sg_wsclient_parse_url(const char *url, int *tls, char *host, size_t hostlen, int *port,
                          char *path, size_t pathlen);

/* Sec-WebSocket-Accept for a key (RFC 6455 §4.2.2): base64(SHA-1(key + GUID)). out >= 29. */
int sg_wsclient_accept_key(const char *key, char *out, size_t outlen);

/* The upgrade answer's head, from the n bytes received so far (pure; the client feeds it its
 * whole buffer after every read). SG_EAGAIN: no blank line yet; SG_ETOOBIG (more than 16 KiB
 * without one) or SG_EPROTO (not an HTTP answer, bad status line): *why says which. SG_OK:
 * len = head length including the blank line, status, content_length (SIZE_MAX when absent
 * or invalid), accepted = 101 with "Upgrade: websocket" and the Sec-WebSocket-Accept of key. */
typedef struct sg_wsclient_head {
    size_t len;
    int status;
    int accepted;
    size_t content_length;
} sg_wsclient_head;
int sg_wsclient_parse_head(const char *p, size_t n, const char *key, sg_wsclient_head *out,
                           const char **why);

#endif
