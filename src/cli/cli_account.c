/* cli_account.c — `sigrid account show|list`, `account subscription create|list|show`,
 * `account management-group create|show|list|delete|subscription add|remove`. */
#include "cli/cli_arm.h"
#include "cli/cli_client.h"

#include "sg_str.h"

#include <string.h>

static json_t *account_view(const json_t *sub)
{
    static const sg_cliarm_field fields[] = {
        {.key = "subscriptionId", .as = "id"},
        {.key = "displayName", .as = "name"},
        {.key = "tenantId"},
        {.key = "tenantId", .as = "homeTenantId"},
        {.key = "isDefault"},
        {.key = "state"},
        {0},
    };
    static const sg_cliarm_field tail[] = {{.key = "managementGroupId"}, {0}};
    json_t *j = sg_cliarm_shape(sub, fields);
    json_object_set_new(j, "environmentName", json_string("sigrid"));
    sg_cliarm_shape_into(j, sub, tail);
    return j;
}

/* Path of the subscription `given` names (NULL = the default one). */
static int sub_path(const sg_cli_ctx *ctx, const char *given, char *path, size_t n)
{
    char sub[64];
    int rc = sg_cliarm_sub(ctx, given, sub, sizeof sub);
    if (rc == 0)
        rc = sg_cliarm_path(path, n, "/subscriptions/%s", sub);
    return rc;
}

static int account_show(int argc, char **argv, const sg_cli_ctx *ctx)
{
    sg_cli_flag f[] = {SG_CLIARM_F_SUB, {0}};
    char path[SG_CLI_PATH_MAX];
    int rc =
        sg_cli_parse(ctx, argc, argv, f, "Show a subscription (default: the default one).", NULL);
    if (rc != SG_CLI_RUN)
        goto done;
    rc = sub_path(ctx, sg_cli_str(f, "--subscription"), path, sizeof path);
    if (rc == 0)
        rc = sg_cliarm_call_print(ctx, "GET", path, NULL, account_view);
done:
    sg_cli_flags_free(f);
    return rc;
}

static int account_list(int argc, char **argv, const sg_cli_ctx *ctx)
{
    sg_cli_flag f[] = {{0}};
    int rc = sg_cli_parse(ctx, argc, argv, f, "List subscriptions.", NULL);
    if (rc == SG_CLI_RUN)
        rc = sg_cliarm_list_print(ctx, "/subscriptions" SG_ARM_API, account_view, NULL, NULL);
    sg_cli_flags_free(f);
    return rc;
}

static int subscription_create(int argc, char **argv, const sg_cli_ctx *ctx)
{
    sg_cli_flag f[] = {
        {.name = "--name",
         .alias = "-n",
         .metavar = "NAME",
         .required = 1,
         .help = "Display name of the subscription."},
        {0},
    };
    json_t *out = NULL, *body = NULL;
    char path[SG_CLI_PATH_MAX];
    int rc = sg_cli_parse(ctx, argc, argv, f, "Create a subscription in the tenant.", NULL);
    if (rc != SG_CLI_RUN)
        goto done;
    const char *name = sg_cli_str(f, "--name");
    rc = sg_cliarm_check_name(ctx, name);
    if (rc)
        goto done;
    body = json_pack("{s:{s:s,s:s}}", "properties", "displayName", name, "workload", "DevTest");
    rc = sg_cliarm_path(path, sizeof path, "/providers/Microsoft.Subscription/aliases/%s", name);
    if (rc == 0)
        rc = sg_cli_mgmt(ctx, "PUT", path, body, &out);
    if (rc == 0)
        rc = sub_path(ctx,
                      json_string_value(
                          json_object_get(json_object_get(out, "properties"), "subscriptionId")),
                      path, sizeof path);
    if (rc == 0)
        rc = sg_cliarm_call_print(ctx, "GET", path, NULL, account_view);
done:
    json_decref(body);
    json_decref(out);
    sg_cli_flags_free(f);
    return rc;
}

static const sg_cli_verb subscription_verbs[] = {
    {"create", subscription_create, "Create a subscription."},
    {"list", account_list, "List subscriptions."},
    {"show", account_show, "Show a subscription."},
    {0},
};

static int account_subscription(int argc, char **argv, const sg_cli_ctx *ctx)
{
    return sg_cli_dispatch(argc, argv, ctx, subscription_verbs, "Manage subscriptions.");
}

/* ---- management groups ------------------------------------------------------------------ */

static json_t *mg_view(const json_t *arm)
{
    static const sg_cliarm_field fields[] = {
        {.key = "id"},
        {.key = "name"},
        {.key = "properties.displayName"},
        {.key = "properties.tenantId"},
        {.key = "type"},
        {.key = "properties.children"},
        {0},
    };
    return sg_cliarm_shape(arm, fields);
}

#define MG_PATH "/providers/Microsoft.Management/managementGroups"

static int mg_path(char *path, size_t n, const char *name)
{
    return sg_cliarm_path(path, n, MG_PATH "/%s", name);
}

static int mg_print(const sg_cli_ctx *ctx, const char *name)
{
    char path[SG_CLI_PATH_MAX];
    int rc = mg_path(path, sizeof path, name);
    if (rc == 0)
        rc = sg_cliarm_call_print(ctx, "GET", path, NULL, mg_view);
    return rc;
}

#define F_MG                                                                                       \
    {                                                                                              \
        .name = "--name", .alias = "-n", .metavar = "MG", .required = 1,                           \
        .help = "Management group name (id)."                                                      \
    }

static int mg_create(int argc, char **argv, const sg_cli_ctx *ctx)
{
    sg_cli_flag f[] = {
        F_MG,
        {.name = "--display-name", .alias = "-d", .metavar = "NAME", .help = "Display name."},
        {0},
    };
    char path[SG_CLI_PATH_MAX];
    json_t *body = NULL;
    int rc = sg_cli_parse(ctx, argc, argv, f, "Create a management group.", NULL);
    if (rc != SG_CLI_RUN)
        goto done;
    const char *name = sg_cli_str(f, "--name");
    const char *dn = sg_cli_str(f, "--display-name");
    rc = sg_cliarm_check_name(ctx, name);
    if (rc)
        goto done;
    body = json_pack("{s:{s:s}}", "properties", "displayName", dn ? dn : name);
    rc = mg_path(path, sizeof path, name);
    if (rc == 0)
        rc = sg_cliarm_call_print(ctx, "PUT", path, body, mg_view);
done:
    json_decref(body);
    sg_cli_flags_free(f);
    return rc;
}

static int mg_show(int argc, char **argv, const sg_cli_ctx *ctx)
{
    sg_cli_flag f[] = {F_MG, {0}};
    int rc = sg_cli_parse(ctx, argc, argv, f, "Show a management group.", NULL);
    if (rc == SG_CLI_RUN)
        rc = mg_print(ctx, sg_cli_str(f, "--name"));
    sg_cli_flags_free(f);
    return rc;
}

static int mg_delete(int argc, char **argv, const sg_cli_ctx *ctx)
{
    sg_cli_flag f[] = {F_MG, {0}};
    char path[SG_CLI_PATH_MAX];
    int rc = sg_cli_parse(ctx, argc, argv, f, "Delete a management group.", NULL);
    if (rc != SG_CLI_RUN)
        goto done;
    rc = mg_path(path, sizeof path, sg_cli_str(f, "--name"));
    if (rc == 0)
        rc = sg_cliarm_delete_print(ctx, path, mg_view);
done:
    sg_cli_flags_free(f);
    return rc;
}

static int mg_list(int argc, char **argv, const sg_cli_ctx *ctx)
{
    sg_cli_flag f[] = {{0}};
    int rc = sg_cli_parse(ctx, argc, argv, f, "List management groups.", NULL);
    if (rc == SG_CLI_RUN)
        rc = sg_cliarm_list_print(ctx, MG_PATH SG_ARM_API, mg_view, NULL, NULL);
    sg_cli_flags_free(f);
    return rc;
}

static int mg_sub(int argc, char **argv, const sg_cli_ctx *ctx, int add)
{
    sg_cli_flag f[] = {
        F_MG,
        {.name = "--subscription",
         .alias = "-s",
         .metavar = "SUB",
         .required = 1,
         .help = "Subscription id or name."},
        {0},
    };
    char sub[64], path[SG_CLI_PATH_MAX];
    json_t *out = NULL;
    int rc = sg_cli_parse(ctx, argc, argv, f,
                          add ? "Move a subscription under a management group."
                              : "Take a subscription out of a management group.",
                          NULL);
    if (rc != SG_CLI_RUN)
        goto done;
    rc = sg_cliarm_sub(ctx, sg_cli_str(f, "--subscription"), sub, sizeof sub);
    if (rc == 0)
        rc = sg_cliarm_path(path, sizeof path, MG_PATH "/%s/subscriptions/%s",
                            sg_cli_str(f, "--name"), sub);
    if (rc == 0)
        rc = sg_cli_mgmt(ctx, add ? "PUT" : "DELETE", path, NULL, &out);
    if (rc == 0)
        rc = mg_print(ctx, sg_cli_str(f, "--name"));
done:
    json_decref(out);
    sg_cli_flags_free(f);
    return rc;
}

static int mg_sub_add(int argc, char **argv, const sg_cli_ctx *ctx)
{
    return mg_sub(argc, argv, ctx, 1);
}

static int mg_sub_remove(int argc, char **argv, const sg_cli_ctx *ctx)
{
    return mg_sub(argc, argv, ctx, 0);
}

static const sg_cli_verb mg_sub_verbs[] = {
    {"add", mg_sub_add, "Add a subscription to a management group."},
    {"remove", mg_sub_remove, "Remove a subscription from a management group."},
    {0},
};

static int mg_subscription(int argc, char **argv, const sg_cli_ctx *ctx)
{
    return sg_cli_dispatch(argc, argv, ctx, mg_sub_verbs,
                           "Manage the subscriptions of a management group.");
}

static const sg_cli_verb mg_verbs[] = {
    {"create", mg_create, "Create a management group."},
    {"show", mg_show, "Show a management group."},
    {"list", mg_list, "List management groups."},
    {"delete", mg_delete, "Delete a management group."},
    {"subscription", mg_subscription, "Add or remove subscriptions."},
    {0},
};

static int account_mg(int argc, char **argv, const sg_cli_ctx *ctx)
{
    return sg_cli_dispatch(argc, argv, ctx, mg_verbs,
                           "Manage management groups (role assignments on a group apply to "
                           "its subscriptions).");
}

static const sg_cli_verb account_verbs[] = {
    {"show", account_show, "Show the default subscription: {id, name, tenantId, isDefault}."},
    {"list", account_list, "List subscriptions."},
    {"subscription", account_subscription, "Manage subscriptions."},
    {"management-group", account_mg, "Manage management groups."},
    {"get-access-token", sg_cli_account_get_access_token,
     "Get an Entra ID access token with libsigrid's credential chain (like az)."},
    {0},
};

int sg_cli_account(int argc, char **argv, const sg_cli_ctx *ctx)
{
    return sg_cli_dispatch(argc, argv, ctx, account_verbs,
                           "Manage the tenant's subscriptions and management groups.");
}
