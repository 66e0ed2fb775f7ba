/* cli_serve.c — `sigrid serve`: flags and SIGRID_* environment variables -> sg_serve_run.
 * Precedence: flag > environment variable > default. */
#include "cli/cli_common.h"

#include "serve/serve.h"
#include "sg_err.h"
#include "sg_str.h"

#include <stdlib.h>
#include <string.h>

typedef struct serve_setting {
    const char *flag; /* "--cloud-port" */
    const char *env;  /* "SIGRID_CLOUD_PORT" */
} serve_setting;

static int parse_bool(const char *s, int *out)
{
    if (!strcmp(s, "1") || !strcasecmp(s, "true") || !strcasecmp(s, "yes") ||
        !strcasecmp(s, "on")) {
        *out = 1;
        return SG_OK;
    }
    if (!strcmp(s, "0") || !strcasecmp(s, "false") || !strcasecmp(s, "no") ||
        !strcasecmp(s, "off") || !*s) {
        *out = 0;
        return SG_OK;
    }
    return SG_EINVAL;
}

/* Integer setting: the flag when given, else the env var when set, else *out unchanged.
 * Returns 0 or the usage-error exit code. */
static int int_setting(const sg_cli_ctx *ctx, sg_cli_flag *f, const char *name, const char *env,
                       int64_t lo, int64_t hi, int64_t *out)
{
    sg_cli_flag *fl = sg_cli_flag_find(f, name);
    int64_t v = *out;
    const char *src = NULL;
    if (fl && fl->present) {
        v = fl->num;
        src = name;
    } else {
        const char *e = getenv(env);
        if (e && *e) {
            if (sg_parse_i64(e, strlen(e), &v) != SG_OK)
                return sg_cli_usage_error(ctx, "environment variable %s: invalid int value: '%s'.",
                                          env, e);
            src = env;
        }
    }
    if (src && (v < lo || v > hi))
        return sg_cli_usage_error(ctx, "%s: %lld is out of range (%lld..%lld).", src, (long long)v,
                                  (long long)lo, (long long)hi);
    *out = v;
    return 0;
}

static int bool_setting(const sg_cli_ctx *ctx, sg_cli_flag *f, const char *name, const char *env,
                        int *out)
{
    sg_cli_flag *fl = sg_cli_flag_find(f, name);
    if (fl && fl->present) {
        *out = (int)fl->num;
        return 0;
    }
    const char *e = getenv(env);
    if (e) {
        if (parse_bool(e, out) != SG_OK)
            return sg_cli_usage_error(ctx,
                                      "environment variable %s: expected true or false, got "
                                      "'%s'.",
                                      env, e);
    }
    return 0;
}

static const char *str_setting(sg_cli_flag *f, const char *name, const char *env, const char *def)
{
    sg_cli_flag *fl = sg_cli_flag_find(f, name);
    if (fl && fl->present)
        return fl->value;
    const char *e = getenv(env);
    return e && *e ? e : def;
}

int sg_cli_serve(int argc, char **argv, const sg_cli_ctx *ctx)
{
    sg_cli_flag f[] = {
        {.name = "--host",
         .metavar = "ADDR",
         .def = "127.0.0.1",
         .help = "Bind address of every listener (env SIGRID_HOST)."},
        {.name = "--cloud-port",
         .kind = SG_CLI_INT,
         .metavar = "N",
         .def = "8443",
         .help = "Cloud listener: Entra ID authority + management API (env "
                 "SIGRID_CLOUD_PORT)."},
        {.name = "--cloud-http",
         .kind = SG_CLI_BOOL,
         .help = "Serve the cloud listener over plain http instead of https (debugging; env "
                 "SIGRID_CLOUD_HTTP)."},
        {.name = "--signalr-port",
         .kind = SG_CLI_INT,
         .metavar = "N",
         .def = "8888",
         .help = "Data plane of the built-in SignalR resource 'default' (env "
                 "SIGRID_SIGNALR_PORT)."},
        {.name = "--signalr-tls",
         .kind = SG_CLI_BOOL,
         .help = "Serve the built-in resource over https with the local CA (env "
                 "SIGRID_SIGNALR_TLS)."},
        {.name = "--identity-port-base",
         .kind = SG_CLI_INT,
         .metavar = "N",
         .def = "8900",
         .help = "First port handed to compute resources' identity endpoints (env "
                 "SIGRID_IDENTITY_PORT_BASE)."},
        {.name = "--log-level",
         .metavar = "LEVEL",
         .def = "info",
         .help = "error|warn|info|debug; one key=value line per event on stderr (env "
                 "SIGRID_LOG_LEVEL)."},
        {.name = "--propagation-delay",
         .kind = SG_CLI_INT,
         .metavar = "SECONDS",
         .def = "0",
         .help = "New role assignments take effect this much later, to rehearse Azure's delay "
                 "(env SIGRID_PROPAGATION_DELAY)."},
        {.name = "--max-message",
         .kind = SG_CLI_INT,
         .metavar = "BYTES",
         .def = "32768",
         .help = "Largest message a SignalR client may send (env SIGRID_MAX_MESSAGE)."},
        {.name = "--max-connections",
         .kind = SG_CLI_INT,
         .metavar = "N",
         .def = "19000",
         .help = "Client connections per SignalR resource (env SIGRID_MAX_CONNECTIONS)."},
        {0},
    };
    sg_serve_opts o;
    int rc = sg_cli_parse(ctx, argc, argv, f,
                          "Run the local cloud: Entra ID tenant, ARM + RBAC, managed-identity "
                          "endpoints, and one SignalR data plane per resource. Stops cleanly "
                          "on SIGTERM/SIGINT.",
                          NULL);
    if (rc != SG_CLI_RUN)
        goto done;

    sg_serve_opts_default(&o);
    o.data_dir = ctx->data_dir;
    o.prog = ctx->prog ? ctx->prog : "sigrid";
    o.host = str_setting(f, "--host", "SIGRID_HOST", o.host);
    o.log_level = str_setting(f, "--log-level", "SIGRID_LOG_LEVEL", o.log_level);
    if (strcmp(o.log_level, "error") && strcmp(o.log_level, "warn") &&
        strcmp(o.log_level, "info") && strcmp(o.log_level, "debug")) {
        rc = sg_cli_usage_error(ctx,
                                "--log-level: invalid choice '%s' (choose from error, warn, "
                                "info, debug).",
                                o.log_level);
        goto done;
    }

    int64_t cloud_port = o.cloud_port, signalr_port = o.signalr_port;
    int64_t id_base = o.identity_port_base, delay = o.propagation_delay_s;
    int64_t max_msg = (int64_t)o.max_message, max_conn = (int64_t)o.max_connections;
    rc = int_setting(ctx, f, "--cloud-port", "SIGRID_CLOUD_PORT", 1, 65535, &cloud_port);
    if (!rc)
        rc = int_setting(ctx, f, "--signalr-port", "SIGRID_SIGNALR_PORT", 0, 65535, &signalr_port);
    if (!rc)
        rc = int_setting(ctx, f, "--identity-port-base", "SIGRID_IDENTITY_PORT_BASE", 1, 65000,
                         &id_base);
    if (!rc)
        rc = int_setting(ctx, f, "--propagation-delay", "SIGRID_PROPAGATION_DELAY", 0,
                         7 * 24 * 3600, &delay);
    if (!rc)
        rc = int_setting(ctx, f, "--max-message", "SIGRID_MAX_MESSAGE", 64, 64 * 1024 * 1024,
                         &max_msg);
    if (!rc)
        rc = int_setting(ctx, f, "--max-connections", "SIGRID_MAX_CONNECTIONS", 1, 1000000,
                         &max_conn);
    if (!rc)
        rc = bool_setting(ctx, f, "--cloud-http", "SIGRID_CLOUD_HTTP", &o.cloud_http);
    if (!rc)
        rc = bool_setting(ctx, f, "--signalr-tls", "SIGRID_SIGNALR_TLS", &o.signalr_tls);
    if (rc)
        goto done;
    o.cloud_port = (int)cloud_port;
    o.signalr_port = (int)signalr_port;
    o.identity_port_base = (int)id_base;
    o.propagation_delay_s = (int)delay;
    o.max_message = (size_t)max_msg;
    o.max_connections = (size_t)max_conn;

    char code[64] = "", msg[1024] = "";
    rc = sg_serve_run(&o, code, sizeof code, msg, sizeof msg);
    if (rc != 0)
        sg_cli_fail(code, "%s", msg);
done:
    sg_cli_flags_free(f);
    return rc;
}
