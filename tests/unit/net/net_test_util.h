/* net_test_util.h — helpers for the net unit tests: a server loop in a thread and blocking
 * client sockets. Header-only (each test file is its own executable). */
#ifndef SG_NET_TEST_UTIL_H
#define SG_NET_TEST_UTIL_H

#include "net/http.h"
#include "sg_alloc.h"
#include "sg_err.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <uv.h>

typedef struct th_server {
    uv_loop_t loop;
    uv_async_t stop;
    uv_thread_t th;
    sg_http_server *srv;
    int port;
    int stopped;
} th_server;

static void th_srv_done(void *ud)
{
    ((th_server *)ud)->stopped = 1;
}

static void th_on_stop(uv_async_t *a)
{
    th_server *t = a->data;
    sg_http_server_stop(t->srv, th_srv_done, t);
    uv_close((uv_handle_t *)a, NULL);
}

static void th_run(void *arg)
{
    th_server *t = arg;
    uv_run(&t->loop, UV_RUN_DEFAULT);
}

/* opts->handler/ud set by the caller; port forced to 0 on 127.0.0.1. */
static inline int th_server_start(th_server *t, sg_http_server_opts *opts)
{
    memset(t, 0, sizeof(*t));
    if (uv_loop_init(&t->loop) != 0)
        return -1;
    opts->host = "127.0.0.1";
    opts->port = 0;
    if (sg_http_server_start(&t->loop, opts, &t->srv) != SG_OK)
        return -1;
    t->port = sg_http_server_port(t->srv);
    uv_async_init(&t->loop, &t->stop, th_on_stop);
    t->stop.data = t;
    return uv_thread_create(&t->th, th_run, t);
}

static inline int th_server_stop(th_server *t)
{
    uv_async_send(&t->stop);
    uv_thread_join(&t->th);
    return uv_loop_close(&t->loop) == 0 && t->stopped ? 0 : -1;
}

static inline int cli_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static inline int cli_send(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
        if (w <= 0)
            return -1;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

static inline int cli_sends(int fd, const char *s)
{
    return cli_send(fd, s, strlen(s));
}

/* Reads exactly n bytes (or fewer at EOF/timeout); returns bytes read. */
static inline size_t cli_recv_n(int fd, void *p, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = recv(fd, (char *)p + got, n - got, 0);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    return got;
}

/* Reads until EOF or timeout into a malloc'd NUL-terminated buffer. */
static inline char *cli_recv_all(int fd, size_t *len)
{
    size_t cap = 4096, n = 0;
    char *b = malloc(cap);
    for (;;) {
        if (n + 1024 > cap) {
            cap *= 2;
            b = realloc(b, cap);
        }
        ssize_t r = recv(fd, b + n, cap - n - 1, 0);
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    b[n] = 0;
    if (len)
        *len = n;
    return b;
}

typedef struct cli_resp {
    int status;
    char head[4096];
    char *body;
    size_t body_len;
    int has_cl;
} cli_resp;

/* Reads one response (head + Content-Length body; no CL = nothing for HEAD-style use).
 * Returns 0 or -1. body is malloc'd. */
static inline int cli_read_resp(int fd, cli_resp *r, int head_only)
{
    memset(r, 0, sizeof(*r));
    size_t n = 0;
    while (n < sizeof(r->head) - 1) {
        ssize_t k = recv(fd, r->head + n, 1, 0);
        if (k <= 0)
            return -1;
        n++;
        r->head[n] = 0;
        if (n >= 4 && memcmp(r->head + n - 4, "\r\n\r\n", 4) == 0)
            break;
    }
    if (sscanf(r->head, "HTTP/1.%*d %d", &r->status) != 1)
        return -1;
    long cl = 0;
    const char *h = strcasestr(r->head, "\r\nContent-Length:");
    if (h) {
        r->has_cl = 1;
        cl = strtol(h + 17, NULL, 10);
    }
    if (head_only)
        cl = 0;
    r->body = malloc((size_t)cl + 1);
    r->body_len = cli_recv_n(fd, r->body, (size_t)cl);
    r->body[r->body_len] = 0;
    return r->body_len == (size_t)cl ? 0 : -1;
}

static inline void cli_resp_free(cli_resp *r)
{
    free(r->body);
    r->body = NULL;
}

/* WebSocket upgrade of a fresh connection ("GET /ws", fixed key; `extra` bytes are sent right
 * after the request, pipelined); checks the 101 and Sec-WebSocket-Accept. Returns the fd or -1. */
static inline int cli_ws_open(int port, const void *extra, size_t n)
{
    static const char up[] = "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                             "Connection: keep-alive, Upgrade\r\n"
                             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                             "Sec-WebSocket-Version: 13\r\n\r\n";
    if (n > 512)
        return -1;
    int fd = cli_connect(port);
    if (fd < 0)
        return -1;
    char req[1024];
    memcpy(req, up, sizeof up - 1);
    memcpy(req + sizeof up - 1, extra, n);
    cli_send(fd, req, sizeof up - 1 + n);
    cli_resp r;
    if (cli_read_resp(fd, &r, 1) != 0 || r.status != 101 ||
        !strstr(r.head, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n")) {
        cli_resp_free(&r);
        close(fd);
        return -1;
    }
    cli_resp_free(&r);
    return fd;
}

/* 1 if the peer closed (EOF or reset) within ms. */
static inline int cli_wait_closed(int fd, int ms)
{
    char buf[4096];
    for (int i = 0; i < ms / 10 + 1; i++) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 10) > 0) {
            ssize_t r = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
            if (r == 0 || (r < 0 && errno != EAGAIN))
                return 1;
        }
    }
    return 0;
}

#endif
