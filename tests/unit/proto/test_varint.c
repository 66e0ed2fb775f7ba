/* Unit tests for proto/varint. */
#include "proto/varint.h"
#include "sg_err.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

static void test_roundtrip(void **st)
{
    (void)st;
    static const uint32_t vals[] = {0,     1,       127,     128,       255,       16383,
                                    16384, 2097151, 2097152, 268435455, 268435456, 0x7fffffff};
    static const size_t lens[] = {1, 1, 1, 2, 2, 2, 3, 3, 4, 4, 5, 5};
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        uint8_t b[5];
        size_t n = sg_varint_encode(vals[i], b);
        assert_int_equal(n, lens[i]);
        assert_int_equal(sg_varint_size(vals[i]), n);
        uint32_t v;
        size_t used;
        assert_int_equal(sg_varint_decode(b, n, &v, &used), SG_OK);
        assert_int_equal(v, vals[i]);
        assert_int_equal(used, n);
        for (size_t k = 0; k < n; k++)
            assert_int_equal(sg_varint_decode(b, k, &v, &used), SG_EAGAIN);
    }
    uint8_t b[5];
    assert_int_equal(sg_varint_encode(0x80000000u, b), 0);
    assert_int_equal(sg_varint_size(0x80000000u), 0);
    /* spec example: 0x80 0x01 = 128 */
    uint8_t e[] = {0x80, 0x01};
    uint32_t v;
    size_t used;
    assert_int_equal(sg_varint_decode(e, 2, &v, &used), SG_OK);
    assert_int_equal(v, 128);
}

static void test_invalid(void **st)
{
    (void)st;
    uint32_t v;
    size_t used;
    uint8_t over[] = {0xff, 0xff, 0xff, 0xff, 0x08}; /* 2^31 */
    assert_int_equal(sg_varint_decode(over, 5, &v, &used), SG_EPROTO);
    uint8_t six[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x01};
    assert_int_equal(sg_varint_decode(six, 6, &v, &used), SG_EPROTO);
    uint8_t nonmin[] = {0x80, 0x00}; /* accepted, like ASP.NET */
    assert_int_equal(sg_varint_decode(nonmin, 2, &v, &used), SG_OK);
    assert_int_equal(v, 0);
}

static void test_frame(void **st)
{
    (void)st;
    uint8_t f[] = {0x02, 0x91, 0x06, 0x01};
    const uint8_t *body;
    size_t bl, fl;
    assert_int_equal(sg_varint_frame(f, 4, 0, &body, &bl, &fl), SG_OK);
    assert_ptr_equal(body, f + 1);
    assert_int_equal(bl, 2);
    assert_int_equal(fl, 3);
    assert_int_equal(sg_varint_frame(f, 2, 0, &body, &bl, &fl), SG_EAGAIN);
    assert_int_equal(sg_varint_frame(f, 4, 1, &body, &bl, &fl), SG_ETOOBIG);
    uint8_t big[] = {0xff, 0xff, 0x7f};
    assert_int_equal(sg_varint_frame(big, 3, 1 << 20, &body, &bl, &fl), SG_ETOOBIG);
    assert_int_equal(sg_varint_frame(big, 3, 0, &body, &bl, &fl), SG_EAGAIN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_roundtrip),
                                       cmocka_unit_test(test_invalid),
                                       cmocka_unit_test(test_frame)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
