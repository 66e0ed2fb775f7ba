/* sr_tokcache.h — recently verified bearer tokens, so that the WebSocket upgrade (or any later
 * request) presenting the very token a negotiate just verified skips the signature check and
 * the JSON parse. Private to src/signalr/ (sr_auth.c).
 *
 * What it is not: a way around any check. Only tokens that passed the full check (signature,
 * exp/nbf, audience, the key owner's role) are put; a hit is an exact byte comparison of the
 * whole token string (the seeded hash only picks the bucket), and the caller still validates
 * exp/nbf and the audience of the cached claims at every use and asks RBAC for temporary keys.
 * An entry is dropped when its generation is older than the cache's (sr_tokcache_invalidate:
 * access keys changed, local auth switched, temporary keys swept) or, for a temporary key,
 * when that key's deadline has passed.
 *
 * Bounded: at most SR_TOKCACHE_MAX_ENTRIES entries and SR_TOKCACHE_MAX_BYTES (token bytes plus
 * an estimate of the parsed claims); the oldest entry is evicted first. Tokens longer than
 * SR_TOKCACHE_MAX_TOKEN are not cached.
 * Threading: the ctx's loop only. */
#ifndef SG_SIGNALR_SR_TOKCACHE_H
#define SG_SIGNALR_SR_TOKCACHE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define SR_TOKCACHE_MAX_ENTRIES 1024u
#define SR_TOKCACHE_MAX_BYTES (1u << 20)
#define SR_TOKCACHE_MAX_TOKEN 2048u

/* What a successful verification produced. */
typedef struct sr_tok_info {
    int kind;              /* sr_princ_kind */
    json_t *claims;        /* the verified payload (a reference is held by the cache) */
    char oid[64], tid[64]; /* temporary key: its owner */
    uint64_t key_expires_ms; /* temporary key: its deadline (sg_unix_ms); 0 = access key */
} sr_tok_info;

typedef struct sr_tok_entry sr_tok_entry;

typedef struct sr_tokcache {
    sr_tok_entry **buckets; /* SR_TOKCACHE_MAX_ENTRIES chains, allocated on first put */
    sr_tok_entry *oldest, *newest; /* insertion order, for eviction */
    size_t n, bytes;
    uint64_t gen;
    uint64_t seed;
    uint64_t hits, misses, evictions; /* statistics (tests, logs) */
} sr_tokcache;

void sr_tokcache_init(sr_tokcache *c, uint64_t seed);
void sr_tokcache_free(sr_tokcache *c);
/* The entry of exactly this token, or NULL (miss; an entry of an older generation or of an
 * expired temporary key is freed here). now_ms = sg_unix_ms(). The returned info is borrowed
 * until the next call on the cache. */
const sr_tok_info *sr_tokcache_get(sr_tokcache *c, const char *tok, size_t len, uint64_t now_ms);
/* Remembers a token that passed every check (claims are referenced, not copied). Replaces an
 * entry of the same token; evicts the oldest when full. Too long tokens / no memory: not
 * cached (not an error). */
void sr_tokcache_put(sr_tokcache *c, const char *tok, size_t len, const sr_tok_info *info);
/* Forgets one token (e.g. its claims no longer validate). */
void sr_tokcache_drop(sr_tokcache *c, const char *tok, size_t len);
/* Every entry becomes stale at once (freed lazily, or by the next sweep). */
void sr_tokcache_invalidate(sr_tokcache *c);
/* Frees stale entries (older generation, expired temporary key) — from the ctx's tick. */
void sr_tokcache_sweep(sr_tokcache *c, uint64_t now_ms);

#endif
