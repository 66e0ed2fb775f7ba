/* Unit tests for the app-server runtime's pure parts (src/sdk/server_hub.c) and the WebSocket
 * client's URL/key helpers (src/net/wsclient.c): a client's hub session (handshake, json and
 * messagepack invocations -> completions, errors, split input, refusals), user ids from claims,
 * the negotiate URL, refusal summaries, backoff, options validation, OOM runs. */
#include "net/wsclient.h"
#include "proto/hub_msgpack.h"
#include "proto/hubmsg.h"
#include "proto/svcproto.h"
#include "sdk/server_internal.h"
#include "sg_alloc.h"
#include "sg_err.h"
#include "sigrid/server.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static sg__client *new_client(const char *id, const char *uid, const char *proto)
{
    sg_svc_claim claims[2] = {{"asrs.s.uid", uid}, {"role", "admin"}};
    sg_svc_msg m;
    sg_svc_msg_init(&m);
    m.type = SG_SVC_OPEN_CONNECTION;
    m.connection_id = id;
    m.claims = claims;
    m.n_claims = uid ? 2 : 0;
    m.query_string = "hub=chat&asrs.op=%2Fchat";
    m.ext.protocol = proto;
    return sg__client_new(&m);
}

static int calls;

static int dispatch(void *ud, sg__client *c, const char *target, const char *args,
                    sg_hub_result *res)
{
    (void)ud;
    (void)c;
    calls++;
    if (!strcmp(target, "echo")) {
        /* args is "[x]": return x */
        char buf[256];
        size_t n = strlen(args);
        assert_true(n >= 2 && n < sizeof buf);
        memcpy(buf, args + 1, n - 2);
        buf[n - 2] = 0;
        return sg_hub_result_set_json(res, buf);
    }
    if (!strcmp(target, "fail"))
        return sg_hub_result_set_error(res, "nope");
    if (!strcmp(target, "crash"))
        return -1;
    if (!strcmp(target, "void"))
        return 0;
    return SG_ENOTFOUND;
}

static void feed_str(sg__client *c, const char *s, sg_buf *out, int *hs, const char **why,
                     int expect_rc)
{
    int rc = sg__client_feed(c, (const uint8_t *)s, strlen(s), dispatch, NULL, out, hs, why);
    assert_int_equal(rc, expect_rc);
}

static void test_claims_user(void **st)
{
    (void)st;
    json_t *c = json_pack("{s:s,s:s}", "sub", "s1", "nameid", "n1");
    assert_string_equal(sg__user_from_claims(c), "n1");
    json_object_set_new(c, "asrs.s.uid", json_string("u1"));
    assert_string_equal(sg__user_from_claims(c), "u1");
    json_decref(c);
    c = json_pack("{s:s}", "sub", "s1");
    assert_string_equal(sg__user_from_claims(c), "s1");
    json_decref(c);
    c = json_pack("{s:s}", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier",
                  "uri");
    assert_string_equal(sg__user_from_claims(c), "uri");
    json_decref(c);
    c = json_object();
    assert_null(sg__user_from_claims(c));
    json_decref(c);

    sg__client *cl = new_client("c1", "alice", "json");
    assert_non_null(cl);
    assert_string_equal(sg_hub_ctx_user_id(cl), "alice");
    assert_string_equal(sg_hub_ctx_connection_id(cl), "c1");
    assert_string_equal(sg_hub_ctx_claim(cl, "role"), "admin");
    assert_null(sg_hub_ctx_claim(cl, "nope"));
    assert_string_equal(sg_hub_ctx_query(cl), "hub=chat&asrs.op=%2Fchat");
    assert_string_equal(sg_hub_ctx_protocol(cl), "json");
    sg__client_free(cl);
}

static void test_json_session(void **st)
{
    (void)st;
    sg__client *c = new_client("c1", NULL, "json");
    sg_buf out;
    sg_buf_init(&out, 0);
    int hs = 0;
    const char *why = NULL;
    /* handshake split in two, followed by an invocation in the same chunk */
    feed_str(c, "{\"protocol\":\"json\",", &out, &hs, &why, SG_OK);
    assert_int_equal(hs, 0);
    assert_int_equal(out.len, 0);
    feed_str(c,
             "\"version\":1}\x1e{\"type\":1,\"invocationId\":\"1\",\"target\":\"echo\","
             "\"arguments\":[{\"a\":[1,\"\xc3\xa9\"]}]}\x1e",
             &out, &hs, &why, SG_OK);
    assert_int_equal(hs, 1);
    const char *want =
        "{}\x1e{\"type\":3,\"invocationId\":\"1\",\"result\":{\"a\":[1,\"\xc3\xa9\"]}}\x1e";
    assert_int_equal(out.len, strlen(want));
    assert_memory_equal(out.data, want, out.len);
    sg_buf_reset(&out);

    /* errors, void, unknown, non-blocking, ping, a message split across feeds */
    feed_str(c, "{\"type\":1,\"invocationId\":\"2\",\"target\":\"fail\",\"arguments\":[]}\x1e",
             &out, &hs, &why, SG_OK);
    feed_str(c, "{\"type\":1,\"invocationId\":\"3\",\"target\":\"crash\",\"arguments\":[]}\x1e",
             &out, &hs, &why, SG_OK);
    feed_str(c, "{\"type\":1,\"invocationId\":\"4\",\"target\":\"void\",\"arguments\":[]}\x1e",
             &out, &hs, &why, SG_OK);
    feed_str(c, "{\"type\":1,\"invocationId\":\"5\",\"target\":\"x\",\"arguments\":[]}\x1e", &out,
             &hs, &why, SG_OK);
    feed_str(c, "{\"type\":1,\"target\":\"echo\",\"arguments\":[1]}\x1e{\"type\":6}\x1e", &out, &hs,
             &why, SG_OK);
    feed_str(c, "{\"type\":1,\"invocationId\":\"6\",\"tar", &out, &hs, &why, SG_OK);
    feed_str(c, "get\":\"echo\",\"arguments\":[null]}\x1e", &out, &hs, &why, SG_OK);
    const char *want2 =
        "{\"type\":3,\"invocationId\":\"2\",\"error\":\"nope\"}\x1e"
        "{\"type\":3,\"invocationId\":\"3\",\"error\":\"An unexpected error occurred invoking "
        "'crash' on the server.\"}\x1e"
        "{\"type\":3,\"invocationId\":\"4\"}\x1e"
        "{\"type\":3,\"invocationId\":\"5\",\"error\":\"Unknown hub method 'x'\"}\x1e"
        "{\"type\":3,\"invocationId\":\"6\",\"result\":null}\x1e";
    assert_int_equal(out.len, strlen(want2));
    assert_memory_equal(out.data, want2, out.len);
    sg_buf_reset(&out);

    /* a Close from the client ends the session; a malformed message is a protocol error */
    feed_str(c, "{\"type\":7}\x1e", &out, &hs, &why, SG_OK);
    assert_true(c->closed);
    sg__client_free(c);

    c = new_client("c2", NULL, "json");
    feed_str(c, "{\"protocol\":\"json\",\"version\":1}\x1e{\"type\":1,\"target\":5}\x1e", &out, &hs,
             &why, SG_EPROTO);
    assert_non_null(why);
    assert_true(c->closed);
    sg__client_free(c);
    sg_buf_free(&out);
}

static void test_handshake_refused(void **st)
{
    (void)st;
    sg_buf out;
    sg_buf_init(&out, 0);
    int hs = 0;
    const char *why = NULL;
    sg__client *c = new_client("c1", NULL, NULL);
    feed_str(c, "{\"protocol\":\"xml\",\"version\":1}\x1e", &out, &hs, &why, SG_EPROTO);
    assert_int_equal(hs, 0);
    assert_non_null(strstr(out.data, "Requested protocol 'xml' is not available."));
    assert_non_null(strstr(why, "xml"));
    sg__client_free(c);
    sg_buf_reset(&out);
    c = new_client("c2", NULL, NULL);
    feed_str(c, "not json\x1e", &out, &hs, &why, SG_EPROTO);
    assert_true(out.len > 0 && out.data[out.len - 1] == 0x1e);
    sg__client_free(c);
    sg_buf_free(&out);
}

static void test_msgpack_session(void **st)
{
    (void)st;
    sg__client *c = new_client("c1", "bob", "messagepack");
    sg_buf in, out;
    sg_buf_init(&in, 0);
    sg_buf_init(&out, 0);
    int hs = 0;
    const char *why = NULL;
    sg_buf_append_str(&in, "{\"protocol\":\"messagepack\",\"version\":1}\x1e");
    sg_hub_msg m;
    sg_hub_msg_init(&m);
    m.type = SG_HUB_INVOCATION;
    m.invocation_id = "7";
    m.target = "echo";
    m.arguments = json_pack("[i]", 42);
    assert_int_equal(sg_hub_write(SG_HUB_PROTO_MSGPACK, &m, &in), SG_OK);
    json_decref(m.arguments);
    /* one byte at a time */
    for (size_t i = 0; i < in.len; i++)
        assert_int_equal(
            sg__client_feed(c, (const uint8_t *)in.data + i, 1, dispatch, NULL, &out, &hs, &why),
            SG_OK);
    assert_true(c->handshaken);
    assert_int_equal(c->protocol, SG_HUB_PROTO_MSGPACK);
    assert_memory_equal(out.data, "{}\x1e", 3);
    sg_hub_msg r;
    sg_hub_msg_init(&r);
    size_t used = 0;
    assert_int_equal(
        sg_hub_parse(SG_HUB_PROTO_MSGPACK, out.data + 3, out.len - 3, NULL, &r, &used, NULL),
        SG_OK);
    assert_int_equal(used, out.len - 3);
    assert_int_equal(r.type, SG_HUB_COMPLETION);
    assert_string_equal(r.invocation_id, "7");
    assert_int_equal(r.completion, SG_HUB_COMPLETION_RESULT);
    assert_int_equal(json_integer_value(r.result), 42);
    sg_hub_msg_clear(&r);
    /* ping and close frames in the client's protocol */
    sg_buf_reset(&out);
    assert_int_equal(sg__client_write_ping(c, &out), SG_OK);
    assert_int_equal(out.len, 3);
    assert_memory_equal(out.data, sg_hub_msgpack_ping, 3);
    sg_buf_reset(&out);
    assert_int_equal(sg__client_write_close(c, "bye", &out), SG_OK);
    assert_int_equal(sg_hub_parse(SG_HUB_PROTO_MSGPACK, out.data, out.len, NULL, &r, &used, NULL),
                     SG_OK);
    assert_int_equal(r.type, SG_HUB_CLOSE);
    assert_string_equal(r.error, "bye");
    sg_hub_msg_clear(&r);
    sg__client_free(c);
    sg_buf_free(&in);
    sg_buf_free(&out);
}

static void test_oversized(void **st)
{
    (void)st;
    sg__client *c = new_client("c1", NULL, "json");
    sg_buf out;
    sg_buf_init(&out, 0);
    int hs = 0;
    const char *why = NULL;
    feed_str(c, "{\"protocol\":\"json\",\"version\":1}\x1e", &out, &hs, &why, SG_OK);
    size_t n = SG__CLIENT_MAX_MESSAGE + 100;
    char *big = sg_malloc(n);
    memset(big, ' ', n);
    int rc = sg__client_feed(c, (const uint8_t *)big, n, dispatch, NULL, &out, &hs, &why);
    assert_true(rc == SG_ETOOBIG);
    assert_true(c->closed);
    sg_free(big);
    sg__client_free(c);
    sg_buf_free(&out);
}

static void test_helpers(void **st)
{
    (void)st;
    sg_buf b;
    sg_buf_init(&b, 0);
    assert_int_equal(
        sg__negotiate_url("http://h:1/client/?hub=chat", "chat", "negotiateVersion=1&x=y", &b),
        SG_OK);
    assert_string_equal(b.data,
                        "http://h:1/client/?hub=chat&asrs.op=%2Fchat&negotiateVersion=1&x=y");
    sg_buf_reset(&b);
    assert_int_equal(sg__negotiate_url("http://h/client/?hub=chat", "Chat", "", &b), SG_OK);
    assert_string_equal(b.data, "http://h/client/?hub=chat&asrs.op=%2FChat");
    sg_buf_free(&b);

    char t[512];
    sg__refusal_text("{\"code\":\"Unauthorized\",\"message\":\"bad\",\"hint\":\"use the key\"}", t,
                     sizeof t);
    assert_string_equal(t, "code=\"Unauthorized\" message=\"bad\" hint=\"use the key\"");
    sg__refusal_text("{\"error\":{\"message\":\"m\"}}", t, sizeof t);
    assert_string_equal(t, "message=\"m\"");
    sg__refusal_text("plain\ntext", t, sizeof t);
    assert_string_equal(t, "body=\"plain text\"");
    sg__refusal_text("", t, sizeof t);
    assert_string_equal(t, "");

    assert_int_equal(sg__backoff_ms(0, 30000, 0), 1000);
    assert_int_equal(sg__backoff_ms(1, 30000, 0), 2000);
    assert_int_equal(sg__backoff_ms(4, 30000, 0), 16000);
    assert_int_equal(sg__backoff_ms(5, 30000, 0), 30000);
    assert_int_equal(sg__backoff_ms(40, 30000, 0), 30000);
    for (int i = 0; i < 50; i++) {
        unsigned d = sg__backoff_ms(2, 30000, 20);
        assert_true(d >= 3200 && d <= 4800);
    }
}

static void test_wsclient_url(void **st)
{
    (void)st;
    char host[64], path[128];
    int tls, port;
    assert_int_equal(sg_wsclient_parse_url("ws://127.0.0.1:8888/server/?hub=chat&cid=1", &tls, host,
                                           sizeof host, &port, path, sizeof path),
                     SG_OK);
    assert_int_equal(tls, 0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 8888);
    assert_string_equal(path, "/server/?hub=chat&cid=1");
    assert_int_equal(sg_wsclient_parse_url("wss://x.service.signalr.net?a=b#frag", &tls, host,
                                           sizeof host, &port, path, sizeof path),
                     SG_OK);
    assert_int_equal(tls, 1);
    assert_int_equal(port, 443);
    assert_string_equal(path, "/?a=b");
    assert_int_equal(sg_wsclient_parse_url("https://[::1]:9/p", &tls, host, sizeof host, &port,
                                           path, sizeof path),
                     SG_OK);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 9);
    assert_int_equal(
        sg_wsclient_parse_url("http://h", &tls, host, sizeof host, &port, path, sizeof path),
        SG_OK);
    assert_string_equal(path, "/");
    assert_int_equal(port, 80);
    const char *bad[] = {"ftp://h/",  "ws://",      "ws://h:0/", "ws://h:70000/",
                         "ws://u@h/", "ws://[::1/", "ws://h:x/"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(
            sg_wsclient_parse_url(bad[i], &tls, host, sizeof host, &port, path, sizeof path),
            SG_EINVAL);
    /* RFC 6455 §1.3 example */
    char acc[64];
    assert_int_equal(sg_wsclient_accept_key("dGhlIHNhbXBsZSBub25jZQ==", acc, sizeof acc), SG_OK);
    assert_string_equal(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

static void test_options(void **st)
{
    (void)st;
    sg_server *s = NULL;
    char msg[256];
    sg_server_options o;
    memset(&o, 0, sizeof o);
    o.size = sizeof o;
    assert_int_equal(sg_server_new(NULL, &o, &s, msg, sizeof msg), SG_EINVAL);
    assert_non_null(strstr(msg, "hub"));
    o.hub = "chat";
    assert_int_equal(sg_server_new(NULL, &o, &s, msg, sizeof msg), SG_EINVAL);
    assert_non_null(strstr(msg, "endpoint"));
    o.hub = "bad hub";
    o.connection_string = "Endpoint=http://127.0.0.1:1;AccessKey=k;Version=1.0;";
    assert_int_equal(sg_server_new(NULL, &o, &s, msg, sizeof msg), SG_EINVAL);
    o.hub = "chat";
    o.connection_string = "Endpoint=nope;AccessKey=k";
    assert_int_equal(sg_server_new(NULL, &o, &s, msg, sizeof msg), SG_EINVAL);
    assert_true(msg[0] != 0);
    o.connection_string = "Endpoint=http://127.0.0.1:1;AccessKey=k;Version=1.0;";
    assert_int_equal(sg_server_new(NULL, &o, &s, msg, sizeof msg), SG_OK);
    assert_int_equal(sg_server_add_method(s, "echo", (sg_hub_method_fn)dispatch, NULL), SG_OK);
    assert_int_equal(sg_server_add_method(s, "ECHO", (sg_hub_method_fn)dispatch, NULL), SG_EEXIST);
    assert_int_equal(sg_server_connected(s), 0);
    /* no live connection: sends fail with SG_ECLOSED, bad arguments with SG_EINVAL */
    assert_int_equal(sg_server_send_all(s, "t", "[1]", NULL), SG_ECLOSED);
    assert_int_equal(sg_server_send_all(s, "t", "{}", NULL), SG_EINVAL);
    assert_int_equal(sg_server_send_group(s, "", "t", NULL, NULL), SG_EINVAL);
    sg_server_free(s);
}

/* OOM: every allocation of a session run failing in turn never crashes or leaks. */
static void test_oom(void **st)
{
    (void)st;
    const char *in = "{\"protocol\":\"json\",\"version\":1}\x1e{\"type\":1,\"invocationId\":\"1\","
                     "\"target\":\"echo\",\"arguments\":[[1,2,{\"a\":\"b\"}]]}\x1e";
    for (long k = 0; k < 200; k++) {
        long live = sg_alloc_live();
        sg_alloc_fail_after(k);
        sg__client *c = new_client("c1", "u", "json");
        if (c) {
            sg_buf out;
            sg_buf_init(&out, 0);
            int hs;
            const char *why;
            (void)sg__client_feed(c, (const uint8_t *)in, strlen(in), dispatch, NULL, &out, &hs,
                                  &why);
            sg_buf_free(&out);
            sg__client_free(c);
        }
        sg_alloc_fail_after(-1);
        assert_int_equal(sg_alloc_live(), live);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_claims_user),
        cmocka_unit_test(test_json_session),
        cmocka_unit_test(test_handshake_refused),
        cmocka_unit_test(test_msgpack_session),
        cmocka_unit_test(test_oversized),
        cmocka_unit_test(test_helpers),
        cmocka_unit_test(test_wsclient_url),
        cmocka_unit_test(test_options),
        cmocka_unit_test(test_oom),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
