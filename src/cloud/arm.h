/* arm.h — helpers shared by the management API files (arm.c: routing, auth, subscriptions,
 * management groups, resource groups, service principals, RBAC routes; arm_res.c: VMs, apps,
 * user-assigned identities, SignalR resources). Internal to src/cloud/.
 *
 * Every handler answers exactly once (arm_reply / arm_fail). Writes happen in one store
 * transaction committed before the answer is sent, so an acknowledged write is durable.
 * Threading: the cloud loop. */
#ifndef SG_CLOUD_ARM_H
#define SG_CLOUD_ARM_H

#include "cloud/cloud_internal.h"

#include <jansson.h>

#define ARM_MAX_SEGS 48

typedef struct arm_ctx {
    sg_cloud *c;
    sg_http_req *req;
    char *pathbuf;            /* percent-decoded path; seg[] point into it */
    char *seg[ARM_MAX_SEGS];  /* path segments (no empty ones) */
    size_t n;
    json_t *body;             /* parsed JSON body or NULL */
} arm_ctx;

/* Sends j (stolen; NULL = empty body) with status. */
void sg__arm_reply(arm_ctx *a, int status, json_t *j);
/* Sends {"error":{"code":code,"message":...}}. */
void sg__arm_fail(arm_ctx *a, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Maps a store error: SG_ENOTFOUND -> 404 `notfound_code`, SG_EEXIST -> 409 Conflict,
 * SG_EINVAL -> 400, else 500. */
void sg__arm_fail_store(arm_ctx *a, int rc, const char *notfound_code, const char *what);
/* Case-insensitive compare of segment i with lit (0 if i is out of range). */
int sg__arm_seg_is(const arm_ctx *a, size_t i, const char *lit);
/* Host name to show in URLs (the bind address, 127.0.0.1 for wildcard binds). */
const char *sg__arm_display_host(const sg_cloud *c);
/* ISO-8601 UTC timestamp string. */
json_t *sg__arm_time(int64_t t);
/* Calls sg_idep_sync and logs a failure. */
void sg__arm_idep_sync(sg_cloud *c);

/* Request parsing (arm.c; read only a->req's path/query, so tests and fuzz_arm can drive them
 * with a request built in memory). split_path: percent-decodes the path into a->pathbuf and
 * a->seg (SG_EINVAL bad escape / NUL, SG_ETOOBIG > ARM_MAX_SEGS segments). join_segs: "/" +
 * seg[from..to) into out (SG_ETOOBIG). filter_eq: X from "<field> eq 'X'" in $filter (also
 * %24filter), out "" when absent or longer than outlen - 1. */
int sg__arm_split_path(arm_ctx *a);
int sg__arm_join_segs(const arm_ctx *a, size_t from, size_t to, char *out, size_t outlen);
void sg__arm_filter_eq(arm_ctx *a, const char *field, char *out, size_t outlen);

/* arm_res.c: /subscriptions/{s}/resourceGroups/{rg}/providers/{ns}/{type}[/{name}[/action]]
 * (seg index of "providers" = 4) and /subscriptions/{s}/providers/{ns}/{type} lists. */
void sg__arm_resource(arm_ctx *a, const char *sub, const char *rg, size_t prov_idx);
/* Short JSON of any stored resource (generic lists). */
json_t *sg__arm_resource_brief(const sg_resource_rec *r);
/* SignalR rows of a resource group (to notify after the group is deleted). */
int sg__arm_collect_signalr(sg_cloud *c, const char *sub, const char *rg, sg_signalr_rec **out,
                            size_t *n);

#endif
