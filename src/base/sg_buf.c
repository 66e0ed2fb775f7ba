#include "sg_buf.h"

#include "sg_alloc.h"
#include "sg_err.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

sg_slice sg_slice_cstr(const char *s)
{
    sg_slice r = {s, s ? strlen(s) : 0};
    return r;
}

int sg_slice_eq(sg_slice a, const char *lit)
{
    size_t n = strlen(lit);
    return a.n == n && (n == 0 || memcmp(a.p, lit, n) == 0);
}

int sg_slice_ieq(sg_slice a, const char *lit)
{
    size_t n = strlen(lit);
    return a.n == n && (n == 0 || strncasecmp(a.p, lit, n) == 0);
}

int sg_slice_starts(sg_slice a, const char *prefix)
{
    size_t n = strlen(prefix);
    return a.n >= n && memcmp(a.p, prefix, n) == 0;
}

char *sg_slice_dup(sg_slice s)
{
    return sg_memdup(s.p ? s.p : "", s.n);
}

void sg_buf_init(sg_buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

void sg_buf_free(sg_buf *b)
{
    sg_free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void sg_buf_reset(sg_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = 0;
}

int sg_buf_reserve(sg_buf *b, size_t extra)
{
    if (extra > SIZE_MAX / 2 - b->len)
        return SG_ETOOBIG;
    size_t need = b->len + extra + 1;
    if (b->max && b->len + extra > b->max)
        return SG_ETOOBIG;
    if (need <= b->cap)
        return SG_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    char *p = sg_realloc(b->data, cap);
    if (!p)
        return SG_ENOMEM;
    b->data = p;
    b->cap = cap;
    return SG_OK;
}

int sg_buf_append(sg_buf *b, const void *p, size_t n)
{
    int rc = sg_buf_reserve(b, n);
    if (rc)
        return rc;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = 0;
    return SG_OK;
}

int sg_buf_append_str(sg_buf *b, const char *s)
{
    return sg_buf_append(b, s, strlen(s));
}

int sg_buf_append_byte(sg_buf *b, uint8_t c)
{
    return sg_buf_append(b, &c, 1);
}

int sg_buf_vappendf(sg_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return SG_EINVAL;
    int rc = sg_buf_reserve(b, (size_t)n);
    if (rc)
        return rc;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return SG_OK;
}

int sg_buf_appendf(sg_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = sg_buf_vappendf(b, fmt, ap);
    va_end(ap);
    return rc;
}

void sg_buf_consume(sg_buf *b, size_t n)
{
    if (n >= b->len) {
        sg_buf_reset(b);
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
    b->data[b->len] = 0;
}

char *sg_buf_steal(sg_buf *b, size_t *len_out)
{
    char *p = b->data;
    if (len_out)
        *len_out = b->len;
    if (!p)
        p = sg_strdup("");
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    return p;
}

int sg_buf_append_file(sg_buf *b, const char *path, int *open_errno)
{
    *open_errno = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        *open_errno = errno ? errno : ENOENT;
        return SG_EIO;
    }
    char chunk[4096];
    size_t n;
    int rc = SG_OK;
    while (rc == SG_OK && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
        rc = sg_buf_append(b, chunk, n);
    if (rc == SG_OK && ferror(f))
        rc = SG_EIO;
    fclose(f);
    return rc;
}
