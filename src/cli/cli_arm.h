/* cli_arm.h — helpers shared by the management command groups (account, group, vm,
 * functionapp, identity, ad, signalr, role): ARM paths, subscription resolution, the az-style
 * flattening of resources, identity assign/remove. Single-threaded CLI. */
#ifndef SG_CLI_ARM_H
#define SG_CLI_ARM_H

#include "cli/cli_common.h"

#include <jansson.h>
#include <stddef.h>

#define SG_CLI_PATH_MAX 2048

#define SG_ARM_VM "Microsoft.Compute/virtualMachines"
#define SG_ARM_SITES "Microsoft.Web/sites"
#define SG_ARM_UAMI "Microsoft.ManagedIdentity/userAssignedIdentities"
#define SG_ARM_SIGNALR "Microsoft.SignalRService/SignalR"
#define SG_ARM_API "?api-version=2023-01-01"
#define SG_ARM_GRAPH_SP "/providers/Microsoft.Graph/servicePrincipals" /* Entra, through ARM */
#define SG_ARM_AUTHZ "/providers/Microsoft.Authorization"              /* after a scope */

/* Subscription id for `given` (an id or a display name; NULL = the default subscription of
 * the running server). Prints the error and returns 1 on failure, 0 on success. */
int sg_cliarm_sub(const sg_cli_ctx *ctx, const char *given, char *out, size_t outlen);

/* "/subscriptions/{sub}/resourceGroups/{rg}/providers/{type}/{name}" (+ suffix, may be NULL),
 * each segment percent-encoded, then "?api-version=...". Returns 0 or 1 (error printed). */
int sg_cliarm_res_path(char *out, size_t outlen, const char *sub, const char *rg, const char *type,
                       const char *name, const char *suffix);
/* Appends "?api-version=..." to an ARM path/scope (percent-encoding unsafe characters). */
int sg_cliarm_path(char *out, size_t outlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* 0 when name is one path segment; else the usage error "the name cannot contain '/'." and 2. */
int sg_cliarm_check_name(const sg_cli_ctx *ctx, const char *name);

/* ---- the -g / -n / -s flags ----------------------------------------------------------------- */

/* Flag-table entries of the resource commands: `sg_cli_flag f[] = {SG_CLIARM_F_RG,
 * SG_CLIARM_F_NAME("identity"), SG_CLIARM_F_SUB, {0}};` */
#define SG_CLIARM_F_RG                                                                             \
    {                                                                                              \
        .name = "--resource-group", .alias = "-g", .metavar = "RG", .required = 1,                 \
        .help = "Name of resource group."                                                          \
    }
/* -g of the list verbs: optional, all groups of the subscription when absent */
#define SG_CLIARM_F_RG_ALL                                                                         \
    {                                                                                              \
        .name = "--resource-group", .alias = "-g", .metavar = "RG",                                \
        .help = "Name of resource group (default: all)."                                           \
    }
#define SG_CLIARM_F_NAME(what)                                                                     \
    {                                                                                              \
        .name = "--name", .alias = "-n", .metavar = "NAME", .required = 1,                         \
        .help = "Name of the " what "."                                                            \
    }
#define SG_CLIARM_F_SUB_DEFAULT(dflt)                                                              \
    {                                                                                              \
        .name = "--subscription", .alias = "-s", .metavar = "SUB",                                 \
        .help = "Subscription id or name (default: " dflt ")."                                     \
    }
#define SG_CLIARM_F_SUB SG_CLIARM_F_SUB_DEFAULT("the default subscription")

/* Path of the resource the parsed flags -s/-g/-n name: sg_cliarm_sub, then sg_cliarm_res_path
 * with type and suffix (may be NULL). sub (may be NULL) receives the subscription id.
 * Returns 0 or 1 (error printed). */
int sg_cliarm_flags_res_path(const sg_cli_ctx *ctx, sg_cli_flag *f, const char *type,
                             const char *suffix, char *sub, size_t sublen, char *path,
                             size_t pathlen);
/* Path listing the resources of type: in the group -g when given, else in the whole
 * subscription -s. Returns 0 or 1 (error printed). */
int sg_cliarm_flags_list_path(const sg_cli_ctx *ctx, sg_cli_flag *f, const char *type, char *path,
                              size_t pathlen);

/* Builds a user-assigned identity id from a reference: an ARM id as is, else a name in
 * (sub, rg). */
void sg_cliarm_uami_id(const char *ref, const char *sub, const char *rg, char *out, size_t outlen);

/* ---- az-shaped views ------------------------------------------------------------------------ */

/* One field of a view: arm[key], or arm.properties[X] for key "properties.X", copied as `as`
 * (NULL = the key without "properties."). A field missing from arm is left out, unless
 * null_if_missing (then it is null). Tables end with {0}. */
typedef struct sg_cliarm_field {
    const char *key;
    const char *as;
    int null_if_missing;
} sg_cliarm_field;

/* Adds fields of arm to dst in table order (values shared with arm, not copied). arm may be
 * NULL (every field missing). */
void sg_cliarm_shape_into(json_t *dst, const json_t *arm, const sg_cliarm_field *fields);
/* A new object with fields of arm (new reference). */
json_t *sg_cliarm_shape(const json_t *arm, const sg_cliarm_field *fields);

/* A view: a new az-shaped object from an ARM (or Graph) answer, which is borrowed. */
typedef json_t *(*sg_cliarm_view_fn)(const json_t *arm);

json_t *sg_cliarm_compute_view(
    const json_t *arm); /* {id,name,resourceGroup,identity,identityEndpoint,...} */
json_t *
sg_cliarm_identity_summary(const json_t *arm); /* {systemAssignedIdentity,userAssignedIdentities} */
json_t *
sg_cliarm_uami_view(const json_t *arm); /* {id,name,clientId,principalId,tenantId,type,...} */
json_t *sg_cliarm_signalr_view(
    const json_t *arm); /* {id,name,hostName,publicPort,disableLocalAuth,features,...} */
json_t *sg_cliarm_roledef_view(const json_t *arm);    /* az role definition shape */
json_t *sg_cliarm_assignment_view(const json_t *arm); /* az role assignment shape */

/* 1 when the role definition def (ARM) is role: its roleName or its name (GUID), case-insensitive;
 * role NULL = every definition. Fits sg_cliarm_list_print's keep. */
int sg_cliarm_roledef_is(const json_t *def, const void *role);

/* ---- call and print ------------------------------------------------------------------------- */

/* GET path for "does it exist?": 0 when the API answered (*status set, *out its JSON body or
 * NULL; caller decrefs), whatever the status; 1 with a NotRunning error printed when no answer. */
int sg_cliarm_get_status(const sg_cli_ctx *ctx, const char *path, long *status, json_t **out);
/* Prints view(arm) (arm itself when view is NULL). Returns sg_cli_print_json's exit code. */
int sg_cliarm_print_view(const json_t *arm, sg_cliarm_view_fn view);
/* sg_cli_mgmt(method, path, body), then prints view(answer) (the answer as is when view is NULL).
 * Returns 0, or 1 with the error printed. */
int sg_cliarm_call_print(const sg_cli_ctx *ctx, const char *method, const char *path,
                         const json_t *body, sg_cliarm_view_fn view);
/* az's delete: GET path (a missing resource is that error), DELETE it, then print view() of
 * what the GET returned. Returns 0, or 1 with the error printed. */
int sg_cliarm_delete_print(const sg_cli_ctx *ctx, const char *path, sg_cliarm_view_fn view);
/* GET path (an ARM list, {"value":[...]}) and print [view(item), ...] of the items keep()
 * accepts (keep NULL = all; arg is passed through). Returns 0, or 1 with the error printed. */
int sg_cliarm_list_print(const sg_cli_ctx *ctx, const char *path, sg_cliarm_view_fn view,
                         int (*keep)(const json_t *item, const void *arg), const void *arg);

/* A whole `list` verb for resources of ARM `type`: flags [-g RG] [-s SUB], then
 * sg_cliarm_list_print of the resource group (or the subscription) with view(). */
int sg_cliarm_list_cmd(int argc, char **argv, const sg_cli_ctx *ctx, const char *summary,
                       const char *type, sg_cliarm_view_fn view);

/* The `vm|functionapp` command groups share everything but the resource type. */
int sg_cliarm_compute_group(int argc, char **argv, const sg_cli_ctx *ctx, int app);

#endif
