/* WebSocket client: the upgrade answer's head parser (sg_wsclient_parse_head), pure. */
#include "net/wsclient.h"
#include "sg_err.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#define KEY "dGhlIHNhbXBsZSBub25jZQ=="
#define ACC "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

static int parse(const char *s, sg_wsclient_head *h, const char **why)
{
    *why = NULL;
    return sg_wsclient_parse_head(s, strlen(s), KEY, h, why);
}

static void test_accepted(void **st)
{
    (void)st;
    sg_wsclient_head h;
    const char *why;
    const char *ok = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     "Sec-WebSocket-Accept: " ACC "\r\n\r\n\x81\x02hi";
    assert_int_equal(parse(ok, &h, &why), SG_OK);
    assert_int_equal(h.status, 101);
    assert_true(h.accepted);
    assert_int_equal(h.len, strlen(ok) - 4);
    assert_int_equal(h.content_length, SIZE_MAX);
    /* case-insensitive names and value, trailing blanks */
    assert_int_equal(parse("HTTP/1.1 101 x\r\nupgrade: WebSocket \r\nsec-websocket-accept:" ACC
                           "\t\r\n\r\n",
                           &h, &why),
                     SG_OK);
    assert_true(h.accepted);
}

static void test_refused(void **st)
{
    (void)st;
    sg_wsclient_head h;
    const char *why;
    assert_int_equal(parse("HTTP/1.1 101 x\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: "
                           "AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n",
                           &h, &why),
                     SG_OK);
    assert_false(h.accepted);
    assert_int_equal(parse("HTTP/1.1 101 x\r\nSec-WebSocket-Accept: " ACC "\r\n\r\n", &h, &why),
                     SG_OK);
    assert_false(h.accepted); /* no Upgrade */
    assert_int_equal(parse("HTTP/1.1 401 Unauthorized\r\nContent-Length: 12\r\n\r\n{}", &h, &why),
                     SG_OK);
    assert_int_equal(h.status, 401);
    assert_false(h.accepted);
    assert_int_equal(h.content_length, 12);
    assert_int_equal(parse("HTTP/1.1 500 x\r\nContent-Length: -1\r\n\r\n", &h, &why), SG_OK);
    assert_int_equal(h.content_length, SIZE_MAX);
}

static void test_errors(void **st)
{
    (void)st;
    sg_wsclient_head h;
    const char *why;
    assert_int_equal(parse("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n", &h, &why),
                     SG_EAGAIN);
    assert_int_equal(parse("", &h, &why), SG_EAGAIN);
    assert_int_equal(parse("SSH-2.0-x\r\n\r\n", &h, &why), SG_EPROTO);
    assert_string_equal(why, "not an HTTP answer");
    assert_int_equal(parse("HTTP/1.1 1x1 y\r\n\r\n", &h, &why), SG_EPROTO);
    assert_string_equal(why, "bad HTTP status line");
    char big[17000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = 0;
    assert_int_equal(parse(big, &h, &why), SG_ETOOBIG);
    assert_non_null(why);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepted),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
