/* libFuzzer target: connection-string parser. */
#include "proto/connstr.h"
#include "sg_alloc.h"
#include "sg_err.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = sg_strndup((const char *)data, size);
    if (!s)
        return 0;
    sg_connstr c;
    char err[256];
    if (sg_connstr_parse(s, &c, err, sizeof err) == SG_OK) {
        if (!c.endpoint || !c.scheme || !c.host || !c.audience_base || c.port <= 0 ||
            c.port > 65535)
            abort();
        if (c.cred == SG_CRED_ACCESS_KEY && !c.access_key)
            abort();
        sg_connstr_free(&c);
    } else if (err[0] == 0) {
        abort(); /* every failure explains itself */
    }
    sg_free(s);
    return 0;
}
