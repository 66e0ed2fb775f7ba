/* libFuzzer target: the pure RBAC parsers of src/cloud/rbac.c that see request bytes (role
 * definitions' action patterns and role-assignment scopes come from management API bodies,
 * data actions from data-plane routes): sg_rbac_action_match (case-insensitive glob),
 * sg_rbac_role_allows (JSON arrays of patterns, allowed / denied), sg_rbac_scope_parse and
 * sg_rbac_scope_covers. Input lines: pattern, action, scope A, scope B, then the allowed-actions
 * JSON (the pattern line is the denied list's one entry).
 * Checks: a pattern without '*' matches exactly the case-insensitively equal action; "*"
 * matches everything; a pattern always matches itself; a denied pattern wins; parsed scopes
 * have their names filled in and cover themselves; "/" covers every scope. */
#include "cloud/rbac.h"

#include "sg_alloc.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static char *next_line(char **p)
{
    char *s = *p;
    if (!s)
        return NULL;
    char *nl = strchr(s, '\n');
    if (nl) {
        *nl = 0;
        *p = nl + 1;
    } else {
        *p = NULL;
    }
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 8192)
        return 0;
    char *buf = sg_strndup((const char *)data, size);
    if (!buf)
        return 0;
    char *p = buf;
    const char *pat = next_line(&p), *act = next_line(&p), *sa = next_line(&p), *sb = next_line(&p),
               *allowed = p;
    if (!act)
        act = "";
    int m = sg_rbac_action_match(pat, act);
    if (pat && !strchr(pat, '*') && m != (strcasecmp(pat, act) == 0))
        abort();
    if (!sg_rbac_action_match("*", act) || (pat && !sg_rbac_action_match(pat, pat)))
        abort();
    if (allowed) {
        json_t *d = json_pack("[s]", pat ? pat : "");
        char *dj = d ? json_dumps(d, 0) : NULL;
        if (dj && sg_rbac_role_allows(allowed, dj, act) && m)
            abort(); /* denied wins */
        (void)sg_rbac_role_allows(allowed, NULL, act);
        free(dj); /* lint-ok: jansson allocates with malloc */
        json_decref(d);
    }
    const char *scopes[2] = {sa, sb};
    for (int i = 0; i < 2; i++) {
        const char *s = scopes[i];
        if (!s)
            continue;
        char mg[SG_STORE_NAME_MAX] = "", sub[SG_STORE_GUID_MAX] = "", rg[SG_STORE_NAME_MAX] = "";
        sg_scope_kind k = sg_rbac_scope_parse(s, mg, sub, rg);
        if ((k == SG_SCOPE_MGROUP && !mg[0]) ||
            (k >= SG_SCOPE_SUBSCRIPTION && k <= SG_SCOPE_RESOURCE && !sub[0]) ||
            (k >= SG_SCOPE_RGROUP && k <= SG_SCOPE_RESOURCE && !rg[0]))
            abort();
        if (k != SG_SCOPE_INVALID && (!sg_rbac_scope_covers(s, s) || !sg_rbac_scope_covers("/", s)))
            abort();
    }
    if (sa && sb)
        (void)sg_rbac_scope_covers(sa, sb);
    sg_free(buf);
    return 0;
}
