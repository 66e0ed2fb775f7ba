#include "sg_alloc.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static atomic_long g_live;
static atomic_long g_fail_after = -1;

static int should_fail(void)
{
    long v = atomic_load(&g_fail_after);
    if (v < 0)
        return 0;
    if (v == 0)
        return 1;
    atomic_fetch_sub(&g_fail_after, 1);
    return 0;
}

void sg_alloc_fail_after(long n)
{
    atomic_store(&g_fail_after, n);
}

long sg_alloc_live(void)
{
    return atomic_load(&g_live);
}

void *sg_malloc(size_t n)
{
    if (should_fail())
        return NULL;
    void *p = malloc(n ? n : 1);
    if (p)
        atomic_fetch_add(&g_live, 1);
    return p;
}

void *sg_calloc(size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size)
        return NULL;
    if (should_fail())
        return NULL;
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (p)
        atomic_fetch_add(&g_live, 1);
    return p;
}

void *sg_realloc(void *p, size_t n)
{
    if (!p)
        return sg_malloc(n);
    if (should_fail())
        return NULL;
    return realloc(p, n ? n : 1);
}

void sg_free(void *p)
{
    if (!p)
        return;
    atomic_fetch_sub(&g_live, 1);
    free(p);
}

void *sg_memdup(const void *src, size_t n)
{
    void *p = sg_malloc(n + 1);
    if (!p)
        return NULL;
    if (n)
        memcpy(p, src, n);
    ((char *)p)[n] = 0;
    return p;
}

char *sg_strdup(const char *s)
{
    if (!s)
        return NULL;
    return sg_memdup(s, strlen(s));
}

char *sg_strndup(const char *s, size_t n)
{
    if (!s)
        return NULL;
    size_t len = strnlen(s, n);
    return sg_memdup(s, len);
}
