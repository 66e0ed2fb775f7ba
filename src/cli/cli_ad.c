/* cli_ad.c — `sigrid ad sp show|list|delete|create-for-rbac` (service principals: managed
 * identities and app registrations). */
#include "cli/cli_arm.h"

#include "sg_id.h"
#include "sg_str.h"

#include <string.h>

/* A Graph service principal as az prints it. */
static json_t *sp_view(const json_t *sp)
{
    static const sg_cliarm_field fields[] = {
        {.key = "id"},
        {.key = "appId"},
        {.key = "displayName"},
        {.key = "servicePrincipalType"},
        {.key = "appOwnerOrganizationId"},
        {.key = "alternativeNames"},
        {.key = "servicePrincipalNames"},
        {.key = "resolvedFrom"},
        {0},
    };
    return sg_cliarm_shape(sp, fields);
}

/* The create-for-rbac answer: the secret is shown this once. */
static json_t *rbac_view(const json_t *sp)
{
    static const sg_cliarm_field fields[] = {
        {.key = "appId"}, {.key = "displayName"}, {.key = "password"}, {.key = "tenant"}, {0},
    };
    return sg_cliarm_shape(sp, fields);
}

static int sp_show(int argc, char **argv, const sg_cli_ctx *ctx, int del)
{
    sg_cli_flag f[] = {
        {.name = "--id",
         .metavar = "ID",
         .required = 1,
         .help = "Object id or app (client) id of the service principal."},
        {0},
    };
    char path[SG_CLI_PATH_MAX];
    int rc = sg_cli_parse(ctx, argc, argv, f,
                          del ? "Delete an app registration's service principal."
                              : "Show a service principal: {id (objectId), appId, displayName, "
                                "servicePrincipalType}.",
                          NULL);
    if (rc != SG_CLI_RUN)
        goto done;
    rc = sg_cliarm_path(path, sizeof path, SG_ARM_GRAPH_SP "/%s", sg_cli_str(f, "--id"));
    if (rc == 0)
        rc = del ? sg_cliarm_delete_print(ctx, path, sp_view)
                 : sg_cliarm_call_print(ctx, "GET", path, NULL, sp_view);
done:
    sg_cli_flags_free(f);
    return rc;
}

static int sp_show_cmd(int argc, char **argv, const sg_cli_ctx *ctx)
{
    return sp_show(argc, argv, ctx, 0);
}

static int sp_delete_cmd(int argc, char **argv, const sg_cli_ctx *ctx)
{
    return sp_show(argc, argv, ctx, 1);
}

/* --display-name filter of sp list (exact; NULL = all) */
static int display_name_is(const json_t *sp, const void *want)
{
    const char *n = json_string_value(json_object_get(sp, "displayName"));
    return !want || (n && strcmp(n, want) == 0);
}

static int sp_list(int argc, char **argv, const sg_cli_ctx *ctx)
{
    sg_cli_flag f[] = {
        {.name = "--display-name", .metavar = "NAME", .help = "Only this display name."},
        {0},
    };
    int rc = sg_cli_parse(ctx, argc, argv, f, "List service principals.", NULL);
    if (rc == SG_CLI_RUN)
        rc = sg_cliarm_list_print(ctx, SG_ARM_GRAPH_SP SG_ARM_API, sp_view, display_name_is,
                                  sg_cli_str(f, "--display-name"));
    sg_cli_flags_free(f);
    return rc;
}

static int sp_create_for_rbac(int argc, char **argv, const sg_cli_ctx *ctx)
{
    sg_cli_flag f[] = {
        {.name = "--name",
         .alias = "-n",
         .metavar = "NAME",
         .required = 1,
         .help = "Display name of the app registration."},
        {.name = "--role", .metavar = "ROLE", .help = "Also assign this role (name or id)..."},
        {.name = "--scopes",
         .kind = SG_CLI_MULTI,
         .metavar = "SCOPE",
         .help = "...at these scopes."},
        {0},
    };
    json_t *out = NULL, *body = NULL;
    int rc = sg_cli_parse(ctx, argc, argv, f,
                          "Create an app registration with a client secret: {appId, "
                          "displayName, password, tenant}. The password is shown only once.",
                          NULL);
    if (rc != SG_CLI_RUN)
        goto done;
    sg_cli_flag *scopes = sg_cli_flag_find(f, "--scopes");
    const char *role = sg_cli_str(f, "--role");
    if ((role != NULL) != (scopes->count > 0)) {
        rc = sg_cli_usage_error(ctx, "--role and --scopes go together.");
        goto done;
    }
    body = json_pack("{s:s}", "displayName", sg_cli_str(f, "--name"));
    rc = sg_cli_mgmt(ctx, "POST", SG_ARM_GRAPH_SP SG_ARM_API, body, &out);
    if (rc)
        goto done;
    for (size_t i = 0; role && i < scopes->count && rc == 0; i++) {
        /* delegate to `role assignment create` logic through the API */
        char path[SG_CLI_PATH_MAX], guid[40], rdpath[SG_CLI_PATH_MAX];
        json_t *defs = NULL, *ra = NULL, *rab = NULL;
        const char *rdid = NULL;
        sg_uuid4(guid);
        rc = sg_cliarm_path(rdpath, sizeof rdpath, "%s" SG_ARM_AUTHZ "/roleDefinitions",
                            strcmp(scopes->values[i], "/") == 0 ? "" : scopes->values[i]);
        if (rc == 0)
            rc = sg_cli_mgmt(ctx, "GET", rdpath, NULL, &defs);
        if (rc == 0) {
            size_t k;
            json_t *d;
            json_array_foreach(json_object_get(defs, "value"), k, d)
            {
                if (sg_cliarm_roledef_is(d, role))
                    rdid = json_string_value(json_object_get(d, "id"));
            }
            if (!rdid)
                rc = sg_cli_fail("RoleNotFound", "Role '%s' doesn't exist.", role);
        }
        if (rc == 0)
            rc = sg_cliarm_path(path, sizeof path, "%s" SG_ARM_AUTHZ "/roleAssignments/%s",
                                strcmp(scopes->values[i], "/") == 0 ? "" : scopes->values[i], guid);
        if (rc == 0) {
            rab = json_pack("{s:{s:s,s:O,s:s}}", "properties", "roleDefinitionId", rdid,
                            "principalId", json_object_get(out, "id"), "principalType",
                            "ServicePrincipal");
            rc = sg_cli_mgmt(ctx, "PUT", path, rab, &ra);
        }
        json_decref(defs);
        json_decref(ra);
        json_decref(rab);
    }
    if (rc == 0)
        rc = sg_cliarm_print_view(out, rbac_view);
done:
    json_decref(body);
    json_decref(out);
    sg_cli_flags_free(f);
    return rc;
}

static const sg_cli_verb sp_verbs[] = {
    {"show", sp_show_cmd, "Show a service principal by object id or app id."},
    {"list", sp_list, "List service principals."},
    {"create-for-rbac", sp_create_for_rbac, "Create an app registration with a secret."},
    {"delete", sp_delete_cmd, "Delete an app registration."},
    {0},
};

static int ad_sp(int argc, char **argv, const sg_cli_ctx *ctx)
{
    return sg_cli_dispatch(argc, argv, ctx, sp_verbs, "Manage service principals.");
}

static const sg_cli_verb ad_verbs[] = {
    {"sp", ad_sp, "Manage service principals."},
    {0},
};

int sg_cli_ad(int argc, char **argv, const sg_cli_ctx *ctx)
{
    return sg_cli_dispatch(argc, argv, ctx, ad_verbs, "Manage Entra ID (the local tenant).");
}
