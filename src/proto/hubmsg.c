/* hubmsg.c — hub message model, binary/ext nodes, dispatch and fan-out (see hubmsg.h). */
#include "proto/hubmsg.h"

#include "proto/hub_json.h"
#include "proto/hub_msgpack.h"
#include "proto_internal.h"
#include "sg_alloc.h"
#include "sg_b64.h"
#include "sg_err.h"

#include <string.h>

const uint8_t sg_hub_msgpack_ping[3] = {0x02, 0x91, 0x06};
const char sg_hub_json_ping[] = "{\"type\":6}\x1e";

const char *sg_hub_type_name(int type)
{
    static const char *const names[] = {
        "Unknown",          "Invocation", "StreamItem", "Completion", "StreamInvocation",
        "CancelInvocation", "Ping",       "Close",      "Ack",        "Sequence"};
    if (type < 1 || type > 9)
        return names[0];
    return names[type];
}

void sg_hub_limits_default(sg_hub_limits *l)
{
    l->max_message = SG_HUB_DEFAULT_MAX_MESSAGE;
    l->max_depth = SG_HUB_DEFAULT_MAX_DEPTH;
    l->max_elements = SG_HUB_DEFAULT_MAX_ELEMENTS;
    l->max_string = SG_HUB_DEFAULT_MAX_STRING;
}

void sg__hub_limits_resolve(const struct sg_hub_limits *in, struct sg_hub_limits *out)
{
    sg_hub_limits_default(out);
    if (!in)
        return;
    if (in->max_message)
        out->max_message = in->max_message;
    if (in->max_depth)
        out->max_depth = in->max_depth;
    if (in->max_elements)
        out->max_elements = in->max_elements;
    if (in->max_string)
        out->max_string = in->max_string;
}

void sg_hub_msg_init(sg_hub_msg *m)
{
    memset(m, 0, sizeof(*m));
}

void sg_hub_msg_clear(sg_hub_msg *m)
{
    if (!m)
        return;
    json_decref(m->headers);
    json_decref(m->arguments);
    json_decref(m->item);
    json_decref(m->result);
    sg_free(m->invocation_id);
    sg_free(m->target);
    sg_free(m->error);
    for (size_t i = 0; i < m->n_stream_ids; i++)
        sg_free(m->stream_ids[i]);
    sg_free(m->stream_ids);
    sg_hub_msg_init(m);
}

int sg_hub_parse(sg_hub_protocol p, const void *buf, size_t len, const sg_hub_limits *lim,
                 sg_hub_msg *m, size_t *consumed, const char **why)
{
    switch (p) {
    case SG_HUB_PROTO_JSON:
        return sg_hub_json_parse(buf, len, lim, m, consumed, why);
    case SG_HUB_PROTO_MSGPACK:
        return sg_hub_msgpack_parse(buf, len, lim, m, consumed, why);
    default:
        if (why)
            *why = "unknown hub protocol";
        return SG_EINVAL;
    }
}

int sg_hub_write(sg_hub_protocol p, const sg_hub_msg *m, sg_buf *out)
{
    switch (p) {
    case SG_HUB_PROTO_JSON:
        return sg_hub_json_write(m, out);
    case SG_HUB_PROTO_MSGPACK:
        return sg_hub_msgpack_write(m, out);
    default:
        return SG_EINVAL;
    }
}

int sg_hub_invocation_encode(const char *target, const json_t *arguments, const char *invocation_id,
                             sg_rcbuf **json_out, sg_rcbuf **msgpack_out)
{
    if (json_out)
        *json_out = NULL;
    if (msgpack_out)
        *msgpack_out = NULL;
    if (!target || !json_is_array(arguments))
        return SG_EINVAL;
    sg_hub_msg m;
    sg_hub_msg_init(&m);
    m.type = SG_HUB_INVOCATION;
    m.target = (char *)target;               /* borrowed: writers only read */
    m.arguments = (json_t *)arguments;       /* borrowed */
    m.invocation_id = (char *)invocation_id; /* borrowed */
    sg_buf b;
    sg_buf_init(&b, 0);
    sg_rcbuf *j = NULL, *mp = NULL;
    int rc = SG_OK;
    if (json_out) {
        rc = sg_hub_json_write(&m, &b);
        if (rc)
            goto cleanup;
        j = sg_rcbuf_from(b.data, b.len);
        if (!j) {
            rc = SG_ENOMEM;
            goto cleanup;
        }
        sg_buf_reset(&b);
    }
    if (msgpack_out) {
        rc = sg_hub_msgpack_write(&m, &b);
        if (rc)
            goto cleanup;
        mp = sg_rcbuf_from(b.data, b.len);
        if (!mp) {
            rc = SG_ENOMEM;
            goto cleanup;
        }
    }
    if (json_out)
        *json_out = j;
    if (msgpack_out)
        *msgpack_out = mp;
    j = mp = NULL;
cleanup:
    sg_rcbuf_unref(j);
    sg_rcbuf_unref(mp);
    sg_buf_free(&b);
    return rc;
}

/* ---- tagged nodes ---- */

static json_t *tag_new(const char *tag, const char *prefix2, size_t p2len, const void *p, size_t n)
{
    if (n > (SIZE_MAX - 64) / 2)
        return NULL;
    size_t cap = SG__TAG_LEN + p2len + SG_B64_ENC_LEN(n);
    char *s = sg_malloc(cap);
    if (!s)
        return NULL;
    memcpy(s, tag, SG__TAG_LEN);
    if (p2len)
        memcpy(s + SG__TAG_LEN, prefix2, p2len);
    long el = sg_b64_encode(p, n, s + SG__TAG_LEN + p2len, cap - SG__TAG_LEN - p2len);
    json_t *v = NULL;
    if (el >= 0)
        v = json_stringn_nocheck(s, SG__TAG_LEN + p2len + (size_t)el);
    sg_free(s);
    return v;
}

json_t *sg_hub_bin_new(const void *p, size_t n)
{
    return tag_new(SG__BIN_TAG, NULL, 0, p, n);
}

json_t *sg_hub_ext_new(int8_t type, const void *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    char t[2] = {hex[((uint8_t)type) >> 4], hex[((uint8_t)type) & 15]};
    return tag_new(SG__EXT_TAG, t, 2, p, n);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

int sg__hub_tag_decode(const json_t *v, const char *tag, int8_t *ext_type, uint8_t **p, size_t *n)
{
    if (!json_is_string(v))
        return 0;
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    if (len < SG__TAG_LEN || memcmp(s, tag, SG__TAG_LEN) != 0)
        return 0;
    s += SG__TAG_LEN;
    len -= SG__TAG_LEN;
    if (ext_type) {
        if (len < 2 || hexval(s[0]) < 0 || hexval(s[1]) < 0)
            return 0;
        *ext_type = (int8_t)(uint8_t)(hexval(s[0]) * 16 + hexval(s[1]));
        s += 2;
        len -= 2;
    }
    if (!p && !n) {
        /* validity check only: base64 alphabet */
        for (size_t i = 0; i < len; i++) {
            char c = s[i];
            if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '+' || c == '/' || c == '='))
                return 0;
        }
        return 1;
    }
    size_t cap = SG_B64_DEC_LEN(len);
    uint8_t *d = sg_malloc(cap);
    if (!d)
        return -1;
    long dl = sg_b64_decode(s, len, d, cap);
    if (dl < 0) {
        sg_free(d);
        return 0;
    }
    if (p)
        *p = d;
    else
        sg_free(d);
    if (n)
        *n = (size_t)dl;
    return 1;
}

int sg_hub_is_bin(const json_t *v)
{
    return sg__hub_tag_decode(v, SG__BIN_TAG, NULL, NULL, NULL) == 1;
}

int sg_hub_bin_get(const json_t *v, uint8_t **p, size_t *n)
{
    if (!p && !n)
        return sg_hub_is_bin(v);
    return sg__hub_tag_decode(v, SG__BIN_TAG, NULL, p, n);
}

int sg_hub_ext_get(const json_t *v, int8_t *type, uint8_t **p, size_t *n)
{
    int8_t t = 0;
    int rc = sg__hub_tag_decode(v, SG__EXT_TAG, &t, p, n);
    if (rc == 1 && type)
        *type = t;
    return rc;
}
