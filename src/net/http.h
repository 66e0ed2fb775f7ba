/* http.h — HTTP/1.1 server on libuv + llhttp (keep-alive, pipelining, chunked request bodies,
 * optional TLS), with hand-over of a connection to WebSocket or a streamed response (SSE,
 * long polling).
 *
 * Model: the server parses a request completely (headers + body, within limits), then calls
 * the handler once. The handler answers now or later (asynchronously) with sg_http_respond*,
 * or starts a streamed response, or upgrades to WebSocket (ws.h). Requests pipelined behind
 * an unanswered one are held until it is answered, so responses keep their order.
 * Malformed requests get 400, oversized headers 431, oversized bodies 413, unknown
 * Transfer-Encoding 501 — and only that connection is closed.
 *
 * Threading: everything on the server's loop. */
#ifndef SG_NET_HTTP_H
#define SG_NET_HTTP_H

#include "net/stream.h"
#include "sg_buf.h"
#include "sg_rcbuf.h"

#include <openssl/ssl.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct sg_http_server sg_http_server;
typedef struct sg_http_req sg_http_req;

typedef enum {
    SG_HTTP_OTHER = 0,
    SG_HTTP_GET,
    SG_HTTP_HEAD,
    SG_HTTP_POST,
    SG_HTTP_PUT,
    SG_HTTP_DELETE,
    SG_HTTP_PATCH,
    SG_HTTP_OPTIONS,
} sg_http_method;

typedef struct sg_http_header {
    sg_slice name;
    sg_slice value;
} sg_http_header;

/* A parsed request. Read-only for handlers; every slice stays valid until the response is
 * finished (sg_http_respond*, sg_http_stream_end, or the upgrade call). */
struct sg_http_req {
    sg_http_method method;
    sg_slice method_name; /* "GET", ... */
    sg_slice target;      /* raw request-target: "/client/negotiate?hub=chat" */
    sg_slice path;        /* target before '?', still percent-encoded */
    sg_slice query;       /* after '?', without it; empty if none */
    const sg_http_header *headers;
    size_t nheaders;
    sg_slice body; /* de-chunked */
    int keep_alive;
    int http_minor;
    sg_stream *stream; /* the connection (peer address, TLS, loop) */
    void *server_ud;   /* sg_http_server_opts.ud */
};

/* Case-insensitive header lookup; NULL if absent. */
const sg_slice *sg_http_req_header(const sg_http_req *r, const char *name);

typedef void (*sg_http_handler_fn)(sg_http_req *req, void *ud);

typedef struct sg_http_server_opts {
    const char *host;          /* bind address, e.g. "127.0.0.1" */
    int port;                  /* 0 = any free port (read it back with sg_http_server_port) */
    SSL_CTX *tls;              /* NULL = plain http; borrowed, must outlive the server */
    size_t max_header_bytes;   /* default 16 KiB -> 431 */
    size_t max_body_bytes;     /* default 1 MiB  -> 413 */
    uint32_t header_timeout_ms; /* time to receive a full request head; default 10 s */
    uint32_t idle_timeout_ms;  /* keep-alive idle; default 120 s */
    size_t max_connections;    /* default 20000 - 256; beyond it new sockets are closed */
    sg_http_handler_fn handler;
    void *ud;
} sg_http_server_opts;

int sg_http_server_start(uv_loop_t *loop, const sg_http_server_opts *opts, sg_http_server **out);
int sg_http_server_port(const sg_http_server *s);
size_t sg_http_server_connections(const sg_http_server *s);
/* Stops accepting, closes every connection (including upgraded ones: their on_close runs),
 * then calls done (may be NULL) and frees the server. */
void sg_http_server_stop(sg_http_server *s, void (*done)(void *ud), void *ud);

/* ---- answering ---------------------------------------------------------------------- */

/* Complete response with Content-Length. For HEAD the body is not sent. `hdrs` are extra
 * headers (Content-Type is given separately; may be NULL). Returns SG_OK or SG_ECLOSED. */
int sg_http_respond(sg_http_req *r, int status, const char *content_type, const void *body,
                    size_t n);
int sg_http_respond_ex(sg_http_req *r, int status, const char *content_type,
                       const sg_http_header *hdrs, size_t nhdrs, const void *body, size_t n);

/* Called if the peer goes away while the request is unanswered (async handlers, long polls,
 * streams). After it the request is gone: do not respond. */
void sg_http_req_on_abort(sg_http_req *r, void (*cb)(sg_http_req *r, void *ud), void *ud);

/* Streamed response without Content-Length (the connection closes at the end): for
 * Server-Sent Events. Writes the status line and headers now. */
int sg_http_stream_start(sg_http_req *r, int status, const char *content_type,
                         const sg_http_header *hdrs, size_t nhdrs);
int sg_http_stream_write(sg_http_req *r, const void *p, size_t n);
int sg_http_stream_write_rc(sg_http_req *r, sg_rcbuf *b, size_t off, size_t len);
void sg_http_stream_end(sg_http_req *r);

/* Reason phrase for a status code ("OK", "Not Found", ...). */
const char *sg_http_reason(int status);

#endif
