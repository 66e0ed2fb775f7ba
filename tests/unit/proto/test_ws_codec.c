/* proto/ws_codec: header parse/build round trips, masking, reader events and violations. */
#include "proto/ws_codec.h"
#include "sg_err.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static void test_header_roundtrip(void **st)
{
    (void)st;
    const uint64_t lens[] = {0, 1, 125, 126, 127, 65535, 65536, 1ull << 32};
    const uint8_t mask[4] = {1, 2, 3, 4};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        for (int m = 0; m < 2; m++) {
            uint8_t h[SG_WSC_MAX_HEADER];
            size_t hl = sg_wsc_build_header(h, 1, SG_WSC_BINARY, lens[i], m ? mask : NULL);
            sg_wsc_header p;
            for (size_t k = 0; k < hl; k++)
                assert_int_equal(sg_wsc_parse_header(h, k, &p), SG_EAGAIN);
            assert_int_equal(sg_wsc_parse_header(h, hl, &p), SG_OK);
            assert_int_equal(p.hdr_len, hl);
            assert_int_equal(p.len, lens[i]);
            assert_int_equal(p.fin, 1);
            assert_int_equal(p.opcode, SG_WSC_BINARY);
            assert_int_equal(p.masked, m);
            if (m)
                assert_memory_equal(p.mask, mask, 4);
        }
    }
    /* non-minimal and top-bit lengths are rejected */
    uint8_t nm[4] = {0x82, 126, 0, 5};
    sg_wsc_header p;
    assert_int_equal(sg_wsc_parse_header(nm, 4, &p), SG_EPROTO);
    uint8_t top[10] = {0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0};
    assert_int_equal(sg_wsc_parse_header(top, 10, &p), SG_EPROTO);
}

static void test_mask(void **st)
{
    (void)st;
    const uint8_t mask[4] = {0xa1, 0xb2, 0xc3, 0xd4};
    unsigned char a[67], b[67];
    for (size_t i = 0; i < sizeof a; i++)
        a[i] = b[i] = (unsigned char)(i * 7);
    for (size_t i = 0; i < sizeof a; i++)
        b[i] ^= mask[i & 3];
    sg_wsc_mask(a, sizeof a, mask, 0);
    assert_memory_equal(a, b, sizeof a);
    /* chunked at odd offsets gives the same result */
    for (size_t i = 0; i < sizeof a; i++)
        a[i] = (unsigned char)(i * 7);
    sg_wsc_mask(a, 5, mask, 0);
    sg_wsc_mask(a + 5, 13, mask, 5);
    sg_wsc_mask(a + 18, sizeof a - 18, mask, 18);
    assert_memory_equal(a, b, sizeof a);
}

typedef struct evs {
    int n;
    int type[16];
    uint16_t code[16];
    char data[16][256];
    size_t len[16];
    int stop_after;
} evs;

static int on_ev(void *ud, const sg_wsc_event *ev)
{
    evs *e = ud;
    if (e->n < 16) {
        e->type[e->n] = ev->type;
        e->code[e->n] = ev->code;
        e->len[e->n] = ev->n;
        memcpy(e->data[e->n], ev->p, ev->n < 255 ? ev->n : 255);
        e->n++;
    }
    return e->stop_after && e->n >= e->stop_after;
}

static void test_reader_fragments_any_split(void **st)
{
    (void)st;
    sg_buf b;
    sg_buf_init(&b, 0);
    sg_wsc_build_masked_frame(&b, 0, SG_WSC_TEXT, "ab", 2);
    sg_wsc_build_masked_frame(&b, 1, SG_WSC_PING, "pp", 2);
    sg_wsc_build_masked_frame(&b, 0, SG_WSC_CONT, "", 0);
    sg_wsc_build_masked_frame(&b, 1, SG_WSC_CONT, "cd", 2);
    sg_wsc_build_masked_frame(&b, 1, SG_WSC_BINARY, "\x00\xff", 2);
    sg_wsc_build_close(&b, 1001, "gone", (const uint8_t *)"\x01\x02\x03\x04");
    for (size_t split = 1; split <= b.len; split++) {
        sg_wsc_reader r;
        sg_wsc_reader_init(&r, 1, 1024);
        evs e;
        memset(&e, 0, sizeof e);
        char *copy = malloc(b.len);
        memcpy(copy, b.data, b.len);
        for (size_t off = 0; off < b.len; off += split) {
            size_t k = b.len - off < split ? b.len - off : split;
            assert_int_equal(sg_wsc_reader_feed(&r, copy + off, k, on_ev, &e), 0);
        }
        free(copy);
        assert_int_equal(e.n, 4);
        assert_int_equal(e.type[0], SG_WSC_EV_PING);
        assert_int_equal(e.type[1], SG_WSC_EV_MESSAGE);
        assert_int_equal(e.len[1], 4);
        assert_memory_equal(e.data[1], "abcd", 4);
        assert_int_equal(e.type[2], SG_WSC_EV_MESSAGE);
        assert_memory_equal(e.data[2], "\x00\xff", 2);
        assert_int_equal(e.type[3], SG_WSC_EV_CLOSE);
        assert_int_equal(e.code[3], 1001);
        assert_memory_equal(e.data[3], "gone", 4);
        sg_wsc_reader_free(&r);
    }
    sg_buf_free(&b);
}

static int feed_one(int server, size_t max, const void *frame, size_t n)
{
    sg_wsc_reader r;
    sg_wsc_reader_init(&r, server, max);
    evs e;
    memset(&e, 0, sizeof e);
    char *copy = malloc(n ? n : 1);
    memcpy(copy, frame, n);
    int rc = sg_wsc_reader_feed(&r, copy, n, on_ev, &e);
    free(copy);
    sg_wsc_reader_free(&r);
    return rc;
}

static void test_reader_violations(void **st)
{
    (void)st;
    sg_buf b;
    sg_buf_init(&b, 0);
    /* server reader: unmasked frame */
    sg_wsc_build_frame(&b, 1, SG_WSC_TEXT, "x", 1, NULL);
    assert_int_equal(feed_one(1, 0, b.data, b.len), 1002);
    /* client reader: masked frame */
    assert_int_equal(feed_one(0, 0, b.data, b.len), 0);
    sg_buf_reset(&b);
    sg_wsc_build_masked_frame(&b, 1, SG_WSC_TEXT, "x", 1);
    assert_int_equal(feed_one(0, 0, b.data, b.len), 1002);
    /* bad utf-8 */
    sg_buf_reset(&b);
    sg_wsc_build_masked_frame(&b, 1, SG_WSC_TEXT, "\xff", 1);
    assert_int_equal(feed_one(1, 0, b.data, b.len), 1007);
    /* too big */
    sg_buf_reset(&b);
    char big[200];
    memset(big, 'a', sizeof big);
    sg_wsc_build_masked_frame(&b, 1, SG_WSC_TEXT, big, sizeof big);
    assert_int_equal(feed_one(1, 100, b.data, 8), 1009); /* header alone is enough */
    /* ping too long (126) */
    sg_buf_reset(&b);
    sg_wsc_build_masked_frame(&b, 1, SG_WSC_PING, big, 126);
    assert_int_equal(feed_one(1, 0, b.data, b.len), 1002);
    /* close with 1 byte, bad code, bad reason */
    sg_buf_reset(&b);
    sg_wsc_build_masked_frame(&b, 1, SG_WSC_CLOSE, "\x03", 1);
    assert_int_equal(feed_one(1, 0, b.data, b.len), 1002);
    sg_buf_reset(&b);
    sg_wsc_build_masked_frame(&b, 1, SG_WSC_CLOSE, "\x03\xee", 2); /* 1006 */
    assert_int_equal(feed_one(1, 0, b.data, b.len), 1002);
    sg_buf_reset(&b);
    sg_wsc_build_masked_frame(&b, 1, SG_WSC_CLOSE, "\x03\xe8\xc0", 3);
    assert_int_equal(feed_one(1, 0, b.data, b.len), 1007);
    /* new data frame inside a fragmented message */
    sg_buf_reset(&b);
    sg_wsc_build_masked_frame(&b, 0, SG_WSC_TEXT, "a", 1);
    sg_wsc_build_masked_frame(&b, 1, SG_WSC_TEXT, "b", 1);
    assert_int_equal(feed_one(1, 0, b.data, b.len), 1002);
    sg_buf_free(&b);
    assert_int_equal(sg_wsc_close_code_valid(1000), 1);
    assert_int_equal(sg_wsc_close_code_valid(1005), 0);
    assert_int_equal(sg_wsc_close_code_valid(2999), 0);
    assert_int_equal(sg_wsc_close_code_valid(4999), 1);
}

static void test_reader_stop_and_push(void **st)
{
    (void)st;
    sg_buf b;
    sg_buf_init(&b, 0);
    sg_wsc_build_masked_frame(&b, 1, SG_WSC_TEXT, "one", 3);
    sg_wsc_build_masked_frame(&b, 1, SG_WSC_TEXT, "two", 3);
    sg_wsc_reader r;
    sg_wsc_reader_init(&r, 1, 0);
    assert_int_equal(sg_wsc_reader_push(&r, b.data, b.len), SG_OK);
    evs e;
    memset(&e, 0, sizeof e);
    e.stop_after = 1;
    assert_int_equal(sg_wsc_reader_feed(&r, NULL, 0, on_ev, &e), 0);
    assert_int_equal(e.n, 1);
    assert_int_equal(r.dead, 1);
    assert_int_equal(sg_wsc_reader_feed(&r, b.data, b.len, on_ev, &e), 0);
    assert_int_equal(e.n, 1);
    sg_wsc_reader_free(&r);
    sg_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_roundtrip),           cmocka_unit_test(test_mask),
        cmocka_unit_test(test_reader_fragments_any_split), cmocka_unit_test(test_reader_violations),
        cmocka_unit_test(test_reader_stop_and_push),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
