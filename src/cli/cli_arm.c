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

/* ---- vm / functionapp ------------------------------------------------------------------------ */

#define F_RG                                                                                       \
    {                                                                                              \
        .name = "--resource-group", .alias = "-g", .metavar = "RG", .required = 1,                 \
        .help = "Name of resource group."                                                          \
    }
#define F_NAME(what)                                                                               \
    {                                                                                              \
        .name = "--name", .alias = "-n", .metavar = "NAME", .required = 1,                         \
        .help = "Name of the " what "."                                                            \
    }
#define F_SUB                                                                                      \
    {                                                                                              \
        .name = "--subscription", .alias = "-s", .metavar = "SUB",                                 \
        .help = "Subscription id or name (default: the server's default subscription)."            \
    }

static const char *kind_word(int app)
{
    return app ? "function app" : "virtual machine";
}

static int compute_path(const sg_cli_ctx *ctx, sg_cli_flag *f, int app, char *sub, char *path,
                        size_t pathlen)
{
    int rc = sg_cliarm_sub(ctx, sg_cli_str(f, "--subscription"), sub, 64);
    if (rc)
        return rc;
    return sg_cliarm_res_path(path, pathlen, sub, sg_cli_str(f, "--resource-group"),
                              app ? SG_ARM_SITES : SG_ARM_VM, sg_cli_str(f, "--name"), NULL);
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
        F_RG,
        F_NAME("resource"),
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
    json_t *out = NULL, *body = NULL;
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
    rc = sg_cli_mgmt(ctx, "PUT", path, body, &out);
    if (rc == 0) {
        json_t *v = sg_cliarm_compute_view(out);
        rc = sg_cli_print_json(v);
        json_decref(v);
    }
done:
    json_decref(body);
    json_decref(out);
    sg_cli_flags_free(f);
    return rc;
}

static int compute_show(int argc, char **argv, const sg_cli_ctx *ctx, int app, int del)
{
    sg_cli_flag f[] = {F_RG, F_NAME("resource"), F_SUB, {0}};
    char sub[64], path[SG_CLI_PATH_MAX], summary[96];
    json_t *out = NULL;
    sg_snprintf(summary, sizeof summary, "%s a %s.", del ? "Delete" : "Show", kind_word(app));
    int rc = sg_cli_parse(ctx, argc, argv, f, summary, NULL);
    if (rc != SG_CLI_RUN)
        goto done;
    rc = compute_path(ctx, f, app, sub, path, sizeof path);
    if (rc)
        goto done;
    if (del) {
        rc = sg_cli_mgmt(ctx, "GET", path, NULL, &out);
        if (rc == 0) {
            json_t *v = sg_cliarm_compute_view(out);
            json_decref(out);
            out = NULL;
            rc = sg_cli_mgmt(ctx, "DELETE", path, NULL, &out);
            if (rc == 0)
                rc = sg_cli_print_json(v);
            json_decref(v);
        }
        goto done;
    }
    rc = sg_cli_mgmt(ctx, "GET", path, NULL, &out);
    if (rc == 0) {
        json_t *v = sg_cliarm_compute_view(out);
        rc = sg_cli_print_json(v);
        json_decref(v);
    }
done:
    json_decref(out);
    sg_cli_flags_free(f);
    return rc;
}

static int compute_list(int argc, char **argv, const sg_cli_ctx *ctx, int app)
{
    sg_cli_flag f[] = {
        {.name = "--resource-group",
         .alias = "-g",
         .metavar = "RG",
         .help = "Name of resource group (default: all)."},
        F_SUB,
        {0},
    };
    char sub[64], path[SG_CLI_PATH_MAX], summary[96];
    json_t *out = NULL;
    sg_snprintf(summary, sizeof summary, "List %ss.", kind_word(app));
    int rc = sg_cli_parse(ctx, argc, argv, f, summary, NULL);
    if (rc != SG_CLI_RUN)
        goto done;
    rc = sg_cliarm_sub(ctx, sg_cli_str(f, "--subscription"), sub, sizeof sub);
    if (rc)
        goto done;
    const char *rg = sg_cli_str(f, "--resource-group");
    if (rg)
        rc = sg_cliarm_res_path(path, sizeof path, sub, rg, app ? SG_ARM_SITES : SG_ARM_VM, NULL,
                                NULL);
    else
        rc = sg_cliarm_path(path, sizeof path, "/subscriptions/%s/providers/%s", sub,
                            app ? SG_ARM_SITES : SG_ARM_VM);
    if (rc)
        goto done;
    rc = sg_cli_mgmt(ctx, "GET", path, NULL, &out);
    if (rc == 0) {
        json_t *arr = json_array();
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(out, "value"), i, v)
            json_array_append_new(arr, sg_cliarm_compute_view(v));
        rc = sg_cli_print_json(arr);
        json_decref(arr);
    }
done:
    json_decref(out);
    sg_cli_flags_free(f);
    return rc;
}

static int compute_identity(int argc, char **argv, const sg_cli_ctx *ctx, int app, int remove,
                            int show)
{
    sg_cli_flag f[] = {
        F_RG,
        F_NAME("resource"),
        {.name = "--identities",
         .kind = SG_CLI_MULTI,
         .metavar = "ID",
         .help = "'[system]' for the system-assigned identity, or user-assigned identity names "
                 "(in -g) or ids. Default: [system]."},
        F_SUB,
        {0},
    };
    char sub[64], path[SG_CLI_PATH_MAX], summary[128];
    json_t *cur = NULL, *out = NULL, *body = NULL;
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
    rc = sg_cli_mgmt(ctx, "PATCH", path, body, &out);
    if (rc == 0) {
        json_t *v = sg_cliarm_identity_summary(out);
        rc = sg_cli_print_json(v);
        json_decref(v);
    }
done:
    json_decref(cur);
    json_decref(out);
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
