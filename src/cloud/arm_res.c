/* arm_res.c — ARM resources: VMs (Microsoft.Compute/virtualMachines), function/web apps
 * (Microsoft.Web/sites), user-assigned identities (Microsoft.ManagedIdentity/
 * userAssignedIdentities) and SignalR resources (Microsoft.SignalRService/SignalR), with
 * identity assignment (the `identity` property, PUT or PATCH) and listKeys/regenerateKey. */
#include "cloud/arm.h"
#include "cloud/rbac.h"

#include "sg_alloc.h"
#include "sg_err.h"
#include "sg_id.h"
#include "sg_log.h"
#include "sg_str.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MOD "arm"

typedef struct rtype {
    const char *ns;
    const char *type;
    sg_res_kind kind;
} rtype;

static const rtype rtypes[] = {
    {"Microsoft.Compute", "virtualMachines", SG_KIND_VM},
    {"Microsoft.Web", "sites", SG_KIND_FUNCTIONAPP},
    {"Microsoft.ManagedIdentity", "userAssignedIdentities", SG_KIND_UAMI},
    {"Microsoft.SignalRService", "SignalR", SG_KIND_SIGNALR},
};

static const rtype *rtype_find(const char *ns, const char *type)
{
    for (size_t i = 0; i < sizeof rtypes / sizeof rtypes[0]; i++)
        if (strcasecmp(rtypes[i].ns, ns) == 0 && strcasecmp(rtypes[i].type, type) == 0)
            return &rtypes[i];
    return NULL;
}

static int64_t now_s(void)
{
    return (int64_t)time(NULL);
}

static int is_compute(sg_res_kind k)
{
    return k == SG_KIND_VM || k == SG_KIND_FUNCTIONAPP || k == SG_KIND_WEBAPP;
}

/* ---- JSON -------------------------------------------------------------------------------------- */

json_t *sg__arm_resource_brief(const sg_resource_rec *r)
{
    json_t *j = json_pack("{s:s,s:s,s:s,s:s,s:s}", "id", r->id, "name", r->name, "type", r->type,
                          "location", "local", "resourceGroup", r->resource_group);
    if (r->kind == SG_KIND_FUNCTIONAPP)
        json_object_set_new(j, "kind", json_string("functionapp"));
    else if (r->kind == SG_KIND_WEBAPP)
        json_object_set_new(j, "kind", json_string("app"));
    return j;
}

static const char *identity_type(const sg_compute_rec *r)
{
    int sys = r->system_principal_id[0] != 0, usr = r->n_uami > 0;
    return sys && usr ? "SystemAssigned, UserAssigned"
           : sys      ? "SystemAssigned"
           : usr      ? "UserAssigned"
                      : "None";
}

static json_t *identity_json(sg_cloud *c, const sg_compute_rec *r)
{
    json_t *j = json_object();
    json_object_set_new(j, "type", json_string(identity_type(r)));
    if (r->system_principal_id[0]) {
        json_object_set_new(j, "principalId", json_string(r->system_principal_id));
        json_object_set_new(j, "tenantId", json_string(c->tenant_id));
    }
    if (r->n_uami) {
        json_t *u = json_object();
        for (size_t i = 0; i < r->n_uami; i++)
            json_object_set_new(u, r->uami[i].id,
                                json_pack("{s:s,s:s}", "principalId", r->uami[i].principal_id,
                                          "clientId", r->uami[i].client_id));
        json_object_set_new(j, "userAssignedIdentities", u);
    }
    return j;
}

static json_t *compute_json(sg_cloud *c, const sg_compute_rec *r)
{
    json_t *j = json_object();
    int has_identity = r->system_principal_id[0] || r->n_uami;
    json_object_set_new(j, "id", json_string(r->id));
    json_object_set_new(j, "name", json_string(r->name));
    json_object_set_new(j, "type", json_string(r->kind == SG_KIND_VM
                                                   ? "Microsoft.Compute/virtualMachines"
                                                   : "Microsoft.Web/sites"));
    if (r->kind != SG_KIND_VM)
        json_object_set_new(j, "kind",
                            json_string(r->kind == SG_KIND_FUNCTIONAPP ? "functionapp" : "app"));
    json_object_set_new(j, "location", json_string("local"));
    json_object_set_new(j, "resourceGroup", json_string(r->resource_group));
    json_object_set_new(j, "identity", identity_json(c, r));
    json_t *props = json_object();
    json_object_set_new(props, "provisioningState", json_string("Succeeded"));
    /* VMs always have IMDS; apps expose IDENTITY_ENDPOINT only with an identity. */
    if (r->identity_port && (r->kind == SG_KIND_VM || has_identity)) {
        char url[128];
        sg_snprintf(url, sizeof url, "http://%s:%d", sg__arm_display_host(c), r->identity_port);
        json_object_set_new(props, "identityEndpoint", json_string(url));
        if (r->kind != SG_KIND_VM)
            json_object_set_new(props, "identityHeader", json_string(r->identity_header));
        json_object_set_new(props, "identityProtocol",
                            json_string(r->kind == SG_KIND_VM ? "IMDS" : "AppService"));
    } else {
        json_object_set_new(props, "identityEndpoint", json_null());
    }
    json_object_set_new(j, "properties", props);
    return j;
}

static json_t *uami_json(sg_cloud *c, const sg_uami_rec *u)
{
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:{s:s,s:s,s:s}}", "id", u->id, "name", u->name, "type",
                     "Microsoft.ManagedIdentity/userAssignedIdentities", "location", "local",
                     "resourceGroup", u->resource_group, "properties", "clientId", u->client_id,
                     "principalId", u->principal_id, "tenantId", c->tenant_id);
}

static json_t *signalr_json(sg_cloud *c, const sg_signalr_rec *s)
{
    const char *host = sg__arm_display_host(c);
    const char *url = sg__cloud_signalr_url(c, s->id);
    char fallback[160];
    if (!url || !url[0]) {
        sg_snprintf(fallback, sizeof fallback, "%s://%s:%d", s->tls ? "https" : "http", host,
                    s->port);
        url = fallback;
    }
    json_t *features = json_pack("[{s:s,s:s,s:{}}]", "flag", "ServiceMode", "value",
                                 s->serverless ? "Serverless" : "Default", "properties");
    json_t *props = json_object();
    json_object_set_new(props, "provisioningState", json_string("Succeeded"));
    json_object_set_new(props, "hostName", json_string(host));
    json_object_set_new(props, "externalIP", json_string(host));
    json_object_set_new(props, "publicPort", json_integer(s->port));
    json_object_set_new(props, "serverPort", json_integer(s->port));
    json_object_set_new(props, "version", json_string("1.0"));
    json_object_set_new(props, "disableLocalAuth", json_boolean(s->disable_local_auth));
    json_object_set_new(props, "disableAadAuth", json_false());
    json_object_set_new(props, "features", features);
    json_object_set_new(props, "tls", json_boolean(s->tls));
    json_object_set_new(props, "url", json_string(url));
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:{s:s,s:s,s:i},s:o}", "id", s->id, "name", s->name,
                     "type", "Microsoft.SignalRService/SignalR", "kind", "SignalR", "location",
                     "local", "resourceGroup", s->resource_group, "sku", "name", "Standard_S1",
                     "tier", "Standard", "capacity", 1, "properties", props);
}

static json_t *keys_json(sg_cloud *c, const sg_signalr_rec *s)
{
    char cs1[512], cs2[512];
    const char *host = sg__arm_display_host(c);
    const char *scheme = s->tls ? "https" : "http";
    sg_snprintf(cs1, sizeof cs1, "Endpoint=%s://%s;Port=%d;AccessKey=%s;Version=1.0;", scheme,
                host, s->port, s->primary_key);
    sg_snprintf(cs2, sizeof cs2, "Endpoint=%s://%s;Port=%d;AccessKey=%s;Version=1.0;", scheme,
                host, s->port, s->secondary_key);
    return json_pack("{s:s,s:s,s:s,s:s}", "primaryKey", s->primary_key, "secondaryKey",
                     s->secondary_key, "primaryConnectionString", cs1, "secondaryConnectionString",
                     cs2);
}

/* ---- lists ---------------------------------------------------------------------------------- */

typedef struct lst {
    sg_cloud *c;
    json_t *arr;
    sg_compute_rec *tmp;
    int rc;
} lst;

static int list_cb(const sg_resource_rec *r, void *ud)
{
    lst *l = ud;
    json_t *j = NULL;
    if (is_compute(r->kind)) {
        if (sg_store_compute_get(l->c->store, r->id, l->tmp) == SG_OK)
            j = compute_json(l->c, l->tmp);
    } else if (r->kind == SG_KIND_UAMI) {
        sg_uami_rec u;
        if (sg_store_uami_get(l->c->store, r->id, &u) == SG_OK)
            j = uami_json(l->c, &u);
    } else if (r->kind == SG_KIND_SIGNALR) {
        sg_signalr_rec s;
        if (sg_store_signalr_get(l->c->store, r->id, &s) == SG_OK)
            j = signalr_json(l->c, &s);
    } else {
        j = sg__arm_resource_brief(r);
    }
    if (j)
        json_array_append_new(l->arr, j);
    return 0;
}

typedef struct sr_collect {
    const char *sub, *rg;
    sg_signalr_rec *v;
    size_t n, cap;
} sr_collect;

static int sr_collect_cb(const sg_signalr_rec *r, void *ud)
{
    sr_collect *x = ud;
    if (strcasecmp(r->subscription_id, x->sub) != 0 || (x->rg && strcasecmp(r->resource_group, x->rg) != 0))
        return 0;
    if (x->n == x->cap) {
        size_t nc = x->cap ? x->cap * 2 : 4;
        sg_signalr_rec *nv = sg_realloc(x->v, nc * sizeof *nv);
        if (!nv)
            return SG_ENOMEM;
        x->v = nv;
        x->cap = nc;
    }
    x->v[x->n++] = *r;
    return 0;
}

int sg__arm_collect_signalr(sg_cloud *c, const char *sub, const char *rg, sg_signalr_rec **out,
                            size_t *n)
{
    sr_collect x = {sub, rg, NULL, 0, 0};
    int rc = sg_store_signalr_list(c->store, sr_collect_cb, &x);
    *out = x.v;
    *n = x.n;
    return rc < 0 ? rc : SG_OK;
}

/* ---- identity assignment ---------------------------------------------------------------------- */

typedef struct arm_err {
    int status;
    char code[64];
    char msg[768];
} arm_err;

static int new_mi_principal(sg_cloud *c, const char *display, const char *kind,
                            const char *mi_resource_id, sg_principal_rec *p)
{
    memset(p, 0, sizeof *p);
    if (sg_uuid4(p->object_id) || sg_uuid4(p->app_id))
        return SG_EIO;
    sg_snprintf(p->display_name, sizeof p->display_name, "%s", display);
    sg_snprintf(p->type, sizeof p->type, "ManagedIdentity");
    sg_snprintf(p->mi_kind, sizeof p->mi_kind, "%s", kind);
    sg_snprintf(p->mi_resource_id, sizeof p->mi_resource_id, "%s", mi_resource_id);
    p->created = now_s();
    (void)c;
    return sg_store_principal_add(c->store, p);
}

/* 1 if nothing on this host holds `port` on `host` right now (a listener of another program
 * included): a trial bind with SO_REUSEADDR, closed at once. Non-IPv4 hosts are not probed. */
static int port_bindable(const char *host, int port)
{
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host ? host : "127.0.0.1", &sa.sin_addr) != 1)
        return 1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    int ok = bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    close(fd);
    return ok;
}

typedef int (*port_alloc_fn)(sg_store *st, int base, const int *avoid, size_t navoid, int *out);

/* Next port from `base` that the store has not handed out and no other program holds. */
static int alloc_free_port(sg_cloud *c, port_alloc_fn alloc, int base, int *out)
{
    int avoid[2] = {c->cloud_port, c->signalr_port};
    for (int tries = 0; tries < 256; tries++) {
        int rc = alloc(c->store, base, avoid, 2, out);
        if (rc)
            return rc;
        if (port_bindable(c->host, *out))
            return SG_OK;
        SG_LOGI("cloud", "event=port_skipped port=%d reason=in_use", *out);
        base = *out + 1;
    }
    return SG_ELIMIT;
}

static int ensure_identity_port(sg_cloud *c, sg_resource_rec *r)
{
    if (r->identity_port)
        return SG_OK;
    int rc = alloc_free_port(c, sg_store_identity_port_alloc, c->identity_port_base,
                             &r->identity_port);
    if (rc)
        return rc;
    if (r->kind != SG_KIND_VM && !r->identity_header[0])
        rc = sg_random_token(r->identity_header, sizeof r->identity_header, 24);
    return rc;
}

/* Applies an ARM `identity` object to compute resource r (inside a transaction).
 * PUT: the identity is replaced; PATCH: userAssignedIdentities entries with null are
 * removed, others added, and type decides whether the system identity exists. */
static int apply_identity(sg_cloud *c, sg_resource_rec *r, json_t *ident, int patch, arm_err *e)
{
    const char *type = json_string_value(json_object_get(ident, "type"));
    json_t *uai = json_object_get(ident, "userAssignedIdentities");
    int want_sys, want_usr;
    int rc;

    if (!type) {
        e->status = 400;
        sg_snprintf(e->code, sizeof e->code, "InvalidIdentityType");
        sg_snprintf(e->msg, sizeof e->msg,
                    "identity.type is required: None, SystemAssigned, UserAssigned or "
                    "'SystemAssigned, UserAssigned'");
        return SG_EINVAL;
    }
    want_sys = strcasestr(type, "SystemAssigned") != NULL;
    want_usr = strcasestr(type, "UserAssigned") != NULL;
    if (!want_sys && !want_usr && strcasecmp(type, "None") != 0) {
        e->status = 400;
        sg_snprintf(e->code, sizeof e->code, "InvalidIdentityType");
        sg_snprintf(e->msg, sizeof e->msg, "identity type '%s' is not supported", type);
        return SG_EINVAL;
    }
    if (uai && !json_is_object(uai)) {
        e->status = 400;
        sg_snprintf(e->code, sizeof e->code, "InvalidRequestContent");
        sg_snprintf(e->msg, sizeof e->msg, "identity.userAssignedIdentities must be an object");
        return SG_EINVAL;
    }
    if (!want_usr && uai && json_object_size(uai) && !patch) {
        e->status = 400;
        sg_snprintf(e->code, sizeof e->code, "InvalidIdentityType");
        sg_snprintf(e->msg, sizeof e->msg,
                    "userAssignedIdentities given but identity type '%s' has no UserAssigned",
                    type);
        return SG_EINVAL;
    }

    /* system-assigned */
    if (want_sys && !r->system_principal_id[0]) {
        sg_principal_rec p;
        rc = new_mi_principal(c, r->name, "SystemAssigned", r->id, &p);
        if (rc)
            return rc;
        sg_snprintf(r->system_principal_id, sizeof r->system_principal_id, "%s", p.object_id);
        SG_LOGI(MOD, "event=system_identity_enabled resource=%s oid=%s appid=%s", r->id,
                p.object_id, p.app_id);
    } else if (!want_sys && r->system_principal_id[0]) {
        rc = sg_store_principal_delete(c->store, r->system_principal_id);
        if (rc && rc != SG_ENOTFOUND)
            return rc;
        SG_LOGI(MOD, "event=system_identity_disabled resource=%s oid=%s", r->id,
                r->system_principal_id);
        r->system_principal_id[0] = 0;
    }

    /* user-assigned */
    sg_compute_rec *cur = SG_NEW(sg_compute_rec);
    if (!cur)
        return SG_ENOMEM;
    rc = SG_OK;
    /* the resource row may not have its identity yet: read attachments directly */
    if (sg_store_compute_get(c->store, r->id, cur) != SG_OK)
        cur->n_uami = 0;
    if (!want_usr || !patch) {
        for (size_t i = 0; i < cur->n_uami && rc == SG_OK; i++) {
            int keep = 0;
            if (want_usr && uai) {
                const char *k;
                json_t *v;
                json_object_foreach(uai, k, v)
                {
                    if (!json_is_null(v) && strcasecmp(k, cur->uami[i].id) == 0)
                        keep = 1;
                }
            }
            if (!keep)
                rc = sg_store_uami_detach(c->store, r->id, cur->uami[i].id);
        }
    }
    if (rc == SG_OK && want_usr && uai) {
        const char *k;
        json_t *v;
        json_object_foreach(uai, k, v)
        {
            sg_uami_rec u;
            if (rc)
                break;
            if (sg_store_uami_get(c->store, k, &u) != SG_OK) {
                if (json_is_null(v))
                    continue;
                e->status = 400;
                sg_snprintf(e->code, sizeof e->code, "FailedIdentityOperation");
                sg_snprintf(e->msg, sizeof e->msg,
                            "user-assigned identity '%s' was not found: create it with 'sigrid "
                            "identity create -g RG -n NAME' and pass its id",
                            k);
                rc = SG_ENOTFOUND;
                break;
            }
            if (json_is_null(v)) {
                rc = sg_store_uami_detach(c->store, r->id, u.id);
                if (rc == SG_ENOTFOUND)
                    rc = SG_OK;
            } else {
                rc = sg_store_uami_attach(c->store, r->id, u.id);
            }
        }
    }
    sg_free(cur);
    if (rc)
        return rc;

    if (want_sys || want_usr) {
        rc = ensure_identity_port(c, r);
        if (rc)
            return rc;
    }
    rc = sg_store_resource_update_identity(c->store, r);
    if (rc)
        return rc;
    /* cap */
    sg_compute_rec *after = SG_NEW(sg_compute_rec);
    if (!after)
        return SG_ENOMEM;
    rc = sg_store_compute_get(c->store, r->id, after);
    if (rc == SG_OK && want_usr && after->n_uami == 0 && !patch) {
        e->status = 400;
        sg_snprintf(e->code, sizeof e->code, "InvalidIdentityType");
        sg_snprintf(e->msg, sizeof e->msg,
                    "identity type '%s' needs at least one entry in userAssignedIdentities", type);
        rc = SG_EINVAL;
    }
    sg_free(after);
    return rc;
}

/* ---- compute --------------------------------------------------------------------------------- */

static void reply_compute(arm_ctx *a, int status, const char *id)
{
    sg_compute_rec *r = SG_NEW(sg_compute_rec);
    if (!r) {
        sg__arm_fail(a, 500, "InternalServerError", "out of memory");
        return;
    }
    int rc = sg_store_compute_get(a->c->store, id, r);
    if (rc)
        sg__arm_fail_store(a, rc, "ResourceNotFound", "the resource");
    else
        sg__arm_reply(a, status, compute_json(a->c, r));
    sg_free(r);
}

static void fail_err(arm_ctx *a, int rc, const arm_err *e, const char *what)
{
    if (e->status)
        sg__arm_fail(a, e->status, e->code, "%s", e->msg);
    else
        sg__arm_fail_store(a, rc, "ResourceNotFound", what);
}

static void compute_put(arm_ctx *a, const char *id, const char *sub, const char *rg,
                        const char *name, const rtype *t, int exists, sg_resource_rec *cur)
{
    sg_cloud *c = a->c;
    arm_err e = {0};
    json_t *ident = json_object_get(a->body, "identity");
    sg_http_method meth = a->req->method;
    int rc = sg_store_begin(c->store);
    if (rc) {
        sg__arm_fail_store(a, rc, NULL, "store");
        return;
    }
    if (!exists) {
        sg_resource_rec r;
        memset(&r, 0, sizeof r);
        if (strlen(name) >= sizeof r.name) {
            sg_store_rollback(c->store);
            sg__arm_fail(a, 400, "InvalidResourceName", "resource name too long");
            return;
        }
        sg_snprintf(r.id, sizeof r.id, "%s", id);
        sg_snprintf(r.subscription_id, sizeof r.subscription_id, "%s", sub);
        sg_snprintf(r.resource_group, sizeof r.resource_group, "%s", rg);
        sg_snprintf(r.type, sizeof r.type, "%s/%s", t->ns, t->type);
        sg_snprintf(r.name, sizeof r.name, "%s", name);
        r.kind = t->kind;
        if (t->kind == SG_KIND_FUNCTIONAPP) {
            const char *kind = json_string_value(json_object_get(a->body, "kind"));
            if (kind && !strcasestr(kind, "functionapp"))
                r.kind = SG_KIND_WEBAPP;
        }
        r.created = now_s();
        if (r.kind == SG_KIND_VM)
            rc = ensure_identity_port(c, &r); /* every VM has IMDS */
        if (rc == SG_OK)
            rc = sg_store_resource_add(c->store, &r);
        if (rc == SG_OK && ident && !json_is_null(ident))
            rc = apply_identity(c, &r, ident, 0, &e);
        if (rc == SG_OK)
            SG_LOGI(MOD, "event=compute_created id=%s kind=%d identity_port=%d", r.id, r.kind,
                    r.identity_port);
    } else if (ident && !json_is_null(ident)) {
        rc = apply_identity(c, cur, ident, meth == SG_HTTP_PATCH, &e);
    }
    if (rc == SG_OK)
        rc = sg_store_commit(c->store);
    else
        sg_store_rollback(c->store);
    if (rc) {
        fail_err(a, rc, &e, "the resource");
        return;
    }
    sg__arm_idep_sync(c);
    reply_compute(a, exists ? 200 : 201, exists ? cur->id : id);
}

/* ---- user-assigned identities ---------------------------------------------------------------- */

static void uami_put(arm_ctx *a, const char *id, const char *sub, const char *rg,
                     const char *name, int exists)
{
    sg_cloud *c = a->c;
    sg_uami_rec u;
    int rc;
    if (!exists) {
        sg_resource_rec r;
        sg_principal_rec p;
        memset(&r, 0, sizeof r);
        if (strlen(name) >= sizeof r.name) {
            sg__arm_fail(a, 400, "InvalidResourceName", "resource name too long");
            return;
        }
        sg_snprintf(r.id, sizeof r.id, "%s", id);
        sg_snprintf(r.subscription_id, sizeof r.subscription_id, "%s", sub);
        sg_snprintf(r.resource_group, sizeof r.resource_group, "%s", rg);
        sg_snprintf(r.type, sizeof r.type, "Microsoft.ManagedIdentity/userAssignedIdentities");
        sg_snprintf(r.name, sizeof r.name, "%s", name);
        r.kind = SG_KIND_UAMI;
        r.created = now_s();
        rc = sg_store_begin(c->store);
        if (rc == SG_OK) {
            rc = sg_store_resource_add(c->store, &r);
            if (rc == SG_OK)
                rc = new_mi_principal(c, name, "UserAssigned", r.id, &p);
            if (rc == SG_OK)
                rc = sg_store_commit(c->store);
            else
                sg_store_rollback(c->store);
        }
        if (rc) {
            sg__arm_fail_store(a, rc, NULL, "user-assigned identity");
            return;
        }
        SG_LOGI(MOD, "event=uami_created id=%s oid=%s appid=%s", r.id, p.object_id, p.app_id);
    }
    rc = sg_store_uami_get(c->store, id, &u);
    if (rc) {
        sg__arm_fail_store(a, rc, NULL, "user-assigned identity");
        return;
    }
    sg__arm_reply(a, exists ? 200 : 201, uami_json(c, &u));
}

/* ---- SignalR ----------------------------------------------------------------------------------- */

/* Reads mode / local auth / port / tls from the body into s. Returns 0 or fills e. */
static int signalr_props(arm_ctx *a, sg_signalr_rec *s, int *port_given, arm_err *e)
{
    json_t *props = json_object_get(a->body, "properties");
    json_t *features = json_object_get(props, "features");
    json_t *dla = json_object_get(props, "disableLocalAuth");
    json_t *port = json_object_get(props, "publicPort");
    json_t *tls = json_object_get(props, "tls");
    size_t i;
    json_t *f;
    *port_given = 0;
    json_array_foreach(features, i, f)
    {
        const char *flag = json_string_value(json_object_get(f, "flag"));
        const char *val = json_string_value(json_object_get(f, "value"));
        if (!flag || strcasecmp(flag, "ServiceMode") != 0 || !val)
            continue;
        if (strcasecmp(val, "Serverless") == 0) {
            s->serverless = 1;
        } else if (strcasecmp(val, "Default") == 0) {
            s->serverless = 0;
        } else {
            e->status = 400;
            sg_snprintf(e->code, sizeof e->code, "InvalidServiceMode");
            sg_snprintf(e->msg, sizeof e->msg,
                        "service mode '%s' is not supported: use Default or Serverless", val);
            return SG_EINVAL;
        }
    }
    if (json_is_boolean(dla))
        s->disable_local_auth = json_is_true(dla);
    if (json_is_boolean(tls))
        s->tls = json_is_true(tls);
    if (port && !json_is_null(port)) {
        json_int_t p = json_integer_value(port);
        if (!json_is_integer(port) || p < 1 || p > 65535) {
            e->status = 400;
            sg_snprintf(e->code, sizeof e->code, "InvalidPort");
            sg_snprintf(e->msg, sizeof e->msg, "publicPort must be an integer 1..65535");
            return SG_EINVAL;
        }
        if (p != s->port)
            *port_given = 1;
        s->port = (int)p;
    }
    return SG_OK;
}

/* Port used by the cloud listener or an identity endpoint? (SignalR ports: sr_port_cb) */
static int port_taken(sg_cloud *c, int port)
{
    sg_compute_rec *r;
    int taken = 0;
    if (port == c->cloud_port)
        return 1;
    r = SG_NEW(sg_compute_rec);
    if (r && sg_store_compute_by_port(c->store, port, r) == SG_OK)
        taken = 1;
    sg_free(r);
    return taken;
}

typedef struct sr_port_check {
    int port;
    const char *self;
    int taken;
} sr_port_check;

static int sr_port_cb(const sg_signalr_rec *r, void *ud)
{
    sr_port_check *x = ud;
    if (r->port == x->port && (!x->self || strcasecmp(r->id, x->self) != 0))
        x->taken = 1;
    return 0;
}

static void signalr_put(arm_ctx *a, const char *id, const char *sub, const char *rg,
                        const char *name, int exists)
{
    sg_cloud *c = a->c;
    sg_signalr_rec s;
    arm_err e = {0};
    int port_given = 0, rc;
    sg_http_method meth = a->req->method;

    memset(&s, 0, sizeof s);
    if (exists) {
        rc = sg_store_signalr_get(c->store, id, &s);
        if (rc) {
            sg__arm_fail_store(a, rc, NULL, "SignalR resource");
            return;
        }
    } else {
        s.serverless = 0; /* Default mode, as in Azure */
        s.tls = c->signalr_tls;
    }
    if (signalr_props(a, &s, &port_given, &e) != SG_OK) {
        sg__arm_fail(a, e.status, e.code, "%s", e.msg);
        return;
    }
    if (port_given) {
        sr_port_check x = {s.port, exists ? s.id : NULL, 0};
        sg_store_signalr_list(c->store, sr_port_cb, &x);
        if (x.taken || port_taken(c, s.port)) {
            sg__arm_fail(a, 409, "PortInUse",
                         "port %d is already used by another sigrid listener; pick another "
                         "with --port",
                         s.port);
            return;
        }
    }
    if (!exists) {
        sg_resource_rec r;
        memset(&r, 0, sizeof r);
        if (strlen(name) >= sizeof r.name) {
            sg__arm_fail(a, 400, "InvalidResourceName", "resource name too long");
            return;
        }
        if (!port_given) {
            rc = alloc_free_port(c, sg_store_signalr_port_alloc, c->signalr_port + 1, &s.port);
            if (rc) {
                sg__arm_fail_store(a, rc, NULL, "port allocation");
                return;
            }
        }
        sg_snprintf(r.id, sizeof r.id, "%s", id);
        sg_snprintf(r.subscription_id, sizeof r.subscription_id, "%s", sub);
        sg_snprintf(r.resource_group, sizeof r.resource_group, "%s", rg);
        sg_snprintf(r.type, sizeof r.type, "Microsoft.SignalRService/SignalR");
        sg_snprintf(r.name, sizeof r.name, "%s", name);
        r.kind = SG_KIND_SIGNALR;
        r.created = now_s();
        sg_snprintf(s.id, sizeof s.id, "%s", id);
        if (sg__cloud_gen_access_key(s.primary_key, sizeof s.primary_key) ||
            sg__cloud_gen_access_key(s.secondary_key, sizeof s.secondary_key)) {
            sg__arm_fail(a, 500, "InternalServerError", "no randomness");
            return;
        }
        rc = sg_store_begin(c->store);
        if (rc == SG_OK) {
            rc = sg_store_resource_add(c->store, &r);
            if (rc == SG_OK)
                rc = sg_store_signalr_add(c->store, &s);
            if (rc == SG_OK)
                rc = sg_store_commit(c->store);
            else
                sg_store_rollback(c->store);
        }
    } else {
        (void)meth;
        rc = sg_store_signalr_update(c->store, &s);
    }
    if (rc) {
        sg__arm_fail_store(a, rc, NULL, "SignalR resource");
        return;
    }
    rc = sg_store_signalr_get(c->store, id, &s);
    if (rc) {
        sg__arm_fail_store(a, rc, NULL, "SignalR resource");
        return;
    }
    sg__cloud_signalr_notify(c, exists ? SG_RES_UPDATED : SG_RES_ADDED, &s);
    sg__arm_reply(a, exists ? 200 : 201, signalr_json(c, &s));
}

static void signalr_action(arm_ctx *a, const char *id, const char *action)
{
    sg_cloud *c = a->c;
    sg_signalr_rec s;
    int rc = sg_store_signalr_get(c->store, id, &s);
    if (rc) {
        sg__arm_fail_store(a, rc, NULL, "SignalR resource");
        return;
    }
    if (a->req->method != SG_HTTP_POST) {
        sg__arm_fail(a, 405, "MethodNotAllowed", "use POST for %s", action);
        return;
    }
    if (strcasecmp(action, "listKeys") == 0) {
        sg__arm_reply(a, 200, keys_json(c, &s));
        return;
    }
    if (strcasecmp(action, "regenerateKey") == 0) {
        const char *kt = json_string_value(json_object_get(a->body, "keyType"));
        char *which;
        if (kt && strcasecmp(kt, "Primary") == 0)
            which = s.primary_key;
        else if (kt && strcasecmp(kt, "Secondary") == 0)
            which = s.secondary_key;
        else {
            sg__arm_fail(a, 400, "InvalidKeyType", "keyType must be Primary or Secondary");
            return;
        }
        rc = sg__cloud_gen_access_key(which, sizeof s.primary_key);
        if (rc == SG_OK)
            rc = sg_store_signalr_update(c->store, &s);
        if (rc) {
            sg__arm_fail_store(a, rc, NULL, "SignalR resource");
            return;
        }
        SG_LOGI(MOD, "event=signalr_key_renewed resource=%s key=%s", s.id, kt);
        sg__cloud_signalr_notify(c, SG_RES_UPDATED, &s);
        sg__arm_reply(a, 200, keys_json(c, &s));
        return;
    }
    sg__arm_fail(a, 404, "NotFound", "unknown action '%s' (listKeys, regenerateKey)", action);
}

/* ---- dispatch ------------------------------------------------------------------------------ */

static void resource_delete(arm_ctx *a, const sg_resource_rec *r)
{
    sg_cloud *c = a->c;
    sg_signalr_rec s;
    int was_sr = r->kind == SG_KIND_SIGNALR && sg_store_signalr_get(c->store, r->id, &s) == SG_OK;
    int rc = sg_store_resource_delete(c->store, r->id);
    if (rc) {
        sg__arm_fail_store(a, rc, NULL, "the resource");
        return;
    }
    SG_LOGI(MOD, "event=resource_deleted id=%s", r->id);
    if (was_sr)
        sg__cloud_signalr_notify(c, SG_RES_REMOVED, &s);
    if (r->kind != SG_KIND_SIGNALR)
        sg__arm_idep_sync(c);
    sg__arm_reply(a, 200, NULL);
}

void sg__arm_resource(arm_ctx *a, const char *sub, const char *rg, size_t prov)
{
    sg_cloud *c = a->c;
    sg_http_method meth = a->req->method;
    /* prov = index of "providers"; ns at prov+1, type at prov+2, name at prov+3, action at +4 */
    if (a->n < prov + 3) {
        sg__arm_fail(a, 404, "NotFound", "resource provider route needs a namespace and a type");
        return;
    }
    const rtype *t = rtype_find(a->seg[prov + 1], a->seg[prov + 2]);
    if (!t) {
        sg__arm_fail(a, 400, "NoRegisteredProviderFound",
                     "sigrid has no resource type '%s/%s' (it knows Microsoft.Compute/"
                     "virtualMachines, Microsoft.Web/sites, Microsoft.ManagedIdentity/"
                     "userAssignedIdentities, Microsoft.SignalRService/SignalR)",
                     a->seg[prov + 1], a->seg[prov + 2]);
        return;
    }
    char type[96];
    sg_snprintf(type, sizeof type, "%s/%s", t->ns, t->type);
    if (a->n == prov + 3) {
        if (meth != SG_HTTP_GET) {
            sg__arm_fail(a, 405, "MethodNotAllowed", "use GET to list resources");
            return;
        }
        lst l = {c, json_array(), SG_NEW(sg_compute_rec), 0};
        if (!l.tmp) {
            json_decref(l.arr);
            sg__arm_fail(a, 500, "InternalServerError", "out of memory");
            return;
        }
        sg_store_resource_list(c->store, sub, rg, type, list_cb, &l);
        sg_free(l.tmp);
        sg__arm_reply(a, 200, json_pack("{s:o}", "value", l.arr));
        return;
    }
    if (!rg) {
        sg__arm_fail(a, 404, "NotFound", "resources live in a resource group");
        return;
    }
    const char *name = a->seg[prov + 3];
    char id[SG_STORE_ID_MAX];
    if (sg_snprintf(id, sizeof id, "/subscriptions/%s/resourceGroups/%s/providers/%s/%s", sub, rg,
                    type, name) != SG_OK) {
        sg__arm_fail(a, 400, "InvalidResourceName", "resource id too long");
        return;
    }
    sg_resource_rec cur;
    int rc = sg_store_resource_get(c->store, id, &cur);
    int exists = rc == SG_OK;
    if (rc && rc != SG_ENOTFOUND) {
        sg__arm_fail_store(a, rc, NULL, "the resource");
        return;
    }
    if (exists && (cur.kind == SG_KIND_WEBAPP ? SG_KIND_FUNCTIONAPP : cur.kind) != t->kind) {
        sg__arm_fail(a, 409, "Conflict", "a resource of another type exists at %s", id);
        return;
    }
    if (exists)
        sg_snprintf(id, sizeof id, "%s", cur.id); /* canonical casing */

    if (a->n == prov + 5) {
        if (!exists) {
            sg__arm_fail(a, 404, "ResourceNotFound",
                         "The Resource '%s/%s' under resource group '%s' was not found.", type,
                         name, rg);
            return;
        }
        if (t->kind != SG_KIND_SIGNALR) {
            sg__arm_fail(a, 404, "NotFound", "no action '%s' on %s", a->seg[prov + 4], type);
            return;
        }
        signalr_action(a, id, a->seg[prov + 4]);
        return;
    }
    if (a->n != prov + 4) {
        sg__arm_fail(a, 404, "NotFound", "no such resource route");
        return;
    }

    if (meth == SG_HTTP_PUT || (meth == SG_HTTP_PATCH && exists)) {
        if (t->kind == SG_KIND_VM || t->kind == SG_KIND_FUNCTIONAPP)
            compute_put(a, id, sub, rg, name, t, exists, &cur);
        else if (t->kind == SG_KIND_UAMI)
            uami_put(a, id, sub, rg, name, exists);
        else
            signalr_put(a, id, sub, rg, name, exists);
        return;
    }
    if (!exists) {
        sg__arm_fail(a, 404, "ResourceNotFound",
                     "The Resource '%s/%s' under resource group '%s' was not found.", type, name,
                     rg);
        return;
    }
    if (meth == SG_HTTP_DELETE) {
        resource_delete(a, &cur);
        return;
    }
    if (meth != SG_HTTP_GET && meth != SG_HTTP_HEAD) {
        sg__arm_fail(a, 405, "MethodNotAllowed", "method not allowed");
        return;
    }
    if (is_compute(cur.kind)) {
        reply_compute(a, 200, id);
    } else if (cur.kind == SG_KIND_UAMI) {
        sg_uami_rec u;
        rc = sg_store_uami_get(c->store, id, &u);
        if (rc)
            sg__arm_fail_store(a, rc, NULL, "user-assigned identity");
        else
            sg__arm_reply(a, 200, uami_json(c, &u));
    } else {
        sg_signalr_rec s;
        rc = sg_store_signalr_get(c->store, id, &s);
        if (rc)
            sg__arm_fail_store(a, rc, NULL, "SignalR resource");
        else
            sg__arm_reply(a, 200, signalr_json(c, &s));
    }
}
