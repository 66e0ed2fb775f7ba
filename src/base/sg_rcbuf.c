#include "sg_rcbuf.h"

#include "sg_alloc.h"

#include <string.h>

sg_rcbuf *sg_rcbuf_new(size_t len)
{
    if (len > UINT32_MAX - 1)
        return NULL;
    sg_rcbuf *b = sg_malloc(sizeof(*b) + len + 1);
    if (!b)
        return NULL;
    b->refs = 1;
    b->len = (uint32_t)len;
    b->data[len] = 0;
    return b;
}

sg_rcbuf *sg_rcbuf_from(const void *p, size_t len)
{
    sg_rcbuf *b = sg_rcbuf_new(len);
    if (b && len)
        memcpy(b->data, p, len);
    return b;
}

void sg_rcbuf_unref(sg_rcbuf *b)
{
    if (b && --b->refs == 0)
        sg_free(b);
}
