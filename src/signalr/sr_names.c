/* sr_names.c — hub/group/user name rules (swagger regexes) and hub keys. Pure. */
#include "sr_internal.h"

#include "sg_alloc.h"
#include "sg_err.h"
#include "sg_str.h"

#include <ctype.h>
#include <string.h>

int sr_name_valid_hub(const char *s, size_t n)
{
    if (n < 1 || n > 128)
        return 0;
    if (!isalpha((unsigned char)s[0]) || (unsigned char)s[0] > 127)
        return 0;
    for (size_t i = 1; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c > 127)
            return 0;
        if (isalnum(c) || c == '_' || c == '`' || c == ',' || c == '.' || c == '[' || c == ']')
            continue;
        return 0;
    }
    return 1;
}

int sr_name_valid_group(const char *s, size_t n)
{
    if (n < 1 || n > 1024)
        return 0;
    if (memchr(s, 0, n))
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (!isspace((unsigned char)s[i]))
            return 1;
    }
    return 0;
}

int sr_hub_key(const char *hub, const char *app, char *out, size_t outlen)
{
    if (!hub || !sr_name_valid_hub(hub, strlen(hub)))
        return SG_EINVAL;
    if (app && *app && !sr_name_valid_hub(app, strlen(app)))
        return SG_EINVAL;
    size_t need = strlen(hub) + (app && *app ? strlen(app) + 1 : 0) + 1;
    if (need > outlen)
        return SG_EINVAL;
    size_t o = 0;
    if (app && *app) {
        for (const char *p = app; *p; p++)
            out[o++] = (char)tolower((unsigned char)*p);
        out[o++] = '_';
    }
    for (const char *p = hub; *p; p++)
        out[o++] = (char)tolower((unsigned char)*p);
    out[o] = 0;
    return SG_OK;
}

int sr_hub_key_from_query(const sg_http_req *r, char *out, size_t outlen)
{
    char *hub = sg_query_get(r->query, "hub");
    char *app = sg_query_get(r->query, "application");
    int rc = sr_hub_key(hub, app, out, outlen);
    sg_free(hub);
    sg_free(app);
    return rc;
}
