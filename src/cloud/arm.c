/* arm.c — the management API on the cloud listener (ARM URL and JSON shapes): admin
 * authentication, routing, subscriptions, management groups, resource groups, service
 * principals, role definitions and role assignments. Resources live in arm_res.c. */
#include "cloud/arm.h"
#include "cloud/rbac.h"

#include "sg_alloc.h"
#include "sg_buf.h"
#include "sg_err.h"
#include "sg_id.h"
#include "sg_log.h"
#include "sg_str.h"
#include "sg_time.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define MOD "arm"
#define JSON_CT "application/json; charset=utf-8"

/* ---- answering ------------------------------------------------------------------------------ */

static int dump_cb(const char *p, size_t n, void *ud)
{
    return sg_buf_append((sg_buf *)ud, p, n) == SG_OK ? 0 : -1;
}

void sg__arm_reply(arm_ctx *a, int status, json_t *j)
{
    sg_buf b;
    sg_buf_init(&b, 0);
    if (j) {
        int r = json_dump_callback(j, dump_cb, &b, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(j);
        if (r != 0) {
            static const char oom[] =
                "{\"error\":{\"code\":\"InternalServerError\",\"message\":\"out of memory\"}}";
            sg_buf_free(&b);
            sg_http_respond(a->req, 500, JSON_CT, oom, sizeof oom - 1);
            return;
        }
    }
    sg_http_respond(a->req, status, JSON_CT, b.data ? b.data : "", b.len);
    sg_buf_free(&b);
}

void sg__arm_fail(arm_ctx *a, int status, const char *code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    SG_LOGI(MOD, "event=arm_error status=%d code=%s msg=\"%s\"", status, code, msg);
    sg__arm_reply(a, status, json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg));
}

void sg__arm_fail_store(arm_ctx *a, int rc, const char *notfound_code, const char *what)
{
    switch (rc) {
    case SG_ENOTFOUND:
        sg__arm_fail(a, 404, notfound_code ? notfound_code : "ResourceNotFound",
                     "%s was not found.", what);
        break;
    case SG_EEXIST:
        sg__arm_fail(a, 409, "Conflict", "%s conflicts with an existing entity.", what);
        break;
    case SG_EINVAL:
        sg__arm_fail(a, 400, "InvalidRequestContent", "%s: invalid value (too long or empty).",
                     what);
        break;
    default:
        sg__arm_fail(a, 500, "InternalServerError", "%s: %s", what, sg_strerror(rc));
    }
}

int sg__arm_seg_is(const arm_ctx *a, size_t i, const char *lit)
{
    return i < a->n && strcasecmp(a->seg[i], lit) == 0;
}

const char *sg__arm_display_host(const sg_cloud *c)
{
    if (strcmp(c->host, "0.0.0.0") == 0 || strcmp(c->host, "::") == 0)
        return "127.0.0.1";
    return c->host;
}

json_t *sg__arm_time(int64_t t)
{
    char buf[48];
    sg_time_iso8601(t, buf, sizeof buf);
    return json_string(buf);
}

void sg__arm_idep_sync(sg_cloud *c)
{
    int rc = sg_idep_sync(c);
    if (rc != SG_OK)
        SG_LOGW(MOD, "event=idep_sync_failed err=\"%s\"", sg_strerror(rc));
}

static int64_t now_s(void)
{
    return (int64_t)time(NULL);
}

/* ---- claims + auth ---------------------------------------------------------------------------- */

int sg_arm_claims(const sg_http_req *req)
{
    sg_slice p = req->path;
    static const char *const prefixes[] = {"/subscriptions", "/providers/", "/tenants"};
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
        size_t n = strlen(prefixes[i]);
        if (p.n >= n && strncasecmp(p.p, prefixes[i], n) == 0 &&
            (p.n == n || prefixes[i][n - 1] == '/' || p.p[n] == '/' || p.p[n] == '?'))
            return 1;
    }
    return 0;
}

static int authenticated(arm_ctx *a)
{
    const sg_slice *h = sg_http_req_header(a->req, "Authorization");
    char hash[SG_SECRET_HASH_MAX];
    char *tok = NULL;
    int ok = 0;
    if (!h || h->n < 8 || h->n > 512 || strncasecmp(h->p, "Bearer ", 7) != 0)
        return 0;
    size_t off = 7;
    while (off < h->n && h->p[off] == ' ')
        off++;
    tok = sg_strndup(h->p + off, h->n - off);
    if (!tok)
        return 0;
    if (sg_store_meta_get(a->c->store, SG_META_ADMIN_CRED_HASH, hash, sizeof hash) == SG_OK)
        ok = sg_secret_verify(tok, hash);
    sg_free(tok);
    return ok;
}

/* ---- path handling ---------------------------------------------------------------------------- */

int sg__arm_split_path(arm_ctx *a)
{
    a->pathbuf = sg_url_decode(a->req->path.p, a->req->path.n, 0, NULL);
    if (!a->pathbuf)
        return SG_EINVAL;
    a->n = 0;
    char *p = a->pathbuf;
    while (*p) {
        while (*p == '/')
            *p++ = 0;
        if (!*p)
            break;
        if (a->n == ARM_MAX_SEGS)
            return SG_ETOOBIG;
        a->seg[a->n++] = p;
        while (*p && *p != '/')
            p++;
    }
    return SG_OK;
}

/* "/" + seg[from..to) joined. */
int sg__arm_join_segs(const arm_ctx *a, size_t from, size_t to, char *out, size_t outlen)
{
    size_t used = 0;
    if (outlen < 2)
        return SG_ETOOBIG;
    out[0] = '/';
    out[1] = 0;
    used = from < to ? 0 : 1;
    for (size_t i = from; i < to; i++) {
        size_t l = strlen(a->seg[i]);
        if (used + l + 2 > outlen)
            return SG_ETOOBIG;
        out[used++] = '/';
        memcpy(out + used, a->seg[i], l);
        used += l;
        out[used] = 0;
    }
    return SG_OK;
}

static char *query_param(arm_ctx *a, const char *key)
{
    char *v = sg_query_get(a->req->query, key);
    if (!v && key[0] == '$') {
        char alt[64];
        sg_snprintf(alt, sizeof alt, "%%24%s", key + 1);
        v = sg_query_get(a->req->query, alt);
    }
    return v;
}

/* Extracts X from "<field> eq 'X'" in a $filter; out "" if absent. */
void sg__arm_filter_eq(arm_ctx *a, const char *field, char *out, size_t outlen)
{
    char *f = query_param(a, "$filter");
    out[0] = 0;
    if (!f)
        return;
    size_t fl = strlen(field);
    const char *p = f;
    while ((p = strcasestr(p, field)) != NULL) {
        const char *q = p + fl;
        while (*q == ' ')
            q++;
        if (strncasecmp(q, "eq", 2) == 0) {
            q += 2;
            while (*q == ' ')
                q++;
            if (*q == '\'') {
                const char *e = strchr(q + 1, '\'');
                if (e && (size_t)(e - q - 1) < outlen) {
                    memcpy(out, q + 1, (size_t)(e - q - 1));
                    out[e - q - 1] = 0;
                }
            }
            break;
        }
        p = q;
    }
    sg_free(f);
}

static const char *body_str(arm_ctx *a, const char *k1, const char *k2)
{
    json_t *v = json_object_get(a->body, k1);
    if (k2)
        v = json_object_get(v, k2);
    return json_string_value(v);
}

/* ---- subscriptions ---------------------------------------------------------------------------- */

static json_t *sub_json(sg_cloud *c, const sg_subscription_rec *s)
{
    json_t *j = json_object();
    char id[128];
    sg_snprintf(id, sizeof id, "/subscriptions/%s", s->id);
    json_object_set_new(j, "id", json_string(id));
    json_object_set_new(j, "subscriptionId", json_string(s->id));
    json_object_set_new(j, "displayName", json_string(s->name));
    json_object_set_new(j, "tenantId", json_string(c->tenant_id));
    json_object_set_new(j, "state", json_string("Enabled"));
    json_object_set_new(j, "isDefault", json_boolean(strcasecmp(s->id, c->subscription_id) == 0));
    if (s->management_group[0]) {
        char mg[256];
        sg_snprintf(mg, sizeof mg, "/providers/Microsoft.Management/managementGroups/%s",
                    s->management_group);
        json_object_set_new(j, "managementGroupId", json_string(mg));
    }
    return j;
}

typedef struct list_ctx {
    sg_cloud *c;
    json_t *arr;
    const char *filter;
} list_ctx;

static int sub_list_cb(const sg_subscription_rec *s, void *ud)
{
    list_ctx *l = ud;
    json_array_append_new(l->arr, sub_json(l->c, s));
    return 0;
}

static int find_sub_by_name_cb(const sg_subscription_rec *s, void *ud)
{
    sg_subscription_rec *want = ud;
    if (strcasecmp(s->name, want->name) == 0) {
        *want = *s;
        return 1;
    }
    return 0;
}

static void route_alias(arm_ctx *a)
{
    /* PUT /providers/Microsoft.Subscription/aliases/{alias} {properties:{displayName}} */
    const char *alias = a->seg[3];
    sg_subscription_rec s;
    int rc;
    if (a->req->method != SG_HTTP_PUT && a->req->method != SG_HTTP_GET) {
        sg__arm_fail(a, 405, "MethodNotAllowed", "use PUT to create a subscription alias");
        return;
    }
    const char *name = body_str(a, "properties", "displayName");
    if (!name || !name[0])
        name = alias;
    memset(&s, 0, sizeof s);
    sg_snprintf(s.name, sizeof s.name, "%s", name);
    rc = sg_store_subscription_list(a->c->store, find_sub_by_name_cb, &s);
    int created = 0;
    if (rc == 0) {
        if (a->req->method == SG_HTTP_GET) {
            sg__arm_fail(a, 404, "ResourceNotFound", "subscription alias '%s' not found", alias);
            return;
        }
        if (sg_uuid4(s.id) != SG_OK) {
            sg__arm_fail(a, 500, "InternalServerError", "no randomness");
            return;
        }
        rc = sg_store_subscription_add(a->c->store, s.id, s.name);
        if (rc) {
            sg__arm_fail_store(a, rc, NULL, "subscription");
            return;
        }
        created = 1;
        SG_LOGI(MOD, "event=subscription_created id=%s name=%s", s.id, s.name);
    } else if (rc < 0) {
        sg__arm_fail_store(a, rc, NULL, "subscription");
        return;
    }
    char id[256];
    sg_snprintf(id, sizeof id, "/providers/Microsoft.Subscription/aliases/%s", alias);
    sg__arm_reply(a, created ? 201 : 200,
                  json_pack("{s:s,s:s,s:s,s:{s:s,s:s,s:s}}", "id", id, "name", alias, "type",
                            "Microsoft.Subscription/aliases", "properties", "subscriptionId", s.id,
                            "displayName", s.name, "provisioningState", "Succeeded"));
}

/* ---- management groups ------------------------------------------------------------------------- */

static int mg_child_cb(const sg_subscription_rec *s, void *ud)
{
    json_t *arr = ud;
    char id[128];
    sg_snprintf(id, sizeof id, "/subscriptions/%s", s->id);
    json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:s}", "id", id, "name", s->id,
                                         "displayName", s->name, "type", "/subscriptions"));
    return 0;
}

static json_t *mg_json(sg_cloud *c, const sg_mgroup_rec *m)
{
    char id[256];
    json_t *children = json_array();
    sg_snprintf(id, sizeof id, "/providers/Microsoft.Management/managementGroups/%s", m->name);
    sg_store_mgroup_subscriptions(c->store, m->name, mg_child_cb, children);
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:{s:s,s:s,s:o}}", "id", id, "name", m->name, "type",
                     "Microsoft.Management/managementGroups", "displayName", m->display_name,
                     "tenantId", c->tenant_id, "properties", "displayName", m->display_name,
                     "tenantId", c->tenant_id, "children", children);
}

static int mg_list_cb(const sg_mgroup_rec *m, void *ud)
{
    list_ctx *l = ud;
    json_array_append_new(l->arr, mg_json(l->c, m));
    return 0;
}

static void route_mgroups(arm_ctx *a)
{
    /* /providers/Microsoft.Management/managementGroups[/{mg}[/subscriptions/{sub}]] */
    sg_cloud *c = a->c;
    sg_mgroup_rec m;
    int rc;
    sg_http_method meth = a->req->method;
    if (a->n == 3) {
        if (meth != SG_HTTP_GET) {
            sg__arm_fail(a, 405, "MethodNotAllowed", "only GET lists management groups");
            return;
        }
        list_ctx l = {c, json_array(), NULL};
        sg_store_mgroup_list(c->store, mg_list_cb, &l);
        sg__arm_reply(a, 200, json_pack("{s:o}", "value", l.arr));
        return;
    }
    const char *name = a->seg[3];
    if (a->n == 4) {
        if (meth == SG_HTTP_PUT || meth == SG_HTTP_PATCH) {
            const char *dn = body_str(a, "properties", "displayName");
            rc = sg_store_mgroup_get(c->store, name, &m);
            int created = 0;
            if (rc == SG_ENOTFOUND) {
                if (meth == SG_HTTP_PATCH) {
                    sg__arm_fail(a, 404, "ManagementGroupNotFound",
                                 "management group '%s' does not exist", name);
                    return;
                }
                rc = sg_store_mgroup_add(c->store, name, dn && dn[0] ? dn : name);
                if (rc) {
                    sg__arm_fail_store(a, rc, NULL, "management group");
                    return;
                }
                created = 1;
                SG_LOGI(MOD, "event=mgroup_created name=%s", name);
                rc = sg_store_mgroup_get(c->store, name, &m);
            }
            if (rc) {
                sg__arm_fail_store(a, rc, "ManagementGroupNotFound", "management group");
                return;
            }
            sg__arm_reply(a, created ? 201 : 200, mg_json(c, &m));
            return;
        }
        rc = sg_store_mgroup_get(c->store, name, &m);
        if (rc) {
            sg__arm_fail(a, 404, "ManagementGroupNotFound",
                         "management group '%s' does not exist", name);
            return;
        }
        if (meth == SG_HTTP_GET) {
            sg__arm_reply(a, 200, mg_json(c, &m));
        } else if (meth == SG_HTTP_DELETE) {
            rc = sg_store_mgroup_delete(c->store, m.name);
            if (rc)
                sg__arm_fail_store(a, rc, "ManagementGroupNotFound", "management group");
            else
                sg__arm_reply(a, 200, NULL);
        } else {
            sg__arm_fail(a, 405, "MethodNotAllowed", "method not allowed");
        }
        return;
    }
    if (a->n == 6 && sg__arm_seg_is(a, 4, "subscriptions")) {
        const char *sub = a->seg[5];
        sg_subscription_rec s;
        rc = sg_store_mgroup_get(c->store, name, &m);
        if (rc) {
            sg__arm_fail(a, 404, "ManagementGroupNotFound",
                         "management group '%s' does not exist", name);
            return;
        }
        rc = sg_store_subscription_get(c->store, sub, &s);
        if (rc) {
            sg__arm_fail(a, 404, "SubscriptionNotFound", "subscription '%s' does not exist", sub);
            return;
        }
        if (meth == SG_HTTP_PUT) {
            rc = sg_store_mgroup_add_subscription(c->store, m.name, s.id);
        } else if (meth == SG_HTTP_DELETE) {
            rc = sg_store_mgroup_remove_subscription(c->store, m.name, s.id);
            if (rc == SG_ENOTFOUND) {
                sg__arm_fail(a, 404, "NotFound",
                             "subscription '%s' is not in management group '%s'", s.id, m.name);
                return;
            }
        } else if (meth != SG_HTTP_GET) {
            sg__arm_fail(a, 405, "MethodNotAllowed", "method not allowed");
            return;
        }
        if (rc) {
            sg__arm_fail_store(a, rc, NULL, "management group subscription");
            return;
        }
        if (meth == SG_HTTP_DELETE) {
            sg__arm_reply(a, 200, NULL);
            return;
        }
        char id[512], pid[256];
        sg_snprintf(pid, sizeof pid, "/providers/Microsoft.Management/managementGroups/%s", m.name);
        sg_snprintf(id, sizeof id, "%s/subscriptions/%s", pid, s.id);
        sg__arm_reply(a, 200,
                      json_pack("{s:s,s:s,s:s,s:{s:s,s:s,s:{s:s}}}", "id", id, "name", s.id, "type",
                                "Microsoft.Management/managementGroups/subscriptions",
                                "properties", "displayName", s.name, "tenant", c->tenant_id,
                                "parent", "id", pid));
        return;
    }
    sg__arm_fail(a, 404, "NotFound", "no such management group route");
}

/* ---- resource groups ------------------------------------------------------------------------- */

static json_t *rg_json(const sg_rgroup_rec *g)
{
    char id[512];
    sg_snprintf(id, sizeof id, "/subscriptions/%s/resourceGroups/%s", g->subscription_id, g->name);
    return json_pack("{s:s,s:s,s:s,s:s,s:{s:s}}", "id", id, "name", g->name, "type",
                     "Microsoft.Resources/resourceGroups", "location", g->location, "properties",
                     "provisioningState", "Succeeded");
}

static int rg_list_cb(const sg_rgroup_rec *g, void *ud)
{
    list_ctx *l = ud;
    json_array_append_new(l->arr, rg_json(g));
    return 0;
}

static int res_brief_cb(const sg_resource_rec *r, void *ud)
{
    list_ctx *l = ud;
    json_array_append_new(l->arr, sg__arm_resource_brief(r));
    return 0;
}

static void route_rgroup(arm_ctx *a, const sg_subscription_rec *s)
{
    /* /subscriptions/{s}/resourceGroups/{rg} */
    sg_cloud *c = a->c;
    const char *name = a->seg[3];
    sg_rgroup_rec g;
    int rc;
    sg_http_method meth = a->req->method;
    if (meth == SG_HTTP_PUT) {
        const char *loc = body_str(a, "location", NULL);
        rc = sg_store_rgroup_get(c->store, s->id, name, &g);
        if (rc == SG_OK) {
            sg__arm_reply(a, 200, rg_json(&g));
            return;
        }
        rc = sg_store_rgroup_add(c->store, s->id, name, loc && loc[0] ? loc : "local");
        if (rc == SG_OK)
            rc = sg_store_rgroup_get(c->store, s->id, name, &g);
        if (rc) {
            sg__arm_fail_store(a, rc, NULL, "resource group");
            return;
        }
        SG_LOGI(MOD, "event=rgroup_created sub=%s name=%s", s->id, name);
        sg__arm_reply(a, 201, rg_json(&g));
        return;
    }
    rc = sg_store_rgroup_get(c->store, s->id, name, &g);
    if (rc) {
        sg__arm_fail(a, 404, "ResourceGroupNotFound", "Resource group '%s' could not be found.",
                     name);
        return;
    }
    if (meth == SG_HTTP_GET || meth == SG_HTTP_HEAD || meth == SG_HTTP_PATCH) {
        sg__arm_reply(a, 200, rg_json(&g));
    } else if (meth == SG_HTTP_DELETE) {
        sg_signalr_rec *srs = NULL;
        size_t nsr = 0;
        sg__arm_collect_signalr(c, s->id, g.name, &srs, &nsr);
        rc = sg_store_rgroup_delete(c->store, s->id, g.name);
        if (rc) {
            sg_free(srs);
            sg__arm_fail_store(a, rc, "ResourceGroupNotFound", "resource group");
            return;
        }
        SG_LOGI(MOD, "event=rgroup_deleted sub=%s name=%s", s->id, g.name);
        for (size_t i = 0; i < nsr; i++)
            sg__cloud_signalr_notify(c, SG_RES_REMOVED, &srs[i]);
        sg_free(srs);
        sg__arm_idep_sync(c);
        sg__arm_reply(a, 200, NULL);
    } else {
        sg__arm_fail(a, 405, "MethodNotAllowed", "method not allowed");
    }
}

static void route_subscriptions(arm_ctx *a)
{
    sg_cloud *c = a->c;
    sg_subscription_rec s;
    int rc;
    if (a->n == 1) {
        list_ctx l = {c, json_array(), NULL};
        sg_store_subscription_list(c->store, sub_list_cb, &l);
        sg__arm_reply(a, 200, json_pack("{s:o}", "value", l.arr));
        return;
    }
    rc = sg_store_subscription_get(c->store, a->seg[1], &s);
    if (rc) {
        sg__arm_fail(a, 404, "SubscriptionNotFound", "The subscription '%s' could not be found.",
                     a->seg[1]);
        return;
    }
    if (a->n == 2) {
        sg__arm_reply(a, 200, sub_json(c, &s));
        return;
    }
    if (sg__arm_seg_is(a, 2, "resourceGroups")) {
        if (a->n == 3) {
            list_ctx l = {c, json_array(), NULL};
            sg_store_rgroup_list(c->store, s.id, rg_list_cb, &l);
            sg__arm_reply(a, 200, json_pack("{s:o}", "value", l.arr));
            return;
        }
        if (a->n == 4) {
            route_rgroup(a, &s);
            return;
        }
        sg_rgroup_rec g;
        rc = sg_store_rgroup_get(c->store, s.id, a->seg[3], &g);
        if (rc) {
            sg__arm_fail(a, 404, "ResourceGroupNotFound",
                         "Resource group '%s' could not be found.", a->seg[3]);
            return;
        }
        if (a->n == 5 && sg__arm_seg_is(a, 4, "resources")) {
            list_ctx l = {c, json_array(), NULL};
            sg_store_resource_list(c->store, s.id, g.name, NULL, res_brief_cb, &l);
            sg__arm_reply(a, 200, json_pack("{s:o}", "value", l.arr));
            return;
        }
        if (sg__arm_seg_is(a, 4, "providers")) {
            sg__arm_resource(a, s.id, g.name, 4);
            return;
        }
    } else if (a->n == 3 && sg__arm_seg_is(a, 2, "resources")) {
        list_ctx l = {c, json_array(), NULL};
        sg_store_resource_list(c->store, s.id, NULL, NULL, res_brief_cb, &l);
        sg__arm_reply(a, 200, json_pack("{s:o}", "value", l.arr));
        return;
    } else if (sg__arm_seg_is(a, 2, "providers")) {
        sg__arm_resource(a, s.id, NULL, 2);
        return;
    }
    sg__arm_fail(a, 404, "NotFound", "no management route for this path");
}

/* ---- service principals ------------------------------------------------------------------------ */

static json_t *sp_json(sg_cloud *c, const sg_principal_rec *p, const char *resolved_from)
{
    json_t *j = json_object();
    json_object_set_new(j, "id", json_string(p->object_id));
    json_object_set_new(j, "appId", json_string(p->app_id));
    json_object_set_new(j, "displayName", json_string(p->display_name));
    json_object_set_new(j, "servicePrincipalType", json_string(p->type));
    json_object_set_new(j, "appOwnerOrganizationId", json_string(c->tenant_id));
    json_t *names = json_array();
    json_array_append_new(names, json_string(p->app_id));
    json_t *alt = json_array();
    if (p->mi_resource_id[0]) {
        json_array_append_new(names, json_string(p->mi_resource_id));
        json_array_append_new(alt, json_string(strcmp(p->mi_kind, "UserAssigned") == 0
                                                   ? "isExplicit=True"
                                                   : "isExplicit=False"));
        json_array_append_new(alt, json_string(p->mi_resource_id));
    }
    json_object_set_new(j, "servicePrincipalNames", names);
    json_object_set_new(j, "alternativeNames", alt);
    if (p->mi_kind[0])
        json_object_set_new(j, "managedIdentityType", json_string(p->mi_kind));
    if (resolved_from)
        json_object_set_new(j, "resolvedFrom", json_string(resolved_from));
    return j;
}

static int sp_list_cb(const sg_principal_rec *p, void *ud)
{
    list_ctx *l = ud;
    json_array_append_new(l->arr, sp_json(l->c, p, NULL));
    return 0;
}

static void route_service_principals(arm_ctx *a)
{
    /* /providers/Microsoft.Graph/servicePrincipals[/{objectId or appId}] */
    sg_cloud *c = a->c;
    sg_principal_rec p;
    int rc;
    sg_http_method meth = a->req->method;
    if (a->n == 3) {
        if (meth == SG_HTTP_GET) {
            list_ctx l = {c, json_array(), NULL};
            sg_store_principal_list(c->store, sp_list_cb, &l);
            sg__arm_reply(a, 200, json_pack("{s:o}", "value", l.arr));
            return;
        }
        if (meth != SG_HTTP_POST) {
            sg__arm_fail(a, 405, "MethodNotAllowed", "use POST to create a service principal");
            return;
        }
        /* create-for-rbac: an app registration + its service principal + one secret */
        const char *name = body_str(a, "displayName", NULL);
        char secret[64], hash[SG_SECRET_HASH_MAX], key_id[40];
        if (!name || !name[0] || strlen(name) >= SG_STORE_NAME_MAX) {
            sg__arm_fail(a, 400, "InvalidRequestContent",
                         "displayName is required (1-%d characters)", SG_STORE_NAME_MAX - 1);
            return;
        }
        memset(&p, 0, sizeof p);
        sg_snprintf(p.display_name, sizeof p.display_name, "%s", name);
        sg_snprintf(p.type, sizeof p.type, "Application");
        p.created = now_s();
        if (sg_uuid4(p.object_id) || sg_uuid4(p.app_id) || sg_uuid4(key_id) ||
            sg_random_token(secret, sizeof secret, 30)) {
            sg__arm_fail(a, 500, "InternalServerError", "no randomness");
            return;
        }
        rc = sg_secret_hash(secret, hash, sizeof hash);
        if (rc == SG_OK)
            rc = sg_store_begin(c->store);
        if (rc == SG_OK) {
            rc = sg_store_principal_add(c->store, &p);
            if (rc == SG_OK)
                rc = sg_store_app_secret_add(c->store, p.app_id, key_id, hash, p.created,
                                             p.created + 365 * 86400);
            if (rc == SG_OK)
                rc = sg_store_commit(c->store);
            else
                sg_store_rollback(c->store);
        }
        if (rc) {
            sg__arm_fail_store(a, rc, NULL, "service principal");
            return;
        }
        SG_LOGI(MOD, "event=sp_created appid=%s oid=%s name=\"%s\"", p.app_id, p.object_id,
                p.display_name);
        sg__arm_reply(a, 201,
                      json_pack("{s:s,s:s,s:s,s:s,s:s}", "appId", p.app_id, "displayName",
                                p.display_name, "password", secret, "tenant", c->tenant_id, "id",
                                p.object_id));
        return;
    }
    if (a->n != 4) {
        sg__arm_fail(a, 404, "NotFound", "no such service principal route");
        return;
    }
    const char *from = "objectId";
    rc = sg_store_principal_get(c->store, a->seg[3], &p);
    if (rc == SG_ENOTFOUND) {
        from = "appId";
        rc = sg_store_principal_by_app_id(c->store, a->seg[3], &p);
    }
    if (rc) {
        sg__arm_fail(a, 404, "Request_ResourceNotFound",
                     "Resource '%s' does not exist or one of its queried reference-property "
                     "objects are not present (neither an object id nor an app id).",
                     a->seg[3]);
        return;
    }
    if (meth == SG_HTTP_GET) {
        sg__arm_reply(a, 200, sp_json(c, &p, from));
    } else if (meth == SG_HTTP_DELETE) {
        if (strcmp(p.type, "Application") != 0) {
            sg__arm_fail(a, 400, "CannotDeleteManagedIdentity",
                         "'%s' is a managed identity: delete the identity or disable it on its "
                         "resource instead",
                         p.display_name);
            return;
        }
        rc = sg_store_principal_delete(c->store, p.object_id);
        if (rc)
            sg__arm_fail_store(a, rc, NULL, "service principal");
        else
            sg__arm_reply(a, 200, NULL);
    } else {
        sg__arm_fail(a, 405, "MethodNotAllowed", "method not allowed");
    }
}

/* ---- role definitions --------------------------------------------------------------------- */

static json_t *json_arr_or_empty(const char *s)
{
    json_t *j = s ? json_loads(s, 0, NULL) : NULL;
    if (!json_is_array(j)) {
        json_decref(j);
        j = json_array();
    }
    return j;
}

/* ARM id of a role definition as seen from scope. */
static void roledef_id(const char *scope, const char *rd, char *out, size_t outlen)
{
    char sub[SG_STORE_GUID_MAX] = "";
    sg_scope_kind k = scope ? sg_rbac_scope_parse(scope, NULL, sub, NULL) : SG_SCOPE_ROOT;
    if (k == SG_SCOPE_SUBSCRIPTION || k == SG_SCOPE_RGROUP || k == SG_SCOPE_RESOURCE)
        sg_snprintf(out, outlen,
                    "/subscriptions/%s/providers/Microsoft.Authorization/roleDefinitions/%s", sub,
                    rd);
    else
        sg_snprintf(out, outlen, "/providers/Microsoft.Authorization/roleDefinitions/%s", rd);
}

typedef struct rd_ctx {
    const char *scope;
    json_t *arr;       /* list mode */
    json_t *one;       /* single mode */
    const char *name;  /* filter by roleName, NULL = all */
} rd_ctx;

static json_t *roledef_json(const char *scope, const sg_roledef_rec *r)
{
    char id[SG_STORE_ID_MAX];
    roledef_id(scope, r->id, id, sizeof id);
    json_t *perm = json_pack("{s:o,s:o,s:o,s:o}", "actions", json_arr_or_empty(r->actions_json),
                             "notActions", json_arr_or_empty(r->not_actions_json), "dataActions",
                             json_arr_or_empty(r->data_actions_json), "notDataActions",
                             json_arr_or_empty(r->not_data_actions_json));
    return json_pack("{s:s,s:s,s:s,s:{s:s,s:s,s:s,s:[o],s:[s]}}", "id", id, "name", r->id, "type",
                     "Microsoft.Authorization/roleDefinitions", "properties", "roleName", r->name,
                     "description", r->description, "type", r->type, "permissions", perm,
                     "assignableScopes", "/");
}

static int rd_cb(const sg_roledef_rec *r, void *ud)
{
    rd_ctx *x = ud;
    if (x->name && x->name[0] && strcasecmp(x->name, r->name) != 0)
        return 0;
    json_t *j = roledef_json(x->scope, r);
    if (x->arr)
        json_array_append_new(x->arr, j);
    else
        x->one = j;
    return 0;
}

/* Does the scope name something that exists? Fills a 404 answer when not. */
static int scope_exists(arm_ctx *a, const char *scope)
{
    char mg[SG_STORE_NAME_MAX], sub[SG_STORE_GUID_MAX], rg[SG_STORE_NAME_MAX];
    sg_scope_kind k = sg_rbac_scope_parse(scope, mg, sub, rg);
    sg_cloud *c = a->c;
    switch (k) {
    case SG_SCOPE_INVALID:
        sg__arm_fail(a, 400, "InvalidScope",
                     "'%s' is not a valid scope: use /providers/Microsoft.Management/"
                     "managementGroups/MG, /subscriptions/S, /subscriptions/S/resourceGroups/RG "
                     "or a resource id",
                     scope);
        return 0;
    case SG_SCOPE_ROOT:
        return 1;
    case SG_SCOPE_MGROUP: {
        sg_mgroup_rec m;
        if (sg_store_mgroup_get(c->store, mg, &m) != SG_OK) {
            sg__arm_fail(a, 404, "ManagementGroupNotFound",
                         "management group '%s' does not exist", mg);
            return 0;
        }
        return 1;
    }
    default:
        break;
    }
    sg_subscription_rec s;
    if (sg_store_subscription_get(c->store, sub, &s) != SG_OK) {
        sg__arm_fail(a, 404, "SubscriptionNotFound", "The subscription '%s' could not be found.",
                     sub);
        return 0;
    }
    if (k == SG_SCOPE_SUBSCRIPTION)
        return 1;
    sg_rgroup_rec g;
    if (sg_store_rgroup_get(c->store, sub, rg, &g) != SG_OK) {
        sg__arm_fail(a, 404, "ResourceGroupNotFound", "Resource group '%s' could not be found.",
                     rg);
        return 0;
    }
    if (k == SG_SCOPE_RGROUP)
        return 1;
    sg_resource_rec r;
    if (sg_store_resource_get(c->store, scope, &r) != SG_OK) {
        sg__arm_fail(a, 404, "ResourceNotFound", "The resource '%s' was not found.", scope);
        return 0;
    }
    return 1;
}

static void route_roledefs(arm_ctx *a, const char *scope, size_t idx)
{
    /* {scope}/providers/Microsoft.Authorization/roleDefinitions[/{id}]; idx = index of
     * "roleDefinitions" */
    if (a->req->method != SG_HTTP_GET) {
        sg__arm_fail(a, 405, "MethodNotAllowed", "role definitions are read-only (built-in)");
        return;
    }
    if (!scope_exists(a, scope))
        return;
    if (a->n == idx + 1) {
        char name[SG_STORE_NAME_MAX];
        sg__arm_filter_eq(a, "roleName", name, sizeof name);
        rd_ctx x = {.scope = scope, .arr = json_array(), .name = name};
        sg_store_roledef_list(a->c->store, rd_cb, &x);
        sg__arm_reply(a, 200, json_pack("{s:o}", "value", x.arr));
        return;
    }
    if (a->n == idx + 2) {
        rd_ctx x = {.scope = scope};
        int rc = sg_store_roledef_find(a->c->store, a->seg[idx + 1], rd_cb, &x);
        if (rc || !x.one) {
            json_decref(x.one);
            sg__arm_fail(a, 404, "RoleDefinitionDoesNotExist",
                         "The specified role definition with ID '%s' does not exist.",
                         a->seg[idx + 1]);
            return;
        }
        sg__arm_reply(a, 200, x.one);
        return;
    }
    sg__arm_fail(a, 404, "NotFound", "no such role definition route");
}

/* ---- role assignments ------------------------------------------------------------------------- */

typedef struct rdname_ctx {
    char name[SG_STORE_NAME_MAX];
    char id[SG_STORE_GUID_MAX];
} rdname_ctx;

static int rdname_cb(const sg_roledef_rec *r, void *ud)
{
    rdname_ctx *x = ud;
    sg_snprintf(x->name, sizeof x->name, "%s", r->name);
    sg_snprintf(x->id, sizeof x->id, "%s", r->id);
    return 0;
}

static json_t *ra_json(sg_cloud *c, const sg_roleassign_rec *r)
{
    char id[SG_STORE_ID_MAX + 96], rdid[SG_STORE_ID_MAX];
    rdname_ctx x = {"", ""};
    int root = strcmp(r->scope, "/") == 0;
    sg_snprintf(id, sizeof id, "%s/providers/Microsoft.Authorization/roleAssignments/%s",
                root ? "" : r->scope, r->id);
    roledef_id(r->scope, r->role_definition_id, rdid, sizeof rdid);
    sg_store_roledef_find(c->store, r->role_definition_id, rdname_cb, &x);
    json_t *props = json_object();
    json_object_set_new(props, "roleDefinitionId", json_string(rdid));
    json_object_set_new(props, "roleDefinitionName", json_string(x.name));
    json_object_set_new(props, "principalId", json_string(r->principal_id));
    json_object_set_new(props, "principalType", json_string(r->principal_type));
    json_object_set_new(props, "scope", json_string(r->scope));
    json_object_set_new(props, "createdOn", sg__arm_time(r->created));
    json_object_set_new(props, "updatedOn", sg__arm_time(r->created));
    json_object_set_new(props, "effectiveOn", sg__arm_time(r->effective_at));
    return json_pack("{s:s,s:s,s:s,s:o}", "id", id, "name", r->id, "type",
                     "Microsoft.Authorization/roleAssignments", "properties", props);
}

typedef struct ra_list_ctx {
    sg_cloud *c;
    json_t *arr;
    const char *scope;
    char (*chain)[SG_STORE_ID_MAX];
    size_t nchain;
} ra_list_ctx;

static int ra_list_cb(const sg_roleassign_rec *r, void *ud)
{
    ra_list_ctx *l = ud;
    int include = sg_rbac_scope_covers(l->scope, r->scope); /* at or below */
    for (size_t i = 0; i < l->nchain && !include; i++)   /* above (inherited) */
        include = strcasecmp(l->chain[i], r->scope) == 0;
    if (include)
        json_array_append_new(l->arr, ra_json(l->c, r));
    return 0;
}

static void route_roleassignments(arm_ctx *a, const char *scope, size_t idx)
{
    /* {scope}/providers/Microsoft.Authorization/roleAssignments[/{guid}] */
    sg_cloud *c = a->c;
    sg_http_method meth = a->req->method;
    int rc;
    if (a->n == idx + 1) {
        if (meth != SG_HTTP_GET) {
            sg__arm_fail(a, 405, "MethodNotAllowed", "use GET to list role assignments");
            return;
        }
        if (!scope_exists(a, scope))
            return;
        char pid[SG_STORE_GUID_MAX];
        char chain[12][SG_STORE_ID_MAX];
        sg__arm_filter_eq(a, "principalId", pid, sizeof pid);
        ra_list_ctx l = {c, json_array(), scope, chain, 0};
        l.nchain = sg_rbac_scope_chain(c->store, scope, chain, 12);
        sg_store_roleassign_list(c->store, pid[0] ? pid : NULL, NULL, ra_list_cb, &l);
        sg__arm_reply(a, 200, json_pack("{s:o}", "value", l.arr));
        return;
    }
    if (a->n != idx + 2) {
        sg__arm_fail(a, 404, "NotFound", "no such role assignment route");
        return;
    }
    const char *guid = a->seg[idx + 1];
    sg_roleassign_rec r;
    if (meth == SG_HTTP_GET || meth == SG_HTTP_DELETE) {
        rc = sg_store_roleassign_get(c->store, guid, &r);
        if (rc == SG_OK && strcmp(scope, "/") != 0 && !sg_rbac_scope_covers(scope, r.scope) &&
            !sg_rbac_scope_covers(r.scope, scope))
            rc = SG_ENOTFOUND;
        if (rc) {
            sg__arm_fail(a, 404, "RoleAssignmentNotFound",
                         "The role assignment '%s' is not found.", guid);
            return;
        }
        if (meth == SG_HTTP_DELETE) {
            json_t *j = ra_json(c, &r);
            rc = sg_store_roleassign_delete(c->store, r.id);
            if (rc) {
                json_decref(j);
                sg__arm_fail_store(a, rc, "RoleAssignmentNotFound", "role assignment");
                return;
            }
            SG_LOGI(MOD, "event=role_assignment_deleted id=%s", r.id);
            sg__arm_reply(a, 200, j);
            return;
        }
        sg__arm_reply(a, 200, ra_json(c, &r));
        return;
    }
    if (meth != SG_HTTP_PUT) {
        sg__arm_fail(a, 405, "MethodNotAllowed", "method not allowed");
        return;
    }
    /* create */
    const char *rdid = body_str(a, "properties", "roleDefinitionId");
    const char *pid = body_str(a, "properties", "principalId");
    const char *ptype = body_str(a, "properties", "principalType");
    if (!rdid || !pid) {
        sg__arm_fail(a, 400, "InvalidRequestContent",
                     "properties.roleDefinitionId and properties.principalId are required");
        return;
    }
    if (!scope_exists(a, scope))
        return;
    const char *slash = strrchr(rdid, '/');
    const char *rd_key = slash ? slash + 1 : rdid;
    rdname_ctx x = {"", ""};
    if (sg_store_roledef_find(c->store, rd_key, rdname_cb, &x) != SG_OK) {
        sg__arm_fail(a, 404, "RoleDefinitionDoesNotExist",
                     "The specified role definition with ID '%s' does not exist.", rd_key);
        return;
    }
    sg_principal_rec p;
    rc = sg_store_principal_get(c->store, pid, &p);
    if (rc == SG_ENOTFOUND) {
        if (sg_store_principal_by_app_id(c->store, pid, &p) == SG_OK)
            sg__arm_fail(a, 400, "PrincipalNotFound",
                         "'%s' is the client (app) id of '%s', not an object id; role "
                         "assignments take the object (principal) id %s",
                         pid, p.display_name, p.object_id);
        else
            sg__arm_fail(a, 400, "PrincipalNotFound",
                         "Principal %s does not exist in the directory %s.", pid, c->tenant_id);
        return;
    }
    if (rc) {
        sg__arm_fail_store(a, rc, NULL, "principal");
        return;
    }
    memset(&r, 0, sizeof r);
    if (strlen(guid) >= sizeof r.id || strlen(scope) >= sizeof r.scope) {
        sg__arm_fail(a, 400, "InvalidRequestContent", "assignment name or scope too long");
        return;
    }
    sg_snprintf(r.id, sizeof r.id, "%s", guid);
    sg_str_lower(r.id);
    sg_snprintf(r.scope, sizeof r.scope, "%s", scope);
    sg_snprintf(r.principal_id, sizeof r.principal_id, "%s", p.object_id);
    sg_snprintf(r.principal_type, sizeof r.principal_type, "%s",
                ptype && ptype[0] ? ptype : "ServicePrincipal");
    sg_snprintf(r.role_definition_id, sizeof r.role_definition_id, "%s", x.id);
    r.created = now_s();
    r.effective_at = r.created + c->propagation_delay_s;
    /* canonical casing of the scope, from the stored names */
    {
        char mg[SG_STORE_NAME_MAX], sub[SG_STORE_GUID_MAX], rg[SG_STORE_NAME_MAX];
        sg_resource_rec res;
        sg_rgroup_rec g;
        sg_subscription_rec s;
        sg_mgroup_rec m;
        switch (sg_rbac_scope_parse(scope, mg, sub, rg)) {
        case SG_SCOPE_RESOURCE:
            if (sg_store_resource_get(c->store, scope, &res) == SG_OK)
                sg_snprintf(r.scope, sizeof r.scope, "%s", res.id);
            break;
        case SG_SCOPE_RGROUP:
            if (sg_store_rgroup_get(c->store, sub, rg, &g) == SG_OK)
                sg_snprintf(r.scope, sizeof r.scope, "/subscriptions/%s/resourceGroups/%s",
                            g.subscription_id, g.name);
            break;
        case SG_SCOPE_SUBSCRIPTION:
            if (sg_store_subscription_get(c->store, sub, &s) == SG_OK)
                sg_snprintf(r.scope, sizeof r.scope, "/subscriptions/%s", s.id);
            break;
        case SG_SCOPE_MGROUP:
            if (sg_store_mgroup_get(c->store, mg, &m) == SG_OK)
                sg_snprintf(r.scope, sizeof r.scope,
                            "/providers/Microsoft.Management/managementGroups/%s", m.name);
            break;
        default:
            sg_snprintf(r.scope, sizeof r.scope, "/");
            break;
        }
    }
    rc = sg_store_roleassign_add(c->store, &r);
    if (rc == SG_EEXIST) {
        sg_roleassign_rec old;
        if (sg_store_roleassign_get(c->store, r.id, &old) == SG_OK)
            sg__arm_fail(a, 409, "RoleAssignmentExists",
                         "A role assignment with the id '%s' already exists.", r.id);
        else
            sg__arm_fail(a, 409, "RoleAssignmentExists",
                         "The role assignment already exists: '%s' already holds '%s' at "
                         "scope %s.",
                         p.object_id, x.name, scope);
        return;
    }
    if (rc) {
        sg__arm_fail_store(a, rc, NULL, "role assignment");
        return;
    }
    SG_LOGI(MOD, "event=role_assignment_created id=%s principal=%s role=\"%s\" scope=%s "
                 "effective_in=%d",
            r.id, r.principal_id, x.name, r.scope, c->propagation_delay_s);
    sg__arm_reply(a, 201, ra_json(c, &r));
}

/* ---- checkAccess (sigrid extension) ---------------------------------------------------------------
 * POST {resource id}/providers/Microsoft.Authorization/checkAccess
 *   {"principalId": oid, "action": "Microsoft.SignalRService/SignalR/...", "tenantId"?: tid}
 * -> the decision sg_cloud_authorize gives the data plane: {allowed, code, message, hint,
 *    scopesChecked[]}. For `sigrid role check` / `sigrid doctor`. */

static void route_check_access(arm_ctx *a, const char *scope)
{
    sg_authz_decision d;
    if (a->req->method != SG_HTTP_POST) {
        sg__arm_fail(a, 405, "MethodNotAllowed", "use POST for checkAccess");
        return;
    }
    const char *pid = body_str(a, "principalId", NULL);
    const char *action = body_str(a, "action", NULL);
    const char *tid = body_str(a, "tenantId", NULL);
    if (!pid || !action) {
        sg__arm_fail(a, 400, "InvalidRequestContent", "principalId and action are required");
        return;
    }
    if (!scope_exists(a, scope))
        return;
    int rc = sg_cloud_authorize(a->c, pid, tid, action, scope, &d);
    if (rc != SG_OK) {
        sg__arm_fail(a, 400, "InvalidRequestContent", "cannot evaluate: %s", sg_strerror(rc));
        return;
    }
    json_t *scopes = json_array();
    char *list = sg_strdup(d.scopes_checked);
    for (char *save = NULL, *t = list ? strtok_r(list, ";", &save) : NULL; t;
         t = strtok_r(NULL, ";", &save))
        json_array_append_new(scopes, json_string(t));
    sg_free(list);
    json_t *j = json_object();
    json_object_set_new(j, "allowed", json_boolean(d.allowed));
    json_object_set_new(j, "code", json_string(d.code));
    json_object_set_new(j, "message", json_string(d.message));
    json_object_set_new(j, "hint", json_string(d.hint));
    json_object_set_new(j, "principalId", json_string(pid));
    json_object_set_new(j, "action", json_string(action));
    json_object_set_new(j, "scope", json_string(scope));
    json_object_set_new(j, "scopesChecked", scopes);
    sg__arm_reply(a, 200, j);
}

/* ---- dispatch ----------------------------------------------------------------------------------- */

static void route_authorization(arm_ctx *a, size_t prov)
{
    char scope[SG_STORE_ID_MAX];
    if (sg__arm_join_segs(a, 0, prov, scope, sizeof scope) != SG_OK) {
        sg__arm_fail(a, 400, "InvalidScope", "scope too long");
        return;
    }
    if (sg__arm_seg_is(a, prov + 2, "checkAccess") && a->n == prov + 3)
        route_check_access(a, scope);
    else if (sg__arm_seg_is(a, prov + 2, "roleAssignments"))
        route_roleassignments(a, scope, prov + 2);
    else if (sg__arm_seg_is(a, prov + 2, "roleDefinitions"))
        route_roledefs(a, scope, prov + 2);
    else
        sg__arm_fail(a, 400, "InvalidResourceType",
                     "Microsoft.Authorization supports roleAssignments and roleDefinitions here");
}

void sg_arm_handle(sg_cloud *c, sg_http_req *req)
{
    arm_ctx a;
    memset(&a, 0, sizeof a);
    a.c = c;
    a.req = req;

    SG_LOGD(MOD, "event=arm_request method=%.*s path=%.*s", (int)req->method_name.n,
            req->method_name.p, (int)req->path.n, req->path.p);
    if (!authenticated(&a)) {
        sg_http_header h = {SG_SLICE_LIT("WWW-Authenticate"),
                            SG_SLICE_LIT("Bearer realm=\"sigrid\", error=\"invalid_token\"")};
        static const char body[] =
            "{\"error\":{\"code\":\"AuthenticationFailed\",\"message\":\"Authentication failed: "
            "the management API needs 'Authorization: Bearer <admin credential>' (the contents "
            "of DIR/admin-credential; the sigrid CLI sends it for you).\"}}";
        SG_LOGI(MOD, "event=arm_unauthenticated path=%.*s", (int)req->path.n, req->path.p);
        sg_http_respond_ex(req, 401, JSON_CT, &h, 1, body, sizeof body - 1);
        return;
    }
    if (sg__arm_split_path(&a) != SG_OK) {
        sg__arm_fail(&a, 400, "InvalidRequestUri", "malformed or too long request path");
        goto done;
    }
    if (req->body.n) {
        json_error_t je;
        a.body = json_loadb(req->body.p, req->body.n, 0, &je);
        if (!a.body) {
            sg__arm_fail(&a, 400, "InvalidRequestContent", "the body is not valid JSON: %s",
                         je.text);
            goto done;
        }
    }
    /* {scope}/providers/Microsoft.Authorization/... anywhere */
    for (size_t i = 0; i + 2 < a.n; i++) {
        if (sg__arm_seg_is(&a, i, "providers") &&
            sg__arm_seg_is(&a, i + 1, "Microsoft.Authorization")) {
            route_authorization(&a, i);
            goto done;
        }
    }
    if (sg__arm_seg_is(&a, 0, "subscriptions")) {
        route_subscriptions(&a);
    } else if (sg__arm_seg_is(&a, 0, "tenants") && a.n == 1) {
        sg__arm_reply(&a, 200,
                      json_pack("{s:[{s:s,s:s,s:s}]}", "value", "id", "/tenants/", "tenantId",
                                c->tenant_id, "displayName", "sigrid"));
    } else if (sg__arm_seg_is(&a, 0, "providers") && a.n >= 3 &&
               sg__arm_seg_is(&a, 1, "Microsoft.Management") &&
               sg__arm_seg_is(&a, 2, "managementGroups")) {
        route_mgroups(&a);
    } else if (sg__arm_seg_is(&a, 0, "providers") && a.n == 4 &&
               sg__arm_seg_is(&a, 1, "Microsoft.Subscription") &&
               sg__arm_seg_is(&a, 2, "aliases")) {
        route_alias(&a);
    } else if (sg__arm_seg_is(&a, 0, "providers") && a.n >= 3 &&
               sg__arm_seg_is(&a, 1, "Microsoft.Graph") &&
               sg__arm_seg_is(&a, 2, "servicePrincipals")) {
        route_service_principals(&a);
    } else {
        sg__arm_fail(&a, 404, "NotFound", "no management route for %.*s", (int)req->path.n,
                     req->path.p);
    }
done:
    json_decref(a.body);
    sg_free(a.pathbuf);
}
