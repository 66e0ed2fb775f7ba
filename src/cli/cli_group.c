/* cli_group.c — `sigrid group create|show|list|delete|exists`. */
#include "cli/cli_arm.h"

#include <string.h>

static json_t *rg_view(const json_t *arm)
{
    static const sg_cliarm_field fields[] = {
        {.key = "id"},         {.key = "name"}, {.key = "location"},
        {.key = "properties"}, {.key = "type"}, {0},
    };
    return sg_cliarm_shape(arm, fields);
}

static int rg_path(const sg_cli_ctx *ctx, sg_cli_flag *f, char *path, size_t n)
{
    char sub[64];
    const char *name = sg_cli_str(f, "--name");
    int rc = sg_cliarm_sub(ctx, sg_cli_str(f, "--subscription"), sub, sizeof sub);
    if (rc == 0)
        rc = sg_cliarm_check_name(ctx, name);
    if (rc)
        return rc;
    return sg_cliarm_path(path, n, "/subscriptions/%s/resourceGroups/%s", sub, name);
}

static int rg_cmd(int argc, char **argv, const sg_cli_ctx *ctx, const char *method,
                  const char *summary, int with_location, int exists)
{
    sg_cli_flag f[] = {
        {.name = "--name",
         .alias = "-n",
         .metavar = "RG",
         .required = 1,
         .help = "Name of the resource group."},
        SG_CLIARM_F_SUB,
        {.name = "--location",
         .alias = "-l",
         .metavar = "LOC",
         .def = "local",
         .help = "Location."},
        {0},
    };
    char path[SG_CLI_PATH_MAX];
    json_t *out = NULL, *body = NULL;
    if (!with_location)
        f[2].name = NULL;
    int rc = sg_cli_parse(ctx, argc, argv, f, summary, NULL);
    if (rc != SG_CLI_RUN)
        goto done;
    rc = rg_path(ctx, f, path, sizeof path);
    if (rc)
        goto done;
    if (exists) {
        long status = 0;
        rc = sg_cliarm_get_status(ctx, path, &status, &out);
        if (rc)
            goto done;
        if (status != 200 && status != 404) {
            rc = sg_cli_fail("UnexpectedStatus", "management API answered %ld", status);
            goto done;
        }
        json_t *b = json_boolean(status == 200);
        rc = sg_cli_print_json(b);
        json_decref(b);
        goto done;
    }
    if (strcmp(method, "PUT") == 0)
        body = json_pack("{s:s}", "location", sg_cli_str(f, "--location"));
    if (strcmp(method, "DELETE") == 0)
        rc = sg_cliarm_delete_print(ctx, path, rg_view);
    else
        rc = sg_cliarm_call_print(ctx, method, path, body, rg_view);
done:
    json_decref(body);
    json_decref(out);
    sg_cli_flags_free(f);
    return rc;
}

static int rg_create(int argc, char **argv, const sg_cli_ctx *ctx)
{
    return rg_cmd(argc, argv, ctx, "PUT", "Create a resource group.", 1, 0);
}

static int rg_show(int argc, char **argv, const sg_cli_ctx *ctx)
{
    return rg_cmd(argc, argv, ctx, "GET", "Show a resource group.", 0, 0);
}

static int rg_delete(int argc, char **argv, const sg_cli_ctx *ctx)
{
    return rg_cmd(argc, argv, ctx, "DELETE", "Delete a resource group and every resource in it.", 0,
                  0);
}

static int rg_exists(int argc, char **argv, const sg_cli_ctx *ctx)
{
    return rg_cmd(argc, argv, ctx, "GET", "Print true if the resource group exists.", 0, 1);
}

static int rg_list(int argc, char **argv, const sg_cli_ctx *ctx)
{
    sg_cli_flag f[] = {SG_CLIARM_F_SUB, {0}};
    char sub[64], path[SG_CLI_PATH_MAX];
    int rc = sg_cli_parse(ctx, argc, argv, f, "List resource groups.", NULL);
    if (rc != SG_CLI_RUN)
        goto done;
    rc = sg_cliarm_sub(ctx, sg_cli_str(f, "--subscription"), sub, sizeof sub);
    if (rc == 0)
        rc = sg_cliarm_path(path, sizeof path, "/subscriptions/%s/resourceGroups", sub);
    if (rc == 0)
        rc = sg_cliarm_list_print(ctx, path, rg_view, NULL, NULL);
done:
    sg_cli_flags_free(f);
    return rc;
}

static const sg_cli_verb group_verbs[] = {
    {"create", rg_create, "Create a resource group: {id, name, location}."},
    {"show", rg_show, "Show a resource group."},
    {"list", rg_list, "List resource groups."},
    {"delete", rg_delete, "Delete a resource group (and its resources)."},
    {"exists", rg_exists, "Check whether a resource group exists."},
    {0},
};

int sg_cli_group(int argc, char **argv, const sg_cli_ctx *ctx)
{
    return sg_cli_dispatch(argc, argv, ctx, group_verbs, "Manage resource groups.");
}
