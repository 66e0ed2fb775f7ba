/* libFuzzer target: the base layer's request-input helpers (src/base/) that every data-plane
 * and cloud route uses on peer bytes: query strings (sg_query_next / sg_query_get: negotiate's
 * hub / negotiateVersion / useStatefulReconnect, the SSE / long-polling id, access_token,
 * application, excluded, ttl, ...), percent-decoding (sg_url_decode, form and path), the
 * strict integer parsers and base64 / base64url decoding, plus sg_utf8_valid.
 * Checks: query pairs partition the input in order and never overlap; a decoded string is
 * NUL-terminated, as long as reported and no longer than the input; url_encode(decode(x))
 * decodes back to the same bytes; a parsed integer prints and parses back to the same value;
 * base64 decode lengths fit the documented bound. */
#include "sg_alloc.h"
#include "sg_b64.h"
#include "sg_buf.h"
#include "sg_err.h"
#include "sg_str.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void fuzz_pairs(sg_slice q)
{
    size_t pos = 0, last_end = 0, guard = 0;
    sg_slice k, v;
    while (sg_query_next(q, &pos, &k, &v)) {
        if (++guard > q.n + 1)
            abort(); /* no progress */
        if (k.p < q.p + last_end || k.p + k.n > q.p + q.n || (v.n && v.p + v.n > q.p + q.n) ||
            (v.n && v.p < k.p + k.n))
            abort();
        last_end = (size_t)((v.n ? v.p + v.n : k.p + k.n) - q.p);
        if (pos > q.n)
            abort();
    }
    static const char *const keys[] = {"hub",          "id",       "negotiateVersion",
                                       "access_token", "excluded", ""};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        char *s = sg_query_get(q, keys[i]);
        sg_free(s);
    }
}

static void fuzz_decode(const char *p, size_t n, int form)
{
    size_t dl = 0;
    char *d = sg_url_decode(p, n, form, &dl);
    if (!d)
        return;
    if (dl > n || d[dl] != 0)
        abort();
    sg_buf b;
    sg_buf_init(&b, 0);
    if (sg_url_encode_append(&b, d, dl) == SG_OK) {
        size_t rl = 0;
        char *r = sg_url_decode(b.data ? b.data : "", b.len, form, &rl);
        if (!r || rl != dl || memcmp(r, d, dl))
            abort();
        sg_free(r);
    }
    sg_buf_free(&b);
    sg_free(d);
}

static void fuzz_ints(const char *p, size_t n)
{
    int64_t i;
    uint64_t u;
    char out[32];
    if (sg_parse_i64(p, n, &i) == SG_OK) {
        sg_snprintf(out, sizeof out, "%" PRId64, i);
        int64_t j;
        if (sg_parse_i64(out, strlen(out), &j) != SG_OK || i != j)
            abort();
    }
    if (sg_parse_u64(p, n, &u) == SG_OK) {
        sg_snprintf(out, sizeof out, "%" PRIu64, u);
        uint64_t j;
        if (sg_parse_u64(out, strlen(out), &j) != SG_OK || u != j)
            abort();
    }
}

static void fuzz_b64(const char *p, size_t n)
{
    size_t cap = 3 * (n / 4) + 3;
    unsigned char *out = sg_malloc(cap);
    if (!out)
        return;
    for (int url = 0; url < 2; url++) {
        long dn = url ? sg_b64url_decode(p, n, out, cap) : sg_b64_decode(p, n, out, cap);
        if (dn > (long)cap)
            abort();
        if (dn >= 0)
            (void)sg_utf8_valid(out, (size_t)dn);
    }
    sg_free(out);
    (void)sg_utf8_valid((const unsigned char *)p, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 16384)
        return 0;
    const char *p = (const char *)data;
    sg_slice q = {p, size};
    fuzz_pairs(q);
    fuzz_decode(p, size, 0);
    fuzz_decode(p, size, 1);
    fuzz_ints(p, size);
    fuzz_b64(p, size);
    return 0;
}
