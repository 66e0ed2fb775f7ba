#include "sg_str.h"

#include "sg_alloc.h"
#include "sg_err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

char *sg_url_decode(const char *s, size_t n, int form, size_t *out_len)
{
    char *out = sg_malloc(n + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%') {
            if (i + 2 >= n) {
                sg_free(out);
                return NULL;
            }
            int h = hexval(s[i + 1]), l = hexval(s[i + 2]);
            if (h < 0 || l < 0) {
                sg_free(out);
                return NULL;
            }
            out[o++] = (char)(h << 4 | l);
            i += 2;
        } else if (c == '+' && form) {
            out[o++] = ' ';
        } else {
            out[o++] = c;
        }
    }
    out[o] = 0;
    if (out_len)
        *out_len = o;
    return out;
}

int sg_url_encode_append(sg_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        int rc;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~') {
            rc = sg_buf_append_byte(b, c);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            rc = sg_buf_append(b, e, 3);
        }
        if (rc)
            return rc;
    }
    return SG_OK;
}

int sg_query_next(sg_slice q, size_t *pos, sg_slice *key, sg_slice *val)
{
    while (*pos < q.n) {
        size_t start = *pos;
        size_t end = start;
        while (end < q.n && q.p[end] != '&')
            end++;
        *pos = end < q.n ? end + 1 : end;
        if (end == start)
            continue;
        size_t eq = start;
        while (eq < end && q.p[eq] != '=')
            eq++;
        key->p = q.p + start;
        key->n = eq - start;
        if (eq < end) {
            val->p = q.p + eq + 1;
            val->n = end - eq - 1;
        } else {
            val->p = q.p + end;
            val->n = 0;
        }
        return 1;
    }
    return 0;
}

char *sg_query_get(sg_slice q, const char *key)
{
    size_t pos = 0;
    sg_slice k, v;
    while (sg_query_next(q, &pos, &k, &v)) {
        if (sg_slice_eq(k, key))
            return sg_url_decode(v.p, v.n, 1, NULL);
    }
    return NULL;
}

int sg_parse_u64(const char *s, size_t n, uint64_t *out)
{
    if (!s || n == 0 || n > 20)
        return SG_EINVAL;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return SG_EINVAL;
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return SG_EINVAL;
        v = v * 10 + d;
    }
    *out = v;
    return SG_OK;
}

int sg_parse_i64(const char *s, size_t n, int64_t *out)
{
    int neg = 0;
    if (n > 0 && s[0] == '-') {
        neg = 1;
        s++;
        n--;
    }
    uint64_t v;
    int rc = sg_parse_u64(s, n, &v);
    if (rc)
        return rc;
    if (neg) {
        if (v > (uint64_t)INT64_MAX + 1)
            return SG_EINVAL;
        *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    } else {
        if (v > (uint64_t)INT64_MAX)
            return SG_EINVAL;
        *out = (int64_t)v;
    }
    return SG_OK;
}

void sg_str_lower(char *s)
{
    for (; s && *s; s++)
        if (*s >= 'A' && *s <= 'Z')
            *s = (char)(*s + 32);
}

int sg_ct_eq(const void *a, size_t an, const void *b, size_t bn)
{
    if (an != bn)
        return 0;
    const unsigned char *x = a, *y = b;
    unsigned char d = 0;
    for (size_t i = 0; i < an; i++)
        d |= (unsigned char)(x[i] ^ y[i]);
    return d == 0;
}

int sg_utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        uint32_t cp;
        if ((c & 0xe0) == 0xc0) {
            len = 2;
            cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            len = 3;
            cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            len = 4;
            cp = c & 0x07;
        } else {
            return 0;
        }
        if (i + len > n)
            return 0;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += len;
    }
    return 1;
}

int sg_snprintf(char *out, size_t outlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, outlen, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= outlen)
        return SG_ETOOBIG;
    return SG_OK;
}
