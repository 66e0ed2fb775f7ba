/* cli_identity.c — `sigrid identity create|show|delete|list` (user-assigned managed
 * identities): {id, name, clientId, principalId, tenantId, type}. */
#include "cli/cli_arm.h"

#include <string.h>

static int uami_cmd(int argc, char **argv, const sg_cli_ctx *ctx, const char *method,
                    const char *summary)
{
    sg_cli_flag f[] = {SG_CLIARM_F_RG, SG_CLIARM_F_NAME("identity"), SG_CLIARM_F_SUB, {0}};
    char path[SG_CLI_PATH_MAX];
    json_t *body = NULL;
    int rc = sg_cli_parse(ctx, argc, argv, f, summary, NULL);
    if (rc != SG_CLI_RUN)
        goto done;
    rc = sg_cliarm_flags_res_path(ctx, f, SG_ARM_UAMI, NULL, NULL, 0, path, sizeof path);
    if (rc)
        goto done;
    if (strcmp(method, "DELETE") == 0) {
        rc = sg_cliarm_delete_print(ctx, path, sg_cliarm_uami_view);
        goto done;
    }
    if (strcmp(method, "PUT") == 0)
        body = json_pack("{s:s}", "location", "local");
    rc = sg_cliarm_call_print(ctx, method, path, body, sg_cliarm_uami_view);
done:
    json_decref(body);
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
    return sg_cliarm_list_cmd(argc, argv, ctx, "List user-assigned managed identities.", SG_ARM_UAMI, sg_cliarm_uami_view);
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
