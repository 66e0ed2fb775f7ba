/* WebSocket server: handshake, echo, fragmentation, ping/pong, close codes, 1002/1007/1009,
 * shared broadcast frames, bytes pipelined with the upgrade. */
#include "net/ws.h"
#include "net_test_util.h"
#include "proto/ws_codec.h"
#include "sg_err.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdatomic.h>

#include <cmocka.h>

static atomic_int g_last_close = 0;
static atomic_int g_closes = 0;
static sg_ws *g_conns[16];
static int g_nconns;

static void ws_msg(sg_ws *ws, int binary, const char *p, size_t n, void *ud)
{
    (void)ud;
    if (n == 8 && memcmp(p, "close-me", 8) == 0) {
        sg_ws_close(ws, 4000, "bye now");
        return;
    }
    if (n == 9 && memcmp(p, "broadcast", 9) == 0) {
        sg_rcbuf *f = sg_ws_frame_rc(0, "to all", 6);
        for (int i = 0; i < g_nconns; i++)
            if (g_conns[i])
                sg_ws_send_rc(g_conns[i], f);
        sg_rcbuf_unref(f);
        return;
    }
    sg_ws_send(ws, binary, p, n);
}

static void ws_closed(sg_ws *ws, uint16_t code, const char *reason, void *ud)
{
    (void)reason;
    (void)ud;
    for (int i = 0; i < g_nconns; i++)
        if (g_conns[i] == ws)
            g_conns[i] = NULL;
    g_last_close = code;
    g_closes++;
}

static void handler(sg_http_req *r, void *ud)
{
    (void)ud;
    if (sg_ws_is_upgrade(r) || sg_slice_eq(r->path, "/ws")) {
        sg_ws_opts o = {0};
        o.max_message = 64 * 1024;
        sg_ws_cbs cbs = {ws_msg, ws_closed};
        sg_ws *ws = NULL;
        if (sg_ws_accept(r, &o, &cbs, NULL, &ws) == SG_OK) {
            for (int i = 0; i < 16; i++) {
                if (!g_conns[i]) {
                    g_conns[i] = ws;
                    if (i >= g_nconns)
                        g_nconns = i + 1;
                    break;
                }
            }
        }
        return;
    }
    sg_http_respond(r, 404, "text/plain", "no", 2);
}

static th_server g_srv;

static int setup(void **st)
{
    (void)st;
    sg_http_server_opts o = {0};
    o.handler = handler;
    return th_server_start(&g_srv, &o);
}

static int teardown(void **st)
{
    (void)st;
    int rc = th_server_stop(&g_srv);
    if (rc)
        fprintf(stderr, "teardown: stopped=%d\n", g_srv.stopped);
    return rc;
}

static int ws_open(const void *extra, size_t n)
{
    return cli_ws_open(g_srv.port, extra, n);
}

static void ws_send_frame(int fd, int fin, int op, const void *p, size_t n)
{
    sg_buf b;
    sg_buf_init(&b, 0);
    assert_int_equal(sg_wsc_build_masked_frame(&b, fin, op, p, n), SG_OK);
    cli_send(fd, b.data, b.len);
    sg_buf_free(&b);
}

typedef struct got {
    int type, binary;
    uint16_t code;
    char data[70000];
    size_t n;
} got;

static int got_ev(void *ud, const sg_wsc_event *ev)
{
    got *g = ud;
    g->type = ev->type;
    g->binary = ev->binary;
    g->code = ev->code;
    g->n = ev->n < sizeof g->data ? ev->n : sizeof g->data;
    memcpy(g->data, ev->p, g->n);
    return 1; /* one event at a time */
}

/* Reads one frame-level event from the server (client-role reader; never buffers more than
 * one frame because we read byte-exact frames). */
static int ws_next(int fd, got *g)
{
    memset(g, 0, sizeof(*g));
    unsigned char h[14];
    if (cli_recv_n(fd, h, 2) != 2)
        return -1;
    size_t need = 2, len = h[1] & 0x7f;
    if (len == 126)
        need = 4;
    else if (len == 127)
        need = 10;
    if (need > 2 && cli_recv_n(fd, h + 2, need - 2) != need - 2)
        return -1;
    sg_wsc_header hd;
    if (sg_wsc_parse_header(h, need, &hd) != SG_OK)
        return -1;
    char *buf = malloc(need + (size_t)hd.len + 1);
    memcpy(buf, h, need);
    if (cli_recv_n(fd, buf + need, (size_t)hd.len) != hd.len) {
        free(buf);
        return -1;
    }
    sg_wsc_reader rd;
    sg_wsc_reader_init(&rd, 0, 1 << 20);
    int rc = sg_wsc_reader_feed(&rd, buf, need + (size_t)hd.len, got_ev, g);
    sg_wsc_reader_free(&rd);
    free(buf);
    return rc == 0 && g->type ? 0 : -1;
}

static void test_echo(void **st)
{
    (void)st;
    int fd = ws_open("", 0);
    assert_true(fd >= 0);
    got g;
    ws_send_frame(fd, 1, SG_WSC_TEXT, "hello", 5);
    assert_int_equal(ws_next(fd, &g), 0);
    assert_int_equal(g.type, SG_WSC_EV_MESSAGE);
    assert_int_equal(g.binary, 0);
    assert_int_equal(g.n, 5);
    assert_memory_equal(g.data, "hello", 5);
    static char big[60000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (char)i;
    ws_send_frame(fd, 1, SG_WSC_BINARY, big, sizeof big);
    assert_int_equal(ws_next(fd, &g), 0);
    assert_int_equal(g.binary, 1);
    assert_int_equal(g.n, sizeof big);
    assert_memory_equal(g.data, big, sizeof big);
    close(fd);
}

static void test_fragments_and_ping(void **st)
{
    (void)st;
    int fd = ws_open("", 0);
    got g;
    ws_send_frame(fd, 0, SG_WSC_TEXT, "Hel", 3);
    ws_send_frame(fd, 1, SG_WSC_PING, "p1", 2); /* control frame between fragments */
    ws_send_frame(fd, 0, SG_WSC_CONT, "lo, ", 4);
    /* a fragment delivered one byte at a time */
    sg_buf b;
    sg_buf_init(&b, 0);
    sg_wsc_build_masked_frame(&b, 1, SG_WSC_CONT, "w\xc3\xb6rld", 6);
    for (size_t i = 0; i < b.len; i++) {
        cli_send(fd, b.data + i, 1);
        usleep(500);
    }
    sg_buf_free(&b);
    assert_int_equal(ws_next(fd, &g), 0);
    assert_int_equal(g.type, SG_WSC_EV_PING == 0 ? -1 : SG_WSC_EV_PONG);
    assert_memory_equal(g.data, "p1", 2);
    assert_int_equal(ws_next(fd, &g), 0);
    assert_int_equal(g.type, SG_WSC_EV_MESSAGE);
    assert_int_equal(g.n, 13);
    assert_memory_equal(g.data, "Hello, w\xc3\xb6rld", 13);
    close(fd);
}

static void expect_close_code(int fd, uint16_t code)
{
    got g;
    assert_int_equal(ws_next(fd, &g), 0);
    assert_int_equal(g.type, SG_WSC_EV_CLOSE);
    assert_int_equal(g.code, code);
    assert_true(cli_wait_closed(fd, 3000));
    close(fd);
}

static void test_bad_utf8(void **st)
{
    (void)st;
    int fd = ws_open("", 0);
    ws_send_frame(fd, 1, SG_WSC_TEXT, "bad \xc3\x28 text", 11);
    expect_close_code(fd, 1007);
    /* split across fragments, invalid overall */
    fd = ws_open("", 0);
    ws_send_frame(fd, 0, SG_WSC_TEXT, "ok", 2);
    ws_send_frame(fd, 1, SG_WSC_CONT, "\xed\xa0\x80", 3); /* surrogate */
    expect_close_code(fd, 1007);
}

static void test_too_big(void **st)
{
    (void)st;
    int fd = ws_open("", 0);
    static char big[40000];
    memset(big, 'a', sizeof big);
    ws_send_frame(fd, 0, SG_WSC_TEXT, big, sizeof big);
    ws_send_frame(fd, 1, SG_WSC_CONT, big, sizeof big); /* 80000 > 64 KiB */
    expect_close_code(fd, 1009);
    /* a single frame header announcing 2^40 bytes is refused at once */
    fd = ws_open("", 0);
    unsigned char h[14] = {0x82, 0xff, 0, 0, 1, 0, 0, 0, 0, 0, 1, 2, 3, 4};
    cli_send(fd, h, sizeof h);
    expect_close_code(fd, 1009);
}

static void test_protocol_errors(void **st)
{
    (void)st;
    /* unmasked client frame */
    int fd = ws_open("", 0);
    unsigned char unmasked[] = {0x81, 0x02, 'h', 'i'};
    cli_send(fd, unmasked, sizeof unmasked);
    expect_close_code(fd, 1002);
    /* reserved bits */
    fd = ws_open("", 0);
    unsigned char rsv[] = {0xC1, 0x80, 0, 0, 0, 0};
    cli_send(fd, rsv, sizeof rsv);
    expect_close_code(fd, 1002);
    /* fragmented control frame */
    fd = ws_open("", 0);
    ws_send_frame(fd, 0, SG_WSC_PING, "x", 1);
    expect_close_code(fd, 1002);
    /* continuation without a start */
    fd = ws_open("", 0);
    ws_send_frame(fd, 1, SG_WSC_CONT, "x", 1);
    expect_close_code(fd, 1002);
    /* reserved opcode */
    fd = ws_open("", 0);
    ws_send_frame(fd, 1, 0x3, "x", 1);
    expect_close_code(fd, 1002);
    /* bad close code */
    fd = ws_open("", 0);
    unsigned char cc[2] = {0x03, 0xed}; /* 1005 must not be sent */
    ws_send_frame(fd, 1, SG_WSC_CLOSE, cc, 2);
    expect_close_code(fd, 1002);
}

static void test_close_handshake(void **st)
{
    (void)st;
    g_last_close = 0;
    int fd = ws_open("", 0);
    unsigned char cc[5] = {0x03, 0xe8, 'b', 'y', 'e'};
    ws_send_frame(fd, 1, SG_WSC_CLOSE, cc, sizeof cc);
    expect_close_code(fd, 1000);
    for (int i = 0; i < 300 && g_last_close != 1000; i++)
        usleep(10000);
    assert_int_equal(g_last_close, 1000);
    /* empty close: answered with 1000 */
    fd = ws_open("", 0);
    ws_send_frame(fd, 1, SG_WSC_CLOSE, "", 0);
    expect_close_code(fd, 1000);
    /* server-initiated */
    g_last_close = 0;
    fd = ws_open("", 0);
    ws_send_frame(fd, 1, SG_WSC_TEXT, "close-me", 8);
    got g;
    assert_int_equal(ws_next(fd, &g), 0);
    assert_int_equal(g.type, SG_WSC_EV_CLOSE);
    assert_int_equal(g.code, 4000);
    assert_memory_equal(g.data, "bye now", 7);
    unsigned char echo[2] = {0x0f, 0xa0};
    ws_send_frame(fd, 1, SG_WSC_CLOSE, echo, 2);
    assert_true(cli_wait_closed(fd, 3000));
    close(fd);
    for (int i = 0; i < 300 && g_last_close != 4000; i++)
        usleep(10000);
    assert_int_equal(g_last_close, 4000);
    /* dropped socket: 1006 */
    g_last_close = 0;
    fd = ws_open("", 0);
    close(fd);
    for (int i = 0; i < 300 && g_last_close != 1006; i++)
        usleep(10000);
    assert_int_equal(g_last_close, 1006);
}

static void test_pipelined_with_upgrade(void **st)
{
    (void)st;
    sg_buf b;
    sg_buf_init(&b, 0);
    sg_wsc_build_masked_frame(&b, 1, SG_WSC_TEXT, "early", 5);
    int fd = ws_open(b.data, b.len);
    sg_buf_free(&b);
    assert_true(fd >= 0);
    got g;
    assert_int_equal(ws_next(fd, &g), 0);
    assert_int_equal(g.n, 5);
    assert_memory_equal(g.data, "early", 5);
    close(fd);
}

static void test_broadcast(void **st)
{
    (void)st;
    int a = ws_open("", 0), b = ws_open("", 0);
    got g;
    ws_send_frame(a, 1, SG_WSC_TEXT, "sync", 4);
    assert_int_equal(ws_next(a, &g), 0);
    ws_send_frame(b, 1, SG_WSC_TEXT, "sync", 4);
    assert_int_equal(ws_next(b, &g), 0);
    ws_send_frame(a, 1, SG_WSC_TEXT, "broadcast", 9);
    assert_int_equal(ws_next(a, &g), 0);
    assert_memory_equal(g.data, "to all", 6);
    assert_int_equal(ws_next(b, &g), 0);
    assert_memory_equal(g.data, "to all", 6);
    close(a);
    close(b);
    /* leave one open: server stop must close it (on_close runs, nothing leaks) */
    int c = ws_open("", 0);
    assert_true(c >= 0);
    (void)c;
}

static void test_bad_handshake(void **st)
{
    (void)st;
    int fd = cli_connect(g_srv.port);
    cli_sends(fd, "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  "Sec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13\r\n\r\n");
    cli_resp r;
    assert_int_equal(cli_read_resp(fd, &r, 0), 0);
    assert_int_equal(r.status, 400);
    cli_resp_free(&r);
    close(fd);
    char acc[29];
    assert_int_equal(sg_ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", 24, acc), SG_OK);
    assert_string_equal(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_echo),
        cmocka_unit_test(test_fragments_and_ping),
        cmocka_unit_test(test_bad_utf8),
        cmocka_unit_test(test_too_big),
        cmocka_unit_test(test_protocol_errors),
        cmocka_unit_test(test_close_handshake),
        cmocka_unit_test(test_pipelined_with_upgrade),
        cmocka_unit_test(test_broadcast),
        cmocka_unit_test(test_bad_handshake),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
