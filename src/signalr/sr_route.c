/* sr_route.c — REST route parsing: 2022-06-01 routes, v1 routes and the emulator's aliases. */
#include "sr_route.h"

#include "sg_alloc.h"
#include "sg_err.h"
#include "sg_str.h"

#include <string.h>

#define MAX_SEGS 8

const char *sr_route_name(sr_route_kind k)
{
    static const char *names[] = {
        "none",
        "health",
        "hub",
        "hub-send",
        "hub-close",
        "connection",
        "connection-send",
        "connection-groups",
        "group",
        "group-send",
        "group-close",
        "group-connection",
        "user",
        "user-send",
        "user-close",
        "user-groups",
        "user-group",
    };
    if ((unsigned)k < sizeof(names) / sizeof(names[0]))
        return names[k];
    return "?";
}

void sr_route_free(sr_route *r)
{
    sg_free(r->hub);
    sg_free(r->conn);
    sg_free(r->group);
    sg_free(r->user);
    memset(r, 0, sizeof(*r));
}

static int seg_is(sg_slice s, const char *lit)
{
    return sg_slice_eq(s, lit);
}

static int dup_seg(sg_slice s, char **out)
{
    size_t n = 0;
    /* path segments: '+' is literal (form = 0) */
    char *d = sg_url_decode(s.p, s.n, 0, &n);
    if (!d)
        return SG_EINVAL;
    if (n == 0 || memchr(d, 0, n)) {
        sg_free(d);
        return SG_EINVAL;
    }
    *out = d;
    return SG_OK;
}

int sr_route_parse(sg_slice path, sr_route *out)
{
    memset(out, 0, sizeof(*out));
    sg_slice seg[MAX_SEGS];
    size_t nseg = 0;
    size_t i = 0;
    if (path.n == 0 || path.p[0] != '/')
        return SG_ENOTFOUND;
    /* split on '/', ignoring one trailing slash */
    size_t end = path.n;
    if (end > 1 && path.p[end - 1] == '/')
        end--;
    i = 1;
    while (i <= end) {
        size_t j = i;
        while (j < end && path.p[j] != '/')
            j++;
        if (nseg == MAX_SEGS)
            return SG_ENOTFOUND;
        seg[nseg].p = path.p + i;
        seg[nseg].n = j - i;
        nseg++;
        i = j + 1;
    }
    if (nseg < 2 || !seg_is(seg[0], "api"))
        return SG_ENOTFOUND;
    size_t k = 1;
    if (seg_is(seg[k], "v1")) {
        out->v1 = 1;
        k++;
    }
    if (k >= nseg)
        return SG_ENOTFOUND;
    if (seg_is(seg[k], "health") && k + 1 == nseg) {
        out->kind = SR_R_HEALTH;
        return SG_OK;
    }
    if (!seg_is(seg[k], "hubs") || k + 1 >= nseg)
        return SG_ENOTFOUND;
    k++;
    for (size_t t = k; t < nseg; t++) {
        if (seg[t].n == 0)
            return SG_EINVAL;
    }
    int rc = dup_seg(seg[k], &out->hub);
    if (rc != SG_OK)
        goto fail;
    k++;
    size_t rest = nseg - k;
    sg_slice *s = seg + k;
    rc = SG_ENOTFOUND;
    if (rest == 0) {
        out->kind = SR_R_HUB;
        return SG_OK;
    }
    if (rest == 1) {
        if (seg_is(s[0], ":send"))
            out->kind = SR_R_HUB_SEND;
        else if (seg_is(s[0], ":closeConnections"))
            out->kind = SR_R_HUB_CLOSE;
        else
            goto fail;
        return SG_OK;
    }
    char **first = NULL;
    sr_route_kind base, send, close, sub_groups;
    if (seg_is(s[0], "connections")) {
        first = &out->conn;
        base = SR_R_CONN;
        send = SR_R_CONN_SEND;
        close = SR_R_NONE;
        sub_groups = SR_R_CONN_GROUPS;
    } else if (seg_is(s[0], "groups")) {
        first = &out->group;
        base = SR_R_GROUP;
        send = SR_R_GROUP_SEND;
        close = SR_R_GROUP_CLOSE;
        sub_groups = SR_R_NONE;
    } else if (seg_is(s[0], "users")) {
        first = &out->user;
        base = SR_R_USER;
        send = SR_R_USER_SEND;
        close = SR_R_USER_CLOSE;
        sub_groups = SR_R_USER_GROUPS;
    } else {
        goto fail;
    }
    rc = dup_seg(s[1], first);
    if (rc != SG_OK)
        goto fail;
    rc = SG_ENOTFOUND;
    if (rest == 2) {
        out->kind = base;
        return SG_OK;
    }
    if (rest == 3) {
        if (seg_is(s[2], ":send"))
            out->kind = send;
        else if (seg_is(s[2], ":closeConnections") && close != SR_R_NONE)
            out->kind = close;
        else if (seg_is(s[2], "groups") && sub_groups != SR_R_NONE)
            out->kind = sub_groups;
        else
            goto fail;
        return SG_OK;
    }
    if (rest == 4) {
        char **second = NULL;
        if (base == SR_R_CONN && seg_is(s[2], "groups")) {
            second = &out->group;
            out->kind = SR_R_GROUP_CONN;
        } else if (base == SR_R_GROUP && seg_is(s[2], "connections")) {
            second = &out->conn;
            out->kind = SR_R_GROUP_CONN;
        } else if (base == SR_R_GROUP && seg_is(s[2], "users")) {
            second = &out->user;
            out->kind = SR_R_USER_GROUP;
        } else if (base == SR_R_USER && seg_is(s[2], "groups")) {
            second = &out->group;
            out->kind = SR_R_USER_GROUP;
        } else {
            goto fail;
        }
        rc = dup_seg(s[3], second);
        if (rc != SG_OK)
            goto fail;
        return SG_OK;
    }
fail:
    sr_route_free(out);
    return rc;
}
