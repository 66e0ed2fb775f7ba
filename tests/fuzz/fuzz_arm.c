/* libFuzzer target: the management API's request parsing (src/cloud/arm.c) without a store or
 * a socket: sg_arm_claims (which paths the ARM handler takes), sg__arm_split_path (percent-
 * decoding into at most ARM_MAX_SEGS segments), sg__arm_join_segs over every segment range and
 * sg__arm_filter_eq ($filter "<field> eq 'X'", also as %24filter) into small and large
 * buffers. Input: path \n query (both raw, as on the request line). The route handlers behind
 * them need the store and the HTTP answer path and are exercised by the unit and e2e tests.
 * Checks: segments are non-empty, contain no '/', and join back to a path that splits into the
 * same segments; filter values fit their buffer and contain no quote. */
#include "cloud/arm.h"

#include "sg_alloc.h"
#include "sg_err.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check_filter(arm_ctx *a, const char *field, size_t cap)
{
    char out[300];
    memset(out, 'x', sizeof out);
    sg__arm_filter_eq(a, field, out, cap);
    size_t n = strnlen(out, cap);
    if (n >= cap || memchr(out, '\'', n))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 8192)
        return 0;
    const char *p = (const char *)data;
    const char *nl = memchr(p, '\n', size);
    sg_http_req req;
    memset(&req, 0, sizeof req);
    req.method = SG_HTTP_GET;
    req.path.p = p;
    req.path.n = nl ? (size_t)(nl - p) : size;
    req.query.p = nl ? nl + 1 : p + size;
    req.query.n = nl ? size - req.path.n - 1 : 0;
    (void)sg_arm_claims(&req);

    arm_ctx a;
    memset(&a, 0, sizeof a);
    a.req = &req;
    int rc = sg__arm_split_path(&a);
    if (rc == SG_OK) {
        if (a.n > ARM_MAX_SEGS)
            abort();
        for (size_t i = 0; i < a.n; i++)
            if (!a.seg[i][0] || strchr(a.seg[i], '/'))
                abort();
        char joined[2048];
        if (sg__arm_join_segs(&a, 0, a.n, joined, sizeof joined) == SG_OK) {
            /* re-split the decoded join (no second decoding: compare segment by segment) */
            size_t k = 0;
            for (char *s = joined; *s;) {
                while (*s == '/')
                    s++;
                if (!*s)
                    break;
                size_t l = strcspn(s, "/");
                if (k >= a.n || strlen(a.seg[k]) != l || memcmp(a.seg[k], s, l))
                    abort();
                k++;
                s += l;
            }
            if (k != a.n)
                abort();
        }
        for (size_t from = 0; from <= a.n && from < 4; from++) {
            char small[16];
            (void)sg__arm_join_segs(&a, from, a.n, small, sizeof small);
        }
    } else if (rc != SG_EINVAL && rc != SG_ETOOBIG) {
        abort();
    }
    check_filter(&a, "roleName", 300);
    check_filter(&a, "principalId", 8);
    sg_free(a.pathbuf);
    return 0;
}
