/* HTTP/1.1 server: keep-alive, pipelining order, chunked bodies, limits, async, HEAD, SSE,
 * slow consumers, junk resilience. Server on a loop thread, raw client sockets. */
#include "net/http.h"
#include "net/net_internal.h"
#include "net_test_util.h"
#include "sg_err.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdatomic.h>

#include <cmocka.h>

static atomic_int g_aborts;
static atomic_int g_cut_rc;
static atomic_int g_sse_closed;

typedef struct async_ctx {
    uv_timer_t t;
    sg_http_req *r;
    int aborted;
} async_ctx;

static void async_closed(uv_handle_t *h)
{
    sg_free(h->data);
}

static void async_fire(uv_timer_t *t)
{
    async_ctx *a = t->data;
    if (!a->aborted)
        sg_http_respond(a->r, 200, "text/plain", "late", 4);
    t->data = a;
    uv_close((uv_handle_t *)t, async_closed);
}

static void async_abort(sg_http_req *r, void *ud)
{
    (void)r;
    async_ctx *a = ud;
    a->aborted = 1;
    g_aborts++;
}

typedef struct flood_ctx {
    uv_timer_t t;
    sg_http_req *r;
    int done;
} flood_ctx;

static void flood_abort(sg_http_req *r, void *ud)
{
    (void)r;
    flood_ctx *f = ud;
    f->done = 1;
    g_aborts++;
}

static void flood_tick(uv_timer_t *t)
{
    flood_ctx *f = t->data;
    static char chunk[64 * 1024];
    if (!f->done) {
        for (int i = 0; i < 4 && !f->done; i++) {
            int rc = sg_http_stream_write(f->r, chunk, sizeof chunk);
            if (rc != SG_OK) {
                g_cut_rc = rc;
                break;
            }
        }
    }
    if (f->done) {
        uv_timer_stop(t);
        uv_close((uv_handle_t *)t, async_closed);
    }
}

static void handler(sg_http_req *r, void *ud)
{
    (void)ud;
    if (sg_slice_eq(r->path, "/echo")) {
        const sg_slice *x = sg_http_req_header(r, "x-tag");
        sg_http_header h[1] = {{SG_SLICE_LIT("X-Tag"), x ? *x : SG_SLICE_LIT("none")}};
        sg_http_respond_ex(r, 200, "text/plain", h, 1, r->body.p, r->body.n);
    } else if (sg_slice_eq(r->path, "/async")) {
        async_ctx *a = SG_NEW(async_ctx);
        a->r = r;
        uv_timer_init(sg_stream_loop(r->stream), &a->t);
        a->t.data = a;
        sg_http_req_on_abort(r, async_abort, a);
        uv_timer_start(&a->t, async_fire, 50, 0);
    } else if (sg_slice_eq(r->path, "/sse")) {
        sg_http_stream_start(r, 200, "text/event-stream", NULL, 0);
        sg_rcbuf *b = sg_rcbuf_from("data: one\n\n", 11);
        sg_http_stream_write_rc(r, b, 0, b->len);
        sg_rcbuf_unref(b);
        sg_http_stream_write(r, "data: two\n\n", 11);
        sg_http_stream_end(r);
        g_sse_closed++;
    } else if (sg_slice_eq(r->path, "/flood") || sg_slice_eq(r->path, "/flood-soft")) {
        sg_http_stream_start(r, 200, "application/octet-stream", NULL, 0);
        sg_stream_limits lim = {0, 0, 256 * 1024};
        if (sg_slice_eq(r->path, "/flood-soft"))
            lim = (sg_stream_limits){64 * 1024, 300, 0};
        sg_stream_set_limits(r->stream, &lim);
        flood_ctx *f = SG_NEW(flood_ctx);
        f->r = r;
        sg_http_req_on_abort(r, flood_abort, f);
        uv_timer_init(sg_stream_loop(r->stream), &f->t);
        f->t.data = f;
        uv_timer_start(&f->t, flood_tick, 1, 5);
    } else if (sg_slice_eq(r->path, "/bp")) {
        static char body[256 * 1024];
        memset(body, 'q', sizeof body);
        sg_stream_limits lim = {0, 0, 4 * 1024 * 1024};
        sg_stream_set_limits(r->stream, &lim);
        sg_http_respond(r, 200, "application/octet-stream", body, sizeof body);
    } else if (sg_slice_eq(r->path, "/query")) {
        sg_http_respond(r, 200, "text/plain", r->query.p, r->query.n);
    } else {
        sg_http_respond(r, 404, "text/plain", "nope", 4);
    }
}

static th_server g_srv;

static int setup(void **st)
{
    (void)st;
    sg_http_server_opts o = {0};
    o.handler = handler;
    o.max_header_bytes = 4096;
    o.max_body_bytes = 1024 * 1024;
    return th_server_start(&g_srv, &o);
}

static int teardown(void **st)
{
    (void)st;
    int rc = th_server_stop(&g_srv);
    if (rc != 0)
        fprintf(stderr, "teardown: stopped=%d\n", g_srv.stopped);
    return rc;
}

static void test_keepalive(void **st)
{
    (void)st;
    int fd = cli_connect(g_srv.port);
    assert_true(fd >= 0);
    for (int i = 0; i < 3; i++) {
        char req[128];
        snprintf(req, sizeof req, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n%02d",
                 i);
        assert_int_equal(cli_sends(fd, req), 0);
        cli_resp r;
        assert_int_equal(cli_read_resp(fd, &r, 0), 0);
        assert_int_equal(r.status, 200);
        char want[3];
        snprintf(want, sizeof want, "%02d", i);
        assert_string_equal(r.body, want);
        assert_null(strstr(r.head, "Connection: close"));
        cli_resp_free(&r);
    }
    close(fd);
}

static void test_pipelined_order(void **st)
{
    (void)st;
    int fd = cli_connect(g_srv.port);
    /* an async request first: the fast ones behind it must wait for it */
    char big[8192];
    size_t n = 0;
    n += (size_t)snprintf(big + n, sizeof big - n, "GET /async HTTP/1.1\r\nHost: x\r\n\r\n");
    for (int i = 0; i < 40; i++)
        n += (size_t)snprintf(big + n, sizeof big - n,
                              "GET /echo HTTP/1.1\r\nHost: x\r\nX-Tag: t%d\r\n\r\n", i);
    assert_int_equal(cli_send(fd, big, n), 0);
    cli_resp r;
    assert_int_equal(cli_read_resp(fd, &r, 0), 0);
    assert_string_equal(r.body, "late");
    cli_resp_free(&r);
    for (int i = 0; i < 40; i++) {
        assert_int_equal(cli_read_resp(fd, &r, 0), 0);
        char want[32];
        snprintf(want, sizeof want, "X-Tag: t%d\r\n", i);
        assert_non_null(strstr(r.head, want));
        cli_resp_free(&r);
    }
    close(fd);
}

static void test_chunked_body(void **st)
{
    (void)st;
    int fd = cli_connect(g_srv.port);
    const char *req = "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nTrailer: x\r\n\r\n";
    /* send in tiny pieces to exercise split callbacks */
    for (size_t i = 0; i < strlen(req); i += 3) {
        size_t k = strlen(req) - i < 3 ? strlen(req) - i : 3;
        cli_send(fd, req + i, k);
        usleep(200);
    }
    cli_resp r;
    assert_int_equal(cli_read_resp(fd, &r, 0), 0);
    assert_string_equal(r.body, "hello, world");
    cli_resp_free(&r);
    close(fd);
}

static void expect_status_and_close(const char *req, size_t n, int status)
{
    int fd = cli_connect(g_srv.port);
    cli_send(fd, req, n);
    cli_resp r;
    assert_int_equal(cli_read_resp(fd, &r, 0), 0);
    assert_int_equal(r.status, status);
    assert_non_null(strstr(r.head, "Connection: close"));
    cli_resp_free(&r);
    assert_true(cli_wait_closed(fd, 3000));
    close(fd);
}

static void test_limits(void **st)
{
    (void)st;
    /* 413 from Content-Length before the body arrives */
    const char *r413 = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1048577\r\n\r\n";
    expect_status_and_close(r413, strlen(r413), 413);
    /* 413 from a chunked body that grows too big */
    {
        int fd = cli_connect(g_srv.port);
        cli_sends(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
        static char chunk[65536 + 16];
        int hl = snprintf(chunk, sizeof chunk, "10000\r\n");
        memset(chunk + hl, 'a', 65536);
        memcpy(chunk + hl + 65536, "\r\n", 2);
        int status = 0;
        for (int i = 0; i < 20; i++)
            if (cli_send(fd, chunk, (size_t)hl + 65536 + 2) != 0)
                break;
        cli_resp r;
        if (cli_read_resp(fd, &r, 0) == 0)
            status = r.status;
        cli_resp_free(&r);
        assert_int_equal(status, 413);
        close(fd);
    }
    /* 431 */
    char big[8192];
    int n = snprintf(big, sizeof big, "GET / HTTP/1.1\r\nHost: x\r\nX-Big: ");
    memset(big + n, 'b', 5000);
    n += 5000;
    n += snprintf(big + n, sizeof big - (size_t)n, "\r\n\r\n");
    expect_status_and_close(big, (size_t)n, 431);
    /* 400 */
    const char *bad = "GET / HTTP/1.1\r\nHost x\r\n\r\n";
    expect_status_and_close(bad, strlen(bad), 400);
    const char *junk = "\x16\x03\x01\x02\x00garbage\r\n\r\n";
    expect_status_and_close(junk, strlen(junk), 400);
    /* 501 */
    const char *te = "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n";
    expect_status_and_close(te, strlen(te), 501);
}

static void test_head_and_http10(void **st)
{
    (void)st;
    int fd = cli_connect(g_srv.port);
    cli_sends(
        fd,
        "HEAD /query?abc HTTP/1.1\r\nHost: x\r\n\r\nGET /query?xyz HTTP/1.1\r\nHost: x\r\n\r\n");
    cli_resp r;
    assert_int_equal(cli_read_resp(fd, &r, 1), 0);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.head, "Content-Length: 3\r\n"));
    cli_resp_free(&r);
    assert_int_equal(cli_read_resp(fd, &r, 0), 0);
    assert_string_equal(r.body, "xyz");
    cli_resp_free(&r);
    close(fd);
    fd = cli_connect(g_srv.port);
    cli_sends(fd, "GET /query?q HTTP/1.0\r\n\r\n");
    assert_int_equal(cli_read_resp(fd, &r, 0), 0);
    assert_non_null(strstr(r.head, "Connection: close"));
    cli_resp_free(&r);
    assert_true(cli_wait_closed(fd, 3000));
    close(fd);
}

static void test_async_abort(void **st)
{
    (void)st;
    int before = g_aborts;
    int fd = cli_connect(g_srv.port);
    cli_sends(fd, "GET /async HTTP/1.1\r\nHost: x\r\n\r\n");
    usleep(5000);
    close(fd);
    for (int i = 0; i < 300 && g_aborts == before; i++)
        usleep(10000);
    assert_int_equal(g_aborts, before + 1);
}

static void test_sse(void **st)
{
    (void)st;
    int fd = cli_connect(g_srv.port);
    cli_sends(fd, "GET /sse HTTP/1.1\r\nHost: x\r\n\r\n");
    size_t n;
    char *all = cli_recv_all(fd, &n);
    assert_non_null(strstr(all, "HTTP/1.1 200 OK\r\n"));
    assert_non_null(strstr(all, "Content-Type: text/event-stream\r\n"));
    assert_null(strstr(all, "Content-Length"));
    assert_non_null(strstr(all, "\r\n\r\ndata: one\n\ndata: two\n\n"));
    free(all);
    close(fd);
}

static void test_slow_consumer(void **st)
{
    (void)st;
    int before = g_aborts;
    g_cut_rc = 0;
    int fd = cli_connect(g_srv.port);
    int small = 4096;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    cli_sends(fd, "GET /flood HTTP/1.1\r\nHost: x\r\n\r\n");
    /* never read: the server must cut us at the hard limit */
    for (int i = 0; i < 500 && g_aborts == before; i++)
        usleep(10000);
    assert_int_equal(g_aborts, before + 1);
    assert_int_equal(g_cut_rc, SG_ELIMIT);
    close(fd);
}

static void test_slow_consumer_soft(void **st)
{
    (void)st;
    int before = g_aborts;
    int fd = cli_connect(g_srv.port);
    int small = 4096;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    cli_sends(fd, "GET /flood-soft HTTP/1.1\r\nHost: x\r\n\r\n");
    uint64_t t0 = uv_hrtime();
    for (int i = 0; i < 500 && g_aborts == before; i++)
        usleep(10000);
    uint64_t ms = (uv_hrtime() - t0) / 1000000;
    assert_int_equal(g_aborts, before + 1);
    assert_true(ms >= 250); /* not before the grace period */
    close(fd);
}

static void test_conn_cap_and_timeouts(void **st)
{
    (void)st;
    th_server t;
    sg_http_server_opts o = {0};
    o.handler = handler;
    o.max_connections = 2;
    o.header_timeout_ms = 300;
    o.idle_timeout_ms = 600;
    assert_int_equal(th_server_start(&t, &o), 0);
    int a = cli_connect(t.port), b = cli_connect(t.port);
    cli_sends(a, "GET /query?a HTTP/1.1\r\nHost: x\r\n\r\n");
    cli_resp r;
    assert_int_equal(cli_read_resp(a, &r, 0), 0); /* a is served and now idle */
    cli_resp_free(&r);
    cli_sends(b, "GET /query?b HTTP/1.1\r\nHo"); /* b stalls inside its head */
    usleep(50000);
    int c = cli_connect(t.port); /* over the cap: accepted and closed */
    assert_true(cli_wait_closed(c, 1000));
    close(c);
    uint64_t t0 = uv_hrtime();
    assert_true(cli_wait_closed(b, 3000)); /* header timeout */
    uint64_t tb = (uv_hrtime() - t0) / 1000000;
    assert_true(cli_wait_closed(a, 3000)); /* idle keep-alive timeout */
    uint64_t ta = (uv_hrtime() - t0) / 1000000;
    assert_true(tb < 1000);
    assert_true(ta >= tb);
    close(a);
    close(b);
    assert_int_equal(th_server_stop(&t), 0);
}

static void test_pipelined_backpressure(void **st)
{
    (void)st;
    /* 40 pipelined requests for 256 KiB each (10 MiB) with a 4 MiB hard limit: the server must
     * stop answering while the client does not read, instead of hitting the limit. */
    int fd = cli_connect(g_srv.port);
    char req[64 * 40];
    size_t n = 0;
    for (int i = 0; i < 40; i++)
        n += (size_t)snprintf(req + n, sizeof req - n, "GET /bp HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_int_equal(cli_send(fd, req, n), 0);
    usleep(300000);
    for (int i = 0; i < 40; i++) {
        cli_resp r;
        assert_int_equal(cli_read_resp(fd, &r, 0), 0);
        assert_int_equal(r.status, 200);
        assert_int_equal(r.body_len, 256 * 1024);
        cli_resp_free(&r);
    }
    close(fd);
}

static void test_junk_then_serve(void **st)
{
    (void)st;
    int fds[8];
    for (int i = 0; i < 8; i++) {
        fds[i] = cli_connect(g_srv.port);
        char junk[512];
        for (size_t k = 0; k < sizeof junk; k++)
            junk[k] = (char)(rand() & 0xff);
        cli_send(fds[i], junk, sizeof junk);
    }
    int fd = cli_connect(g_srv.port);
    cli_sends(fd, "GET /query?ok HTTP/1.1\r\nHost: x\r\n\r\n");
    cli_resp r;
    assert_int_equal(cli_read_resp(fd, &r, 0), 0);
    assert_string_equal(r.body, "ok");
    cli_resp_free(&r);
    close(fd);
    for (int i = 0; i < 8; i++)
        close(fds[i]);
}

static void test_curl_keepalive(void **st)
{
    (void)st;
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "curl -s -m 5 -w '%%{http_code} %%{num_connects}\\n' "
             "-o /dev/null http://127.0.0.1:%d/query?a -o /dev/null http://127.0.0.1:%d/query?b "
             "-o /dev/null http://127.0.0.1:%d/nope 2>&1",
             g_srv.port, g_srv.port, g_srv.port);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char line[64];
    int lines = 0, connects = 0;
    while (fgets(line, sizeof line, p)) {
        int code = 0, nc = 0;
        sscanf(line, "%d %d", &code, &nc);
        assert_int_equal(code, lines == 2 ? 404 : 200);
        connects += nc;
        lines++;
    }
    pclose(p);
    assert_int_equal(lines, 3);
    assert_int_equal(connects, 1); /* one TCP connection reused */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keepalive),
        cmocka_unit_test(test_pipelined_order),
        cmocka_unit_test(test_chunked_body),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_head_and_http10),
        cmocka_unit_test(test_async_abort),
        cmocka_unit_test(test_sse),
        cmocka_unit_test(test_slow_consumer),
        cmocka_unit_test(test_slow_consumer_soft),
        cmocka_unit_test(test_conn_cap_and_timeouts),
        cmocka_unit_test(test_pipelined_backpressure),
        cmocka_unit_test(test_junk_then_serve),
        cmocka_unit_test(test_curl_keepalive),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
