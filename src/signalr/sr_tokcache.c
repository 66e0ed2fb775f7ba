/* sr_tokcache.c — recently verified bearer tokens (see sr_tokcache.h). */
#include "sr_tokcache.h"

#include "sg_alloc.h"

#include <string.h>

struct sr_tok_entry {
    sr_tok_entry *chain;        /* next in the bucket */
    sr_tok_entry *older, *newer; /* insertion order */
    uint64_t hash, gen;
    size_t len, cost;
    sr_tok_info info;
    char tok[]; /* len bytes */
};

#define NBUCKETS SR_TOKCACHE_MAX_ENTRIES

void sr_tokcache_init(sr_tokcache *c, uint64_t seed)
{
    memset(c, 0, sizeof(*c));
    c->seed = seed | 1u;
}

/* Seeded 64-bit hash, eight bytes at a time (the bucket only: hits compare the whole token). */
static uint64_t tok_hash(const sr_tokcache *c, const char *p, size_t n)
{
    uint64_t h = c->seed ^ (n * 0x9e3779b97f4a7c15ull);
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdull;
        h ^= h >> 29;
        p += 8;
        n -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, p, n);
    h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 32;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

static void unlink_entry(sr_tokcache *c, sr_tok_entry *e)
{
    sr_tok_entry **pp = &c->buckets[e->hash % NBUCKETS];
    while (*pp && *pp != e)
        pp = &(*pp)->chain;
    if (*pp)
        *pp = e->chain;
    if (e->older)
        e->older->newer = e->newer;
    else
        c->oldest = e->newer;
    if (e->newer)
        e->newer->older = e->older;
    else
        c->newest = e->older;
    c->n--;
    c->bytes -= e->cost;
    json_decref(e->info.claims);
    sg_free(e);
}

static int stale(const sr_tokcache *c, const sr_tok_entry *e, uint64_t now_ms)
{
    return e->gen != c->gen || (e->info.key_expires_ms && e->info.key_expires_ms <= now_ms);
}

static sr_tok_entry *find(const sr_tokcache *c, const char *tok, size_t len, uint64_t h)
{
    for (sr_tok_entry *e = c->buckets[h % NBUCKETS]; e; e = e->chain) {
        if (e->hash == h && e->len == len && memcmp(e->tok, tok, len) == 0)
            return e;
    }
    return NULL;
}

const sr_tok_info *sr_tokcache_get(sr_tokcache *c, const char *tok, size_t len, uint64_t now_ms)
{
    if (!c->buckets || !tok || len == 0 || len > SR_TOKCACHE_MAX_TOKEN) {
        c->misses++;
        return NULL;
    }
    sr_tok_entry *e = find(c, tok, len, tok_hash(c, tok, len));
    if (e && stale(c, e, now_ms)) {
        unlink_entry(c, e);
        e = NULL;
    }
    if (!e) {
        c->misses++;
        return NULL;
    }
    c->hits++;
    return &e->info;
}

void sr_tokcache_drop(sr_tokcache *c, const char *tok, size_t len)
{
    if (!c->buckets || !tok || len == 0 || len > SR_TOKCACHE_MAX_TOKEN)
        return;
    sr_tok_entry *e = find(c, tok, len, tok_hash(c, tok, len));
    if (e)
        unlink_entry(c, e);
}

void sr_tokcache_put(sr_tokcache *c, const char *tok, size_t len, const sr_tok_info *info)
{
    if (!tok || len == 0 || len > SR_TOKCACHE_MAX_TOKEN || !info || !info->claims)
        return;
    if (!c->buckets) {
        c->buckets = sg_calloc(NBUCKETS, sizeof(*c->buckets));
        if (!c->buckets)
            return;
    }
    uint64_t h = tok_hash(c, tok, len);
    sr_tok_entry *old = find(c, tok, len, h);
    if (old)
        unlink_entry(c, old);
    /* token bytes + entry + the parsed claims (about three times their base64 size) */
    size_t cost = sizeof(sr_tok_entry) + len + 3 * len;
    while (c->oldest && (c->n >= SR_TOKCACHE_MAX_ENTRIES || c->bytes + cost > SR_TOKCACHE_MAX_BYTES)) {
        unlink_entry(c, c->oldest);
        c->evictions++;
    }
    sr_tok_entry *e = sg_malloc(sizeof(*e) + len);
    if (!e)
        return;
    memset(e, 0, sizeof(*e));
    e->hash = h;
    e->gen = c->gen;
    e->len = len;
    e->cost = cost;
    e->info = *info;
    e->info.claims = json_incref(info->claims);
    memcpy(e->tok, tok, len);
    sr_tok_entry **b = &c->buckets[h % NBUCKETS];
    e->chain = *b;
    *b = e;
    e->older = c->newest;
    if (c->newest)
        c->newest->newer = e;
    else
        c->oldest = e;
    c->newest = e;
    c->n++;
    c->bytes += cost;
}

void sr_tokcache_invalidate(sr_tokcache *c)
{
    c->gen++;
}

void sr_tokcache_sweep(sr_tokcache *c, uint64_t now_ms)
{
    sr_tok_entry *e = c->oldest;
    while (e) {
        sr_tok_entry *next = e->newer;
        if (stale(c, e, now_ms))
            unlink_entry(c, e);
        e = next;
    }
}

void sr_tokcache_free(sr_tokcache *c)
{
    while (c->oldest)
        unlink_entry(c, c->oldest);
    sg_free(c->buckets);
    c->buckets = NULL;
}
