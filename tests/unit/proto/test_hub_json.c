/* Unit tests for proto/hub_json: every message type, strict field checks, partial input,
 * several messages per buffer, caps, invalid UTF-8, writer output. */
#include "proto/hub_json.h"
#include "proto/hub_msgpack.h"
#include "sg_alloc.h"
#include "sg_err.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

static int parse(const char *s, sg_hub_msg *m, const char **why)
{
    size_t used = 0;
    int rc = sg_hub_json_parse(s, strlen(s), NULL, m, &used, why);
    if (rc == SG_OK) {
        assert_int_equal(used, strlen(s));
        assert_ptr_equal(m->raw, s);
        assert_int_equal(m->raw_len, used);
    }
    return rc;
}

/* parse → write must give exactly the canonical text */
static void canon(const char *s)
{
    sg_hub_msg m;
    const char *why = NULL;
    int rc = parse(s, &m, &why);
    if (rc)
        fprintf(stderr, "%s: %s\n", s, why);
    assert_int_equal(rc, SG_OK);
    sg_buf b;
    sg_buf_init(&b, 0);
    assert_int_equal(sg_hub_json_write(&m, &b), SG_OK);
    assert_string_equal(b.data, s);
    sg_buf_free(&b);
    sg_hub_msg_clear(&m);
}

static void test_types(void **st)
{
    (void)st;
    canon("{\"type\":1,\"target\":\"send\",\"arguments\":[\"a\",1,2.5,true,null,{\"x\":[]}]}\x1e");
    canon("{\"type\":1,\"headers\":{\"k\":\"v\"},\"invocationId\":\"1\",\"target\":\"echo\","
          "\"arguments\":[],"
          "\"streamIds\":[\"s1\"]}\x1e");
    canon("{\"type\":2,\"invocationId\":\"2\",\"item\":{\"a\":1}}\x1e");
    canon("{\"type\":2,\"invocationId\":\"2\",\"item\":null}\x1e");
    canon("{\"type\":3,\"invocationId\":\"1\",\"result\":[1,2]}\x1e");
    canon("{\"type\":3,\"invocationId\":\"1\",\"result\":null}\x1e");
    canon("{\"type\":3,\"invocationId\":\"1\",\"error\":\"boom\"}\x1e");
    canon("{\"type\":3,\"invocationId\":\"1\"}\x1e");
    canon("{\"type\":4,\"invocationId\":\"3\",\"target\":\"counter\",\"arguments\":[10]}\x1e");
    canon("{\"type\":5,\"invocationId\":\"3\"}\x1e");
    canon("{\"type\":6}\x1e");
    canon("{\"type\":7}\x1e");
    canon("{\"type\":7,\"error\":\"bye\",\"allowReconnect\":true}\x1e");
    canon("{\"type\":8,\"sequenceId\":12}\x1e");
    canon("{\"type\":9,\"sequenceId\":1}\x1e");
    canon("{\"type\":1,\"target\":\"u\",\"arguments\":["
          "\"\\u0000\\n\\\"\\\\\\u001f\xc3\xa9\xf0\x9f\x98\x80\"]}\x1e");

    sg_hub_msg m;
    const char *why;
    assert_int_equal(parse("{\"type\":3,\"invocationId\":\"1\"}\x1e", &m, &why), SG_OK);
    assert_int_equal(m.completion, SG_HUB_COMPLETION_VOID);
    sg_hub_msg_clear(&m);
    assert_int_equal(parse("{\"type\":7,\"allowReconnect\":false,\"error\":null}\x1e", &m, &why),
                     SG_OK);
    assert_true(m.has_allow_reconnect);
    assert_false(m.allow_reconnect);
    assert_null(m.error);
    sg_hub_msg_clear(&m);
    /* unknown properties are ignored; order does not matter */
    assert_int_equal(
        parse("{\"arguments\":[1],\"foo\":{\"bar\":1},\"target\":\"t\",\"type\":1}\x1e", &m, &why),
        SG_OK);
    assert_string_equal(m.target, "t");
    sg_hub_msg_clear(&m);
    /* numbers: int64 edges and big integers */
    assert_int_equal(
        parse("{\"type\":1,\"target\":\"n\",\"arguments\":[-9223372036854775808,1e308]}\x1e", &m,
              &why),
        SG_OK);
    sg_hub_msg_clear(&m);
}

static void test_stream_of_messages(void **st)
{
    (void)st;
    const char *in =
        "{\"type\":6}\x1e{\"type\":1,\"target\":\"a\",\"arguments\":[]}\x1e{\"type\":8,\"seq";
    size_t len = strlen(in), off = 0, used;
    sg_hub_msg m;
    const char *why;
    int types[2], n = 0;
    while (sg_hub_json_parse(in + off, len - off, NULL, &m, &used, &why) == SG_OK) {
        types[n++] = m.type;
        off += used;
        sg_hub_msg_clear(&m);
    }
    assert_int_equal(n, 2);
    assert_int_equal(types[0], SG_HUB_PING);
    assert_int_equal(types[1], SG_HUB_INVOCATION);
    assert_int_equal(sg_hub_json_parse(in + off, len - off, NULL, &m, &used, &why), SG_EAGAIN);
    assert_int_equal(sg_hub_json_parse(in, 0, NULL, &m, &used, &why), SG_EAGAIN);
}

static void test_strict(void **st)
{
    (void)st;
    static const char *const bad[] = {
        "\x1e",
        "[]\x1e",
        "{}\x1e",
        "{\"type\":\"1\"}\x1e",
        "{\"type\":0}\x1e",
        "{\"type\":10}\x1e",
        "{\"type\":1.0,\"target\":\"a\",\"arguments\":[]}\x1e",
        "{\"type\":1,\"arguments\":[]}\x1e",
        "{\"type\":1,\"target\":\"a\"}\x1e",
        "{\"type\":1,\"target\":\"a\",\"arguments\":{}}\x1e",
        "{\"type\":1,\"target\":5,\"arguments\":[]}\x1e",
        "{\"type\":1,\"target\":\"a\",\"arguments\":[],\"invocationId\":1}\x1e",
        "{\"type\":1,\"target\":\"a\",\"arguments\":[],\"streamIds\":[1]}\x1e",
        "{\"type\":1,\"target\":\"a\",\"arguments\":[],\"streamIds\":\"s\"}\x1e",
        "{\"type\":1,\"target\":\"a\",\"arguments\":[],\"headers\":{\"k\":1}}\x1e",
        "{\"type\":1,\"target\":\"a\",\"arguments\":[],\"headers\":[]}\x1e",
        "{\"type\":2,\"item\":1}\x1e",
        "{\"type\":2,\"invocationId\":\"1\"}\x1e",
        "{\"type\":3}\x1e",
        "{\"type\":3,\"invocationId\":\"1\",\"result\":1,\"error\":\"e\"}\x1e",
        "{\"type\":3,\"invocationId\":\"1\",\"error\":5}\x1e",
        "{\"type\":4,\"target\":\"a\",\"arguments\":[]}\x1e",
        "{\"type\":5}\x1e",
        "{\"type\":7,\"error\":5}\x1e",
        "{\"type\":7,\"allowReconnect\":\"yes\"}\x1e",
        "{\"type\":8}\x1e",
        "{\"type\":8,\"sequenceId\":-1}\x1e",
        "{\"type\":9,\"sequenceId\":1.5}\x1e",
        "{\"type\":1,\"target\":\"\xff\",\"arguments\":[]}\x1e",         /* invalid UTF-8 */
        "{\"type\":1,\"target\":\"\xed\xa0\x80\",\"arguments\":[]}\x1e", /* surrogate */
        "{\"type\":1,\"target\":\"a\",\"arguments\":[]} x\x1e",
        "{\"type\":1,\"target\":\"a\",\"arguments\":[1,]}\x1e",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        sg_hub_msg m;
        const char *why = NULL;
        int rc = parse(bad[i], &m, &why);
        if (rc == SG_OK)
            fprintf(stderr, "unexpectedly parsed: %s\n", bad[i]);
        assert_int_equal(rc, SG_EPROTO);
        assert_non_null(why);
        assert_null(m.target);
        assert_null(m.arguments);
    }
}

static void test_limits(void **st)
{
    (void)st;
    sg_hub_limits lim = {.max_message = 64, .max_depth = 4, .max_elements = 6, .max_string = 9};
    sg_hub_msg m;
    size_t used;
    const char *why;
    const char *deep = "{\"type\":1,\"target\":\"a\",\"arguments\":[[[[]]]]}\x1e";
    assert_int_equal(sg_hub_json_parse(deep, strlen(deep), &lim, &m, &used, &why), SG_ELIMIT);
    const char *many = "{\"type\":1,\"target\":\"a\",\"arguments\":[1,2,3,4,5,6,7]}\x1e";
    assert_int_equal(sg_hub_json_parse(many, strlen(many), &lim, &m, &used, &why), SG_ELIMIT);
    const char *str = "{\"type\":1,\"target\":\"a\",\"arguments\":[\"1234567890\"]}\x1e";
    assert_int_equal(sg_hub_json_parse(str, strlen(str), &lim, &m, &used, &why), SG_ETOOBIG);
    char big[100];
    memset(big, ' ', sizeof big);
    assert_int_equal(sg_hub_json_parse(big, sizeof big, &lim, &m, &used, &why), SG_ETOOBIG);
    assert_int_equal(sg_hub_json_parse(big, 63, &lim, &m, &used, &why), SG_EAGAIN);
    /* a deeply nested document with default caps is refused, not a crash */
    size_t n = 5000;
    char *d = sg_malloc(2 * n + 64);
    static const char head[] = "{\"type\":1,\"target\":\"a\",\"arguments\":";
    size_t k = sizeof head - 1;
    memcpy(d, head, k);
    memset(d + k, '[', n);
    memset(d + k + n, ']', n);
    memcpy(d + k + 2 * n, "}\x1e", 3); /* includes the NUL */
    assert_int_not_equal(sg_hub_json_parse(d, strlen(d), NULL, &m, &used, &why), SG_OK);
    sg_free(d);
}

static void test_binary_to_json(void **st)
{
    (void)st;
    sg_hub_msg m;
    sg_hub_msg_init(&m);
    m.type = SG_HUB_COMPLETION;
    m.invocation_id = sg_strdup("7");
    m.completion = SG_HUB_COMPLETION_RESULT;
    m.result = json_pack("{s:o,s:o}", "bytes", sg_hub_bin_new("hello", 5), "ts",
                         sg_hub_ext_new(-1, "\0\0\0\1", 4));
    sg_buf b;
    sg_buf_init(&b, 0);
    assert_int_equal(sg_hub_json_write(&m, &b), SG_OK);
    assert_string_equal(b.data, "{\"type\":3,\"invocationId\":\"7\",\"result\":{\"bytes\":"
                                "\"aGVsbG8=\",\"ts\":\"AAAAAQ==\"}}\x1e");
    sg_buf_reset(&b);
    assert_int_equal(sg_hub_msgpack_write(&m, &b), SG_OK);
    /* 95 03 80 a1 37 03 82 a5 'bytes' c4 05 'hello' a2 'ts' d6 ff 00 00 00 01 */
    static const uint8_t want[] = {0x1d, 0x95, 0x03, 0x80, 0xa1, 0x37, 0x03, 0x82, 0xa5, 'b',
                                   'y',  't',  'e',  's',  0xc4, 0x05, 'h',  'e',  'l',  'l',
                                   'o',  0xa2, 't',  's',  0xd6, 0xff, 0x00, 0x00, 0x00, 0x01};
    assert_int_equal(b.len, sizeof want);
    assert_memory_equal(b.data, want, sizeof want);
    sg_buf_free(&b);
    sg_hub_msg_clear(&m);
    /* real formatting keeps a decimal point */
    json_t *r = json_real(3.0);
    sg_buf_init(&b, 0);
    assert_int_equal(sg_hub_json_write_value(r, &b), SG_OK);
    assert_string_equal(b.data, "3.0");
    json_decref(r);
    sg_buf_free(&b);
}

static void test_oom(void **st)
{
    (void)st;
    const char *s = "{\"type\":4,\"headers\":{\"a\":\"b\"},\"invocationId\":\"1\",\"target\":\"t\","
                    "\"arguments\":[1],"
                    "\"streamIds\":[\"x\",\"y\"]}\x1e";
    for (long k = 0; k < 12; k++) {
        sg_hub_msg m;
        size_t used;
        const char *why;
        sg_alloc_fail_after(k);
        int rc = sg_hub_json_parse(s, strlen(s), NULL, &m, &used, &why);
        sg_alloc_fail_after(-1);
        assert_true(rc == SG_OK || rc == SG_ENOMEM);
        sg_hub_msg_clear(&m);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_types),          cmocka_unit_test(test_stream_of_messages),
        cmocka_unit_test(test_strict),         cmocka_unit_test(test_limits),
        cmocka_unit_test(test_binary_to_json), cmocka_unit_test(test_oom),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
