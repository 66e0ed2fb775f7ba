/* rbac.c — built-in roles, action/scope matching, and the explained authorization decision. */
#include "cloud/rbac.h"

#include "sg_alloc.h"
#include "sg_err.h"
#include "sg_str.h"

#include <ctype.h>
#include <jansson.h>
#include <string.h>
#include <strings.h>

/* ---- built-in roles -------------------------------------------------------------------- */

typedef struct builtin_role {
    const char *id;
    const char *name;
    const char *description;
    const char *actions;
    const char *data_actions;
} builtin_role;

static const builtin_role builtins[] = {
    {SG_ROLE_SIGNALR_APP_SERVER, "SignalR App Server",
     "Lets your app server access Azure SignalR Service with AAD auth options.", "[]",
     "[\"Microsoft.SignalRService/SignalR/auth/accessKey/action\","
     "\"Microsoft.SignalRService/SignalR/serverConnection/write\","
     "\"Microsoft.SignalRService/SignalR/clientConnection/write\"]"},
    {SG_ROLE_SIGNALR_REST_OWNER, "SignalR REST API Owner",
     "Full access to Azure SignalR Service REST APIs", "[]",
     "[\"Microsoft.SignalRService/SignalR/auth/clientToken/action\","
     "\"Microsoft.SignalRService/SignalR/hub/*\",\"Microsoft.SignalRService/SignalR/group/*\","
     "\"Microsoft.SignalRService/SignalR/clientConnection/*\","
     "\"Microsoft.SignalRService/SignalR/user/*\"]"},
    {SG_ROLE_SIGNALR_REST_READER, "SignalR REST API Reader",
     "Read-only access to Azure SignalR Service REST APIs", "[]",
     "[\"Microsoft.SignalRService/SignalR/group/read\","
     "\"Microsoft.SignalRService/SignalR/clientConnection/read\","
     "\"Microsoft.SignalRService/SignalR/user/read\"]"},
    {SG_ROLE_SIGNALR_SERVICE_OWNER, "SignalR Service Owner",
     "Full access to Azure SignalR Service REST APIs", "[]",
     "[\"Microsoft.SignalRService/SignalR/*\"]"},
    {SG_ROLE_SIGNALR_ACCESSKEY_READER, "SignalR AccessKey Reader",
     "Read SignalR Service Access Keys",
     "[\"Microsoft.SignalRService/*/read\",\"Microsoft.SignalRService/SignalR/listkeys/action\","
     "\"Microsoft.Authorization/*/read\",\"Microsoft.Insights/alertRules/*\","
     "\"Microsoft.Resources/deployments/*\","
     "\"Microsoft.Resources/subscriptions/resourceGroups/read\",\"Microsoft.Support/*\"]",
     "[]"},
    {SG_ROLE_SIGNALR_CONTRIBUTOR, "SignalR/Web PubSub Contributor",
     "Create, Read, Update, and Delete SignalR service resources",
     "[\"Microsoft.SignalRService/*\",\"Microsoft.Authorization/*/read\","
     "\"Microsoft.Insights/alertRules/*\",\"Microsoft.Resources/deployments/*\","
     "\"Microsoft.Resources/subscriptions/resourceGroups/read\",\"Microsoft.Support/*\"]",
     "[]"},
    {SG_ROLE_OWNER, "Owner",
     "Grants full access to manage all resources, including the ability to assign roles in "
     "Azure RBAC.",
     "[\"*\"]", "[]"},
    {SG_ROLE_CONTRIBUTOR, "Contributor",
     "Grants full access to manage all resources, but does not allow you to assign roles in "
     "Azure RBAC.",
     "[\"*\"]", "[]"},
    {SG_ROLE_READER, "Reader", "View all resources, but does not allow you to make any changes.",
     "[\"*/read\"]", "[]"},
};

int sg_rbac_seed_builtin(sg_store *st)
{
    for (size_t i = 0; i < sizeof builtins / sizeof builtins[0]; i++) {
        sg_roledef_rec r;
        memset(&r, 0, sizeof r);
        sg_snprintf(r.id, sizeof r.id, "%s", builtins[i].id);
        sg_snprintf(r.name, sizeof r.name, "%s", builtins[i].name);
        sg_snprintf(r.description, sizeof r.description, "%s", builtins[i].description);
        sg_snprintf(r.type, sizeof r.type, "BuiltInRole");
        r.actions_json = builtins[i].actions;
        r.not_actions_json = "[]";
        r.data_actions_json = builtins[i].data_actions;
        r.not_data_actions_json = "[]";
        int rc = sg_store_roledef_put(st, &r);
        if (rc)
            return rc;
    }
    return SG_OK;
}

/* ---- actions ----------------------------------------------------------------------------- */

static int glob_ci(const char *p, const char *s)
{
    /* Iterative glob with backtracking to the last '*'. */
    const char *star = NULL, *ss = NULL;
    while (*s) {
        if (*p == '*') {
            star = p++;
            ss = s;
        } else if (*p && tolower((unsigned char)*p) == tolower((unsigned char)*s)) {
            p++;
            s++;
        } else if (star) {
            p = star + 1;
            s = ++ss;
        } else {
            return 0;
        }
    }
    while (*p == '*')
        p++;
    return *p == 0;
}

int sg_rbac_action_match(const char *pattern, const char *action)
{
    if (!pattern || !action)
        return 0;
    return glob_ci(pattern, action);
}

static int json_any_match(const char *arr_json, const char *action)
{
    json_t *a;
    size_t i;
    json_t *v;
    int hit = 0;
    if (!arr_json)
        return 0;
    a = json_loads(arr_json, 0, NULL);
    if (!json_is_array(a)) {
        json_decref(a);
        return 0;
    }
    json_array_foreach(a, i, v)
    {
        if (json_is_string(v) && sg_rbac_action_match(json_string_value(v), action)) {
            hit = 1;
            break;
        }
    }
    json_decref(a);
    return hit;
}

int sg_rbac_role_allows(const char *allowed_json, const char *denied_json, const char *action)
{
    return json_any_match(allowed_json, action) && !json_any_match(denied_json, action);
}

const char *sg_rbac_suggest_role(const char *action)
{
    static const int order[] = {2, 0, 1, 3}; /* Reader, App Server, REST Owner, Service Owner */
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        const builtin_role *r = &builtins[order[i]];
        if (sg_rbac_role_allows(r->data_actions, NULL, action))
            return r->name;
    }
    return builtins[3].name;
}

/* ---- scopes ------------------------------------------------------------------------------ */

/* Next path segment of s at *pos (skipping one '/'); returns its length, 0 at the end. */
static size_t seg_next(const char *s, size_t *pos, const char **seg)
{
    size_t i = *pos;
    while (s[i] == '/')
        i++;
    size_t start = i;
    while (s[i] && s[i] != '/')
        i++;
    *seg = s + start;
    *pos = i;
    return i - start;
}

static int seg_is(const char *seg, size_t n, const char *lit)
{
    return strlen(lit) == n && strncasecmp(seg, lit, n) == 0;
}

static void seg_copy(char *dst, size_t cap, const char *seg, size_t n)
{
    if (!dst)
        return;
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, seg, n);
    dst[n] = 0;
}

sg_scope_kind sg_rbac_scope_parse(const char *scope, char *mg, char *sub, char *rg)
{
    size_t pos = 0, n;
    const char *seg;
    if (!scope || scope[0] != '/')
        return SG_SCOPE_INVALID;
    n = seg_next(scope, &pos, &seg);
    if (n == 0)
        return SG_SCOPE_ROOT;
    if (seg_is(seg, n, "providers")) {
        n = seg_next(scope, &pos, &seg);
        if (!seg_is(seg, n, "Microsoft.Management"))
            return SG_SCOPE_INVALID;
        n = seg_next(scope, &pos, &seg);
        if (!seg_is(seg, n, "managementGroups"))
            return SG_SCOPE_INVALID;
        n = seg_next(scope, &pos, &seg);
        if (n == 0 || n >= SG_STORE_NAME_MAX)
            return SG_SCOPE_INVALID;
        seg_copy(mg, SG_STORE_NAME_MAX, seg, n);
        n = seg_next(scope, &pos, &seg);
        return n == 0 ? SG_SCOPE_MGROUP : SG_SCOPE_INVALID;
    }
    if (!seg_is(seg, n, "subscriptions"))
        return SG_SCOPE_INVALID;
    n = seg_next(scope, &pos, &seg);
    if (n == 0 || n >= SG_STORE_GUID_MAX)
        return SG_SCOPE_INVALID;
    seg_copy(sub, SG_STORE_GUID_MAX, seg, n);
    n = seg_next(scope, &pos, &seg);
    if (n == 0)
        return SG_SCOPE_SUBSCRIPTION;
    if (!seg_is(seg, n, "resourceGroups"))
        return SG_SCOPE_INVALID;
    n = seg_next(scope, &pos, &seg);
    if (n == 0 || n >= SG_STORE_NAME_MAX)
        return SG_SCOPE_INVALID;
    seg_copy(rg, SG_STORE_NAME_MAX, seg, n);
    n = seg_next(scope, &pos, &seg);
    if (n == 0)
        return SG_SCOPE_RGROUP;
    if (!seg_is(seg, n, "providers"))
        return SG_SCOPE_INVALID;
    /* namespace, then type/name pairs */
    n = seg_next(scope, &pos, &seg);
    if (n == 0)
        return SG_SCOPE_INVALID;
    int pairs = 0;
    for (;;) {
        size_t tn = seg_next(scope, &pos, &seg);
        if (tn == 0)
            break;
        size_t nn = seg_next(scope, &pos, &seg);
        if (nn == 0)
            return SG_SCOPE_INVALID;
        pairs++;
    }
    return pairs ? SG_SCOPE_RESOURCE : SG_SCOPE_INVALID;
}

static size_t trimmed_len(const char *s)
{
    size_t n = strlen(s);
    while (n > 1 && s[n - 1] == '/')
        n--;
    return n;
}

int sg_rbac_scope_covers(const char *outer, const char *inner)
{
    size_t on = trimmed_len(outer), in = trimmed_len(inner);
    if (on == 1 && outer[0] == '/')
        return 1;
    if (on > in)
        return 0;
    if (strncasecmp(outer, inner, on) != 0)
        return 0;
    return on == in || inner[on] == '/';
}

size_t sg_rbac_scope_chain(sg_store *st, const char *scope, char (*chain)[SG_STORE_ID_MAX],
                           size_t max)
{
    char mg[SG_STORE_NAME_MAX] = "", sub[SG_STORE_GUID_MAX] = "", rg[SG_STORE_NAME_MAX] = "";
    size_t n = 0;
    sg_scope_kind k = sg_rbac_scope_parse(scope, mg, sub, rg);

#define PUSH(...)                                                                                  \
    do {                                                                                           \
        if (n < max) {                                                                             \
            sg_snprintf(chain[n], SG_STORE_ID_MAX, __VA_ARGS__);                                  \
            n++;                                                                                   \
        }                                                                                          \
    } while (0)

    switch (k) {
    case SG_SCOPE_RESOURCE: {
        /* the resource itself, then parent resources for nested types */
        size_t len = trimmed_len(scope);
        char tmp[SG_STORE_ID_MAX];
        if (len >= sizeof tmp)
            break;
        memcpy(tmp, scope, len);
        tmp[len] = 0;
        for (;;) {
            PUSH("%s", tmp);
            /* strip the last type/name pair if that leaves a resource */
            char *a = strrchr(tmp, '/');
            if (!a)
                break;
            *a = 0;
            char *b = strrchr(tmp, '/');
            if (!b)
                break;
            *b = 0;
            if (sg_rbac_scope_parse(tmp, NULL, NULL, NULL) != SG_SCOPE_RESOURCE)
                break;
        }
    }
        /* fall through */
    case SG_SCOPE_RGROUP:
        PUSH("/subscriptions/%s/resourceGroups/%s", sub, rg);
        /* fall through */
    case SG_SCOPE_SUBSCRIPTION: {
        PUSH("/subscriptions/%s", sub);
        sg_subscription_rec s;
        if (st && sg_store_subscription_get(st, sub, &s) == SG_OK && s.management_group[0])
            PUSH("/providers/Microsoft.Management/managementGroups/%s", s.management_group);
        PUSH("/");
        break;
    }
    case SG_SCOPE_MGROUP:
        PUSH("/providers/Microsoft.Management/managementGroups/%s", mg);
        PUSH("/");
        break;
    case SG_SCOPE_ROOT:
        PUSH("/");
        break;
    case SG_SCOPE_INVALID:
        break;
    }
#undef PUSH
    return n;
}

/* ---- the decision -------------------------------------------------------------------------- */

#define CHAIN_MAX 12

typedef struct authz_ctx {
    sg_store *st;
    const char *action;
    char (*chain)[SG_STORE_ID_MAX];
    size_t nchain;
    int64_t now;
    /* results */
    int allowed;
    sg_roleassign_rec grant;
    char grant_role[SG_STORE_NAME_MAX];
    int pending;
    sg_roleassign_rec pend;
    char pend_role[SG_STORE_NAME_MAX];
    int wrong_role; /* right principal + scope, role lacks the action */
    sg_roleassign_rec wr;
    char wr_role[SG_STORE_NAME_MAX];
    int other_scope; /* right role, scope that does not cover the resource */
    sg_roleassign_rec os;
    char os_role[SG_STORE_NAME_MAX];
    size_t total;
} authz_ctx;

typedef struct role_probe {
    const char *action;
    int allows;
    char name[SG_STORE_NAME_MAX];
} role_probe;

static int role_probe_cb(const sg_roledef_rec *r, void *ud)
{
    role_probe *p = ud;
    p->allows = sg_rbac_role_allows(r->data_actions_json, r->not_data_actions_json, p->action);
    sg_snprintf(p->name, sizeof p->name, "%s", r->name);
    return 0;
}

static int chain_index(authz_ctx *a, const char *scope)
{
    size_t l2 = trimmed_len(scope);
    for (size_t i = 0; i < a->nchain; i++)
        if (trimmed_len(a->chain[i]) == l2 && strncasecmp(a->chain[i], scope, l2) == 0)
            return (int)i;
    return -1;
}

static int authz_assign_cb(const sg_roleassign_rec *ra, void *ud)
{
    authz_ctx *a = ud;
    role_probe p = {.action = a->action};
    a->total++;
    if (sg_store_roledef_find(a->st, ra->role_definition_id, role_probe_cb, &p) != SG_OK)
        return 0;
    int covers = chain_index(a, ra->scope) >= 0;
    if (covers && p.allows) {
        if (ra->effective_at <= a->now) {
            a->allowed = 1;
            a->grant = *ra;
            sg_snprintf(a->grant_role, sizeof a->grant_role, "%s", p.name);
            return 1; /* stop */
        }
        if (!a->pending || ra->effective_at < a->pend.effective_at) {
            a->pending = 1;
            a->pend = *ra;
            sg_snprintf(a->pend_role, sizeof a->pend_role, "%s", p.name);
        }
    } else if (covers) {
        if (!a->wrong_role || chain_index(a, ra->scope) < chain_index(a, a->wr.scope)) {
            a->wrong_role = 1;
            a->wr = *ra;
            sg_snprintf(a->wr_role, sizeof a->wr_role, "%s", p.name);
        }
    } else if (p.allows) {
        if (!a->other_scope) {
            a->other_scope = 1;
            a->os = *ra;
            sg_snprintf(a->os_role, sizeof a->os_role, "%s", p.name);
        }
    }
    return 0;
}

/* Someone else who holds a granting role at a covering scope (for "wrong identity" hints). */
typedef struct other_ctx {
    authz_ctx *a;
    const char *oid;
    int found;
    sg_roleassign_rec ra;
    char role[SG_STORE_NAME_MAX];
} other_ctx;

static int other_cb(const sg_roleassign_rec *ra, void *ud)
{
    other_ctx *o = ud;
    role_probe p = {.action = o->a->action};
    if (strcasecmp(ra->principal_id, o->oid) == 0)
        return 0;
    if (chain_index(o->a, ra->scope) < 0)
        return 0;
    if (sg_store_roledef_find(o->a->st, ra->role_definition_id, role_probe_cb, &p) != SG_OK ||
        !p.allows)
        return 0;
    o->found = 1;
    o->ra = *ra;
    sg_snprintf(o->role, sizeof o->role, "%s", p.name);
    return 1;
}

static void set_scopes(sg_authz_decision *out, char (*chain)[SG_STORE_ID_MAX], size_t n)
{
    size_t used = 0;
    out->scopes_checked[0] = 0;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(chain[i]);
        if (used + l + 2 > sizeof out->scopes_checked)
            break;
        if (i) {
            out->scopes_checked[used++] = ';';
        }
        memcpy(out->scopes_checked + used, chain[i], l);
        used += l;
        out->scopes_checked[used] = 0;
    }
}

static const char *short_action(const char *action)
{
    static const char prefix[] = "Microsoft.SignalRService/SignalR/";
    if (strncasecmp(action, prefix, sizeof prefix - 1) == 0)
        return action + sizeof prefix - 1;
    return action;
}

int sg_rbac_authorize(sg_store *st, const char *tenant_id, const char *oid, const char *tid,
                      const char *action, const char *resource_id, int64_t now,
                      sg_authz_decision *out)
{
    char chain[CHAIN_MAX][SG_STORE_ID_MAX];
    authz_ctx a;
    sg_principal_rec p;
    const char *suggest;
    int rc;

    memset(out, 0, sizeof *out);
    if (!oid || !action || !resource_id) {
        sg_snprintf(out->code, sizeof out->code, "Forbidden.InvalidRequest");
        sg_snprintf(out->message, sizeof out->message,
                    "authorization needs a principal, an action and a resource");
        return SG_EINVAL;
    }
    memset(&a, 0, sizeof a);
    a.st = st;
    a.action = action;
    a.chain = chain;
    a.now = now;
    a.nchain = sg_rbac_scope_chain(st, resource_id, chain, CHAIN_MAX);
    set_scopes(out, chain, a.nchain);
    suggest = sg_rbac_suggest_role(action);

    if (tid && tid[0] && tenant_id && strcasecmp(tid, tenant_id) != 0) {
        sg_snprintf(out->code, sizeof out->code, "Forbidden.TenantMismatch");
        sg_snprintf(out->message, sizeof out->message,
                    "the token was issued by tenant %s, but this resource belongs to tenant %s",
                    tid, tenant_id);
        sg_snprintf(out->hint, sizeof out->hint,
                    "request the token from tenant %s (set AZURE_TENANT_ID=%s, or TenantId=%s "
                    "in the connection string)",
                    tenant_id, tenant_id, tenant_id);
        return SG_OK;
    }

    rc = sg_store_principal_get(st, oid, &p);
    if (rc == SG_ENOTFOUND) {
        sg_principal_rec byapp;
        sg_snprintf(out->code, sizeof out->code, "Forbidden.PrincipalNotFound");
        sg_snprintf(out->message, sizeof out->message,
                    "principal %s does not exist in tenant %s", oid, tenant_id ? tenant_id : "");
        if (sg_store_principal_by_app_id(st, oid, &byapp) == SG_OK)
            sg_snprintf(out->hint, sizeof out->hint,
                        "%s is the client (app) id of '%s'; its object (principal) id is %s — "
                        "role assignments and tokens use the object id",
                        oid, byapp.display_name, byapp.object_id);
        else
            sg_snprintf(out->hint, sizeof out->hint,
                        "the token's oid is unknown here: was it issued by another sigrid data "
                        "dir or deleted since? list principals with 'sigrid identity list' / "
                        "'sigrid ad sp show --id ID'");
        return SG_OK;
    }
    if (rc != SG_OK)
        return rc;

    rc = sg_store_roleassign_list(st, oid, NULL, authz_assign_cb, &a);
    if (rc < 0)
        return rc;

    if (a.allowed) {
        out->allowed = 1;
        sg_snprintf(out->code, sizeof out->code, "Allowed");
        sg_snprintf(out->message, sizeof out->message,
                    "'%s' granted by role '%s' assigned at scope %s (assignment %s)",
                    short_action(action), a.grant_role, a.grant.scope, a.grant.id);
        return SG_OK;
    }
    if (a.pending) {
        int64_t left = a.pend.effective_at - now;
        out->valid_until = a.pend.effective_at; /* the earliest that would grant it */
        sg_snprintf(out->code, sizeof out->code, "Forbidden.NotYetPropagated");
        sg_snprintf(out->message, sizeof out->message,
                    "principal %s ('%s') holds role '%s' at scope %s, but the assignment has "
                    "not propagated yet (%lld s left)",
                    oid, p.display_name, a.pend_role, a.pend.scope, (long long)left);
        sg_snprintf(out->hint, sizeof out->hint,
                    "wait %lld s: new role assignments take effect after the propagation delay "
                    "(sigrid serve --propagation-delay; up to 30 min in Azure), then retry",
                    (long long)left);
        return SG_OK;
    }
    if (a.wrong_role) {
        sg_snprintf(out->code, sizeof out->code, "Forbidden.RoleLacksAction");
        sg_snprintf(out->message, sizeof out->message,
                    "principal %s ('%s') holds role '%s' at scope %s, which does not include "
                    "'%s'",
                    oid, p.display_name, a.wr_role, a.wr.scope, action);
        sg_snprintf(out->hint, sizeof out->hint,
                    "'%s' lacks this dataAction; assign '%s': sigrid role assignment create "
                    "--assignee %s --role '%s' --scope %s",
                    a.wr_role, suggest, oid, suggest, resource_id);
        return SG_OK;
    }
    if (a.other_scope) {
        sg_snprintf(out->code, sizeof out->code, "Forbidden.ScopeMismatch");
        sg_snprintf(out->message, sizeof out->message,
                    "principal %s ('%s') holds role '%s' at scope %s, which does not contain "
                    "this resource",
                    oid, p.display_name, a.os_role, a.os.scope);
        sg_snprintf(out->hint, sizeof out->hint,
                    "the role is assigned on another scope; assign it here: sigrid role "
                    "assignment create --assignee %s --role '%s' --scope %s",
                    oid, a.os_role, resource_id);
        return SG_OK;
    }

    /* No usable assignment: does another principal hold the right role here? */
    other_ctx o = {.a = &a, .oid = oid};
    for (size_t i = 0; i < a.nchain && !o.found; i++) {
        rc = sg_store_roleassign_list(st, NULL, chain[i], other_cb, &o);
        if (rc < 0)
            return rc;
    }
    sg_snprintf(out->code, sizeof out->code, "Forbidden.NoRoleAssignment");
    if (o.found) {
        sg_principal_rec op;
        int known = sg_store_principal_get(st, o.ra.principal_id, &op) == SG_OK;
        sg_snprintf(out->message, sizeof out->message,
                    "principal %s ('%s', %s) has no role granting '%s' at any scope of this "
                    "resource; '%s' (%s) does",
                    oid, p.display_name, p.type, short_action(action),
                    known ? op.display_name : o.ra.principal_id, o.ra.principal_id);
        sg_snprintf(out->hint, sizeof out->hint,
                    "the token came from '%s' (appid %s) but '%s' holds '%s': select that "
                    "identity (ClientId=%s), or: sigrid role assignment create --assignee %s "
                    "--role '%s' --scope %s",
                    p.display_name, p.app_id, known ? op.display_name : o.ra.principal_id,
                    o.role, known ? op.app_id : "?", oid, suggest, resource_id);
        return SG_OK;
    }
    sg_snprintf(out->message, sizeof out->message,
                "principal %s ('%s') has no role granting '%s' at any scope of this resource "
                "(%zu assignment(s) elsewhere)",
                oid, p.display_name, short_action(action), a.total);
    sg_snprintf(out->hint, sizeof out->hint,
                "assign '%s' to principal %s at scope %s: sigrid role assignment create "
                "--assignee %s --role '%s' --scope %s",
                suggest, oid, resource_id, oid, suggest, resource_id);
    return SG_OK;
}
