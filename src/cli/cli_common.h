/* cli_common.h — the framework every `sigrid <group> <verb>` command is written with:
 * dispatch tables, flag parsing with az-style --help, JSON output and errors, and the
 * management-API client that talks to the running `sigrid serve`.
 *
 * Writing a command group (e.g. src/cli/cli_vm.c):
 *
 *   static int vm_show(int argc, char **argv, const sg_cli_ctx *ctx)
 *   {
 *       sg_cli_flag f[] = {
 *           {.name = "--resource-group", .alias = "-g", .metavar = "RG", .required = 1,
 *            .help = "resource group"},
 *           {.name = "--name", .alias = "-n", .metavar = "NAME", .required = 1, .help = "VM name"},
 *           {0},
 *       };
 *       json_t *out = NULL;
 *       int rc = sg_cli_parse(ctx, argc, argv, f, "Show a virtual machine.", NULL);
 *       if (rc != SG_CLI_RUN)
 *           goto done;
 *       char path[512];
 *       sg_snprintf(path, sizeof path, "/subscriptions/%s/...", ...);
 *       rc = sg_cli_mgmt(ctx, "GET", path, NULL, &out);
 *       if (rc == 0)
 *           rc = sg_cli_print_json(out);
 *   done:
 *       json_decref(out);
 *       sg_cli_flags_free(f);
 *       return rc;
 *   }
 *
 *   static const sg_cli_verb vm_verbs[] = {
 *       {"create", vm_create, "Create a virtual machine."},
 *       {"show", vm_show, "Show a virtual machine."},
 *       {"identity", vm_identity, "Manage the VM's managed identities."}, // nested group
 *       {0},
 *   };
 *   int sg_cli_vm(int argc, char **argv, const sg_cli_ctx *ctx)
 *   {
 *       return sg_cli_dispatch(argc, argv, ctx, vm_verbs, "Manage virtual machines.");
 *   }
 *
 * and one row in the table of src/cli/cli.c:  {"vm", sg_cli_vm, "Manage virtual machines."},
 * (the handler's prototype is already declared below; add yours here if it is missing).
 *
 * Conventions: a handler's argv[0] is its own name (group or verb), flags start at argv[1];
 * global flags (--data-dir, --output/-o, --query) are already removed. A handler returns the
 * process exit code: 0 ok, 1 command failed (JSON error printed on stderr), 2 usage error.
 * Output goes through sg_cli_print_json (stdout), errors through sg_cli_fail (stderr).
 * Threading: the CLI is single-threaded; nothing here is thread-safe. */
#ifndef SG_CLI_COMMON_H
#define SG_CLI_COMMON_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* What every handler gets. Borrowed; valid for the duration of the call. */
typedef struct sg_cli_ctx {
    const char *data_dir; /* --data-dir, else $SIGRID_HOME, else "./.sigrid" (never NULL) */
    const char *cmd;      /* command path of this handler, e.g. "sigrid vm identity" (usage) */
    const char *prog;     /* argv[0] as the user typed it ("./build/sigrid"), for hints */
} sg_cli_ctx;

/* A group or verb handler (signature shared by both). argv[0] = its own name. Returns the
 * exit code (0 ok, 1 failure, 2 usage error). */
typedef int (*sg_cli_fn)(int argc, char **argv, const sg_cli_ctx *ctx);

/* One row of a dispatch table; tables end with {0}. */
typedef struct sg_cli_verb {
    const char *name;
    sg_cli_fn fn;
    const char *summary; /* one line, shown by --help */
} sg_cli_verb;

/* Runs the verb named by argv[1] with argv+1 (so the verb sees its own name as argv[0]) and a
 * ctx whose cmd is "<ctx->cmd> <verb>". No verb, `--help` or `-h`: prints the group's usage
 * (summary + verbs) on stdout and returns 0. Unknown verb: JSON error, returns 2. */
int sg_cli_dispatch(int argc, char **argv, const sg_cli_ctx *ctx, const sg_cli_verb *verbs,
                    const char *summary);

/* ---- flags ------------------------------------------------------------------------- */

typedef enum sg_cli_kind {
    SG_CLI_STR = 0,   /* --name VALUE or --name=VALUE (repeated: last wins) */
    SG_CLI_INT,       /* like STR, parsed strictly into .num (sg_parse_i64) */
    SG_CLI_BOOL,      /* --flag (true) or --flag=true|false; never consumes the next argument */
    SG_CLI_MULTI,     /* --ids A B C (one or more values; repeatable: --ids A --ids B) */
    SG_CLI_MULTI_OPT, /* like MULTI but zero values allowed: --assign-identity [ID ...] */
} sg_cli_kind;

/* One flag. The caller fills the spec fields; sg_cli_parse fills the result fields. */
typedef struct sg_cli_flag {
    /* spec */
    const char *name;  /* long form with dashes, "--resource-group" */
    const char *alias; /* short form "-g", or NULL */
    sg_cli_kind kind;
    const char *metavar; /* shown in usage, e.g. "RG"; NULL = "VALUE" */
    const char *help;
    int required;
    const char *def; /* default shown in usage and returned by sg_cli_str when absent */
    /* results */
    int present;         /* times the flag appeared */
    const char *value;   /* STR/INT: last value (borrowed from argv); BOOL: "true"/"false" */
    int64_t num;         /* INT: parsed value; BOOL: 0/1 */
    const char **values; /* MULTI*: count values (array owned, strings borrowed from argv) */
    size_t count;
} sg_cli_flag;

#define SG_CLI_RUN (-1)

/* Parses argv[1..argc) against flags (array ended by an entry with name == NULL).
 * Returns SG_CLI_RUN when the command should run; otherwise an exit code to return at once:
 * 0 after printing usage for --help/-h, 2 after printing a JSON usage error (unknown flag,
 * missing value, bad integer, missing required flag, stray positional argument).
 * rest: NULL = "--" is an error; else *rest = index of the first argument after "--"
 * (argc when there is no "--"), for `sigrid exec ... -- CMD ARGS`.
 * Always call sg_cli_flags_free(flags) afterwards (also after an early return). */
int sg_cli_parse(const sg_cli_ctx *ctx, int argc, char **argv, sg_cli_flag *flags,
                 const char *summary, int *rest);
void sg_cli_flags_free(sg_cli_flag *flags);

/* Lookups by long name (with dashes). NULL / 0 when unknown. */
sg_cli_flag *sg_cli_flag_find(sg_cli_flag *flags, const char *name);
const char *sg_cli_str(sg_cli_flag *flags, const char *name); /* value, else def, else NULL */
int sg_cli_has(sg_cli_flag *flags, const char *name);         /* present? */

/* ---- output ------------------------------------------------------------------------ */

/* Prints j on stdout the way az does: pretty JSON, 2-space indent, keys in insertion order,
 * trailing newline. Honours the global --output (json|jsonc|tsv|none) and --query (a JMESPath
 * subset: a.b, a[0], a[].b, [?k=='v'] is not supported). j is borrowed; NULL prints nothing.
 * Returns 0 (or 1 with a JSON error when --query cannot be applied). */
int sg_cli_print_json(const json_t *j);

/* Prints {"error":{"code":code,"message":...}} (pretty) on stderr; returns 1 (the exit code). */
int sg_cli_fail(const char *code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Same, but returns 2 and adds " See '<ctx->cmd> --help'." — for argument errors. */
int sg_cli_usage_error(const sg_cli_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- the running server ------------------------------------------------------------ */

/* Loads DIR/endpoints.json (written by `sigrid serve`): {cloudUrl, caFile,
 * adminCredentialFile, tenantId, subscriptionId, signalr:[{name,id,url}], pid}.
 * Returns 0 with *out (caller decrefs), or prints the "sigrid is not running" error and
 * returns 1. */
int sg_cli_endpoints(const sg_cli_ctx *ctx, json_t **out);

/* Calls the management API: METHOD cloudUrl+path (path starts with '/'; an absolute URL is
 * used as is) with `Authorization: Bearer <admin credential>`, the local CA, and body
 * (borrowed, may be NULL) as JSON. On 2xx returns 0 and *out = the parsed answer (NULL for an
 * empty body; caller decrefs). Otherwise prints the error (the ARM {"error":{code,message}}
 * body as is; connection failure = "sigrid is not running") and returns 1. */
int sg_cli_mgmt(const sg_cli_ctx *ctx, const char *method, const char *path, const json_t *body,
                json_t **out);

/* Same call without printing: returns 0 when an HTTP answer arrived (*status set, *out its
 * parsed JSON body or NULL when empty/not JSON), or an sg_err with errmsg filled when no
 * answer (not running, no endpoints.json, unreadable credential). For "does it exist?". */
int sg_cli_mgmt_call(const sg_cli_ctx *ctx, const char *method, const char *path,
                     const json_t *body, long *status, json_t **out, char *errmsg, size_t errlen);

/* ---- handlers of every group, defined in their own cli_<group>.c --------------------- */
/* Declared here so adding a group is one row in cli.c's table. */
int sg_cli_serve(int argc, char **argv, const sg_cli_ctx *ctx);   /* cli_serve.c */
int sg_cli_rest(int argc, char **argv, const sg_cli_ctx *ctx);    /* cli_rest.c */
int sg_cli_account(int argc, char **argv, const sg_cli_ctx *ctx); /* cli_account.c */
int sg_cli_group(int argc, char **argv, const sg_cli_ctx *ctx);   /* cli_group.c */
int sg_cli_vm(int argc, char **argv, const sg_cli_ctx *ctx);      /* cli_vm.c */
int sg_cli_functionapp(int argc, char **argv, const sg_cli_ctx *ctx);
int sg_cli_identity(int argc, char **argv, const sg_cli_ctx *ctx); /* cli_identity.c */
int sg_cli_ad(int argc, char **argv, const sg_cli_ctx *ctx);       /* cli_ad.c */
int sg_cli_signalr(int argc, char **argv, const sg_cli_ctx *ctx);  /* cli_signalr.c */
int sg_cli_role(int argc, char **argv, const sg_cli_ctx *ctx);     /* cli_role.c */
int sg_cli_env(int argc, char **argv, const sg_cli_ctx *ctx);      /* cli_env.c */
int sg_cli_exec(int argc, char **argv, const sg_cli_ctx *ctx);     /* cli_env.c */
int sg_cli_send(int argc, char **argv, const sg_cli_ctx *ctx);
int sg_cli_negotiate(int argc, char **argv, const sg_cli_ctx *ctx);
int sg_cli_doctor(int argc, char **argv, const sg_cli_ctx *ctx);

#endif
