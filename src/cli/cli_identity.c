/* cli_identity.c — `sigrid identity create|show|delete|list` (user-assigned managed
 * identities): {id, name, clientId, principalId, tenantId, type}. */
#include "cli/cli_arm.h"

#define F_SUB                                                                                      \
    {.name = "--subscription", .alias = "-s", .metavar = "SUB",                                  \
     .help = "Subscription id or name (default: the default subscription)."}

static int uami_cmd(int argc, char **argv, const sg_cli_ctx *ctx, const char *method,
                    const char *summary)
{
    sg_cli_flag f[] = {
        {.name = "--resource-group", .alias = "-g", .metavar = "RG", .required = 1,
         .help = "Name of resource group."},
        {.name = "--name", .alias = "-n", .metavar = "NAME", .required = 1,
         .help = "Name of the identity."},
        F_SUB,
        {0},
    };
    char sub[64], path[SG_CLI_PATH_MAX];
    json_t *out = NULL, *view = NULL, *body = NULL;
    int rc = sg_cli_parse(ctx, argc, argv, f, summary, NULL);
    if (rc != SG_CLI_RUN)
        goto done;
    rc = sg_cliarm_sub(ctx, sg_cli_str(f, "--subscription"), sub, sizeof sub);
    if (rc == 0)
        rc = sg_cliarm_res_path(path, sizeof path, sub, sg_cli_str(f, "--resource-group"),
                                SG_ARM_UAMI, sg_cli_str(f, "--name"), NULL);
    if (rc)
        goto done;
    if (method[0] == 'D') {
        rc = sg_cli_mgmt(ctx, "GET", path, NULL, &out);
        if (rc)
            goto done;
        view = sg_cliarm_uami_view(out);
        json_decref(out);
        out = NULL;
    }
    if (method[0] == 'P')
        body = json_pack("{s:s}", "location", "local");
    rc = sg_cli_mgmt(ctx, method, path, body, &out);
    if (rc == 0) {
        if (!view)
            view = sg_cliarm_uami_view(out);
        rc = sg_cli_print_json(view);
    }
done:
    json_decref(body);
    json_decref(view);
    json_decref(out);
    sg_cli_flags_free(f);
    return rc;
}

static int id_create(int argc, char **argv, const sg_cli_ctx *ctx)
{
    return uami_cmd(argc, argv, ctx, "PUT", "Create a user-assigned managed identity.");
}

static int id_show(int argc, char **argv, const sg_cli_ctx *ctx)
{
    return uami_cmd(argc, argv, ctx, "GET", "Show a user-assigned managed identity.");
}

static int id_delete(int argc, char **argv, const sg_cli_ctx *ctx)
{
    return uami_cmd(argc, argv, ctx, "DELETE",
                    "Delete a user-assigned managed identity (detached everywhere).");
}

static int id_list(int argc, char **argv, const sg_cli_ctx *ctx)
{
    sg_cli_flag f[] = {
        {.name = "--resource-group", .alias = "-g", .metavar = "RG",
         .help = "Name of resource group (default: all)."},
        F_SUB,
        {0},
    };
    char sub[64], path[SG_CLI_PATH_MAX];
    json_t *out = NULL;
    int rc = sg_cli_parse(ctx, argc, argv, f, "List user-assigned managed identities.", NULL);
    if (rc != SG_CLI_RUN)
        goto done;
    rc = sg_cliarm_sub(ctx, sg_cli_str(f, "--subscription"), sub, sizeof sub);
    if (rc)
        goto done;
    if (sg_cli_str(f, "--resource-group"))
        rc = sg_cliarm_res_path(path, sizeof path, sub, sg_cli_str(f, "--resource-group"),
                                SG_ARM_UAMI, NULL, NULL);
    else
        rc = sg_cliarm_path(path, sizeof path, "/subscriptions/%s/providers/%s", sub,
                            SG_ARM_UAMI);
    if (rc == 0)
        rc = sg_cli_mgmt(ctx, "GET", path, NULL, &out);
    if (rc == 0) {
        json_t *arr = json_array();
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(out, "value"), i, v)
            json_array_append_new(arr, sg_cliarm_uami_view(v));
        rc = sg_cli_print_json(arr);
        json_decref(arr);
    }
done:
    json_decref(out);
    sg_cli_flags_free(f);
    return rc;
}

static const sg_cli_verb identity_verbs[] = {
    {"create", id_create, "Create: {id, name, clientId, principalId, tenantId, type}."},
    {"show", id_show, "Show one."},
    {"list", id_list, "List them."},
    {"delete", id_delete, "Delete one."},
    {0},
};

int sg_cli_identity(int argc, char **argv, const sg_cli_ctx *ctx)
{
    return sg_cli_dispatch(argc, argv, ctx, identity_verbs,
                           "Manage user-assigned managed identities.");
}
