#include "sg_alloc.h"
#include "sg_b64.h"
#include "sg_buf.h"
#include "sg_err.h"
#include "sg_id.h"
#include "sg_str.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static void test_b64_roundtrip(void **st)
{
    (void)st;
    char enc[64];
    unsigned char dec[64];
    const char *in = "any carnal pleas";
    for (size_t n = 0; n <= strlen(in); n++) {
        long e = sg_b64url_encode(in, n, enc, sizeof enc);
        assert_true(e >= 0);
        assert_null(strchr(enc, '='));
        long d = sg_b64url_decode(enc, (size_t)e, dec, sizeof dec);
        assert_int_equal(d, (long)n);
        assert_memory_equal(dec, in, n);
        e = sg_b64_encode(in, n, enc, sizeof enc);
        assert_int_equal(e % 4, 0);
        d = sg_b64_decode(enc, (size_t)e, dec, sizeof dec);
        assert_int_equal(d, (long)n);
    }
    assert_int_equal(sg_b64_decode("a$bc", 4, dec, sizeof dec), -1);
    assert_int_equal(sg_b64_encode("abc", 3, enc, 4), -1);
}

static void test_buf_limits(void **st)
{
    (void)st;
    sg_buf b;
    sg_buf_init(&b, 8);
    assert_int_equal(sg_buf_append_str(&b, "12345678"), SG_OK);
    assert_int_equal(sg_buf_append_str(&b, "9"), SG_ETOOBIG);
    assert_int_equal(b.len, 8);
    sg_buf_consume(&b, 3);
    assert_string_equal(b.data, "45678");
    assert_int_equal(sg_buf_appendf(&b, "%d", 12), SG_OK);
    assert_string_equal(b.data, "4567812");
    sg_buf_free(&b);
}

static void test_buf_append_file(void **st)
{
    (void)st;
    char path[] = "/tmp/sg-test-file-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    char big[10000];
    memset(big, 'x', sizeof big);
    assert_int_equal(write(fd, big, sizeof big), (ssize_t)sizeof big);
    close(fd);
    int oerr = -1;
    sg_buf b;
    sg_buf_init(&b, 0);
    assert_int_equal(sg_buf_append_str(&b, "<"), SG_OK);
    assert_int_equal(sg_buf_append_file(&b, path, &oerr), SG_OK); /* appended, several chunks */
    assert_int_equal(oerr, 0);
    assert_int_equal(b.len, 1 + sizeof big);
    assert_int_equal(b.data[1 + sizeof big - 1], 'x');
    sg_buf_free(&b);
    sg_buf_init(&b, 4096); /* over the buffer's max: the append's error, not a partial success */
    assert_int_not_equal(sg_buf_append_file(&b, path, &oerr), SG_OK);
    assert_int_equal(oerr, 0);
    sg_buf_free(&b);
    unlink(path);
    assert_int_equal(sg_buf_append_file(&b, path, &oerr), SG_EIO); /* gone: fopen's errno */
    assert_int_equal(oerr, ENOENT);
    sg_buf_free(&b);
}

static void test_query_and_numbers(void **st)
{
    (void)st;
    sg_slice q = SG_SLICE_LIT("hub=Chat&id=a%2Bb&&x&excluded=1&excluded=2");
    char *hub = sg_query_get(q, "hub");
    char *id = sg_query_get(q, "id");
    assert_string_equal(hub, "Chat");
    assert_string_equal(id, "a+b");
    assert_null(sg_query_get(q, "nope"));
    sg_free(hub);
    sg_free(id);
    assert_null(sg_url_decode("%4", 2, 0, NULL));
    assert_null(sg_url_decode("%zz", 3, 0, NULL));
    int64_t v;
    assert_int_equal(sg_parse_i64("-42", 3, &v), SG_OK);
    assert_int_equal(v, -42);
    assert_int_equal(sg_parse_i64("99999999999999999999", 20, &v), SG_EINVAL);
    assert_int_equal(sg_parse_i64("4x", 2, &v), SG_EINVAL);
}

static void test_utf8_and_ids(void **st)
{
    (void)st;
    assert_true(sg_utf8_valid((const unsigned char *)"h\xc3\xa9llo", 6));
    assert_false(sg_utf8_valid((const unsigned char *)"\xc0\xaf", 2));       /* overlong */
    assert_false(sg_utf8_valid((const unsigned char *)"\xed\xa0\x80", 3));   /* surrogate */
    assert_false(sg_utf8_valid((const unsigned char *)"\xe2\x82", 2));       /* truncated */
    char u[37];
    assert_int_equal(sg_uuid4(u), SG_OK);
    assert_int_equal(strlen(u), 36);
    assert_int_equal(u[14], '4');
    assert_true(sg_ct_eq("abc", 3, "abc", 3));
    assert_false(sg_ct_eq("abc", 3, "abd", 3));
}

static void test_alloc_failure(void **st)
{
    (void)st;
    sg_alloc_fail_after(0);
    assert_null(sg_malloc(10));
    assert_null(sg_strdup("x"));
    sg_alloc_fail_after(-1);
    char *p = sg_strdup("x");
    assert_non_null(p);
    sg_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_b64_roundtrip),     cmocka_unit_test(test_buf_limits),
        cmocka_unit_test(test_query_and_numbers), cmocka_unit_test(test_utf8_and_ids),
        cmocka_unit_test(test_alloc_failure),     cmocka_unit_test(test_buf_append_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
