/* sg_alloc.h — every allocation in sigrid goes through these wrappers.
 * They are countable (sg_alloc_stats) and failable in tests (sg_alloc_fail_after).
 * All return NULL on failure; none aborts. Thread-safe (atomic counters). */
#ifndef SG_ALLOC_H
#define SG_ALLOC_H

#include <stddef.h>

void *sg_malloc(size_t n);
void *sg_calloc(size_t count, size_t size); /* overflow-checked */
void *sg_realloc(void *p, size_t n);
void sg_free(void *p);
char *sg_strdup(const char *s);              /* NULL in -> NULL out */
char *sg_strndup(const char *s, size_t n);   /* copies at most n bytes, always NUL-terminates */
void *sg_memdup(const void *p, size_t n);

/* Test hooks: after `n` more successful allocations, every allocation fails
 * (n < 0 disables). sg_alloc_live() = allocations not yet freed. */
void sg_alloc_fail_after(long n);
long sg_alloc_live(void);

#define SG_NEW(type) ((type *)sg_calloc(1, sizeof(type)))

#endif
