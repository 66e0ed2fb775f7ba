/* mp.c — bounded MessagePack pull reader and packer glue (see proto_internal.h). */
#include "proto/varint.h"
#include "proto_internal.h"

#include "sg_alloc.h"
#include "sg_err.h"

#include <string.h>

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}
static uint32_t rd32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static uint64_t rd64(const uint8_t *p)
{
    return ((uint64_t)rd32(p) << 32) | rd32(p + 4);
}

static int need(const sg__mp *r, size_t k)
{
    return sg__mp_left(r) >= k;
}

/* Data of a str/bin/ext of `len` bytes starting after a header of `hdr` bytes. */
static int take_data(sg__mp *r, sg__mp_obj *o, size_t hdr, uint32_t len)
{
    if (!need(r, hdr) || sg__mp_left(r) - hdr < len)
        return SG_EPROTO;
    o->p = r->p + r->off + hdr;
    o->len = len;
    r->off += hdr + len;
    return 0;
}

static int take_count(sg__mp *r, sg__mp_obj *o, size_t hdr, uint32_t count, int per)
{
    if (!need(r, hdr))
        return SG_EPROTO;
    r->off += hdr;
    /* Each element needs at least one byte: reject impossible counts up front. */
    if ((uint64_t)count * (uint64_t)per > sg__mp_left(r))
        return SG_EPROTO;
    o->len = count;
    return 0;
}

int sg__mp_next(sg__mp *r, sg__mp_obj *o)
{
    memset(o, 0, sizeof(*o));
    if (!need(r, 1))
        return SG_EPROTO;
    const uint8_t *p = r->p + r->off;
    uint8_t c = p[0];
    if (c <= 0x7f) {
        o->kind = SG__MP_INT;
        o->i = c;
        r->off++;
        return 0;
    }
    if (c >= 0xe0) {
        o->kind = SG__MP_INT;
        o->i = (int8_t)c;
        r->off++;
        return 0;
    }
    if ((c & 0xf0) == 0x80) {
        o->kind = SG__MP_MAP;
        return take_count(r, o, 1, c & 0x0f, 2);
    }
    if ((c & 0xf0) == 0x90) {
        o->kind = SG__MP_ARRAY;
        return take_count(r, o, 1, c & 0x0f, 1);
    }
    if ((c & 0xe0) == 0xa0) {
        o->kind = SG__MP_STR;
        return take_data(r, o, 1, c & 0x1f);
    }
    switch (c) {
    case 0xc0:
        o->kind = SG__MP_NIL;
        r->off++;
        return 0;
    case 0xc2:
    case 0xc3:
        o->kind = SG__MP_BOOL;
        o->b = c == 0xc3;
        r->off++;
        return 0;
    case 0xc4:
    case 0xc5:
    case 0xc6: {
        size_t h = c == 0xc4 ? 1 : c == 0xc5 ? 2 : 4;
        if (!need(r, 1 + h))
            return SG_EPROTO;
        uint32_t len = h == 1 ? p[1] : h == 2 ? rd16(p + 1) : rd32(p + 1);
        o->kind = SG__MP_BIN;
        return take_data(r, o, 1 + h, len);
    }
    case 0xc7:
    case 0xc8:
    case 0xc9: {
        size_t h = c == 0xc7 ? 1 : c == 0xc8 ? 2 : 4;
        if (!need(r, 2 + h))
            return SG_EPROTO;
        uint32_t len = h == 1 ? p[1] : h == 2 ? rd16(p + 1) : rd32(p + 1);
        o->kind = SG__MP_EXT;
        o->ext_type = (int8_t)p[1 + h];
        return take_data(r, o, 2 + h, len);
    }
    case 0xca:
        if (!need(r, 5))
            return SG_EPROTO;
        {
            uint32_t u = rd32(p + 1);
            float f;
            memcpy(&f, &u, 4);
            o->kind = SG__MP_FLOAT;
            o->f = f;
        }
        r->off += 5;
        return 0;
    case 0xcb:
        if (!need(r, 9))
            return SG_EPROTO;
        {
            uint64_t u = rd64(p + 1);
            memcpy(&o->f, &u, 8);
            o->kind = SG__MP_FLOAT;
        }
        r->off += 9;
        return 0;
    case 0xcc:
    case 0xcd:
    case 0xce:
    case 0xcf: {
        size_t h = (size_t)1 << (c - 0xcc);
        if (!need(r, 1 + h))
            return SG_EPROTO;
        uint64_t u = h == 1 ? p[1] : h == 2 ? rd16(p + 1) : h == 4 ? rd32(p + 1) : rd64(p + 1);
        if (u > INT64_MAX) {
            o->kind = SG__MP_UINT;
            o->u = u;
        } else {
            o->kind = SG__MP_INT;
            o->i = (int64_t)u;
        }
        r->off += 1 + h;
        return 0;
    }
    case 0xd0:
    case 0xd1:
    case 0xd2:
    case 0xd3: {
        size_t h = (size_t)1 << (c - 0xd0);
        if (!need(r, 1 + h))
            return SG_EPROTO;
        int64_t v = h == 1   ? (int8_t)p[1]
                    : h == 2 ? (int16_t)rd16(p + 1)
                    : h == 4 ? (int32_t)rd32(p + 1)
                             : (int64_t)rd64(p + 1);
        o->kind = SG__MP_INT;
        o->i = v;
        r->off += 1 + h;
        return 0;
    }
    case 0xd4:
    case 0xd5:
    case 0xd6:
    case 0xd7:
    case 0xd8: {
        uint32_t len = 1u << (c - 0xd4);
        if (!need(r, 2))
            return SG_EPROTO;
        o->kind = SG__MP_EXT;
        o->ext_type = (int8_t)p[1];
        return take_data(r, o, 2, len);
    }
    case 0xd9:
    case 0xda:
    case 0xdb: {
        size_t h = c == 0xd9 ? 1 : c == 0xda ? 2 : 4;
        if (!need(r, 1 + h))
            return SG_EPROTO;
        uint32_t len = h == 1 ? p[1] : h == 2 ? rd16(p + 1) : rd32(p + 1);
        o->kind = SG__MP_STR;
        return take_data(r, o, 1 + h, len);
    }
    case 0xdc:
    case 0xdd:
        if (!need(r, c == 0xdc ? 3 : 5))
            return SG_EPROTO;
        o->kind = SG__MP_ARRAY;
        return take_count(r, o, c == 0xdc ? 3 : 5, c == 0xdc ? rd16(p + 1) : rd32(p + 1), 1);
    case 0xde:
    case 0xdf:
        if (!need(r, c == 0xde ? 3 : 5))
            return SG_EPROTO;
        o->kind = SG__MP_MAP;
        return take_count(r, o, c == 0xde ? 3 : 5, c == 0xde ? rd16(p + 1) : rd32(p + 1), 2);
    default: /* 0xc1 never used */
        return SG_EPROTO;
    }
}

int sg__mp_peek(const sg__mp *r, sg__mp_kind *kind)
{
    sg__mp copy = *r;
    sg__mp_obj o;
    int rc = sg__mp_next(&copy, &o);
    if (rc == 0)
        *kind = o.kind;
    return rc;
}

int sg__mp_skip(sg__mp *r)
{
    uint64_t pending = 1;
    while (pending) {
        sg__mp_obj o;
        int rc = sg__mp_next(r, &o);
        if (rc)
            return rc;
        pending--;
        if (o.kind == SG__MP_ARRAY)
            pending += o.len;
        else if (o.kind == SG__MP_MAP)
            pending += 2 * (uint64_t)o.len;
    }
    return 0;
}

/* Header of an array or map (`kind`); nil reads as an empty one. */
static int read_count(sg__mp *r, sg__mp_kind kind, uint32_t *count)
{
    sg__mp_obj o;
    int rc = sg__mp_next(r, &o);
    if (rc)
        return rc;
    if (o.kind == SG__MP_NIL) {
        *count = 0;
        return 0;
    }
    if (o.kind != kind)
        return SG_EPROTO;
    *count = o.len;
    return 0;
}

int sg__mp_read_array(sg__mp *r, uint32_t *count)
{
    return read_count(r, SG__MP_ARRAY, count);
}

int sg__mp_read_map(sg__mp *r, uint32_t *count)
{
    return read_count(r, SG__MP_MAP, count);
}

int sg__mp_read_i64(sg__mp *r, int64_t *v)
{
    sg__mp_obj o;
    int rc = sg__mp_next(r, &o);
    if (rc)
        return rc;
    if (o.kind != SG__MP_INT)
        return SG_EPROTO;
    *v = o.i;
    return 0;
}

int sg__mp_read_i32(sg__mp *r, int32_t *v)
{
    int64_t x;
    int rc = sg__mp_read_i64(r, &x);
    if (rc)
        return rc;
    if (x < INT32_MIN || x > INT32_MAX)
        return SG_EPROTO;
    *v = (int32_t)x;
    return 0;
}

int sg__mp_read_u64(sg__mp *r, uint64_t *v)
{
    sg__mp_obj o;
    int rc = sg__mp_next(r, &o);
    if (rc)
        return rc;
    if (o.kind == SG__MP_UINT)
        *v = o.u;
    else if (o.kind == SG__MP_INT && o.i >= 0)
        *v = (uint64_t)o.i;
    else
        return SG_EPROTO;
    return 0;
}

int sg__mp_read_bool(sg__mp *r, int *v)
{
    sg__mp_obj o;
    int rc = sg__mp_next(r, &o);
    if (rc)
        return rc;
    if (o.kind != SG__MP_BOOL)
        return SG_EPROTO;
    *v = o.b;
    return 0;
}

/* A str (or, with bin_ok, a bin) or nil (NULL, 0): its bytes, borrowed from the input. */
static int read_data(sg__mp *r, int bin_ok, const uint8_t **p, uint32_t *len)
{
    sg__mp_obj o;
    int rc = sg__mp_next(r, &o);
    if (rc)
        return rc;
    if (o.kind == SG__MP_NIL) {
        *p = NULL;
        *len = 0;
        return 0;
    }
    if (o.kind != SG__MP_STR && !(bin_ok && o.kind == SG__MP_BIN))
        return SG_EPROTO;
    *p = o.p;
    *len = o.len;
    return 0;
}

int sg__mp_read_str_nil(sg__mp *r, const char **s, uint32_t *len)
{
    const uint8_t *p;
    int rc = read_data(r, 0, &p, len);
    if (rc == 0)
        *s = (const char *)p;
    return rc;
}

int sg__mp_read_bytes(sg__mp *r, const uint8_t **p, uint32_t *len)
{
    return read_data(r, 1, p, len);
}

/* ---- writer glue ---- */

static int buf_write(void *data, const char *buf, size_t len)
{
    return sg_buf_append((sg_buf *)data, buf, len) == 0 ? 0 : -1;
}

void sg__mpw_init(msgpack_packer *pk, sg_buf *out)
{
    msgpack_packer_init(pk, out, buf_write);
}

int sg__mpw_rc(int r)
{
    return r == 0 ? 0 : SG_ENOMEM;
}

int sg__frame_append(sg_buf *out, const sg_buf *body)
{
    if (body->len > SG_VARINT_MAX_VALUE)
        return SG_ETOOBIG;
    size_t before = out->len;
    uint8_t pre[SG_VARINT_MAX_BYTES];
    size_t pl = sg_varint_encode((uint32_t)body->len, pre);
    int rc = sg_buf_reserve(out, pl + body->len);
    if (rc == 0)
        rc = sg_buf_append(out, pre, pl);
    if (rc == 0)
        rc = sg_buf_append(out, body->data, body->len);
    if (rc) {
        out->len = before;
        if (out->data)
            out->data[before] = 0;
    }
    return rc;
}

int sg__mpw_strn(msgpack_packer *pk, const char *s, size_t n)
{
    if (n > UINT32_MAX)
        return -1;
    return msgpack_pack_str_with_body(pk, s, n);
}

int sg__mpw_str(msgpack_packer *pk, const char *s)
{
    if (!s)
        return msgpack_pack_nil(pk);
    return sg__mpw_strn(pk, s, strlen(s));
}

int sg__mpw_str_empty(msgpack_packer *pk, const char *s)
{
    return sg__mpw_str(pk, s ? s : "");
}

/* ---- arena ---- */

struct sg__arena {
    struct sg__arena *next;
    size_t used;
    size_t cap;
    max_align_t data[];
};

void *sg__arena_alloc(sg__arena **a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (n == 0)
        n = 16;
    sg__arena *h = *a;
    if (!h || h->cap - h->used < n) {
        size_t cap = n > 4096 ? n : 4096;
        sg__arena *nh = sg_malloc(sizeof(*nh) + cap);
        if (!nh)
            return NULL;
        nh->next = h;
        nh->used = 0;
        nh->cap = cap;
        *a = h = nh;
    }
    void *p = (char *)h->data + h->used;
    h->used += n;
    memset(p, 0, n);
    return p;
}

char *sg__arena_strndup(sg__arena **a, const char *s, size_t n)
{
    char *d = sg__arena_alloc(a, n + 1);
    if (!d)
        return NULL;
    if (n)
        memcpy(d, s, n);
    d[n] = 0;
    return d;
}

void sg__arena_free(sg__arena *a)
{
    while (a) {
        sg__arena *n = a->next;
        sg_free(a);
        a = n;
    }
}
