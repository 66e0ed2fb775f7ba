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

/* The `vm|functionapp` command groups share everything but the resource type. */
int sg_cliarm_compute_group(int argc, char **argv, const sg_cli_ctx *ctx, int app);

#endif
