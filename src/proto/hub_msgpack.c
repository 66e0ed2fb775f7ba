/* hub_msgpack.c — MessagePack hub protocol (see hub_msgpack.h). */
#include "proto/hub_msgpack.h"

#include "proto/varint.h"
#include "proto_internal.h"
#include "sg_alloc.h"
#include "sg_err.h"
#include "sg_str.h"

#include <math.h>
#include <string.h>

#define WRITE_MAX_DEPTH 1000

/* ---------------------------------------------------------------- value reader */

typedef struct rd {
    sg__mp mp;
    const sg_hub_limits *lim;
    size_t elems;
    const char *why;
} rd;

static int fail(rd *r, int rc, const char *why)
{
    if (!r->why)
        r->why = why;
    return rc;
}

static int count_elems(rd *r, uint64_t n)
{
    if (n > r->lim->max_elements || r->elems + n > r->lim->max_elements)
        return fail(r, SG_ELIMIT, "too many elements");
    r->elems += n;
    return 0;
}

static int read_value(rd *r, unsigned depth, json_t **out)
{
    *out = NULL;
    sg__mp_obj o;
    if (sg__mp_next(&r->mp, &o))
        return fail(r, SG_EPROTO, "truncated or malformed MessagePack value");
    json_t *v = NULL;
    int rc = 0;
    switch (o.kind) {
    case SG__MP_NIL:
        v = json_null();
        break;
    case SG__MP_BOOL:
        v = json_boolean(o.b);
        break;
    case SG__MP_INT:
        v = json_integer((json_int_t)o.i);
        break;
    case SG__MP_UINT:
        v = json_real((double)o.u);
        break;
    case SG__MP_FLOAT:
        v = isfinite(o.f) ? json_real(o.f) : json_null();
        break;
    case SG__MP_STR:
        if (o.len > r->lim->max_string)
            return fail(r, SG_ETOOBIG, "string too long");
        if (!sg_utf8_valid(o.p, o.len))
            return fail(r, SG_EPROTO, "invalid UTF-8 in string");
        v = json_stringn_nocheck((const char *)o.p, o.len);
        break;
    case SG__MP_BIN:
        if (o.len > r->lim->max_string)
            return fail(r, SG_ETOOBIG, "binary too long");
        v = sg_hub_bin_new(o.p, o.len);
        break;
    case SG__MP_EXT:
        if (o.len > r->lim->max_string)
            return fail(r, SG_ETOOBIG, "ext too long");
        v = sg_hub_ext_new(o.ext_type, o.p, o.len);
        break;
    case SG__MP_ARRAY:
        if (depth + 1 > r->lim->max_depth)
            return fail(r, SG_ELIMIT, "nesting too deep");
        rc = count_elems(r, o.len);
        if (rc)
            return rc;
        v = json_array();
        if (!v)
            break;
        for (uint32_t i = 0; i < o.len; i++) {
            json_t *e;
            rc = read_value(r, depth + 1, &e);
            if (rc)
                break;
            if (json_array_append_new(v, e)) {
                rc = SG_ENOMEM;
                break;
            }
        }
        break;
    case SG__MP_MAP:
        if (depth + 1 > r->lim->max_depth)
            return fail(r, SG_ELIMIT, "nesting too deep");
        rc = count_elems(r, o.len);
        if (rc)
            return rc;
        v = json_object();
        if (!v)
            break;
        for (uint32_t i = 0; i < o.len && rc == 0; i++) {
            sg__mp_obj k;
            char num[24];
            const char *key;
            size_t klen;
            if (sg__mp_next(&r->mp, &k)) {
                rc = fail(r, SG_EPROTO, "truncated map key");
                break;
            }
            if (k.kind == SG__MP_STR) {
                if (k.len > r->lim->max_string) {
                    rc = fail(r, SG_ETOOBIG, "string too long");
                    break;
                }
                if (!sg_utf8_valid(k.p, k.len) || memchr(k.p, 0, k.len)) {
                    rc = fail(r, SG_EPROTO, "invalid UTF-8 or NUL in map key");
                    break;
                }
                key = (const char *)k.p;
                klen = k.len;
            } else if (k.kind == SG__MP_INT || k.kind == SG__MP_UINT) {
                int n = k.kind == SG__MP_INT
                            ? sg_snprintf(num, sizeof(num), "%lld", (long long)k.i)
                            : sg_snprintf(num, sizeof(num), "%llu", (unsigned long long)k.u);
                if (n < 0) {
                    rc = SG_EINTERNAL;
                    break;
                }
                key = num;
                klen = strlen(num);
            } else {
                rc = fail(r, SG_EPROTO, "unsupported map key type");
                break;
            }
            json_t *e;
            rc = read_value(r, depth + 1, &e);
            if (rc)
                break;
            if (json_object_setn_new_nocheck(v, key, klen, e)) {
                rc = SG_ENOMEM;
                break;
            }
        }
        break;
    }
    if (rc) {
        json_decref(v);
        return rc;
    }
    if (!v)
        return fail(r, SG_ENOMEM, "out of memory");
    *out = v;
    return 0;
}

int sg_hub_msgpack_read_value(const void *p, size_t n, const sg_hub_limits *limits, json_t **out,
                              size_t *used)
{
    sg_hub_limits lim;
    sg__hub_limits_resolve(limits, &lim);
    rd r = {.lim = &lim};
    sg__mp_init(&r.mp, p, n);
    int rc = read_value(&r, 0, out);
    if (rc == 0 && used)
        *used = r.mp.off;
    return rc;
}

/* ---------------------------------------------------------------- message parser */

static int read_str_dup(rd *r, char **out, int nullable, const char *what)
{
    const char *s;
    uint32_t n;
    if (sg__mp_read_str_nil(&r->mp, &s, &n))
        return fail(r, SG_EPROTO, what);
    if (!s) {
        if (!nullable)
            return fail(r, SG_EPROTO, what);
        *out = NULL;
        return 0;
    }
    if (n > r->lim->max_string)
        return fail(r, SG_ETOOBIG, "string too long");
    if (!sg_utf8_valid((const unsigned char *)s, n))
        return fail(r, SG_EPROTO, "invalid UTF-8 in string");
    *out = sg_strndup(s, n);
    return *out ? 0 : fail(r, SG_ENOMEM, "out of memory");
}

static int read_headers(rd *r, sg_hub_msg *m)
{
    uint32_t n;
    if (sg__mp_read_map(&r->mp, &n))
        return fail(r, SG_EPROTO, "headers is not a map");
    if (n == 0)
        return 0;
    int rc = count_elems(r, n);
    if (rc)
        return rc;
    json_t *h = json_object();
    if (!h)
        return fail(r, SG_ENOMEM, "out of memory");
    m->headers = h;
    for (uint32_t i = 0; i < n; i++) {
        const char *k, *v;
        uint32_t kl, vl;
        if (sg__mp_read_str_nil(&r->mp, &k, &kl) || !k)
            return fail(r, SG_EPROTO, "header key is not a string");
        if (sg__mp_read_str_nil(&r->mp, &v, &vl) || !v)
            return fail(r, SG_EPROTO, "header value is not a string");
        if (kl > r->lim->max_string || vl > r->lim->max_string)
            return fail(r, SG_ETOOBIG, "string too long");
        if (!sg_utf8_valid((const unsigned char *)k, kl) ||
            !sg_utf8_valid((const unsigned char *)v, vl) || memchr(k, 0, kl))
            return fail(r, SG_EPROTO, "invalid UTF-8 in header");
        json_t *js = json_stringn_nocheck(v, vl);
        if (!js || json_object_setn_new_nocheck(h, k, kl, js))
            return fail(r, SG_ENOMEM, "out of memory");
    }
    return 0;
}

static int read_stream_ids(rd *r, sg_hub_msg *m)
{
    uint32_t n;
    if (sg__mp_read_array(&r->mp, &n))
        return fail(r, SG_EPROTO, "streamIds is not an array");
    if (n == 0)
        return 0;
    int rc = count_elems(r, n);
    if (rc)
        return rc;
    m->stream_ids = sg_calloc(n, sizeof(char *));
    if (!m->stream_ids)
        return fail(r, SG_ENOMEM, "out of memory");
    for (uint32_t i = 0; i < n; i++) {
        rc = read_str_dup(r, &m->stream_ids[i], 0, "stream id is not a string");
        if (rc)
            return rc;
        m->n_stream_ids = i + 1;
    }
    return 0;
}

static int read_args(rd *r, json_t **out)
{
    sg__mp_kind k;
    if (sg__mp_peek(&r->mp, &k) || k != SG__MP_ARRAY)
        return fail(r, SG_EPROTO, "arguments is not an array");
    return read_value(r, 1, out);
}

static int parse_body(rd *r, sg_hub_msg *m)
{
    uint32_t count;
    int64_t type;
    int rc;
    if (sg__mp_read_array(&r->mp, &count) || count == 0)
        return fail(r, SG_EPROTO, "message is not a non-empty array");
    if (sg__mp_read_i64(&r->mp, &type))
        return fail(r, SG_EPROTO, "message type is not an integer");
    if (type < 1 || type > 9)
        return fail(r, SG_EPROTO, "unknown message type");
    m->type = (sg_hub_type)type;
    static const uint32_t min_len[10] = {0, 5, 4, 4, 6, 3, 1, 2, 2, 2};
    if (count < min_len[type])
        return fail(r, SG_EPROTO, "message array too short");
    uint32_t read = 1;
    switch (m->type) {
    case SG_HUB_INVOCATION:
    case SG_HUB_STREAM_INVOCATION:
        rc = read_headers(r, m);
        if (!rc)
            rc = read_str_dup(r, &m->invocation_id, m->type == SG_HUB_INVOCATION,
                              "invocationId is not a string");
        if (!rc)
            rc = read_str_dup(r, &m->target, 0, "target is not a string");
        if (!rc)
            rc = read_args(r, &m->arguments);
        read = 5;
        if (!rc && count >= 6) {
            rc = read_stream_ids(r, m);
            read = 6;
        }
        break;
    case SG_HUB_STREAM_ITEM:
        rc = read_headers(r, m);
        if (!rc)
            rc = read_str_dup(r, &m->invocation_id, 0, "invocationId is not a string");
        if (!rc)
            rc = read_value(r, 1, &m->item);
        read = 4;
        break;
    case SG_HUB_COMPLETION: {
        int64_t kind;
        rc = read_headers(r, m);
        if (!rc)
            rc = read_str_dup(r, &m->invocation_id, 0, "invocationId is not a string");
        if (!rc && sg__mp_read_i64(&r->mp, &kind))
            rc = fail(r, SG_EPROTO, "result kind is not an integer");
        read = 4;
        if (rc)
            break;
        if (kind == SG_HUB_COMPLETION_ERROR) {
            if (count < 5)
                return fail(r, SG_EPROTO, "completion error missing");
            m->completion = SG_HUB_COMPLETION_ERROR;
            rc = read_str_dup(r, &m->error, 0, "completion error is not a string");
            read = 5;
        } else if (kind == SG_HUB_COMPLETION_VOID) {
            m->completion = SG_HUB_COMPLETION_VOID;
        } else if (kind == SG_HUB_COMPLETION_RESULT) {
            if (count < 5)
                return fail(r, SG_EPROTO, "completion result missing");
            m->completion = SG_HUB_COMPLETION_RESULT;
            rc = read_value(r, 1, &m->result);
            read = 5;
        } else {
            rc = fail(r, SG_EPROTO, "invalid result kind");
        }
        break;
    }
    case SG_HUB_CANCEL_INVOCATION:
        rc = read_headers(r, m);
        if (!rc)
            rc = read_str_dup(r, &m->invocation_id, 0, "invocationId is not a string");
        read = 3;
        break;
    case SG_HUB_PING:
        rc = 0;
        break;
    case SG_HUB_CLOSE:
        rc = read_str_dup(r, &m->error, 1, "close error is not a string");
        read = 2;
        if (!rc && count >= 3) {
            sg__mp_kind k;
            if (sg__mp_peek(&r->mp, &k) == 0 && k == SG__MP_NIL) {
                rc = sg__mp_skip(&r->mp) ? fail(r, SG_EPROTO, "truncated") : 0;
            } else if (sg__mp_read_bool(&r->mp, &m->allow_reconnect)) {
                rc = fail(r, SG_EPROTO, "allowReconnect is not a boolean");
            } else {
                m->has_allow_reconnect = 1;
            }
            read = 3;
        }
        break;
    case SG_HUB_ACK:
    case SG_HUB_SEQUENCE:
        /* capped at INT64_MAX so the id survives the JSON protocol too */
        rc = sg__mp_read_u64(&r->mp, &m->sequence_id) || m->sequence_id > INT64_MAX
                 ? fail(r, SG_EPROTO, "sequenceId is not an unsigned 63-bit integer")
                 : 0;
        read = 2;
        break;
    default:
        rc = fail(r, SG_EPROTO, "unknown message type");
    }
    if (rc)
        return rc;
    /* Forward compatibility: skip trailing elements newer peers may add. */
    for (; read < count; read++)
        if (sg__mp_skip(&r->mp))
            return fail(r, SG_EPROTO, "truncated trailing element");
    if (sg__mp_left(&r->mp) != 0)
        return fail(r, SG_EPROTO, "trailing bytes after message");
    return 0;
}

int sg_hub_msgpack_parse(const void *buf, size_t len, const sg_hub_limits *limits, sg_hub_msg *m,
                         size_t *consumed, const char **why)
{
    const char *dummy;
    if (!why)
        why = &dummy;
    *why = NULL;
    sg_hub_msg_init(m);
    sg_hub_limits lim;
    sg__hub_limits_resolve(limits, &lim);
    const uint8_t *body;
    size_t blen, flen;
    int rc = sg_varint_frame(buf, len, lim.max_message, &body, &blen, &flen);
    if (rc == SG_EAGAIN)
        return rc;
    if (rc) {
        *why = rc == SG_ETOOBIG ? "message too large" : "invalid length prefix";
        return rc;
    }
    rd r = {.lim = &lim};
    sg__mp_init(&r.mp, body, blen);
    rc = parse_body(&r, m);
    if (rc) {
        *why = r.why ? r.why : "malformed message";
        sg_hub_msg_clear(m);
        return rc;
    }
    m->raw = buf;
    m->raw_len = flen;
    *consumed = flen;
    return SG_OK;
}

/* ---------------------------------------------------------------- writer */

static int write_value(msgpack_packer *pk, const json_t *v, int depth)
{
    if (depth > WRITE_MAX_DEPTH)
        return SG_EINVAL;
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        int rc = sg__mpw_rc(msgpack_pack_map(pk, json_object_size(v)));
        for (void *it = json_object_iter((json_t *)v); it && rc == 0;
             it = json_object_iter_next((json_t *)v, it)) {
            rc = sg__mpw_rc(
                sg__mpw_strn(pk, json_object_iter_key(it), json_object_iter_key_len(it)));
            if (rc == 0)
                rc = write_value(pk, json_object_iter_value(it), depth + 1);
        }
        return rc;
    }
    case JSON_ARRAY: {
        size_t n = json_array_size(v);
        int rc = sg__mpw_rc(msgpack_pack_array(pk, n));
        for (size_t i = 0; i < n && rc == 0; i++)
            rc = write_value(pk, json_array_get(v, i), depth + 1);
        return rc;
    }
    case JSON_STRING: {
        uint8_t *p = NULL;
        size_t n = 0;
        int8_t t;
        int r = sg__hub_tag_decode(v, SG__BIN_TAG, NULL, &p, &n);
        if (r == 1) {
            int rc = sg__mpw_rc(msgpack_pack_bin_with_body(pk, p, n));
            sg_free(p);
            return rc;
        }
        if (r == 0)
            r = sg__hub_tag_decode(v, SG__EXT_TAG, &t, &p, &n);
        if (r == 1) {
            int rc = sg__mpw_rc(msgpack_pack_ext_with_body(pk, p, n, t));
            sg_free(p);
            return rc;
        }
        if (r < 0)
            return SG_ENOMEM;
        return sg__mpw_rc(sg__mpw_strn(pk, json_string_value(v), json_string_length(v)));
    }
    case JSON_INTEGER:
        return sg__mpw_rc(msgpack_pack_int64(pk, (int64_t)json_integer_value(v)));
    case JSON_REAL:
        return sg__mpw_rc(msgpack_pack_double(pk, json_real_value(v)));
    case JSON_TRUE:
        return sg__mpw_rc(msgpack_pack_true(pk));
    case JSON_FALSE:
        return sg__mpw_rc(msgpack_pack_false(pk));
    case JSON_NULL:
        return sg__mpw_rc(msgpack_pack_nil(pk));
    }
    return SG_EINVAL;
}

int sg_hub_msgpack_write_value(const json_t *v, sg_buf *out)
{
    if (!v)
        return SG_EINVAL;
    size_t before = out->len;
    msgpack_packer pk;
    sg__mpw_init(&pk, out);
    int rc = write_value(&pk, v, 0);
    if (rc) {
        out->len = before;
        if (out->data)
            out->data[before] = 0;
    }
    return rc;
}

static int write_headers(msgpack_packer *pk, const sg_hub_msg *m)
{
    if (!m->headers)
        return sg__mpw_rc(msgpack_pack_map(pk, 0));
    if (!json_is_object(m->headers))
        return SG_EINVAL;
    const char *k;
    json_t *v;
    json_object_foreach(m->headers, k, v)
    {
        if (!json_is_string(v))
            return SG_EINVAL;
    }
    return write_value(pk, m->headers, 1);
}

static int write_body(msgpack_packer *pk, const sg_hub_msg *m)
{
    int rc = 0;
    switch (m->type) {
    case SG_HUB_INVOCATION:
    case SG_HUB_STREAM_INVOCATION:
        if (!m->target || !json_is_array(m->arguments) ||
            (m->type == SG_HUB_STREAM_INVOCATION && !m->invocation_id))
            return SG_EINVAL;
        rc = sg__mpw_rc(msgpack_pack_array(pk, 6));
        if (!rc)
            rc = sg__mpw_rc(msgpack_pack_int(pk, m->type));
        if (!rc)
            rc = write_headers(pk, m);
        if (!rc)
            rc = sg__mpw_rc(sg__mpw_str(pk, m->invocation_id));
        if (!rc)
            rc = sg__mpw_rc(sg__mpw_str(pk, m->target));
        if (!rc)
            rc = write_value(pk, m->arguments, 1);
        if (!rc)
            rc = sg__mpw_rc(msgpack_pack_array(pk, m->n_stream_ids));
        for (size_t i = 0; i < m->n_stream_ids && !rc; i++)
            rc = sg__mpw_rc(sg__mpw_str_empty(pk, m->stream_ids[i]));
        return rc;
    case SG_HUB_STREAM_ITEM:
        if (!m->invocation_id)
            return SG_EINVAL;
        rc = sg__mpw_rc(msgpack_pack_array(pk, 4));
        if (!rc)
            rc = sg__mpw_rc(msgpack_pack_int(pk, 2));
        if (!rc)
            rc = write_headers(pk, m);
        if (!rc)
            rc = sg__mpw_rc(sg__mpw_str(pk, m->invocation_id));
        if (!rc)
            rc = m->item ? write_value(pk, m->item, 1) : sg__mpw_rc(msgpack_pack_nil(pk));
        return rc;
    case SG_HUB_COMPLETION: {
        if (!m->invocation_id)
            return SG_EINVAL;
        int kind = m->completion;
        if (kind < SG_HUB_COMPLETION_ERROR || kind > SG_HUB_COMPLETION_RESULT)
            return SG_EINVAL;
        if (kind == SG_HUB_COMPLETION_ERROR && !m->error)
            return SG_EINVAL;
        rc = sg__mpw_rc(msgpack_pack_array(pk, kind == SG_HUB_COMPLETION_VOID ? 4 : 5));
        if (!rc)
            rc = sg__mpw_rc(msgpack_pack_int(pk, 3));
        if (!rc)
            rc = write_headers(pk, m);
        if (!rc)
            rc = sg__mpw_rc(sg__mpw_str(pk, m->invocation_id));
        if (!rc)
            rc = sg__mpw_rc(msgpack_pack_int(pk, kind));
        if (!rc && kind == SG_HUB_COMPLETION_ERROR)
            rc = sg__mpw_rc(sg__mpw_str(pk, m->error));
        if (!rc && kind == SG_HUB_COMPLETION_RESULT)
            rc = m->result ? write_value(pk, m->result, 1) : sg__mpw_rc(msgpack_pack_nil(pk));
        return rc;
    }
    case SG_HUB_CANCEL_INVOCATION:
        if (!m->invocation_id)
            return SG_EINVAL;
        rc = sg__mpw_rc(msgpack_pack_array(pk, 3));
        if (!rc)
            rc = sg__mpw_rc(msgpack_pack_int(pk, 5));
        if (!rc)
            rc = write_headers(pk, m);
        if (!rc)
            rc = sg__mpw_rc(sg__mpw_str(pk, m->invocation_id));
        return rc;
    case SG_HUB_PING:
        rc = sg__mpw_rc(msgpack_pack_array(pk, 1));
        return rc ? rc : sg__mpw_rc(msgpack_pack_int(pk, 6));
    case SG_HUB_CLOSE:
        rc = sg__mpw_rc(msgpack_pack_array(pk, 3));
        if (!rc)
            rc = sg__mpw_rc(msgpack_pack_int(pk, 7));
        if (!rc)
            rc = sg__mpw_rc(sg__mpw_str(pk, m->error));
        if (!rc)
            rc = sg__mpw_rc(m->allow_reconnect ? msgpack_pack_true(pk) : msgpack_pack_false(pk));
        return rc;
    case SG_HUB_ACK:
    case SG_HUB_SEQUENCE:
        rc = sg__mpw_rc(msgpack_pack_array(pk, 2));
        if (!rc)
            rc = sg__mpw_rc(msgpack_pack_int(pk, m->type));
        if (!rc)
            rc = sg__mpw_rc(msgpack_pack_uint64(pk, m->sequence_id));
        return rc;
    }
    return SG_EINVAL;
}

int sg_hub_msgpack_write(const sg_hub_msg *m, sg_buf *out)
{
    sg_buf body;
    sg_buf_init(&body, 0);
    msgpack_packer pk;
    sg__mpw_init(&pk, &body);
    int rc = write_body(&pk, m);
    if (rc == 0)
        rc = sg__frame_append(out, &body);
    sg_buf_free(&body);
    return rc;
}
