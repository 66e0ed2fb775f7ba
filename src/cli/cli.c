/* cli.c — `sigrid <group> ...`: global flags, then the group table.
 *
 * Adding a command group: write `int sg_cli_<group>(int argc, char **argv, const sg_cli_ctx *)`
 * in src/cli/cli_<group>.c (see cli_common.h for the pattern; its prototype is declared there)
 * and add ONE row to `groups` below. Keep rows in the order `sigrid --help` should list them. */
#include "cli/cli.h"

#include "cli/cli_common.h"
#include "cli/cli_internal.h"
#include "sg_alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef SIGRID_VERSION
#define SIGRID_VERSION "0.1.0"
#endif

static const sg_cli_verb groups[] = {
    {"serve", sg_cli_serve, "Run the local cloud: Entra ID, ARM, RBAC, identities, SignalR."},
    {"account", sg_cli_account, "Subscriptions and management groups of the local tenant."},
    {"group", sg_cli_group, "Manage resource groups."},
    {"vm", sg_cli_vm, "Manage virtual machines (each with an IMDS identity endpoint)."},
    {"functionapp", sg_cli_functionapp, "Manage function apps (App Service identity endpoint)."},
    {"identity", sg_cli_identity, "Manage user-assigned managed identities."},
    {"ad", sg_cli_ad, "Manage service principals (Entra ID)."},
    {"signalr", sg_cli_signalr, "Manage SignalR resources and their access keys."},
    {"role", sg_cli_role, "Manage role definitions and role assignments (RBAC)."},
    {"env", sg_cli_env,
     "Print the environment that makes code run as a VM or app (managed identity)."},
    {"exec", sg_cli_exec,
     "Run a command as a VM or app (its managed identity endpoint in the environment)."},
    {"rest", sg_cli_rest, "Invoke the management API directly (like az rest)."},
    {"send", sg_cli_send, "Send a message through a SignalR resource's REST API (libsigrid)."},
    {"negotiate", sg_cli_negotiate, "Print the {url, accessToken} an app server gives a client."},
    {"doctor", sg_cli_doctor,
     "Diagnose credentials, tokens and authorization against a SignalR endpoint."},
    /* one row per group, added by its owner, in the order `sigrid --help` lists them */
    {0},
};

static const char *top_summary =
    "a self-hosted Azure SignalR Service with its Entra ID tenant, ARM, RBAC and "
    "managed identities, on one machine.";

/* Removes --data-dir/--output/-o/--query (anywhere before "--") from argv in place.
 * Returns the new argc, or -1 after printing a usage error. */
static int take_globals(int argc, char **argv, const char **data_dir, const char **output,
                        const char **query)
{
    int out = 0;
    int passthrough = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (passthrough || i == 0) {
            argv[out++] = argv[i];
            continue;
        }
        if (strcmp(a, "--") == 0) {
            passthrough = 1;
            argv[out++] = argv[i];
            continue;
        }
        static const struct {
            const char *name;
            const char *alias;
        } globals[] = {{"--data-dir", NULL}, {"--output", "-o"}, {"--query", NULL}};
        int matched = -1;
        const char *val = NULL;
        for (int g = 0; g < 3 && matched < 0; g++) {
            size_t n = strlen(globals[g].name);
            if (strcmp(a, globals[g].name) == 0 ||
                (globals[g].alias && strcmp(a, globals[g].alias) == 0)) {
                matched = g;
                if (i + 1 >= argc) {
                    sg_cli_ctx c = {.data_dir = "", .cmd = "sigrid"};
                    sg_cli_usage_error(&c, "argument %s: expected one argument.", globals[g].name);
                    return -1;
                }
                val = argv[++i];
            } else if (strncmp(a, globals[g].name, n) == 0 && a[n] == '=') {
                matched = g;
                val = a + n + 1;
            }
        }
        if (matched < 0) {
            argv[out++] = argv[i];
            continue;
        }
        if (matched == 0)
            *data_dir = val;
        else if (matched == 1)
            *output = val;
        else
            *query = val;
    }
    argv[out] = NULL;
    return out;
}

int sg_cli_main(int argc, char **argv)
{
    const char *data_dir = NULL;
    const char *output = "json";
    const char *query = NULL;
    sg_cli_ctx ctx = {.data_dir = "./.sigrid", .cmd = "sigrid"};

    argc = take_globals(argc, argv, &data_dir, &output, &query);
    if (argc < 0)
        return 2;
    if (strcmp(output, "json") && strcmp(output, "jsonc") && strcmp(output, "tsv") &&
        strcmp(output, "none"))
        return sg_cli_usage_error(&ctx,
                                  "argument --output/-o: invalid choice: '%s' (choose from "
                                  "'json', 'jsonc', 'tsv', 'none').",
                                  output);
    sg__cli_set_output(output, query);

    if (!data_dir || !*data_dir) {
        const char *home = getenv("SIGRID_HOME");
        data_dir = home && *home ? home : "./.sigrid";
    }
    ctx.data_dir = data_dir;
    ctx.prog = argc > 0 && argv[0] ? argv[0] : "sigrid";

    if (argc >= 2 && (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0)) {
        json_t *v = json_pack("{s:s}", "sigrid", SIGRID_VERSION);
        int rc = sg_cli_print_json(v);
        json_decref(v);
        return rc;
    }
    return sg_cli_dispatch(argc, argv, &ctx, groups, top_summary);
}
