/* sg_buf.h — growable byte buffers and borrowed slices.
 * An sg_buf owns its bytes; data is always NUL-terminated (data[len] == 0) when non-NULL.
 * `max` (0 = unlimited) caps growth: appends past it fail with SG_ETOOBIG and leave the
 * buffer unchanged. Not thread-safe; owned by one loop. */
#ifndef SG_BUF_H
#define SG_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sg_slice {
    const char *p;
    size_t n;
} sg_slice;

#define SG_SLICE_LIT(s) ((sg_slice){(s), sizeof(s) - 1})
sg_slice sg_slice_cstr(const char *s);
int sg_slice_eq(sg_slice a, const char *lit);      /* exact */
int sg_slice_ieq(sg_slice a, const char *lit);     /* ASCII case-insensitive */
int sg_slice_starts(sg_slice a, const char *prefix);
char *sg_slice_dup(sg_slice s);                    /* NUL-terminated copy, NULL on OOM */

typedef struct sg_buf {
    char *data;
    size_t len;
    size_t cap;
    size_t max;
} sg_buf;

void sg_buf_init(sg_buf *b, size_t max);
void sg_buf_free(sg_buf *b);                 /* frees bytes, keeps max, resets to empty */
void sg_buf_reset(sg_buf *b);                /* len = 0, keeps capacity */
int sg_buf_reserve(sg_buf *b, size_t extra); /* ensure cap >= len + extra + 1 */
int sg_buf_append(sg_buf *b, const void *p, size_t n);
int sg_buf_append_str(sg_buf *b, const char *s);
int sg_buf_append_byte(sg_buf *b, uint8_t c);
int sg_buf_appendf(sg_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int sg_buf_vappendf(sg_buf *b, const char *fmt, va_list ap);
void sg_buf_consume(sg_buf *b, size_t n);    /* drop n bytes from the front */
/* Transfers ownership of the bytes to the caller (sg_free them); the buffer becomes empty. */
char *sg_buf_steal(sg_buf *b, size_t *len_out);
/* Appends the whole file at path (b's max applies: a larger file fails like sg_buf_append).
 * Returns SG_OK, SG_EIO for a read error, or sg_buf_append's error. When the file cannot be
 * opened it returns SG_EIO with *open_errno set to fopen's errno (0 otherwise), so the caller
 * can say why. */
int sg_buf_append_file(sg_buf *b, const char *path, int *open_errno);

#endif
