/* cli_signalr.c — `sigrid signalr create|show|list|update|delete|key list|key renew`. */
#include "cli/cli_arm.h"

#include "sg_str.h"

#include <string.h>
#include <strings.h>

#define F_NAME SG_CLIARM_F_NAME("SignalR resource")

static int sr_path(const sg_cli_ctx *ctx, sg_cli_flag *f, const char *suffix, char *path, size_t n)
{
    return sg_cliarm_flags_res_path(ctx, f, SG_ARM_SIGNALR, suffix, NULL, 0, path, n);
}

/* --service-mode and --port of create/update: 0 when valid, else the usage error and 2. */
static int check_mode_port(const sg_cli_ctx *ctx, sg_cli_flag *f)
{
    const char *mode = sg_cli_str(f, "--service-mode");
    sg_cli_flag *port = sg_cli_flag_find(f, "--port");
    if (mode && strcasecmp(mode, "Default") != 0 && strcasecmp(mode, "Serverless") != 0)
        return sg_cli_usage_error(ctx,
                                  "argument --service-mode: invalid choice: '%s' (choose "
                                  "from 'Default', 'Serverless').",
                                  mode);
    if (port->present && (port->num < 1 || port->num > 65535))
        return sg_cli_usage_error(ctx, "argument --port: must be 1..65535.");
    return 0;
}

/* properties.features for a (checked) --service-mode */
static json_t *features(const char *mode)
{
    return json_pack("[{s:s,s:s}]", "flag", "ServiceMode", "value",
                     strcasecmp(mode, "Serverless") == 0 ? "Serverless" : "Default");
}

static int sr_create(int argc, char **argv, const sg_cli_ctx *ctx)
{
    sg_cli_flag f[] = {
        SG_CLIARM_F_RG,
        F_NAME,
        {.name = "--port",
         .kind = SG_CLI_INT,
         .metavar = "N",
         .help = "Data-plane port (default: the next free one after --signalr-port)."},
        {.name = "--service-mode",
         .metavar = "MODE",
         .def = "Default",
         .help = "Default or Serverless."},
        {.name = "--disable-local-auth",
         .kind = SG_CLI_BOOL,
         .help = "Refuse access-key tokens (Entra ID only)."},
        {.name = "--sku", .metavar = "SKU", .help = "Ignored (accepted for az compatibility)."},
        {.name = "--location", .alias = "-l", .metavar = "LOC", .help = "Ignored."},
        SG_CLIARM_F_SUB,
        {0},
    };
    char path[SG_CLI_PATH_MAX];
    json_t *body = NULL;
    int rc = sg_cli_parse(ctx, argc, argv, f,
                          "Create a SignalR resource (Default mode unless --service-mode).", NULL);
    if (rc != SG_CLI_RUN)
        goto done;
    rc = check_mode_port(ctx, f);
    if (rc == 0)
        rc = sr_path(ctx, f, NULL, path, sizeof path);
    if (rc)
        goto done;
    sg_cli_flag *port = sg_cli_flag_find(f, "--port");
    json_t *props =
        json_pack("{s:o,s:b}", "features", features(sg_cli_str(f, "--service-mode")),
                  "disableLocalAuth", (int)sg_cli_flag_find(f, "--disable-local-auth")->num);
    if (port->present)
        json_object_set_new(props, "publicPort", json_integer(port->num));
    body = json_pack("{s:s,s:{s:s,s:i},s:s,s:o}", "location", "local", "sku", "name", "Standard_S1",
                     "capacity", 1, "kind", "SignalR", "properties", props);
    rc = sg_cliarm_call_print(ctx, "PUT", path, body, sg_cliarm_signalr_view);
done:
    json_decref(body);
    sg_cli_flags_free(f);
    return rc;
}

static int sr_show_delete(int argc, char **argv, const sg_cli_ctx *ctx, int del)
{
    sg_cli_flag f[] = {SG_CLIARM_F_RG, F_NAME, SG_CLIARM_F_SUB, {0}};
    char path[SG_CLI_PATH_MAX];
    int rc = sg_cli_parse(ctx, argc, argv, f,
                          del ? "Delete a SignalR resource (its data plane stops)."
                              : "Show a SignalR resource.",
                          NULL);
    if (rc != SG_CLI_RUN)
        goto done;
    rc = sr_path(ctx, f, NULL, path, sizeof path);
    if (rc == 0)
        rc = del ? sg_cliarm_delete_print(ctx, path, sg_cliarm_signalr_view)
                 : sg_cliarm_call_print(ctx, "GET", path, NULL, sg_cliarm_signalr_view);
done:
    sg_cli_flags_free(f);
    return rc;
}

static int sr_show(int argc, char **argv, const sg_cli_ctx *ctx)
{
    return sr_show_delete(argc, argv, ctx, 0);
}

static int sr_delete(int argc, char **argv, const sg_cli_ctx *ctx)
{
    return sr_show_delete(argc, argv, ctx, 1);
}

static int sr_list(int argc, char **argv, const sg_cli_ctx *ctx)
{
    return sg_cliarm_list_cmd(argc, argv, ctx, "List SignalR resources.", SG_ARM_SIGNALR, sg_cliarm_signalr_view);
}

static int sr_update(int argc, char **argv, const sg_cli_ctx *ctx)
{
    sg_cli_flag f[] = {
        SG_CLIARM_F_RG,
        F_NAME,
        {.name = "--disable-local-auth",
         .metavar = "BOOL",
         .help = "true: refuse access-key tokens; false: accept them again."},
        {.name = "--service-mode", .metavar = "MODE", .help = "Default or Serverless."},
        {.name = "--port",
         .kind = SG_CLI_INT,
         .metavar = "N",
         .help = "Move the data plane to another port."},
        SG_CLIARM_F_SUB,
        {0},
    };
    char path[SG_CLI_PATH_MAX];
    json_t *body = NULL;
    int rc = sg_cli_parse(ctx, argc, argv, f, "Update a SignalR resource.", NULL);
    if (rc != SG_CLI_RUN)
        goto done;
    const char *dla = sg_cli_str(f, "--disable-local-auth");
    const char *mode = sg_cli_str(f, "--service-mode");
    sg_cli_flag *port = sg_cli_flag_find(f, "--port");
    if (dla && strcasecmp(dla, "true") != 0 && strcasecmp(dla, "false") != 0) {
        rc = sg_cli_usage_error(ctx, "argument --disable-local-auth: expected true or false.");
        goto done;
    }
    rc = check_mode_port(ctx, f);
    if (rc == 0)
        rc = sr_path(ctx, f, NULL, path, sizeof path);
    if (rc)
        goto done;
    json_t *props = json_object();
    if (dla)
        json_object_set_new(props, "disableLocalAuth", json_boolean(strcasecmp(dla, "true") == 0));
    if (mode)
        json_object_set_new(props, "features", features(mode));
    if (port->present)
        json_object_set_new(props, "publicPort", json_integer(port->num));
    body = json_pack("{s:o}", "properties", props);
    /* PATCH needs the resource to exist: a 404 comes back as is */
    rc = sg_cliarm_call_print(ctx, "PATCH", path, body, sg_cliarm_signalr_view);
done:
    json_decref(body);
    sg_cli_flags_free(f);
    return rc;
}

static int sr_keys(int argc, char **argv, const sg_cli_ctx *ctx, int renew)
{
    sg_cli_flag f[] = {
        SG_CLIARM_F_RG,
        F_NAME,
        {.name = "--key-type", .metavar = "TYPE", .required = 1, .help = "primary or secondary."},
        SG_CLIARM_F_SUB,
        {0},
    };
    char path[SG_CLI_PATH_MAX];
    json_t *body = NULL;
    if (!renew) {
        f[2] = f[3];
        f[3].name = NULL;
    }
    int rc = sg_cli_parse(ctx, argc, argv, f,
                          renew ? "Regenerate an access key: {primaryKey, secondaryKey, "
                                  "primaryConnectionString, secondaryConnectionString}."
                                : "List the access keys and connection strings.",
                          NULL);
    if (rc != SG_CLI_RUN)
        goto done;
    if (renew) {
        const char *kt = sg_cli_str(f, "--key-type");
        if (strcasecmp(kt, "primary") != 0 && strcasecmp(kt, "secondary") != 0) {
            rc = sg_cli_usage_error(ctx,
                                    "argument --key-type: invalid choice: '%s' (choose "
                                    "from 'primary', 'secondary').",
                                    kt);
            goto done;
        }
        body =
            json_pack("{s:s}", "keyType", strcasecmp(kt, "primary") == 0 ? "Primary" : "Secondary");
    }
    rc = sr_path(ctx, f, renew ? "regenerateKey" : "listKeys", path, sizeof path);
    if (rc == 0)
        rc = sg_cliarm_call_print(ctx, "POST", path, body, NULL);
done:
    json_decref(body);
    sg_cli_flags_free(f);
    return rc;
}

static int key_list(int argc, char **argv, const sg_cli_ctx *ctx)
{
    return sr_keys(argc, argv, ctx, 0);
}

static int key_renew(int argc, char **argv, const sg_cli_ctx *ctx)
{
    return sr_keys(argc, argv, ctx, 1);
}

static const sg_cli_verb key_verbs[] = {
    {"list", key_list, "List access keys and connection strings."},
    {"renew", key_renew, "Regenerate the primary or secondary key."},
    {0},
};

static int sr_key(int argc, char **argv, const sg_cli_ctx *ctx)
{
    return sg_cli_dispatch(argc, argv, ctx, key_verbs, "Manage access keys.");
}

static const sg_cli_verb signalr_verbs[] = {
    {"create", sr_create, "Create a SignalR resource (its data plane starts at once)."},
    {"show", sr_show, "Show one: {id, name, hostName, publicPort, disableLocalAuth, features}."},
    {"list", sr_list, "List SignalR resources."},
    {"update", sr_update, "Change local auth, service mode or port."},
    {"delete", sr_delete, "Delete one."},
    {"key", sr_key, "Access keys."},
    {0},
};

int sg_cli_signalr(int argc, char **argv, const sg_cli_ctx *ctx)
{
    return sg_cli_dispatch(argc, argv, ctx, signalr_verbs, "Manage SignalR resources.");
}
