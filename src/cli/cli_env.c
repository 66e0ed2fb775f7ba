/* cli_env.c — `sigrid env` and `sigrid exec`: run code *as* a compute resource.
 *
 *   sigrid env  (--vm NAME | --functionapp NAME | --webapp NAME) [-g RG] [-s SUB]
 *   sigrid exec (--vm NAME | --functionapp NAME | --webapp NAME) [-g RG] [-s SUB] -- CMD ARGS...
 *
 * Both read the resource from the running server's management API (its `identityEndpoint`,
 * and for apps its identity header) and endpoints.json (cloud URL, tenant, CA file). A VM gets
 * AZURE_POD_IDENTITY_AUTHORITY_HOST (IMDS protocol), an app IDENTITY_ENDPOINT +
 * IDENTITY_HEADER (App Service protocol); both get AZURE_AUTHORITY_HOST (only when the cloud
 * listener is https: the SDKs reject http authorities), AZURE_TENANT_ID, SSL_CERT_FILE and
 * NODE_EXTRA_CA_CERTS (only when there is a CA). `exec` also removes the variables that would make
 * the SDKs pick another managed-identity source (MSAL's detection order), then execvp()s. */
#include "cli/cli_common.h"

#include "sg_alloc.h"
#include "sg_buf.h"
#include "sg_err.h"
#include "sg_str.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define ENV_MAX 8

typedef struct env_kv {
    const char *name;
    char *value; /* owned */
} env_kv;

typedef struct env_set {
    env_kv kv[ENV_MAX];
    size_t n;
    int is_vm;
} env_set;

static void env_free(env_set *e)
{
    for (size_t i = 0; i < e->n; i++)
        sg_free(e->kv[i].value);
    e->n = 0;
}

static int env_add(env_set *e, const char *name, const char *value)
{
    if (e->n >= ENV_MAX || !value)
        return SG_EINVAL;
    char *v = sg_strdup(value);
    if (!v)
        return SG_ENOMEM;
    e->kv[e->n].name = name;
    e->kv[e->n].value = v;
    e->n++;
    return SG_OK;
}

/* A string member at top level or under "properties". */
static const char *member(const json_t *j, const char *k)
{
    const char *v = json_string_value(json_object_get(j, k));
    if (!v)
        v = json_string_value(json_object_get(json_object_get(j, "properties"), k));
    return v;
}

/* scheme://host[:port] of a URL (path, query dropped) into out. */
static int url_origin(const char *url, char *out, size_t outlen)
{
    const char *p = strstr(url, "://");
    if (!p)
        return SG_EINVAL;
    p += 3;
    const char *end = p;
    while (*end && *end != '/' && *end != '?' && *end != '#')
        end++;
    if (end == p)
        return SG_EINVAL;
    return sg_snprintf(out, outlen, "%.*s", (int)(end - url), url);
}

typedef struct env_flags {
    const char *kind; /* "vm" | "functionapp" | "webapp" */
    const char *name;
    const char *rg;
    const char *sub;
} env_flags;

/* Builds the environment for the resource; prints errors; returns an exit code (0 ok). */
static int env_build(const sg_cli_ctx *ctx, const env_flags *f, env_set *e)
{
    json_t *ep = NULL, *res = NULL;
    int rc = sg_cli_endpoints(ctx, &ep);
    if (rc != 0)
        return rc;
    const char *cloud = json_string_value(json_object_get(ep, "cloudUrl"));
    const char *ca = json_string_value(json_object_get(ep, "caFile"));
    const char *tenant = json_string_value(json_object_get(ep, "tenantId"));
    const char *sub = f->sub ? f->sub : json_string_value(json_object_get(ep, "subscriptionId"));
    if (!cloud || !sub) {
        rc = sg_cli_fail("NotRunning", "endpoints.json lacks cloudUrl or subscriptionId");
        goto done;
    }
    int vm = strcmp(f->kind, "vm") == 0;
    char path[1024];
    if (sg_snprintf(path, sizeof path,
                    "/subscriptions/%s/resourceGroups/%s/providers/%s/%s?api-version=%s", sub,
                    f->rg, vm ? "Microsoft.Compute/virtualMachines" : "Microsoft.Web/sites",
                    f->name, vm ? "2024-07-01" : "2023-12-01") != 0) {
        rc = sg_cli_fail("InvalidArgument", "resource name too long");
        goto done;
    }
    rc = sg_cli_mgmt(ctx, "GET", path, NULL, &res);
    if (rc != 0)
        goto done;
    if (!tenant) {
        const char *t =
            json_string_value(json_object_get(json_object_get(res, "identity"), "tenantId"));
        tenant = t;
    }
    const char *iep = member(res, "identityEndpoint");
    char origin[512];
    if (!iep || !*iep || url_origin(iep, origin, sizeof origin) != 0) {
        rc = sg_cli_fail("NoIdentityEndpoint", "%s '%s' has no identity endpoint%s",
                         vm ? "VM" : "app", f->name,
                         vm ? ""
                            : "; enable an identity first: sigrid functionapp identity "
                              "assign -g RG -n NAME");
        goto done;
    }
    e->is_vm = vm;
    if (vm) {
        rc = env_add(e, "AZURE_POD_IDENTITY_AUTHORITY_HOST", origin);
    } else {
        const char *hdr = member(res, "identityHeader");
        if (!hdr || !*hdr) {
            rc = sg_cli_fail("NoIdentityEndpoint", "app '%s' has no identity header", f->name);
            goto done;
        }
        char url[600];
        sg_snprintf(url, sizeof url, "%s/msi/token", origin);
        rc = env_add(e, "IDENTITY_ENDPOINT", url);
        if (rc == 0)
            rc = env_add(e, "IDENTITY_HEADER", hdr);
    }
    /* The SDKs refuse an http authority, even ManagedIdentityCredential (its constructor
     * validates AZURE_AUTHORITY_HOST): with --cloud-http, leave it unset. */
    if (rc == 0 && strncasecmp(cloud, "https://", 8) == 0)
        rc = env_add(e, "AZURE_AUTHORITY_HOST", cloud);
    else if (rc == 0)
        fprintf(stderr, "# AZURE_AUTHORITY_HOST not set: the cloud listener is plain http "
                        "(--cloud-http) and the Azure SDKs accept only https authorities\n");
    if (rc == 0 && tenant)
        rc = env_add(e, "AZURE_TENANT_ID", tenant);
    if (rc == 0 && ca && *ca) {
        rc = env_add(e, "SSL_CERT_FILE", ca);
        if (rc == 0)
            rc = env_add(e, "NODE_EXTRA_CA_CERTS", ca);
    }
    if (rc != 0)
        rc = sg_cli_fail("Internal", "%s", sg_strerror(rc));
done:
    json_decref(res);
    json_decref(ep);
    return rc;
}

static int parse_target(const sg_cli_ctx *ctx, sg_cli_flag *fl, env_flags *f)
{
    int kinds = 0;
    static const char *const names[] = {"vm", "functionapp", "webapp"};
    static const char *const flags[] = {"--vm", "--functionapp", "--webapp"};
    for (int i = 0; i < 3; i++) {
        if (sg_cli_has(fl, flags[i])) {
            kinds++;
            f->kind = names[i];
            f->name = sg_cli_str(fl, flags[i]);
        }
    }
    if (kinds != 1)
        return sg_cli_usage_error(ctx, "give exactly one of --vm, --functionapp, --webapp");
    f->rg = sg_cli_str(fl, "--resource-group");
    f->sub = sg_cli_str(fl, "--subscription");
    return 0;
}

#define TARGET_FLAGS                                                                               \
    {.name = "--vm", .metavar = "NAME", .help = "run as this virtual machine (IMDS protocol)"},    \
        {.name = "--functionapp",                                                                  \
         .metavar = "NAME",                                                                        \
         .help = "run as this function app (App Service protocol)"},                               \
        {.name = "--webapp",                                                                       \
         .metavar = "NAME",                                                                        \
         .help = "run as this web app (App Service protocol)"},                                    \
        {.name = "--resource-group",                                                               \
         .alias = "-g",                                                                            \
         .metavar = "RG",                                                                          \
         .def = "local",                                                                           \
         .help = "resource group"},                                                                \
    {                                                                                              \
        .name = "--subscription", .alias = "-s", .metavar = "SUB",                                 \
        .help = "subscription id (default: the default subscription)"                              \
    }

/* Single-quotes a value for sh when it has anything but safe characters. */
static void print_export(const char *name, const char *v)
{
    int safe = *v != 0;
    for (const char *p = v; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              strchr("_-./:=@%+,", *p)))
            safe = 0;
    if (safe) {
        printf("export %s=%s\n", name, v);
        return;
    }
    printf("export %s='", name);
    for (const char *p = v; *p; p++) {
        if (*p == '\'')
            fputs("'\\''", stdout);
        else
            putchar(*p);
    }
    printf("'\n");
}

int sg_cli_env(int argc, char **argv, const sg_cli_ctx *ctx)
{
    sg_cli_flag fl[] = {TARGET_FLAGS, {0}};
    env_set e;
    env_flags f;
    memset(&e, 0, sizeof e);
    memset(&f, 0, sizeof f);
    int rc =
        sg_cli_parse(ctx, argc, argv, fl,
                     "Print `export` lines that make the Azure SDKs' ManagedIdentityCredential "
                     "get tokens as this VM or app (use: eval \"$(sigrid env --vm NAME)\").",
                     NULL);
    if (rc != SG_CLI_RUN)
        goto done;
    rc = parse_target(ctx, fl, &f);
    if (rc != 0)
        goto done;
    rc = env_build(ctx, &f, &e);
    if (rc != 0)
        goto done;
    for (size_t i = 0; i < e.n; i++)
        print_export(e.kv[i].name, e.kv[i].value);
    fflush(stdout);
done:
    env_free(&e);
    sg_cli_flags_free(fl);
    return rc;
}

/* Variables that would make MSAL pick another managed-identity source than the one we set
 * (its detection order: Service Fabric, App Service, Machine Learning, Cloud Shell, Arc,
 * IMDS). */
static const char *const k_conflicting[] = {
    "IDENTITY_ENDPOINT", "IDENTITY_HEADER", "IDENTITY_SERVER_THUMBPRINT",        "MSI_ENDPOINT",
    "MSI_SECRET",        "IMDS_ENDPOINT",   "AZURE_POD_IDENTITY_AUTHORITY_HOST", NULL,
};

int sg_cli_exec(int argc, char **argv, const sg_cli_ctx *ctx)
{
    sg_cli_flag fl[] = {TARGET_FLAGS, {0}};
    env_set e;
    env_flags f;
    int rest = argc;
    memset(&e, 0, sizeof e);
    memset(&f, 0, sizeof f);
    int rc = sg_cli_parse(ctx, argc, argv, fl,
                          "Run a command as this VM or app: its managed identity endpoint, the "
                          "local authority and CA in the environment (sigrid exec --vm NAME -- "
                          "CMD ARGS...).",
                          &rest);
    if (rc != SG_CLI_RUN)
        goto done;
    rc = parse_target(ctx, fl, &f);
    if (rc != 0)
        goto done;
    if (rest >= argc) {
        rc = sg_cli_usage_error(ctx, "missing the command: sigrid exec --vm NAME -- CMD ARGS...");
        goto done;
    }
    rc = env_build(ctx, &f, &e);
    if (rc != 0)
        goto done;
    for (size_t i = 0; k_conflicting[i]; i++)
        unsetenv(k_conflicting[i]);
    for (size_t i = 0; i < e.n; i++) {
        if (setenv(e.kv[i].name, e.kv[i].value, 1) != 0) {
            rc = sg_cli_fail("Internal", "setenv %s: %s", e.kv[i].name, strerror(errno));
            goto done;
        }
    }
    /* argv may have been compacted in place (global flags removed): terminate our copy */
    char **cmd = sg_calloc((size_t)(argc - rest) + 1, sizeof *cmd);
    if (!cmd) {
        rc = sg_cli_fail("Internal", "out of memory");
        goto done;
    }
    for (int i = rest; i < argc; i++)
        cmd[i - rest] = argv[i];
    fflush(stdout);
    fflush(stderr);
    execvp(cmd[0], cmd);
    int err = errno;
    if (err == ENOENT && strcmp(cmd[0], "sigrid") == 0) {
        /* `sigrid exec --vm V -- sigrid ...` with sigrid not on PATH (an alias, a build dir):
         * run this very binary, as the user meant */
        execv("/proc/self/exe", cmd);
        err = errno;
    }
    sg_free(cmd);
    sg_cli_fail("ExecFailed", "cannot run '%s': %s", argv[rest], strerror(err));
    rc = err == ENOENT ? 127 : 126;
done:
    env_free(&e);
    sg_cli_flags_free(fl);
    return rc;
}
