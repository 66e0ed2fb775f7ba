/* sg_rcbuf.h — immutable, reference-counted byte buffers.
 * A broadcast frame is built once into an sg_rcbuf and queued on every recipient, each
 * queue holding one reference. Refcounts are not atomic: an rcbuf belongs to one loop. */
#ifndef SG_RCBUF_H
#define SG_RCBUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct sg_rcbuf {
    uint32_t refs;
    uint32_t len;
    char data[]; /* len bytes, then a NUL */
} sg_rcbuf;

/* New buffer with refs = 1 and `len` uninitialised bytes (caller fills data). NULL on OOM. */
sg_rcbuf *sg_rcbuf_new(size_t len);
/* New buffer with refs = 1 holding a copy of p[0..len). */
sg_rcbuf *sg_rcbuf_from(const void *p, size_t len);
static inline sg_rcbuf *sg_rcbuf_ref(sg_rcbuf *b)
{
    b->refs++;
    return b;
}
void sg_rcbuf_unref(sg_rcbuf *b); /* NULL-safe; frees at zero */

#endif
