/* rbac.h — role definitions, scopes and the authorization decision (ARM semantics).
 *
 * Scopes (compared case-insensitively):
 *   /                                                       tenant root
 *   /providers/Microsoft.Management/managementGroups/MG     management group
 *   /subscriptions/S                                        subscription (in at most one MG)
 *   /subscriptions/S/resourceGroups/RG                      resource group
 *   /subscriptions/S/resourceGroups/RG/providers/NS/T/N     resource (and nested: .../T2/N2)
 * An assignment at scope A applies to scope X when A is X or an ancestor of X:
 *   root ⊃ MG ⊃ subscription ⊃ resource group ⊃ resource.
 * Threading: the cloud loop (uses the store). */
#ifndef SG_CLOUD_RBAC_H
#define SG_CLOUD_RBAC_H

#include "cloud/cloud.h"
#include "cloud/store.h"

#include <stddef.h>
#include <stdint.h>

/* Built-in role ids. */
#define SG_ROLE_SIGNALR_APP_SERVER "420fcaa2-552c-430f-98ca-3264be4806c7"
#define SG_ROLE_SIGNALR_REST_OWNER "fd53cd77-2268-407a-8f46-7e7863d0f521"
#define SG_ROLE_SIGNALR_REST_READER "ddde6b66-c0df-4114-a159-3618637b3035"
#define SG_ROLE_SIGNALR_SERVICE_OWNER "7e4f1700-ea5a-4f59-8f37-079cfe29dce3"
#define SG_ROLE_SIGNALR_ACCESSKEY_READER "04165923-9d83-45d5-8227-78b77b0a687e"
#define SG_ROLE_SIGNALR_CONTRIBUTOR "8cf5e20a-e4b2-4e9d-b3a1-5ceb692c2761"
#define SG_ROLE_OWNER "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
#define SG_ROLE_CONTRIBUTOR "b24988ac-6180-42a0-ab88-20f7382dd24c"
#define SG_ROLE_READER "acdd72a7-3385-48ef-bd42-f606fba81ae7"

/* Inserts or refreshes the built-in role definitions. */
int sg_rbac_seed_builtin(sg_store *st);

/* 1 if `pattern` (an action with optional '*' wildcards, e.g. "Microsoft.SignalRService/SignalR/"
 * followed by '*', or ".../hub/" + '*') matches `action`, case-insensitively. */
int sg_rbac_action_match(const char *pattern, const char *action);
/* 1 if a role's JSON arrays (allowed, denied; either may be NULL) grant `action`. */
int sg_rbac_role_allows(const char *allowed_json, const char *denied_json, const char *action);

typedef enum sg_scope_kind {
    SG_SCOPE_INVALID = 0,
    SG_SCOPE_ROOT,
    SG_SCOPE_MGROUP,
    SG_SCOPE_SUBSCRIPTION,
    SG_SCOPE_RGROUP,
    SG_SCOPE_RESOURCE,
} sg_scope_kind;

/* Classifies a scope; fills sub/rg/mg (each may be NULL; buffers of SG_STORE_NAME_MAX /
 * SG_STORE_GUID_MAX) when present. Trailing '/' is ignored. */
sg_scope_kind sg_rbac_scope_parse(const char *scope, char *mg, char *sub, char *rg);
/* 1 if an assignment at `outer` applies to `inner` (lexical part only: equal, or a path
 * prefix ending at a '/' boundary; root covers everything). Management groups are handled
 * by sg_rbac_scope_chain (they are not path prefixes). */
int sg_rbac_scope_covers(const char *outer, const char *inner);

/* The scopes whose assignments apply to `scope`, nearest first: the scope itself, its
 * parents up to the subscription, the subscription's management group (if any) and "/".
 * Returns the number written (<= max). */
size_t sg_rbac_scope_chain(sg_store *st, const char *scope, char (*chain)[SG_STORE_ID_MAX],
                           size_t max);

/* The decision: may principal oid (token tenant tid) do dataAction `action` on resource_id,
 * evaluated at time `now` (unix seconds) in tenant `tenant_id`? Fills *out (always). */
int sg_rbac_authorize(sg_store *st, const char *tenant_id, const char *oid, const char *tid,
                      const char *action, const char *resource_id, int64_t now,
                      sg_authz_decision *out);

/* Smallest built-in SignalR role that grants `action` (name), for hints. */
const char *sg_rbac_suggest_role(const char *action);

#endif
