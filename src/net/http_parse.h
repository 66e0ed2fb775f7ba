/* http_parse.h — socket-free HTTP/1.1 request parser (llhttp underneath), the exact code path
 * the server feeds with bytes from the network; also driven directly by tests/fuzz/fuzz_http.c.
 *
 * Feed it bytes in any split; each complete request is handed to on_msg as an sg__http_msg the
 * callee owns (free with sg__http_msg_free). Requests are copied out of the input, so the
 * caller's buffer may be reused as soon as feed returns. Limits: head bytes (request line +
 * header names/values) -> 431, header count -> 431, body bytes -> 413, a Transfer-Encoding other
 * than "chunked" -> 501, anything else malformed -> 400. After an error the parser is dead.
 * Internal to src/net (and its tests/fuzzers). Not thread-safe; one per connection. */
#ifndef SG_NET_HTTP_PARSE_H
#define SG_NET_HTTP_PARSE_H

#include "net/http.h"
#include "sg_buf.h"

#include <llhttp.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sg__http_msg sg__http_msg;
struct sg__http_conn;

struct sg__http_msg {
    sg_http_req req; /* public view; first member */
    sg__http_msg *next;
    struct sg__http_conn *conn; /* NULL once detached (connection gone) */
    sg_buf head;                /* request-target and header names/values, NUL-separated */
    sg_buf body;
    sg_http_header *hdrs;
    uint32_t (*hoff)[4]; /* while parsing: name off/len, value off/len */
    uint32_t nh, hcap;
    uint32_t target_off, target_len;
    int err_status;  /* pseudo-message: answer this status and close */
    uint8_t upgrade; /* llhttp saw an upgrade (Upgrade + Connection: upgrade, or CONNECT) */
    uint8_t expect_continue;
    uint8_t state; /* owned by the server */
    void (*abort_cb)(sg_http_req *r, void *ud);
    void *abort_ud;
};

typedef struct sg__http_limits {
    size_t max_header_bytes; /* 0 = 16 KiB */
    size_t max_body_bytes;   /* 0 = 1 MiB */
    size_t max_headers;      /* 0 = 100 */
} sg__http_limits;

enum { SG__HP_OK = 0, SG__HP_PAUSED = 1, SG__HP_UPGRADE = 2, SG__HP_ERROR = 3 };

typedef struct sg__http_parser {
    llhttp_t p;
    sg__http_limits lim;
    sg__http_msg *cur; /* request being received */
    /* A complete request (ownership passes). Return 0 to go on, 1 to pause feeding. */
    int (*on_msg)(sg__http_msg *m, void *ud);
    /* Optional: head complete, body not yet read (100-continue). */
    void (*on_head)(sg__http_msg *m, void *ud);
    /* Optional: a request started (first byte seen). */
    void (*on_begin)(void *ud);
    void *ud;
    int err_status;
    uint8_t in_body;
    uint8_t in_field;
    uint8_t dead;
    uint32_t vstart;
} sg__http_parser;

void sg__http_parser_init(sg__http_parser *hp, const sg__http_limits *lim,
                          int (*on_msg)(sg__http_msg *m, void *ud), void *ud);
/* Returns SG__HP_OK (all consumed), SG__HP_PAUSED (on_msg asked to pause: feed the remaining
 * p+*consumed later), SG__HP_UPGRADE (an upgrade request ended at p+*consumed; the rest is the
 * new protocol), SG__HP_ERROR (hp->err_status = 400/413/431/500/501). */
int sg__http_parser_feed(sg__http_parser *hp, const char *p, size_t n, size_t *consumed);
/* 1 while a request has begun but is not complete. */
int sg__http_parser_busy(const sg__http_parser *hp);
void sg__http_parser_free(sg__http_parser *hp);

sg__http_msg *sg__http_msg_new_error(int status);
void sg__http_msg_free(sg__http_msg *m);

#endif
