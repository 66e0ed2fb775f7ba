/* sr_authz.c — remembered RBAC decisions (see sr_authz.h). */
#include "sr_authz.h"

#include "sg_alloc.h"
#include "sg_err.h"

#include <stdio.h>
#include <string.h>

typedef struct authz_entry {
    uint64_t gen;
    uint64_t deadline_ms; /* unix ms: not used at or after */
    sg_authz_decision d;
    char key[64 * 3 + 200];
} authz_entry;

static const char *entry_key(const void *v)
{
    return ((const authz_entry *)v)->key;
}

void sr_authz_init(sr_authz_cache *c, uint32_t seed)
{
    memset(c, 0, sizeof(*c));
    sr_map_init(&c->map, entry_key, seed ^ 0x68e31da4u);
}

static void clear_all(sr_authz_cache *c)
{
    for (size_t i = 0; i < c->map.cap; i++)
        sg_free(c->map.slots[i].val);
    sr_map_free(&c->map);
}

void sr_authz_free(sr_authz_cache *c)
{
    clear_all(c);
}

static int make_key(char *out, size_t n, const char *oid, const char *tid, const char *action)
{
    if (!oid || !action || strlen(oid) >= 64 || (tid && strlen(tid) >= 64))
        return -1;
    int w = snprintf(out, n, "%s\n%s\n%s", oid, tid ? tid : "", action);
    return w < 0 || (size_t)w >= n ? -1 : w;
}

const sg_authz_decision *sr_authz_get(sr_authz_cache *c, const char *oid, const char *tid,
                                      const char *action, uint64_t gen, uint64_t now_ms)
{
    char key[sizeof(((authz_entry *)0)->key)];
    int n = make_key(key, sizeof key, oid, tid, action);
    authz_entry *e = n < 0 ? NULL : sr_map_get(&c->map, key, (size_t)n);
    if (e && (e->gen != gen || now_ms >= e->deadline_ms)) {
        sr_map_del(&c->map, key, (size_t)n);
        sg_free(e);
        e = NULL;
    }
    if (!e) {
        c->misses++;
        return NULL;
    }
    c->hits++;
    return &e->d;
}

void sr_authz_sweep(sr_authz_cache *c, uint64_t gen, uint64_t now_ms)
{
    size_t i = 0;
    while (i < c->map.cap) {
        authz_entry *e = c->map.slots[i].val;
        if (e && (e->gen != gen || now_ms >= e->deadline_ms)) {
            sr_map_del(&c->map, e->key, strlen(e->key));
            sg_free(e);
            continue; /* backward shift may have moved another entry into slot i */
        }
        i++;
    }
}

void sr_authz_put(sr_authz_cache *c, const char *oid, const char *tid, const char *action,
                  uint64_t gen, uint64_t now_ms, const sg_authz_decision *d)
{
    authz_entry *e = SG_NEW(authz_entry);
    if (!e)
        return;
    int n = make_key(e->key, sizeof e->key, oid, tid, action);
    if (n < 0) {
        sg_free(e);
        return;
    }
    e->gen = gen;
    e->d = *d;
    e->deadline_ms = now_ms + (d->allowed ? SR_AUTHZ_ALLOW_MS : SR_AUTHZ_DENY_MS);
    if (d->valid_until > 0 && (uint64_t)d->valid_until * 1000u < e->deadline_ms)
        e->deadline_ms = (uint64_t)d->valid_until * 1000u; /* the next propagation boundary */
    authz_entry *old = sr_map_del(&c->map, e->key, (size_t)n);
    sg_free(old);
    if (c->map.n >= SR_AUTHZ_MAX)
        sr_authz_sweep(c, gen, now_ms);
    if (c->map.n >= SR_AUTHZ_MAX)
        clear_all(c);
    if (now_ms >= e->deadline_ms || sr_map_put(&c->map, e) != SG_OK)
        sg_free(e);
}
