/* Fan-out frames: built once per message and protocol, shared by reference; SSE framing. */
#include "signalr/sr_internal.h"

#include "proto/hubmsg.h"
#include "sg_alloc.h"
#include "sg_err.h"

#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

static void test_frames_built_once(void **st)
{
    (void)st;
    sr_msg m;
    memset(&m, 0, sizeof m);
    json_t *args = json_pack("[s, i]", "hello", 42);
    assert_int_equal(sg_hub_invocation_encode("msg", args, NULL, &m.payload[SR_PROTO_JSON],
                                              &m.payload[SR_PROTO_MSGPACK]),
                     SG_OK);
    json_decref(args);
    long live = sg_alloc_live();
    sg_rcbuf *w1 = sr_msg_ws(&m, SR_PROTO_JSON);
    assert_non_null(w1);
    long after_first = sg_alloc_live();
    for (int i = 0; i < 1000; i++)
        assert_ptr_equal(sr_msg_ws(&m, SR_PROTO_JSON), w1); /* no allocation per recipient */
    assert_int_equal(sg_alloc_live(), after_first);
    assert_true(after_first - live <= 1);
    /* text frame: FIN + opcode 1, unmasked, payload is the framed JSON */
    assert_int_equal((unsigned char)w1->data[0], 0x81);
    sg_rcbuf *w2 = sr_msg_ws(&m, SR_PROTO_MSGPACK);
    assert_non_null(w2);
    assert_ptr_not_equal(w1, w2);
    assert_int_equal((unsigned char)w2->data[0], 0x82);
    sg_rcbuf *e = sr_msg_sse(&m);
    assert_non_null(e);
    assert_ptr_equal(sr_msg_sse(&m), e);
    assert_true(e->len > 8);
    assert_memory_equal(e->data, "data: {", 7);
    assert_memory_equal(e->data + e->len - 3, "\x1e\n\n", 3);
    sr_msg_release(&m);
    assert_int_equal(sg_alloc_live(), live - 2); /* the two payloads went too */
}

static void test_sse_multiline(void **st)
{
    (void)st;
    sr_msg m;
    memset(&m, 0, sizeof m);
    const char *raw = "{\"type\":1,\n\"target\":\"x\",\"arguments\":[]}\x1e";
    m.payload[SR_PROTO_JSON] = sg_rcbuf_from(raw, strlen(raw));
    sg_rcbuf *e = sr_msg_sse(&m);
    assert_non_null(e);
    const char *want = "data: {\"type\":1,\ndata: \"target\":\"x\",\"arguments\":[]}\x1e\n\n";
    assert_int_equal(e->len, strlen(want));
    assert_memory_equal(e->data, want, e->len);
    assert_null(sr_msg_ws(&m, SR_PROTO_MSGPACK)); /* no payload for that protocol */
    sr_msg_release(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frames_built_once),
        cmocka_unit_test(test_sse_multiline),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
