/* sr_authz.h — the data plane's memory of RBAC decisions (sg_cloud_authorize), per
 * (principal, tenant, action) on this ctx's resource. Private to src/signalr/ (sr_auth.c).
 *
 * Exact, not a TTL guess: an entry is used only while the cloud's authorization generation
 * (sg_cloud_authz_generation: every role assignment / role / resource / scope / principal
 * change moves it) equals the one it was made under, and never at or after the decision's
 * valid_until (the next propagation boundary of a not-yet-effective assignment). So a removed
 * role denies the very next request, and an assignment that is "not yet propagated" becomes
 * effective on time. Denials are kept at most SR_AUTHZ_DENY_MS (their hint counts seconds
 * left); grants at most SR_AUTHZ_ALLOW_MS. At most SR_AUTHZ_MAX entries (stale ones swept,
 * then everything forgotten when still full).
 * Threading: the ctx's loop only. */
#ifndef SG_SIGNALR_SR_AUTHZ_H
#define SG_SIGNALR_SR_AUTHZ_H

#include "cloud/cloud.h"
#include "signalr/sr_internal.h"

#include <stdint.h>

#define SR_AUTHZ_MAX 1024u
#define SR_AUTHZ_ALLOW_MS 300000u
#define SR_AUTHZ_DENY_MS 1000u

void sr_authz_init(sr_authz_cache *c, uint32_t seed);
void sr_authz_free(sr_authz_cache *c);
/* The remembered decision, or NULL. gen = sg_cloud_authz_generation() now, now_ms =
 * sg_unix_ms(). Borrowed until the next call on the cache. */
const sg_authz_decision *sr_authz_get(sr_authz_cache *c, const char *oid, const char *tid,
                                      const char *action, uint64_t gen, uint64_t now_ms);
/* Remembers d, made under generation gen at now_ms (ids longer than 64 chars: not kept). */
void sr_authz_put(sr_authz_cache *c, const char *oid, const char *tid, const char *action,
                  uint64_t gen, uint64_t now_ms, const sg_authz_decision *d);
/* Frees entries that can no longer be used (older generation, past their deadline). */
void sr_authz_sweep(sr_authz_cache *c, uint64_t gen, uint64_t now_ms);

#endif
