/* Unit tests for proto/svcproto: every reference vector (§2.7) byte-exact in both directions,
 * legacy layouts, unknown types, extension map skipping, malformed input. */
#include "proto/svcproto.h"
#include "proto/varint.h"
#include "proto_test_util.h"
#include "sg_alloc.h"
#include "sg_err.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

/* Writes m (body only) and compares with hex; then parses the hex back and re-writes it. */
static void check_vector(const sg_svc_msg *m, const char *hex)
{
    uint8_t want[512];
    size_t wn = hex2bin(hex, want, sizeof want);
    sg_buf b;
    sg_buf_init(&b, 0);
    assert_int_equal(sg_svc_write_body(m, &b), SG_OK);
    if (b.len != wn || memcmp(b.data, want, wn) != 0) {
        dump_hex("got ", b.data, b.len);
        dump_hex("want", want, wn);
        fail();
    }
    /* framed write = varint + body */
    sg_buf f;
    sg_buf_init(&f, 0);
    assert_int_equal(sg_svc_write(m, &f), SG_OK);
    uint32_t v;
    size_t used;
    assert_int_equal(sg_varint_decode(f.data, f.len, &v, &used), SG_OK);
    assert_int_equal(v, wn);
    assert_memory_equal(f.data + used, want, wn);
    /* parse back and re-write: identical bytes */
    sg_svc_msg p;
    sg_svc_msg_init(&p);
    size_t consumed = 0;
    const char *why = NULL;
    assert_int_equal(sg_svc_parse(f.data, f.len, 0, &p, &consumed, &why), SG_OK);
    assert_int_equal(consumed, f.len);
    assert_int_equal(p.type, m->type);
    assert_ptr_equal(p.raw, f.data);
    sg_buf r;
    sg_buf_init(&r, 0);
    assert_int_equal(sg_svc_write_body(&p, &r), SG_OK);
    if (r.len != wn || memcmp(r.data, want, wn) != 0) {
        dump_hex("rewrite", r.data, r.len);
        dump_hex("want   ", want, wn);
        fail();
    }
    sg_svc_msg_clear(&p);
    sg_buf_free(&b);
    sg_buf_free(&f);
    sg_buf_free(&r);
}

static int parse_hex(const char *hex, sg_svc_msg *m)
{
    uint8_t body[512];
    size_t n = hex2bin(hex, body, sizeof body);
    const char *why;
    sg_svc_msg_init(m);
    return sg_svc_parse_body(body, n, m, &why);
}

static void test_handshake_vectors(void **st)
{
    (void)st;
    sg_svc_msg m;
    sg_svc_msg_init(&m);
    m.type = SG_SVC_HANDSHAKE_REQUEST;
    m.version = 1;
    check_vector(&m, "97 01 01 00 a0 00 80 c2");
    m.allow_stateful_reconnects = 1;
    check_vector(&m, "97 01 01 00 a0 00 80 c3");
    m.allow_stateful_reconnects = 0;
    m.connection_type = SG_SVC_CONN_ONDEMAND;
    m.target = "abc";
    check_vector(&m, "97 01 01 01 a3 61 62 63 00 80 c2");
    sg_svc_msg_init(&m);
    m.type = SG_SVC_HANDSHAKE_REQUEST;
    m.version = 1;
    m.n_elems = 6;
    uint8_t want[16];
    size_t wn = hex2bin("96 01 01 00 a0 00 80", want, sizeof want);
    sg_buf b;
    sg_buf_init(&b, 0);
    assert_int_equal(sg_svc_write_body(&m, &b), SG_OK);
    assert_int_equal(b.len, wn);
    assert_memory_equal(b.data, want, wn);
    sg_buf_free(&b);

    sg_svc_msg_init(&m);
    m.type = SG_SVC_HANDSHAKE_RESPONSE;
    check_vector(&m, "94 02 a0 80 c0");
    m.connection_id = "abc";
    check_vector(&m, "94 02 a0 80 a3 61 62 63");

    /* legacy shapes are accepted */
    sg_svc_msg p;
    assert_int_equal(parse_hex("92 01 01", &p), SG_OK);
    assert_int_equal(p.version, 1);
    assert_null(p.target);
    sg_svc_msg_clear(&p);
    assert_int_equal(parse_hex("94 01 01 01 a1 78", &p), SG_OK);
    assert_string_equal(p.target, "x");
    assert_int_equal(p.connection_type, 1);
    sg_svc_msg_clear(&p);
    assert_int_equal(parse_hex("96 01 01 00 a0 02 80", &p), SG_OK);
    assert_int_equal(p.migration_level, 2);
    assert_int_equal(p.n_elems, 6);
    sg_svc_msg_clear(&p);
    assert_int_equal(parse_hex("92 02 a5 6f 6f 70 73 21", &p), SG_OK);
    assert_string_equal(p.error_message, "oops!");
    sg_svc_msg_clear(&p);
    assert_int_equal(parse_hex("92 02 c0", &p), SG_OK);
    assert_null(p.error_message);
    sg_svc_msg_clear(&p);
}

static void test_ping_vectors(void **st)
{
    (void)st;
    sg_svc_msg m;
    sg_svc_msg_init(&m);
    m.type = SG_SVC_PING;
    check_vector(&m, "91 03");
    const char *ab[] = {"a", "b"};
    m.ids = ab;
    m.n_ids = 2;
    check_vector(&m, "93 03 a1 61 a1 62");
    sg_svc_msg p;
    assert_int_equal(parse_hex("93 03 a1 61 a1 62", &p), SG_OK);
    assert_string_equal(sg_svc_ping_get(&p, "a"), "b");
    assert_null(sg_svc_ping_get(&p, "b")); /* values are not keys */
    sg_svc_msg_clear(&p);
    assert_int_equal(parse_hex("92 03 a7 73 65 72 76 65 72 73", &p), SG_OK); /* ["servers"] */
    assert_string_equal(sg_svc_ping_get(&p, "servers"), "");
    sg_svc_msg_clear(&p);
}

static void test_connection_vectors(void **st)
{
    (void)st;
    sg_svc_msg m;
    sg_svc_msg_init(&m);
    m.type = SG_SVC_OPEN_CONNECTION;
    m.connection_id = "conn1";
    m.ext.protocol = "json";
    check_vector(&m, "96 04 a5 63 6f 6e 6e 31 80 80 a0 81 03 a4 6a 73 6f 6e");

    sg_svc_msg_init(&m);
    m.type = SG_SVC_CLOSE_CONNECTION;
    m.connection_id = "conn3";
    check_vector(&m, "95 05 a5 63 6f 6e 6e 33 a0 80 80");

    static const uint8_t data[] = {1, 2, 3, 4, 5, 6, 7};
    sg_svc_msg_init(&m);
    m.type = SG_SVC_CONNECTION_DATA;
    m.connection_id = "conn5";
    m.payload = data;
    m.payload_len = 7;
    check_vector(&m, "94 06 a5 63 6f 6e 6e 35 c4 07 01 02 03 04 05 06 07 80");
    m.connection_id = "conn6";
    m.ext.data_type = SG_SVC_DATA_INVOCATION;
    m.ext.is_partial = 1;
    check_vector(&m, "94 06 a5 63 6f 6e 6e 36 c4 07 01 02 03 04 05 06 07 82 05 02 06 c3");

    sg_svc_msg p;
    assert_int_equal(
        parse_hex("94 06 a5 63 6f 6e 6e 36 c4 07 01 02 03 04 05 06 07 82 05 02 06 c3", &p), SG_OK);
    assert_string_equal(p.connection_id, "conn6");
    assert_int_equal(p.payload_len, 7);
    assert_memory_equal(p.payload, data, 7);
    assert_int_equal(p.ext.data_type, 2);
    assert_int_equal(p.ext.is_partial, 1);
    sg_svc_msg_clear(&p);

    /* OpenConnection with claims, headers and query; legacy 3-element form */
    sg_svc_claim claims[] = {{"asrs.s.uid", "alice"}, {"role", "admin"}};
    const char *v1[] = {"a", "b"};
    sg_svc_header hdrs[] = {{"X-Forwarded-For", v1, 2}};
    sg_svc_msg_init(&m);
    m.type = SG_SVC_OPEN_CONNECTION;
    m.connection_id = "c";
    m.claims = claims;
    m.n_claims = 2;
    m.headers = hdrs;
    m.n_headers = 1;
    m.query_string = "?hub=chat&asrs.op=%2Fchat";
    m.ext.has_tracing_id = 1;
    m.ext.tracing_id = 0xfffffffffffULL;
    sg_buf b;
    sg_buf_init(&b, 0);
    assert_int_equal(sg_svc_write(&m, &b), SG_OK);
    size_t used;
    const char *why;
    sg_svc_msg_init(&p);
    assert_int_equal(sg_svc_parse(b.data, b.len, 0, &p, &used, &why), SG_OK);
    assert_int_equal(p.n_claims, 2);
    assert_string_equal(p.claims[1].type, "role");
    assert_string_equal(p.claims[1].value, "admin");
    assert_int_equal(p.n_headers, 1);
    assert_int_equal(p.headers[0].n_values, 2);
    assert_string_equal(p.headers[0].values[1], "b");
    assert_string_equal(p.query_string, "?hub=chat&asrs.op=%2Fchat");
    assert_true(p.ext.has_tracing_id);
    assert_true(p.ext.tracing_id == 0xfffffffffffULL);
    sg_svc_msg_clear(&p);
    sg_buf_free(&b);
    assert_int_equal(parse_hex("93 04 a1 63 81 a1 61 a1 62", &p), SG_OK);
    assert_int_equal(p.n_claims, 1);
    assert_null(p.headers);
    sg_svc_msg_clear(&p);
    /* legacy CloseConnection [5, id, err] */
    assert_int_equal(parse_hex("93 05 a1 63 a3 62 61 64", &p), SG_OK);
    assert_string_equal(p.error_message, "bad");
    sg_svc_msg_clear(&p);
}

static void test_multicast_vectors(void **st)
{
    (void)st;
    static const uint8_t j[] = {4, 5, 6, 7, 1, 2, 3}, mp[] = {5, 6, 7, 1, 2, 3, 4};
    sg_svc_payload pl[] = {{"json", j, 7}, {"messagepack", mp, 7}};
    sg_svc_msg m;
    sg_svc_msg_init(&m);
    m.type = SG_SVC_BROADCAST_DATA;
    m.payloads = pl;
    m.n_payloads = 2;
    check_vector(
        &m,
        "94 0a 90 82 a4 6a 73 6f 6e c4 07 04 05 06 07 01 02 03 ab 6d 65 73 73 61 67 65 70 61 63 6b "
        "c4 07 05 06 07 01 02 03 04 80");
    sg_svc_msg_init(&m);
    m.type = SG_SVC_GROUP_BROADCAST_DATA;
    m.group_name = "group3";
    m.payloads = pl;
    m.n_payloads = 2;
    check_vector(&m, "97 0d a6 67 72 6f 75 70 33 90 82 a4 6a 73 6f 6e c4 07 04 05 06 07 01 02 03 "
                     "ab 6d 65 73 73 61 "
                     "67 65 70 61 63 6b c4 07 05 06 07 01 02 03 04 80 90 c0");

    sg_svc_msg p;
    assert_int_equal(
        parse_hex(
            "94 0a 90 82 a4 4a 53 4f 4e c4 01 01 ab 6d 65 73 73 61 67 65 70 61 63 6b c4 00 80", &p),
        SG_OK);
    const sg_svc_payload *f = sg_svc_payload_find(&p, "json"); /* key was "JSON" */
    assert_non_null(f);
    assert_int_equal(f->len, 1);
    f = sg_svc_payload_find(&p, "MessagePack");
    assert_non_null(f);
    assert_int_equal(f->len, 0);
    assert_null(sg_svc_payload_find(&p, "blazorpack"));
    sg_svc_msg_clear(&p);

    /* older 4-element GroupBroadcastData, MultiConnectionData ids */
    assert_int_equal(parse_hex("94 0d a1 67 92 a1 61 a1 62 80", &p), SG_OK);
    assert_string_equal(p.group_name, "g");
    assert_int_equal(p.n_ids, 2);
    assert_string_equal(p.ids[1], "b");
    assert_int_equal(p.n_excluded_user_ids, 0);
    assert_null(p.caller_user_id);
    sg_svc_msg_clear(&p);

    const char *ex[] = {"u1"};
    sg_svc_msg_init(&m);
    m.type = SG_SVC_GROUP_BROADCAST_DATA;
    m.group_name = "g";
    m.excluded_user_ids = ex;
    m.n_excluded_user_ids = 1;
    m.caller_user_id = "me";
    m.ext.filter = "x eq 1";
    sg_buf b;
    sg_buf_init(&b, 0);
    assert_int_equal(sg_svc_write_body(&m, &b), SG_OK);
    sg_svc_msg_init(&p);
    const char *why;
    assert_int_equal(sg_svc_parse_body(b.data, b.len, &p, &why), SG_OK);
    assert_string_equal(p.excluded_user_ids[0], "u1");
    assert_string_equal(p.caller_user_id, "me");
    assert_string_equal(p.ext.filter, "x eq 1");
    sg_svc_msg_clear(&p);
    sg_buf_free(&b);
}

static void test_ack_and_group_vectors(void **st)
{
    (void)st;
    sg_svc_msg m;
    sg_svc_msg_init(&m);
    m.type = SG_SVC_USER_JOIN_GROUP_WITH_ACK;
    m.user_id = "conn14";
    m.group_name = "group1";
    m.ack_id = 1;
    m.ext.has_tracing_id = 1;
    m.ext.tracing_id = 1234;
    m.ext.has_ttl = 1;
    m.ext.ttl = 666;
    check_vector(&m,
                 "95 1a a6 63 6f 6e 6e 31 34 a6 67 72 6f 75 70 31 01 82 01 cd 04 d2 02 cd 02 9a");

    static const uint8_t pl[] = {1, 2, 3};
    sg_svc_msg_init(&m);
    m.type = SG_SVC_ACK;
    m.ack_id = 2;
    m.status = 0;
    m.message = "";
    m.payload = pl;
    m.payload_len = 3;
    m.has_payload = 1;
    check_vector(&m, "96 14 02 00 a0 80 c4 03 01 02 03");

    sg_svc_msg p;
    /* 2024-03 Ack without payload */
    assert_int_equal(parse_hex("95 14 07 01 c0 80", &p), SG_OK);
    assert_int_equal(p.ack_id, 7);
    assert_int_equal(p.status, SG_SVC_ACK_OK);
    assert_false(p.has_payload);
    assert_null(p.message);
    sg_svc_msg_clear(&p);
    /* newest Ack with nil payload */
    assert_int_equal(parse_hex("96 14 07 02 a1 78 80 c0", &p), SG_OK);
    assert_false(p.has_payload);
    assert_string_equal(p.message, "x");
    sg_svc_msg_clear(&p);

    sg_svc_msg_init(&m);
    m.type = SG_SVC_CONNECTION_FLOW_CONTROL;
    m.connection_id = "conn1";
    m.connection_type = SG_SVC_FLOW_CLIENT;
    m.operation = SG_SVC_FLOW_PAUSE;
    check_vector(&m, "95 27 a5 63 6f 6e 6e 31 d2 00 00 00 01 d2 00 00 00 01 80");

    sg_svc_msg_init(&m);
    m.type = SG_SVC_GROUP_MEMBER_QUERY;
    m.group_name = "group";
    m.ack_id = 1;
    m.max = 10;
    m.continuation_token = "token";
    m.ext.has_tracing_id = 1;
    m.ext.tracing_id = 1234;
    check_vector(&m, "96 28 81 01 cd 04 d2 a5 67 72 6f 75 70 01 0a a5 74 6f 6b 65 6e");
}

static void test_access_key_vectors(void **st)
{
    (void)st;
    sg_svc_msg m;
    sg_svc_msg_init(&m);
    m.type = SG_SVC_ACCESS_KEY_REQUEST;
    m.token = "token";
    check_vector(&m, "94 1c a5 74 6f 6b 65 6e c0 80");
    sg_svc_msg_init(&m);
    m.type = SG_SVC_ACCESS_KEY_RESPONSE;
    m.kid = "kid";
    m.access_key = "key";
    check_vector(&m, "96 1d a3 6b 69 64 a3 6b 65 79 c0 c0 80");
}

/* Every layout: write a message with every field set, parse it back, write again. */
static void test_all_types_roundtrip(void **st)
{
    (void)st;
    static const uint8_t pl[] = {9, 8, 7};
    sg_svc_payload pls[] = {{"json", pl, 3}};
    const char *ids[] = {"i1", "i2"};
    for (int t = 1; t <= 40; t++) {
        sg_svc_msg m;
        sg_svc_msg_init(&m);
        m.type = (sg_svc_type)t;
        m.version = 1;
        m.connection_type = 2;
        m.migration_level = 1;
        m.operation = 3;
        m.ack_id = 42;
        m.status = 1;
        m.object_type = 3;
        m.kind = 2;
        m.max = 5;
        m.target = "t";
        m.connection_id = "c";
        m.user_id = "u";
        m.group_name = "g";
        m.error_message = "e";
        m.query_string = "q";
        m.message = "m";
        m.event_id = "ev";
        m.token = "tok";
        m.kid = "k";
        m.access_key = "ak";
        m.error_type = "et";
        m.reason = "r";
        m.invocation_id = "inv";
        m.caller_server_id = "srv";
        m.instance_id = "inst";
        m.protocol = "json";
        m.caller_user_id = "cu";
        m.continuation_token = "ct";
        m.ids = ids;
        m.n_ids = 2;
        m.payloads = pls;
        m.n_payloads = 1;
        m.payload = pl;
        m.payload_len = 3;
        m.has_payload = 1;
        m.ext.has_tracing_id = 1;
        m.ext.tracing_id = 99;
        sg_buf a, b;
        sg_buf_init(&a, 0);
        sg_buf_init(&b, 0);
        assert_int_equal(sg_svc_write(&m, &a), SG_OK);
        sg_svc_msg p;
        sg_svc_msg_init(&p);
        size_t used;
        const char *why = NULL;
        int rc = sg_svc_parse(a.data, a.len, 0, &p, &used, &why);
        if (rc)
            fprintf(stderr, "type %d: %s\n", t, why);
        assert_int_equal(rc, SG_OK);
        assert_int_equal((int)p.type, t);
        assert_int_equal(sg_svc_write(&p, &b), SG_OK);
        assert_int_equal(a.len, b.len);
        assert_memory_equal(a.data, b.data, a.len);
        sg_svc_msg_clear(&p);
        sg_buf_free(&a);
        sg_buf_free(&b);
    }
}

static void test_unknown_and_ext(void **st)
{
    (void)st;
    sg_svc_msg p;
    /* unknown type 99 with arbitrary content: ignored, not an error */
    assert_int_equal(parse_hex("93 63 81 01 02 92 c0 c3", &p), SG_OK);
    assert_int_equal(p.type, SG_SVC_UNKNOWN);
    assert_int_equal(p.raw_type, 99);
    sg_svc_msg_clear(&p);
    /* 41 (RefreshAuth, layout unconfirmed) is ignored too */
    assert_int_equal(parse_hex("92 29 a1 63", &p), SG_OK);
    assert_int_equal(p.type, SG_SVC_UNKNOWN);
    sg_svc_msg_clear(&p);
    /* ext map with unknown keys whose values are nested: skipped with their values */
    assert_int_equal(
        parse_hex("94 06 a1 63 c4 00 84 0a 92 81 a1 61 90 01 01 05 93 01 02 03 03 03 a2 6a 73", &p),
        SG_OK);
    assert_int_equal(p.ext.tracing_id, 5);
    assert_string_equal(p.ext.protocol, "js");
    assert_true(p.ext.has_tracing_id);
    sg_svc_msg_clear(&p);
    /* extra trailing elements beyond the layout are skipped */
    assert_int_equal(parse_hex("96 0b a1 63 a1 67 80 92 01 02 c0", &p), SG_OK);
    assert_string_equal(p.group_name, "g");
    sg_svc_msg_clear(&p);
}

static void test_malformed(void **st)
{
    (void)st;
    static const char *const bad[] = {
        "",                              /* empty */
        "90",                            /* empty array */
        "81 01 02",                      /* not an array */
        "92 a1 61 01",                   /* type is a string */
        "92 02",                         /* array says 2, one element */
        "93 06 a1 63",                   /* ConnectionData too short */
        "94 06 01 c4 00 80",             /* connection id is an int */
        "94 06 a1 63 c4 05 01 80",       /* bin length beyond the body */
        "94 06 a1 63 c4 00 81",          /* truncated ext */
        "94 06 a1 63 c4 00 81 01 a1 78", /* tracing id is a string */
        "94 0a dd ff ff ff ff 80 80",    /* huge array count */
        "94 0a 90 df 7f ff ff ff 80",    /* huge map count */
        "94 0a 90 81 a1 6a 01 80",       /* payload is an int */
        "93 0b a2 63 00 a1 67",          /* NUL inside a string */
        "92 01 c1",                      /* 0xc1 never used */
        "93 03 a1 61 01",                /* ping value not a string */
        "92 01 01 00",                   /* trailing bytes */
        "91 ce ff ff ff ff", /* type out of range is unknown... but after it, body ends: ok? */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]) - 1; i++) {
        sg_svc_msg p;
        int rc = parse_hex(bad[i], &p);
        if (rc == SG_OK)
            fprintf(stderr, "unexpectedly parsed: %s\n", bad[i]);
        assert_int_not_equal(rc, SG_OK);
        sg_svc_msg_clear(&p);
    }
    /* framing: incomplete, oversized, bad prefix */
    sg_svc_msg m;
    sg_svc_msg_init(&m);
    size_t used;
    const char *why;
    uint8_t fr[] = {0x03, 0x91, 0x03};
    assert_int_equal(sg_svc_parse(fr, 2, 0, &m, &used, &why), SG_EAGAIN);
    assert_int_equal(sg_svc_parse(fr, 0, 0, &m, &used, &why), SG_EAGAIN);
    uint8_t big[] = {0xff, 0xff, 0xff, 0x7f};
    assert_int_equal(sg_svc_parse(big, sizeof big, 1024, &m, &used, &why), SG_ETOOBIG);
    uint8_t badp[] = {0xff, 0xff, 0xff, 0xff, 0x0f};
    assert_int_equal(sg_svc_parse(badp, sizeof badp, 0, &m, &used, &why), SG_EPROTO);
    /* two frames in one buffer */
    uint8_t two[] = {0x02, 0x91, 0x03, 0x04, 0x93, 0x03, 0xa1, 0x61};
    assert_int_equal(sg_svc_parse(two, sizeof two, 0, &m, &used, &why), SG_OK);
    assert_int_equal(used, 3);
    assert_int_equal(sg_svc_parse(two + 3, sizeof two - 3, 0, &m, &used, &why),
                     SG_EPROTO); /* 3 announced, 2 present */
    uint8_t two2[] = {0x02, 0x91, 0x03, 0x05, 0x93, 0x03, 0xa1, 0x61, 0xa0};
    assert_int_equal(sg_svc_parse(two2, sizeof two2, 0, &m, &used, &why), SG_OK);
    assert_int_equal(used, 3);
    assert_int_equal(sg_svc_parse(two2 + used, sizeof two2 - used, 0, &m, &used, &why), SG_OK);
    assert_string_equal(sg_svc_ping_get(&m, "a"), "");
    sg_svc_msg_clear(&m);
    /* writer refuses unknown types */
    sg_buf b;
    sg_buf_init(&b, 0);
    m.type = SG_SVC_UNKNOWN;
    assert_int_equal(sg_svc_write(&m, &b), SG_EINVAL);
    assert_int_equal(b.len, 0);
    sg_buf_free(&b);
}

static void test_oom(void **st)
{
    (void)st;
    uint8_t body[256];
    size_t n = hex2bin(
        "96 04 a5 63 6f 6e 6e 31 81 a1 61 a1 62 81 a1 68 91 a1 76 a1 71 81 03 a4 6a 73 6f 6e", body,
        sizeof body);
    for (long k = 0; k < 20; k++) {
        sg_svc_msg p;
        sg_svc_msg_init(&p);
        const char *why;
        sg_alloc_fail_after(k);
        int rc = sg_svc_parse_body(body, n, &p, &why);
        sg_alloc_fail_after(-1);
        assert_true(rc == SG_OK || rc == SG_ENOMEM);
        sg_svc_msg_clear(&p);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_handshake_vectors),
        cmocka_unit_test(test_ping_vectors),
        cmocka_unit_test(test_connection_vectors),
        cmocka_unit_test(test_multicast_vectors),
        cmocka_unit_test(test_ack_and_group_vectors),
        cmocka_unit_test(test_access_key_vectors),
        cmocka_unit_test(test_all_types_roundtrip),
        cmocka_unit_test(test_unknown_and_ext),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_oom),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
