/* Unit tests for proto/handshake. */
#include "proto/handshake.h"
#include "sg_alloc.h"
#include "sg_err.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

static void test_request(void **st)
{
    (void)st;
    const char *in = "{\"protocol\":\"messagepack\",\"version\":1}\x1e\x02\x91\x06";
    sg_handshake_req r;
    size_t used;
    const char *why;
    size_t n = strlen(in) + 2; /* include the ping frame bytes (no NUL inside) */
    assert_int_equal(sg_handshake_parse_request(in, n, 0, &r, &used, &why), SG_OK);
    assert_int_equal(r.protocol, SG_HUB_PROTO_MSGPACK);
    assert_string_equal(r.protocol_name, "messagepack");
    assert_int_equal(r.version, 1);
    assert_int_equal(used, strlen("{\"protocol\":\"messagepack\",\"version\":1}") + 1);
    char err[128];
    assert_int_equal(sg_handshake_check(&r, err, sizeof err), SG_OK);
    /* split delivery */
    for (size_t k = 0; k < used; k++)
        assert_int_equal(sg_handshake_parse_request(in, k, 0, &r, &used, &why), SG_EAGAIN);
    /* extra properties ignored */
    const char *x = "{\"version\":1,\"protocol\":\"json\",\"extra\":[1]}\x1e";
    assert_int_equal(sg_handshake_parse_request(x, strlen(x), 0, &r, &used, &why), SG_OK);
    assert_int_equal(r.protocol, SG_HUB_PROTO_JSON);
}

static void test_request_errors(void **st)
{
    (void)st;
    sg_handshake_req r;
    size_t used;
    const char *why;
    static const char *const bad[] = {
        "\x1e",
        "[]\x1e",
        "{\"protocol\":\"json\"}\x1e",
        "{\"version\":1}\x1e",
        "{\"protocol\":1,\"version\":1}\x1e",
        "{\"protocol\":\"json\",\"version\":\"1\"}\x1e",
        "{\"protocol\":\"json\",\"version\":1.5}\x1e",
        "{\"protocol\":\"js\xff\",\"version\":1}\x1e",
        "{\"protocol\":\"json\",\"version\":1\x1e",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(sg_handshake_parse_request(bad[i], strlen(bad[i]), 0, &r, &used, &why),
                         SG_EPROTO);
        assert_non_null(why);
    }
    char big[600];
    memset(big, ' ', sizeof big);
    assert_int_equal(sg_handshake_parse_request(big, sizeof big, 512, &r, &used, &why), SG_ETOOBIG);
    assert_int_equal(sg_handshake_parse_request(big, 100, 512, &r, &used, &why), SG_EAGAIN);
    /* unknown protocol / version: parsed, then refused with ASP.NET's texts */
    const char *u = "{\"protocol\":\"blazorpack\",\"version\":1}\x1e";
    assert_int_equal(sg_handshake_parse_request(u, strlen(u), 0, &r, &used, &why), SG_OK);
    assert_int_equal(r.protocol, SG_HUB_PROTO_UNKNOWN);
    char err[128];
    assert_int_equal(sg_handshake_check(&r, err, sizeof err), SG_EUNSUPPORTED);
    assert_string_equal(err, "Requested protocol 'blazorpack' is not available.");
    const char *v2 = "{\"protocol\":\"json\",\"version\":2}\x1e";
    assert_int_equal(sg_handshake_parse_request(v2, strlen(v2), 0, &r, &used, &why), SG_OK);
    assert_int_equal(sg_handshake_check(&r, err, sizeof err), SG_OK); /* stateful reconnect */
    const char *v = "{\"protocol\":\"json\",\"version\":3}\x1e";
    assert_int_equal(sg_handshake_parse_request(v, strlen(v), 0, &r, &used, &why), SG_OK);
    assert_int_equal(sg_handshake_check(&r, err, sizeof err), SG_EUNSUPPORTED);
    assert_string_equal(err, "The server does not support version 3 of the 'json' protocol.");
}

static void test_writers_and_response(void **st)
{
    (void)st;
    sg_buf b;
    sg_buf_init(&b, 0);
    assert_int_equal(sg_handshake_write_ok(&b), SG_OK);
    assert_int_equal(b.len, 3);
    assert_memory_equal(b.data, "{}\x1e", 3);
    sg_buf_reset(&b);
    assert_int_equal(sg_handshake_write_error(&b, "Requested protocol 'x\"' is not available."),
                     SG_OK);
    assert_string_equal(b.data, "{\"error\":\"Requested protocol 'x\\\"' is not available.\"}\x1e");
    char *e = NULL;
    size_t used;
    const char *why;
    assert_int_equal(sg_handshake_parse_response(b.data, b.len, 0, &e, &used, &why), SG_OK);
    assert_string_equal(e, "Requested protocol 'x\"' is not available.");
    sg_free(e);
    sg_buf_reset(&b);
    assert_int_equal(sg_handshake_write_request(&b, SG_HUB_PROTO_JSON, 1), SG_OK);
    assert_string_equal(b.data, "{\"protocol\":\"json\",\"version\":1}\x1e");
    sg_handshake_req r;
    assert_int_equal(sg_handshake_parse_request(b.data, b.len, 0, &r, &used, &why), SG_OK);
    assert_int_equal(sg_handshake_parse_response("{}\x1e", 3, 0, &e, &used, &why), SG_OK);
    assert_null(e);
    assert_int_equal(sg_handshake_parse_response("{\"error\":1}\x1e", 12, 0, &e, &used, &why),
                     SG_EPROTO);
    assert_int_equal(sg_handshake_write_error(&b, "bad \xff utf8"), SG_EINVAL);
    sg_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_request),
                                       cmocka_unit_test(test_request_errors),
                                       cmocka_unit_test(test_writers_and_response)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
