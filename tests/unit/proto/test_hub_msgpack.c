/* Unit tests for proto/hub_msgpack (+ the shared model in hubmsg.h): reference bytes, every
 * message type both ways, binary/ext round trips, JSON↔MessagePack conversion, caps,
 * malformed input classes. */
#include "proto/hub_json.h"
#include "proto/hub_msgpack.h"
#include "proto/varint.h"
#include "proto_test_util.h"
#include "sg_alloc.h"
#include "sg_err.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

static size_t frame_hex(const char *hex, uint8_t *out, size_t cap)
{
    uint8_t body[1024];
    size_t n = hex2bin(hex, body, sizeof body);
    assert_true(n < 128 && n + 1 <= cap);
    out[0] = (uint8_t)n;
    memcpy(out + 1, body, n);
    return n + 1;
}

static void expect_write(const sg_hub_msg *m, const char *hex)
{
    uint8_t want[1024];
    size_t wn = frame_hex(hex, want, sizeof want);
    sg_buf b;
    sg_buf_init(&b, 0);
    assert_int_equal(sg_hub_msgpack_write(m, &b), SG_OK);
    if (b.len != wn || memcmp(b.data, want, wn)) {
        dump_hex("got ", b.data, b.len);
        dump_hex("want", want, wn);
        fail();
    }
    sg_buf_free(&b);
}

static int parse_hex(const char *hex, sg_hub_msg *m, const char **why)
{
    uint8_t f[1024];
    size_t n = frame_hex(hex, f, sizeof f);
    size_t used = 0;
    static uint8_t keep[1024]; /* m->raw points here */
    memcpy(keep, f, n);
    int rc = sg_hub_msgpack_parse(keep, n, NULL, m, &used, why);
    if (rc == SG_OK) {
        assert_int_equal(used, n);
        assert_ptr_equal(m->raw, keep);
        assert_int_equal(m->raw_len, n);
    }
    return rc;
}

static void test_reference_invocation(void **st)
{
    (void)st;
    const char *hex = "96 01 80 c0 a6 6d 65 74 68 6f 64 91 2a 90";
    sg_hub_msg m;
    const char *why;
    assert_int_equal(parse_hex(hex, &m, &why), SG_OK);
    assert_int_equal(m.type, SG_HUB_INVOCATION);
    assert_null(m.invocation_id);
    assert_string_equal(m.target, "method");
    assert_int_equal(json_array_size(m.arguments), 1);
    assert_int_equal(json_integer_value(json_array_get(m.arguments, 0)), 42);
    expect_write(&m, hex);
    /* the same message in JSON */
    sg_buf b;
    sg_buf_init(&b, 0);
    assert_int_equal(sg_hub_json_write(&m, &b), SG_OK);
    assert_string_equal(b.data, "{\"type\":1,\"target\":\"method\",\"arguments\":[42]}\x1e");
    sg_buf_free(&b);
    sg_hub_msg_clear(&m);
}

static void test_ping_and_fanout(void **st)
{
    (void)st;
    sg_hub_msg m;
    sg_hub_msg_init(&m);
    m.type = SG_HUB_PING;
    sg_buf b;
    sg_buf_init(&b, 0);
    assert_int_equal(sg_hub_msgpack_write(&m, &b), SG_OK);
    assert_int_equal(b.len, 3);
    assert_memory_equal(b.data, sg_hub_msgpack_ping, 3);
    sg_buf_reset(&b);
    assert_int_equal(sg_hub_json_write(&m, &b), SG_OK);
    assert_string_equal(b.data, sg_hub_json_ping);
    sg_buf_free(&b);

    json_t *args = json_pack("[s,i,o]", "hi", 7, sg_hub_bin_new("\x01\x02", 2));
    sg_rcbuf *j = NULL, *mp = NULL;
    assert_int_equal(sg_hub_invocation_encode("send", args, NULL, &j, &mp), SG_OK);
    assert_string_equal(j->data,
                        "{\"type\":1,\"target\":\"send\",\"arguments\":[\"hi\",7,\"AQI=\"]}\x1e");
    uint8_t want[64];
    size_t wn =
        frame_hex("96 01 80 c0 a4 73 65 6e 64 93 a2 68 69 07 c4 02 01 02 90", want, sizeof want);
    assert_int_equal(mp->len, wn);
    assert_memory_equal(mp->data, want, wn);
    assert_int_equal(j->refs, 1);
    sg_rcbuf_unref(j);
    sg_rcbuf_unref(mp);
    assert_int_equal(sg_hub_invocation_encode("send", args, "5", NULL, &mp), SG_OK);
    sg_rcbuf_unref(mp);
    assert_int_equal(sg_hub_invocation_encode(NULL, args, NULL, &j, &mp), SG_EINVAL);
    assert_null(j);
    assert_int_equal(sg_hub_invocation_encode("x", json_object_get(args, "no"), NULL, &j, &mp),
                     SG_EINVAL);
    json_decref(args);
}

static void test_all_types(void **st)
{
    (void)st;
    struct {
        const char *hex;
        int type;
    } cases[] = {
        {"96 01 81 a1 6b a1 76 a1 31 a4 65 63 68 6f 92 c3 c0 92 a2 73 31 a2 73 32", 1},
        {"94 02 80 a1 32 82 a1 61 01 a1 62 92 01 02", 2},
        {"95 03 80 a1 31 01 a4 62 6f 6f 6d", 3},
        {"94 03 80 a1 31 02", 3},
        {"95 03 80 a1 31 03 c0", 3},
        {"96 04 80 a1 32 a7 63 6f 75 6e 74 65 72 92 0a cd 01 f4 90", 4},
        {"93 05 80 a1 39", 5},
        {"91 06", 6},
        {"93 07 a3 62 79 65 c3", 7},
        {"93 07 c0 c2", 7},
        {"92 08 05", 8},
        {"92 09 cd 01 00", 9},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sg_hub_msg m;
        const char *why = NULL;
        int rc = parse_hex(cases[i].hex, &m, &why);
        if (rc)
            fprintf(stderr, "case %zu: %s\n", i, why);
        assert_int_equal(rc, SG_OK);
        assert_int_equal(m.type, cases[i].type);
        expect_write(&m, cases[i].hex); /* canonical inputs re-encode byte-exact */
        /* and survive a trip through JSON */
        sg_buf b;
        sg_buf_init(&b, 0);
        assert_int_equal(sg_hub_json_write(&m, &b), SG_OK);
        sg_hub_msg j;
        size_t used;
        assert_int_equal(sg_hub_json_parse(b.data, b.len, NULL, &j, &used, &why), SG_OK);
        sg_buf_reset(&b);
        assert_int_equal(sg_hub_msgpack_write(&j, &b), SG_OK);
        uint8_t want[256];
        size_t wn = frame_hex(cases[i].hex, want, sizeof want);
        if (cases[i].type != 7 || strstr(cases[i].hex, "c3")) { /* Close without reconnect: same */
            assert_int_equal(b.len, wn);
            assert_memory_equal(b.data, want, wn);
        }
        sg_buf_free(&b);
        sg_hub_msg_clear(&j);
        sg_hub_msg_clear(&m);
    }
    /* details */
    sg_hub_msg m;
    const char *why;
    assert_int_equal(parse_hex("95 03 80 a1 31 01 a4 62 6f 6f 6d", &m, &why), SG_OK);
    assert_int_equal(m.completion, SG_HUB_COMPLETION_ERROR);
    assert_string_equal(m.error, "boom");
    sg_hub_msg_clear(&m);
    assert_int_equal(parse_hex("93 07 a3 62 79 65 c3", &m, &why), SG_OK);
    assert_true(m.allow_reconnect && m.has_allow_reconnect);
    sg_hub_msg_clear(&m);
    assert_int_equal(parse_hex("92 07 c0", &m, &why), SG_OK); /* older Close */
    assert_null(m.error);
    assert_false(m.has_allow_reconnect);
    sg_hub_msg_clear(&m);
    assert_int_equal(parse_hex("95 01 80 c0 a1 6d 90", &m, &why), SG_OK); /* no streamIds */
    assert_int_equal(m.n_stream_ids, 0);
    sg_hub_msg_clear(&m);
    assert_int_equal(parse_hex("97 01 80 c0 a1 6d 90 90 81 a1 61 01", &m, &why),
                     SG_OK); /* newer extra element */
    sg_hub_msg_clear(&m);
    assert_int_equal(
        parse_hex("96 01 81 a1 6b a1 76 a1 31 a4 65 63 68 6f 92 c3 c0 92 a2 73 31 a2 73 32", &m,
                  &why),
        SG_OK);
    assert_string_equal(json_string_value(json_object_get(m.headers, "k")), "v");
    assert_int_equal(m.n_stream_ids, 2);
    assert_string_equal(m.stream_ids[1], "s2");
    sg_hub_msg_clear(&m);
}

static void test_values(void **st)
{
    (void)st;
    /* bin, ext(timestamp), int keys, uint64 max, float32, NaN, str32, nested */
    const char *hex =
        "96 01 80 c0 a1 6d 97 c4 03 01 02 03 d6 ff 00 00 00 01 82 01 a1 61 d0 80 a1 62 cf ff ff ff "
        "ff "
        "ff ff ff ff ca 3f c0 00 00 cb 7f f8 00 00 00 00 00 00 db 00 00 00 02 68 69 90";
    sg_hub_msg m;
    const char *why;
    assert_int_equal(parse_hex(hex, &m, &why), SG_OK);
    json_t *a = m.arguments;
    uint8_t *p;
    size_t n;
    assert_int_equal(sg_hub_bin_get(json_array_get(a, 0), &p, &n), 1);
    assert_int_equal(n, 3);
    assert_memory_equal(p, "\x01\x02\x03", 3);
    sg_free(p);
    int8_t et;
    assert_int_equal(sg_hub_ext_get(json_array_get(a, 1), &et, &p, &n), 1);
    assert_int_equal(et, -1);
    assert_int_equal(n, 4);
    sg_free(p);
    json_t *o = json_array_get(a, 2);
    assert_string_equal(json_string_value(json_object_get(o, "1")), "a");
    assert_string_equal(json_string_value(json_object_get(o, "-128")), "b");
    assert_true(json_is_real(json_array_get(a, 3)));
    assert_true(json_real_value(json_array_get(a, 4)) == 1.5);
    assert_true(json_is_null(json_array_get(a, 5)));
    assert_string_equal(json_string_value(json_array_get(a, 6)), "hi");
    assert_false(sg_hub_is_bin(json_array_get(a, 6)));
    /* bin and ext survive msgpack → neutral → msgpack */
    sg_buf b;
    sg_buf_init(&b, 0);
    assert_int_equal(sg_hub_msgpack_write_value(json_array_get(a, 0), &b), SG_OK);
    assert_int_equal(b.len, 5);
    assert_memory_equal(b.data, "\xc4\x03\x01\x02\x03", 5);
    sg_buf_reset(&b);
    assert_int_equal(sg_hub_msgpack_write_value(json_array_get(a, 1), &b), SG_OK);
    assert_int_equal(b.len, 6);
    assert_memory_equal(b.data, "\xd6\xff\x00\x00\x00\x01", 6);
    sg_buf_reset(&b);
    assert_int_equal(sg_hub_json_write_value(a, &b), SG_OK);
    assert_string_equal(b.data, "[\"AQID\",\"AAAAAQ==\",{\"1\":\"a\",\"-128\":\"b\"},1."
                                "8446744073709552e+19,1.5,null,\"hi\"]");
    sg_buf_free(&b);
    sg_hub_msg_clear(&m);
    /* json copies keep binary-ness */
    json_t *bin = sg_hub_bin_new("", 0);
    json_t *cp = json_deep_copy(bin);
    assert_true(sg_hub_is_bin(cp));
    assert_int_equal(sg_hub_bin_get(cp, NULL, &n), 1);
    assert_int_equal(n, 0);
    json_t *plain = json_string("");
    assert_false(sg_hub_is_bin(plain));
    json_decref(plain);
    json_decref(bin);
    json_decref(cp);
}

static void test_malformed(void **st)
{
    (void)st;
    static const char *const bad[] = {
        "90",                               /* empty array */
        "81 01 02",                         /* map, not array */
        "92 a1 31 01",                      /* type is a string */
        "91 0a",                            /* unknown type 10 */
        "91 00",                            /* type 0 */
        "94 01 80 c0 a1 6d",                /* invocation too short */
        "95 01 80 c0 01 90",                /* target is an int */
        "95 01 80 c0 a1 6d 81 01 02",       /* arguments is a map */
        "95 01 81 a1 6b 01 c0 a1 6d 90",    /* header value is an int */
        "95 01 80 c0 a1 6d 91 c1",          /* 0xc1 */
        "95 01 80 c0 a1 6d 91 a2 ff fe",    /* invalid UTF-8 */
        "95 01 80 c0 a1 6d 91 81 c3 01",    /* bool map key */
        "95 01 80 c0 a1 6d dd 7f ff ff ff", /* huge count */
        "94 02 80 c0 01",                   /* stream item with nil id */
        "95 03 80 a1 31 04 01",             /* result kind 4 */
        "94 03 80 a1 31 01",                /* error kind without error */
        "95 03 80 a1 31 01 01",             /* error not a string */
        "92 08 ff",                         /* negative sequence id */
        "92 08 cf ff ff ff ff ff ff ff ff", /* sequence id > 2^63-1 */
        "93 07 c0 01",                      /* allowReconnect not bool */
        "92 06 01 02",                      /* trailing bytes after the array (count 2 + extra) */
        "95 01 80 c0 a1 6d 91 c4 05 01",    /* bin beyond body */
        "96 01 80 c0 a1 6d 90 91 01",       /* streamIds with an int */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        sg_hub_msg m;
        const char *why = NULL;
        int rc = parse_hex(bad[i], &m, &why);
        if (rc == SG_OK)
            fprintf(stderr, "unexpectedly parsed: %s\n", bad[i]);
        assert_int_not_equal(rc, SG_OK);
        assert_non_null(why);
        assert_null(m.arguments);
        assert_null(m.target);
    }
    /* framing */
    sg_hub_msg m;
    size_t used;
    const char *why;
    uint8_t part[] = {0x0e, 0x96, 0x01};
    assert_int_equal(sg_hub_msgpack_parse(part, sizeof part, NULL, &m, &used, &why), SG_EAGAIN);
    uint8_t huge[] = {0xff, 0xff, 0xff, 0xff, 0x07};
    assert_int_equal(sg_hub_msgpack_parse(huge, sizeof huge, NULL, &m, &used, &why), SG_ETOOBIG);
    uint8_t bad6[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    assert_int_equal(sg_hub_msgpack_parse(bad6, sizeof bad6, NULL, &m, &used, &why), SG_EPROTO);
}

static void test_limits(void **st)
{
    (void)st;
    sg_hub_limits lim = {.max_depth = 4, .max_elements = 8, .max_string = 4, .max_message = 64};
    sg_hub_msg m;
    size_t used;
    const char *why;
    /* depth: message(1) > args(2) > [3] > [4] > [5] */
    uint8_t deep[64];
    size_t n = frame_hex("95 01 80 c0 a1 6d 91 91 91 91 90", deep, sizeof deep);
    assert_int_equal(sg_hub_msgpack_parse(deep, n, &lim, &m, &used, &why), SG_ELIMIT);
    n = frame_hex("95 01 80 c0 a1 6d 91 91 90", deep, sizeof deep);
    assert_int_equal(sg_hub_msgpack_parse(deep, n, &lim, &m, &used, &why), SG_OK);
    sg_hub_msg_clear(&m);
    n = frame_hex("95 01 80 c0 a1 6d 99 01 02 03 04 05 06 07 08 09", deep, sizeof deep);
    assert_int_equal(sg_hub_msgpack_parse(deep, n, &lim, &m, &used, &why), SG_ELIMIT);
    n = frame_hex("95 01 80 c0 a1 6d 91 a5 68 65 6c 6c 6f", deep, sizeof deep);
    assert_int_equal(sg_hub_msgpack_parse(deep, n, &lim, &m, &used, &why), SG_ETOOBIG);
    uint8_t big[] = {0x41, 0x91};
    assert_int_equal(sg_hub_msgpack_parse(big, sizeof big, &lim, &m, &used, &why), SG_ETOOBIG);
    /* deep nesting with default caps: 100000 nested arrays is refused quickly, no stack blowup */
    size_t dn = 100000;
    uint8_t *d = sg_malloc(dn + 16);
    memcpy(d, "\x96\x01\x80\xc0\xa1\x6d", 6);
    memset(d + 6, 0x91, dn);
    d[6 + dn] = 0x90;
    d[7 + dn] = 0x90;
    uint8_t *fr = sg_malloc(dn + 32);
    uint8_t pre[5];
    size_t pl = sg_varint_encode((uint32_t)(dn + 8), pre);
    memcpy(fr, pre, pl);
    memcpy(fr + pl, d, dn + 8);
    assert_int_equal(sg_hub_msgpack_parse(fr, pl + dn + 8, NULL, &m, &used, &why), SG_ELIMIT);
    sg_free(d);
    sg_free(fr);
}

static void test_write_errors(void **st)
{
    (void)st;
    sg_hub_msg m;
    sg_hub_msg_init(&m);
    sg_buf b;
    sg_buf_init(&b, 0);
    m.type = SG_HUB_INVOCATION; /* no target */
    assert_int_equal(sg_hub_msgpack_write(&m, &b), SG_EINVAL);
    assert_int_equal(sg_hub_json_write(&m, &b), SG_EINVAL);
    m.type = SG_HUB_COMPLETION;
    m.invocation_id = "1";
    m.completion = SG_HUB_COMPLETION_ERROR; /* no error text */
    assert_int_equal(sg_hub_msgpack_write(&m, &b), SG_EINVAL);
    m.type = (sg_hub_type)42;
    assert_int_equal(sg_hub_msgpack_write(&m, &b), SG_EINVAL);
    assert_int_equal(b.len, 0);
    sg_buf_free(&b);
    /* capped buffer */
    sg_buf_init(&b, 8);
    json_t *args = json_pack("[s]", "a long string that does not fit");
    sg_hub_msg_init(&m);
    m.type = SG_HUB_INVOCATION;
    m.target = "t";
    m.arguments = args;
    assert_int_not_equal(sg_hub_msgpack_write(&m, &b), SG_OK);
    assert_int_equal(b.len, 0);
    sg_buf_free(&b);
    json_decref(args);
}

static void test_oom(void **st)
{
    (void)st;
    uint8_t f[128];
    size_t n = frame_hex(
        "96 01 81 a1 6b a1 76 a1 31 a4 65 63 68 6f 92 c4 01 01 81 a1 61 91 01 92 a2 73 31 a2 73 32",
        f, sizeof f);
    for (long k = 0; k < 30; k++) {
        sg_hub_msg m;
        size_t used;
        const char *why;
        sg_alloc_fail_after(k);
        int rc = sg_hub_msgpack_parse(f, n, NULL, &m, &used, &why);
        sg_alloc_fail_after(-1);
        assert_true(rc == SG_OK || rc == SG_ENOMEM);
        sg_hub_msg_clear(&m);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_invocation),
        cmocka_unit_test(test_ping_and_fanout),
        cmocka_unit_test(test_all_types),
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_write_errors),
        cmocka_unit_test(test_oom),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
