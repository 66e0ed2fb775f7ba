/* sr_map.c — string-keyed open-addressing hash map for the data plane's indexes.
 * Keys live inside the stored values (key callback); the table holds (hash, value) pairs.
 * Seeded hash so peers cannot aim many names at one bucket chain cheaply. */
#include "sr_internal.h"

#include "sg_alloc.h"
#include "sg_err.h"

#include <string.h>

uint32_t sr_hash(const char *k, size_t n, uint32_t seed)
{
    /* FNV-1a over the bytes, seeded, then a murmur3 finaliser for avalanche. */
    uint32_t h = 2166136261u ^ seed;
    for (size_t i = 0; i < n; i++) {
        h ^= (uint8_t)k[i];
        h *= 16777619u;
    }
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;
    return h;
}

void sr_map_init(sr_map *m, sr_map_key_fn key, uint32_t seed)
{
    memset(m, 0, sizeof(*m));
    m->key = key;
    m->seed = seed;
}

void sr_map_free(sr_map *m)
{
    sg_free(m->slots);
    m->slots = NULL;
    m->cap = m->n = 0;
}

static int key_eq(const sr_map *m, const void *val, const char *k, size_t n)
{
    const char *vk = m->key(val);
    return strncmp(vk, k, n) == 0 && vk[n] == 0;
}

void *sr_map_get(const sr_map *m, const char *k, size_t n)
{
    if (!m->cap)
        return NULL;
    uint32_t h = sr_hash(k, n, m->seed);
    size_t mask = m->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        const sr_map_slot *sl = &m->slots[i];
        if (!sl->val)
            return NULL;
        if (sl->hash == h && key_eq(m, sl->val, k, n))
            return sl->val;
    }
}

static void insert_slot(sr_map_slot *slots, size_t cap, uint32_t h, void *val)
{
    size_t mask = cap - 1;
    size_t i = h & mask;
    while (slots[i].val)
        i = (i + 1) & mask;
    slots[i].hash = h;
    slots[i].val = val;
}

static int grow(sr_map *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 16;
    sr_map_slot *ns = sg_calloc(ncap, sizeof(*ns));
    if (!ns)
        return SG_ENOMEM;
    for (size_t i = 0; i < m->cap; i++) {
        if (m->slots[i].val)
            insert_slot(ns, ncap, m->slots[i].hash, m->slots[i].val);
    }
    sg_free(m->slots);
    m->slots = ns;
    m->cap = ncap;
    return SG_OK;
}

int sr_map_put(sr_map *m, void *val)
{
    if ((m->n + 1) * 4 > m->cap * 3) { /* load factor <= 0.75 */
        int rc = grow(m);
        if (rc != SG_OK)
            return rc;
    }
    const char *k = m->key(val);
    insert_slot(m->slots, m->cap, sr_hash(k, strlen(k), m->seed), val);
    m->n++;
    return SG_OK;
}

void *sr_map_del(sr_map *m, const char *k, size_t n)
{
    if (!m->cap)
        return NULL;
    uint32_t h = sr_hash(k, n, m->seed);
    size_t mask = m->cap - 1;
    size_t i = h & mask;
    for (;; i = (i + 1) & mask) {
        if (!m->slots[i].val)
            return NULL;
        if (m->slots[i].hash == h && key_eq(m, m->slots[i].val, k, n))
            break;
    }
    void *found = m->slots[i].val;
    /* backward-shift deletion keeps probe chains intact without tombstones */
    size_t j = i;
    for (;;) {
        j = (j + 1) & mask;
        if (!m->slots[j].val)
            break;
        size_t home = m->slots[j].hash & mask;
        /* can slot j move to the hole at i? only if its home is not in (i, j] cyclically */
        int in_range = (i <= j) ? (home > i && home <= j) : (home > i || home <= j);
        if (!in_range) {
            m->slots[i] = m->slots[j];
            i = j;
        }
    }
    m->slots[i].val = NULL;
    m->slots[i].hash = 0;
    m->n--;
    return found;
}
