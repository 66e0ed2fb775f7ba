/* cli_arm.c — shared helpers of the management commands, and the vm / functionapp groups. */
#include "cli/cli_arm.h"

#include "sg_alloc.h"
#include "sg_buf.h"
#include "sg_err.h"
#include "sg_str.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* ---- paths ---------------------------------------------------------------------------------- */

/* Percent-encodes everything but unreserved characters and '/'. */
static int enc_path(sg_buf *b, const char *s)
{
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        int rc;
        if (isalnum(ch) || ch == '-' || ch == '.' || ch == '_' || ch == '~' || ch == '/')
            rc = sg_buf_append_byte(b, ch);
        else
            rc = sg_buf_appendf(b, "%%%02X", ch);
        if (rc)
            return rc;
    }
    return SG_OK;
}

int sg_cliarm_path(char *out, size_t outlen, const char *fmt, ...)
{
    char raw[SG_CLI_PATH_MAX];
    va_list ap;
    sg_buf b;
    int rc;
    va_start(ap, fmt);
    int n = vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof raw)
        return sg_cli_fail("InvalidArgument", "path too long");
    sg_buf_init(&b, 0);
    rc = enc_path(&b, raw);
    if (rc == SG_OK)
        rc = sg_buf_append_str(&b, SG_ARM_API);
    if (rc == SG_OK)
        rc = sg_snprintf(out, outlen, "%s", b.data);
    sg_buf_free(&b);
    if (rc)
        return sg_cli_fail("InvalidArgument", "path too long");
    return 0;
}

int sg_cliarm_res_path(char *out, size_t outlen, const char *sub, const char *rg, const char *type,
                       const char *name, const char *suffix)
{
    if (strchr(rg, '/') || (name && strchr(name, '/')))
        return sg_cli_fail("InvalidArgument", "names cannot contain '/'");
    if (!name)
        return sg_cliarm_path(out, outlen, "/subscriptions/%s/resourceGroups/%s/providers/%s", sub,
                              rg, type);
    return sg_cliarm_path(out, outlen, "/subscriptions/%s/resourceGroups/%s/providers/%s/%s%s%s",
                          sub, rg, type, name, suffix ? "/" : "", suffix ? suffix : "");
}

int sg_cliarm_check_name(const sg_cli_ctx *ctx, const char *name)
{
    if (strchr(name, '/'))
        return sg_cli_usage_error(ctx, "the name cannot contain '/'.");
    return 0;
}

int sg_cliarm_flags_res_path(const sg_cli_ctx *ctx, sg_cli_flag *f, const char *type,
                             const char *suffix, char *sub, size_t sublen, char *path,
                             size_t pathlen)
{
    char own[64];
    if (!sub) {
        sub = own;
        sublen = sizeof own;
    }
    int rc = sg_cliarm_sub(ctx, sg_cli_str(f, "--subscription"), sub, sublen);
    if (rc)
        return rc;
    return sg_cliarm_res_path(path, pathlen, sub, sg_cli_str(f, "--resource-group"), type,
                              sg_cli_str(f, "--name"), suffix);
}

int sg_cliarm_flags_list_path(const sg_cli_ctx *ctx, sg_cli_flag *f, const char *type, char *path,
                              size_t pathlen)
{
    char sub[64];
    int rc = sg_cliarm_sub(ctx, sg_cli_str(f, "--subscription"), sub, sizeof sub);
    if (rc)
        return rc;
    const char *rg = sg_cli_str(f, "--resource-group");
    if (rg)
        return sg_cliarm_res_path(path, pathlen, sub, rg, type, NULL, NULL);
    return sg_cliarm_path(path, pathlen, "/subscriptions/%s/providers/%s", sub, type);
}

static int looks_like_guid(const char *s)
{
    if (strlen(s) != 36)
        return 0;
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return 0;
        } else if (!isxdigit((unsigned char)s[i])) {
            return 0;
        }
    }
    return 1;
}

int sg_cliarm_sub(const sg_cli_ctx *ctx, const char *given, char *out, size_t outlen)
{
    json_t *j = NULL;
    int rc;
    if (!given || !*given) {
        rc = sg_cli_endpoints(ctx, &j);
        if (rc)
            return rc;
        const char *s = json_string_value(json_object_get(j, "subscriptionId"));
        if (!s) {
            json_decref(j);
            return sg_cli_fail("NotRunning", "endpoints.json in %s names no subscriptionId",
                               ctx->data_dir);
        }
        sg_snprintf(out, outlen, "%s", s);
        json_decref(j);
        return 0;
    }
    if (looks_like_guid(given)) {
        sg_snprintf(out, outlen, "%s", given);
        return 0;
    }
    rc = sg_cli_mgmt(ctx, "GET", "/subscriptions" SG_ARM_API, NULL, &j);
    if (rc)
        return rc;
    size_t i;
    json_t *v;
    int found = 0;
    json_array_foreach(json_object_get(j, "value"), i, v)
    {
        const char *dn = json_string_value(json_object_get(v, "displayName"));
        if (dn && strcasecmp(dn, given) == 0) {
            sg_snprintf(out, outlen, "%s", json_string_value(json_object_get(v, "subscriptionId")));
            found = 1;
            break;
        }
    }
    json_decref(j);
    if (!found)
        return sg_cli_fail("SubscriptionNotFound",
                           "Subscription '%s' not found. Check 'sigrid account list'.", given);
    return 0;
}

void sg_cliarm_uami_id(const char *ref, const char *sub, const char *rg, char *out, size_t outlen)
{
    if (ref[0] == '/')
        sg_snprintf(out, outlen, "%s", ref);
    else
        sg_snprintf(out, outlen, "/subscriptions/%s/resourceGroups/%s/providers/%s/%s", sub, rg,
                    SG_ARM_UAMI, ref);
}

/* ---- views ------------------------------------------------------------------------------------
 */

void sg_cliarm_shape_into(json_t *dst, const json_t *arm, const sg_cliarm_field *fields)
{
    const json_t *props = json_object_get(arm, "properties");
    for (const sg_cliarm_field *f = fields; f->key; f++) {
        const json_t *src = arm;
        const char *key = f->key;
        if (strncmp(key, "properties.", 11) == 0) {
            src = props;
            key += 11;
        }
        json_t *v = json_object_get(src, key);
        if (!v && f->null_if_missing)
            v = json_null();
        if (v)
            json_object_set(dst, f->as ? f->as : key, v);
    }
}

json_t *sg_cliarm_shape(const json_t *arm, const sg_cliarm_field *fields)
{
    json_t *j = json_object();
    sg_cliarm_shape_into(j, arm, fields);
    return j;
}

json_t *sg_cliarm_compute_view(const json_t *arm)
{
    static const sg_cliarm_field fields[] = {
        {.key = "id"},
        {.key = "name"},
        {.key = "resourceGroup"},
        {.key = "location"},
        {.key = "type"},
        {.key = "kind"},
        {.key = "identity"},
        {.key = "properties.identityEndpoint", .null_if_missing = 1},
        {.key = "properties.provisioningState"},
        {0},
    };
    return sg_cliarm_shape(arm, fields);
}

json_t *sg_cliarm_identity_summary(const json_t *arm)
{
    const json_t *id = json_object_get(arm, "identity");
    const char *pid = json_string_value(json_object_get(id, "principalId"));
    json_t *uai = json_object_get(id, "userAssignedIdentities");
    json_t *j = json_object();
    json_object_set_new(j, "systemAssignedIdentity", json_string(pid ? pid : ""));
    json_object_set_new(j, "userAssignedIdentities", uai ? json_deep_copy(uai) : json_object());
    return j;
}

json_t *sg_cliarm_uami_view(const json_t *arm)
{
    static const sg_cliarm_field fields[] = {
        {.key = "id"},
        {.key = "name"},
        {.key = "properties.clientId"},
        {.key = "properties.principalId"},
        {.key = "properties.tenantId"},
        {.key = "type"},
        {.key = "location"},
        {.key = "resourceGroup"},
        {0},
    };
    return sg_cliarm_shape(arm, fields);
}

json_t *sg_cliarm_signalr_view(const json_t *arm)
{
    static const sg_cliarm_field fields[] = {
        {.key = "id"},
        {.key = "name"},
        {.key = "properties.hostName"},
        {.key = "properties.publicPort"},
        {.key = "properties.serverPort"},
        {.key = "properties.disableLocalAuth"},
        {.key = "properties.features"},
        {.key = "properties.externalIP"},
        {.key = "properties.provisioningState"},
        {.key = "resourceGroup"},
        {.key = "location"},
        {.key = "sku"},
        {.key = "type"},
        {0},
    };
    return sg_cliarm_shape(arm, fields);
}

json_t *sg_cliarm_roledef_view(const json_t *arm)
{
    static const sg_cliarm_field fields[] = {
        {.key = "properties.assignableScopes"},
        {.key = "properties.description"},
        {.key = "id"},
        {.key = "name"},
        {.key = "properties.permissions"},
        {.key = "properties.roleName"},
        {.key = "properties.type", .as = "roleType"},
        {.key = "type"},
        {0},
    };
    return sg_cliarm_shape(arm, fields);
}

json_t *sg_cliarm_assignment_view(const json_t *arm)
{
    static const sg_cliarm_field fields[] = {
        {.key = "id"},
        {.key = "name"},
        {.key = "properties.principalId"},
        {.key = "properties.principalType"},
        {.key = "properties.roleDefinitionId"},
        {.key = "properties.roleDefinitionName"},
        {.key = "properties.scope"},
        {.key = "properties.createdOn"},
        {.key = "properties.effectiveOn"},
        {.key = "type"},
        {0},
    };
    return sg_cliarm_shape(arm, fields);
}

int sg_cliarm_roledef_is(const json_t *def, const void *role)
{
    const char *nm =
        json_string_value(json_object_get(json_object_get(def, "properties"), "roleName"));
    const char *id = json_string_value(json_object_get(def, "name"));
    return !role || (nm && strcasecmp(nm, role) == 0) || (id && strcasecmp(id, role) == 0);
}

/* ---- call and print ------------------------------------------------------------------------ */

int sg_cliarm_get_status(const sg_cli_ctx *ctx, const char *path, long *status, json_t **out)
{
    char err[512];
    if (sg_cli_mgmt_call(ctx, "GET", path, NULL, status, out, err, sizeof err) != 0)
        return sg_cli_fail("NotRunning", "%s", err);
    return 0;
}

int sg_cliarm_print_view(const json_t *arm, sg_cliarm_view_fn view)
{
    if (!view)
        return sg_cli_print_json(arm);
    json_t *v = view(arm);
    int rc = sg_cli_print_json(v);
    json_decref(v);
    return rc;
}

int sg_cliarm_call_print(const sg_cli_ctx *ctx, const char *method, const char *path,
                         const json_t *body, sg_cliarm_view_fn view)
{
    json_t *out = NULL;
    int rc = sg_cli_mgmt(ctx, method, path, body, &out);
    if (rc == 0)
        rc = sg_cliarm_print_view(out, view);
    json_decref(out);
    return rc;
}

int sg_cliarm_delete_print(const sg_cli_ctx *ctx, const char *path, sg_cliarm_view_fn view)
{
    json_t *cur = NULL, *gone = NULL;
    int rc = sg_cli_mgmt(ctx, "GET", path, NULL, &cur);
    if (rc == 0)
        rc = sg_cli_mgmt(ctx, "DELETE", path, NULL, &gone);
    if (rc == 0)
        rc = sg_cliarm_print_view(cur, view);
    json_decref(gone);
    json_decref(cur);
    return rc;
}

int sg_cliarm_list_print(const sg_cli_ctx *ctx, const char *path, sg_cliarm_view_fn view,
                         int (*keep)(const json_t *item, const void *arg), const void *arg)
{
    json_t *out = NULL;
    int rc = sg_cli_mgmt(ctx, "GET", path, NULL, &out);
    if (rc == 0) {
        json_t *arr = json_array();
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(out, "value"), i, v)
        {
            if (!keep || keep(v, arg))
                json_array_append_new(arr, view(v));
        }
        rc = sg_cli_print_json(arr);
        json_decref(arr);
    }
    json_decref(out);
    return rc;
}

int sg_cliarm_list_cmd(int argc, char **argv, const sg_cli_ctx *ctx, const char *summary,
                       const char *type, sg_cliarm_view_fn view)
{
    sg_cli_flag f[] = {SG_CLIARM_F_RG_ALL, SG_CLIARM_F_SUB, {0}};
    char path[SG_CLI_PATH_MAX];
    int rc = sg_cli_parse(ctx, argc, argv, f, summary, NULL);
    if (rc != SG_CLI_RUN)
        goto done;
    rc = sg_cliarm_flags_list_path(ctx, f, type, path, sizeof path);
    if (rc == 0)
        rc = sg_cliarm_list_print(ctx, path, view, NULL, NULL);
done:
    sg_cli_flags_free(f);
    return rc;
}

/* ---- vm / functionapp ------------------------------------------------------------------------ */

/* vm and functionapp have always said "the server's default subscription" */
#define F_SUB SG_CLIARM_F_SUB_DEFAULT("the server's default subscription")

static const char *kind_word(int app)
{
    return app ? "function app" : "virtual machine";
}

static int compute_path(const sg_cli_ctx *ctx, sg_cli_flag *f, int app, char *sub, char *path,
                        size_t pathlen)
{
    return sg_cliarm_flags_res_path(ctx, f, app ? SG_ARM_SITES : SG_ARM_VM, NULL, sub, 64, path,
                                    pathlen);
}

/* Builds {type, userAssignedIdentities} from refs (NULL/empty list = "[system]"). */
static json_t *identity_body(const json_t *cur_identity, const char **refs, size_t n, int remove,
                             const char *sub, const char *rg)
{
    const char *ct = json_string_value(json_object_get(cur_identity, "type"));
    int sys = ct && strcasestr(ct, "SystemAssigned") != NULL;
    json_t *cur_uai = json_object_get(cur_identity, "userAssignedIdentities");
    json_t *uai = json_object();
    size_t remaining = json_object_size(cur_uai);
    int any_user_ref = 0;

    if (n == 0) {
        sys = remove ? 0 : 1;
    }
    for (size_t i = 0; i < n; i++) {
        if (strcasecmp(refs[i], "[system]") == 0) {
            sys = remove ? 0 : 1;
            continue;
        }
        char id[1024];
        sg_cliarm_uami_id(refs[i], sub, rg, id, sizeof id);
        any_user_ref = 1;
        if (remove) {
            /* count only identities that are really attached */
            const char *k;
            json_t *v;
            json_object_foreach(cur_uai, k, v)
            {
                if (strcasecmp(k, id) == 0 && remaining)
                    remaining--;
            }
            json_object_set_new(uai, id, json_null());
        } else {
            json_object_set_new(uai, id, json_object());
        }
    }
    int usr = remove ? remaining > 0 : (json_object_size(cur_uai) > 0 || any_user_ref);
    const char *type = sys && usr ? "SystemAssigned, UserAssigned"
                       : sys      ? "SystemAssigned"
                       : usr      ? "UserAssigned"
                                  : "None";
    json_t *ident = json_pack("{s:s}", "type", type);
    if (usr)
        json_object_set_new(ident, "userAssignedIdentities", uai);
    else
        json_decref(uai);
    return ident;
}

static int compute_create(int argc, char **argv, const sg_cli_ctx *ctx, int app)
{
    sg_cli_flag f[] = {
        SG_CLIARM_F_RG,
        SG_CLIARM_F_NAME("resource"),
        {.name = "--assign-identity",
         .kind = SG_CLI_MULTI_OPT,
         .metavar = "ID",
         .help = "Enable managed identities: no value or '[system]' = system-assigned; "
                 "user-assigned identity names or ids."},
        F_SUB,
        {.name = "--location", .alias = "-l", .metavar = "LOC", .help = "Location (ignored)."},
        {0},
    };
    char sub[64], path[SG_CLI_PATH_MAX], summary[96];
    json_t *body = NULL;
    sg_snprintf(summary, sizeof summary, "Create a %s (with its identity endpoint).",
                kind_word(app));
    int rc = sg_cli_parse(ctx, argc, argv, f, summary, NULL);
    if (rc != SG_CLI_RUN)
        goto done;
    rc = compute_path(ctx, f, app, sub, path, sizeof path);
    if (rc)
        goto done;
    body = json_pack("{s:s}", "location", "local");
    if (app)
        json_object_set_new(body, "kind", json_string("functionapp"));
    sg_cli_flag *ai = sg_cli_flag_find(f, "--assign-identity");
    if (ai->present) {
        json_t *none = json_pack("{s:s}", "type", "None");
        json_object_set_new(
            body, "identity",
            identity_body(none, ai->values, ai->count, 0, sub, sg_cli_str(f, "--resource-group")));
        json_decref(none);
    }
    rc = sg_cliarm_call_print(ctx, "PUT", path, body, sg_cliarm_compute_view);
done:
    json_decref(body);
    sg_cli_flags_free(f);
    return rc;
}

static int compute_show(int argc, char **argv, const sg_cli_ctx *ctx, int app, int del)
{
    sg_cli_flag f[] = {SG_CLIARM_F_RG, SG_CLIARM_F_NAME("resource"), F_SUB, {0}};
    char sub[64], path[SG_CLI_PATH_MAX], summary[96];
    sg_snprintf(summary, sizeof summary, "%s a %s.", del ? "Delete" : "Show", kind_word(app));
    int rc = sg_cli_parse(ctx, argc, argv, f, summary, NULL);
    if (rc != SG_CLI_RUN)
        goto done;
    rc = compute_path(ctx, f, app, sub, path, sizeof path);
    if (rc == 0)
        rc = del ? sg_cliarm_delete_print(ctx, path, sg_cliarm_compute_view)
                 : sg_cliarm_call_print(ctx, "GET", path, NULL, sg_cliarm_compute_view);
done:
    sg_cli_flags_free(f);
    return rc;
}

static int compute_list(int argc, char **argv, const sg_cli_ctx *ctx, int app)
{
    sg_cli_flag f[] = {SG_CLIARM_F_RG_ALL, F_SUB, {0}};
    char path[SG_CLI_PATH_MAX], summary[96];
    sg_snprintf(summary, sizeof summary, "List %ss.", kind_word(app));
    int rc = sg_cli_parse(ctx, argc, argv, f, summary, NULL);
    if (rc != SG_CLI_RUN)
        goto done;
    rc = sg_cliarm_flags_list_path(ctx, f, app ? SG_ARM_SITES : SG_ARM_VM, path, sizeof path);
    if (rc == 0)
        rc = sg_cliarm_list_print(ctx, path, sg_cliarm_compute_view, NULL, NULL);
done:
    sg_cli_flags_free(f);
    return rc;
}

static int compute_identity(int argc, char **argv, const sg_cli_ctx *ctx, int app, int remove,
                            int show)
{
    sg_cli_flag f[] = {
        SG_CLIARM_F_RG,
        SG_CLIARM_F_NAME("resource"),
        {.name = "--identities",
         .kind = SG_CLI_MULTI,
         .metavar = "ID",
         .help = "'[system]' for the system-assigned identity, or user-assigned identity names "
                 "(in -g) or ids. Default: [system]."},
        F_SUB,
        {0},
    };
    char sub[64], path[SG_CLI_PATH_MAX], summary[128];
    json_t *cur = NULL, *body = NULL;
    if (show)
        f[2].name = NULL; /* no --identities for show */
    sg_snprintf(summary, sizeof summary, "%s managed identities of a %s.",
                show     ? "Show the"
                : remove ? "Remove"
                         : "Assign",
                kind_word(app));
    int rc = sg_cli_parse(ctx, argc, argv, f, summary, NULL);
    if (rc != SG_CLI_RUN)
        goto done;
    rc = compute_path(ctx, f, app, sub, path, sizeof path);
    if (rc)
        goto done;
    rc = sg_cli_mgmt(ctx, "GET", path, NULL, &cur);
    if (rc)
        goto done;
    if (show) {
        json_t *id = json_object_get(cur, "identity");
        rc = sg_cli_print_json(id ? id : json_null());
        goto done;
    }
    sg_cli_flag *ids = sg_cli_flag_find(f, "--identities");
    body = json_object();
    json_object_set_new(body, "identity",
                        identity_body(json_object_get(cur, "identity"), ids->values, ids->count,
                                      remove, sub, sg_cli_str(f, "--resource-group")));
    rc = sg_cliarm_call_print(ctx, "PATCH", path, body, sg_cliarm_identity_summary);
done:
    json_decref(cur);
    json_decref(body);
    sg_cli_flags_free(f);
    return rc;
}

#define COMPUTE_VERBS(pfx, app)                                                                    \
    static int pfx##_create(int argc, char **argv, const sg_cli_ctx *ctx)                          \
    {                                                                                              \
        return compute_create(argc, argv, ctx, app);                                               \
    }                                                                                              \
    static int pfx##_show(int argc, char **argv, const sg_cli_ctx *ctx)                            \
    {                                                                                              \
        return compute_show(argc, argv, ctx, app, 0);                                              \
    }                                                                                              \
    static int pfx##_delete(int argc, char **argv, const sg_cli_ctx *ctx)                          \
    {                                                                                              \
        return compute_show(argc, argv, ctx, app, 1);                                              \
    }                                                                                              \
    static int pfx##_list(int argc, char **argv, const sg_cli_ctx *ctx)                            \
    {                                                                                              \
        return compute_list(argc, argv, ctx, app);                                                 \
    }                                                                                              \
    static int pfx##_id_assign(int argc, char **argv, const sg_cli_ctx *ctx)                       \
    {                                                                                              \
        return compute_identity(argc, argv, ctx, app, 0, 0);                                       \
    }                                                                                              \
    static int pfx##_id_remove(int argc, char **argv, const sg_cli_ctx *ctx)                       \
    {                                                                                              \
        return compute_identity(argc, argv, ctx, app, 1, 0);                                       \
    }                                                                                              \
    static int pfx##_id_show(int argc, char **argv, const sg_cli_ctx *ctx)                         \
    {                                                                                              \
        return compute_identity(argc, argv, ctx, app, 0, 1);                                       \
    }                                                                                              \
    static const sg_cli_verb pfx##_id_verbs[] = {                                                  \
        {"assign", pfx##_id_assign, "Enable managed identities."},                                 \
        {"remove", pfx##_id_remove, "Remove managed identities."},                                 \
        {"show", pfx##_id_show, "Show the managed identities."},                                   \
        {0},                                                                                       \
    };                                                                                             \
    static int pfx##_identity(int argc, char **argv, const sg_cli_ctx *ctx)                        \
    {                                                                                              \
        return sg_cli_dispatch(argc, argv, ctx, pfx##_id_verbs, "Manage managed identities.");     \
    }                                                                                              \
    static const sg_cli_verb pfx##_verbs[] = {                                                     \
        {"create", pfx##_create, "Create one."},                                                   \
        {"show", pfx##_show, "Show one: {id, name, resourceGroup, identity, identityEndpoint}."},  \
        {"list", pfx##_list, "List them."},                                                        \
        {"delete", pfx##_delete, "Delete one (and its system-assigned identity)."},                \
        {"identity", pfx##_identity, "Manage its managed identities."},                            \
        {0},                                                                                       \
    };

COMPUTE_VERBS(vm, 0)
COMPUTE_VERBS(app, 1)

int sg_cliarm_compute_group(int argc, char **argv, const sg_cli_ctx *ctx, int app)
{
    if (app)
        return sg_cli_dispatch(argc, argv, ctx, app_verbs,
                               "Manage function apps (each gets an App Service identity "
                               "endpoint when an identity is enabled).");
    return sg_cli_dispatch(argc, argv, ctx, vm_verbs,
                           "Manage virtual machines (each has its own IMDS identity endpoint).");
}
