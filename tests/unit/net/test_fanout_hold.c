/* Fan-out coalescing (stream.c "hot-stream coalescing"): with hundreds of WebSocket
 * subscribers written every turn, small follow-up batches may be held for the next input —
 * nothing may be lost, reordered or stalled by it, a lone small batch still arrives (the hold
 * timer), HTTP answers are not delayed behind it, and a subscriber closing while held is
 * harmless. */
#include "net/ws.h"
#include "net_test_util.h"
#include "proto/ws_codec.h"
#include "sg_err.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdatomic.h>
#include <time.h>

#include <cmocka.h>

#define NSUB 300

static sg_ws *g_subs[NSUB + 8];
static atomic_int g_nsubs = 0;
static sg_ws *g_pub;

/* "pub <k> <tag>": broadcast k frames "<tag>:<i>" to every subscriber */
static void ws_msg(sg_ws *ws, int binary, const char *p, size_t n, void *ud)
{
    (void)binary;
    (void)ud;
    char m[64];
    if (n >= sizeof m)
        return;
    memcpy(m, p, n);
    m[n] = 0;
    if (strcmp(m, "iam-pub") == 0) {
        for (int i = 0; i < g_nsubs; i++)
            if (g_subs[i] == ws)
                g_subs[i] = NULL;
        g_pub = ws;
        sg_ws_send(ws, 0, "ok", 2);
        return;
    }
    int k = 0;
    char tag[16];
    if (sscanf(m, "pub %d %15s", &k, tag) != 2 || k < 1 || k > 64)
        return;
    for (int i = 0; i < k; i++) {
        char f[40];
        int fl = snprintf(f, sizeof f, "%s:%d", tag, i);
        sg_rcbuf *fr = sg_ws_frame_rc(0, f, (size_t)fl);
        for (int j = 0; j < g_nsubs; j++)
            if (g_subs[j])
                sg_ws_send_rc(g_subs[j], fr);
        sg_rcbuf_unref(fr);
    }
}

static void ws_closed(sg_ws *ws, uint16_t code, const char *reason, void *ud)
{
    (void)code;
    (void)reason;
    (void)ud;
    for (int i = 0; i < g_nsubs; i++)
        if (g_subs[i] == ws)
            g_subs[i] = NULL;
    if (g_pub == ws)
        g_pub = NULL;
}

static void handler(sg_http_req *r, void *ud)
{
    (void)ud;
    if (sg_ws_is_upgrade(r)) {
        sg_ws_opts o = {0};
        sg_ws_cbs cbs = {ws_msg, ws_closed};
        sg_ws *ws = NULL;
        if (sg_ws_accept(r, &o, &cbs, NULL, &ws) == SG_OK && g_nsubs < NSUB + 8)
            g_subs[atomic_fetch_add(&g_nsubs, 1)] = ws;
        return;
    }
    sg_http_respond(r, 200, "text/plain", "hi", 2);
}

static th_server g_srv;
static int g_fd[NSUB];
static int g_pubfd = -1;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* one small unmasked text frame from the server */
static int read_frame(int fd, char *out, size_t cap)
{
    unsigned char h[2];
    if (cli_recv_n(fd, h, 2) != 2 || h[0] != 0x81 || (h[1] & 0x7f) >= 126)
        return -1;
    size_t n = h[1] & 0x7f;
    if (n >= cap || cli_recv_n(fd, out, n) != n)
        return -1;
    out[n] = 0;
    return (int)n;
}

static void send_text(int fd, const char *s)
{
    sg_buf b;
    sg_buf_init(&b, 0);
    assert_int_equal(sg_wsc_build_masked_frame(&b, 1, SG_WSC_TEXT, s, strlen(s)), SG_OK);
    assert_int_equal(cli_send(fd, b.data, b.len), 0);
    sg_buf_free(&b);
}

/* every open subscriber must next receive tag:0 .. tag:k-1, in order */
static void expect_all(const char *tag, int k, int skip)
{
    for (int j = 0; j < NSUB; j++) {
        if (j == skip)
            continue;
        for (int i = 0; i < k; i++) {
            char got[64], want[40];
            snprintf(want, sizeof want, "%s:%d", tag, i);
            assert_true(read_frame(g_fd[j], got, sizeof got) > 0);
            assert_string_equal(got, want);
        }
    }
}

static int setup(void **st)
{
    (void)st;
    sg_http_server_opts o = {0};
    o.handler = handler;
    if (th_server_start(&g_srv, &o) != 0)
        return -1;
    for (int i = 0; i < NSUB; i++) {
        g_fd[i] = cli_ws_open(g_srv.port, "", 0);
        if (g_fd[i] < 0)
            return -1;
    }
    g_pubfd = cli_ws_open(g_srv.port, "", 0);
    if (g_pubfd < 0)
        return -1;
    for (int i = 0; i < 500 && g_nsubs < NSUB + 1; i++)
        usleep(2000);
    return g_nsubs == NSUB + 1 ? 0 : -1;
}

static int teardown(void **st)
{
    (void)st;
    for (int i = 0; i < NSUB; i++)
        if (g_fd[i] >= 0)
            close(g_fd[i]);
    close(g_pubfd);
    return th_server_stop(&g_srv);
}

static void test_batches_after_fanout(void **st)
{
    (void)st;
    char got[64];
    send_text(g_pubfd, "iam-pub");
    assert_true(read_frame(g_pubfd, got, sizeof got) > 0);
    assert_string_equal(got, "ok");

    /* heavy rounds of 8 frames to 300 streams: the loop learns a batch size of 8 */
    for (int r = 0; r < 6; r++) {
        char m[32], tag[8];
        snprintf(tag, sizeof tag, "w%d", r);
        snprintf(m, sizeof m, "pub 8 %s", tag);
        send_text(g_pubfd, m);
        expect_all(tag, 8, -1);
    }

    /* a lone small batch right after: may be held, must still arrive promptly */
    double t0 = now_ms();
    send_text(g_pubfd, "pub 2 x");
    expect_all("x", 2, -1);
    assert_true(now_ms() - t0 < 1000);

    /* two small batches in separate reads: both arrive, in order */
    for (int r = 0; r < 3; r++) {
        send_text(g_pubfd, "pub 8 h");
        expect_all("h", 8, -1);
        send_text(g_pubfd, "pub 2 y");
        send_text(g_pubfd, "pub 3 z");
        for (int j = 0; j < NSUB; j++) {
            static const char *const want[] = {"y:0", "y:1", "z:0", "z:1", "z:2"};
            for (int i = 0; i < 5; i++) {
                assert_true(read_frame(g_fd[j], got, sizeof got) > 0);
                assert_string_equal(got, want[i]);
            }
        }
    }

    /* an HTTP request during held fan-out is answered */
    send_text(g_pubfd, "pub 8 p");
    expect_all("p", 8, -1);
    send_text(g_pubfd, "pub 1 q");
    int hfd = cli_connect(g_srv.port);
    assert_true(hfd >= 0);
    cli_sends(hfd, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    cli_resp resp;
    assert_int_equal(cli_read_resp(hfd, &resp, 0), 0);
    assert_int_equal(resp.status, 200);
    cli_resp_free(&resp);
    close(hfd);
    expect_all("q", 1, -1);

    /* a subscriber that goes away while its stream may be held: everyone else is served */
    send_text(g_pubfd, "pub 8 c");
    expect_all("c", 8, -1);
    send_text(g_pubfd, "pub 2 d");
    close(g_fd[7]);
    g_fd[7] = -1;
    expect_all("d", 2, 7);
    send_text(g_pubfd, "pub 4 e");
    expect_all("e", 4, 7);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batches_after_fanout),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
