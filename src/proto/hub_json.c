/* hub_json.c — JSON hub protocol (see hub_json.h). */
#include "proto/hub_json.h"

#include "proto_internal.h"
#include "sg_alloc.h"
#include "sg_b64.h"
#include "sg_err.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define WRITE_MAX_DEPTH 1000

/* ---------------------------------------------------------------- writer */

int sg__json_append_string(sg_buf *out, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    int rc = sg_buf_reserve(out, n + 2);
    if (rc)
        return rc;
    rc = sg_buf_append_byte(out, '"');
    size_t run = 0; /* start of the pending run of bytes that need no escaping */
    for (size_t i = 0; i < n && rc == 0; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        rc = sg_buf_append(out, s + run, i - run);
        run = i + 1;
        if (rc)
            break;
        char esc[7] = {'\\', 0, 0, 0, 0, 0, 0};
        size_t el = 2;
        switch (c) {
        case '"':
            esc[1] = '"';
            break;
        case '\\':
            esc[1] = '\\';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        case '\b':
            esc[1] = 'b';
            break;
        case '\f':
            esc[1] = 'f';
            break;
        default:
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            el = 6;
        }
        rc = sg_buf_append(out, esc, el);
    }
    if (rc == 0)
        rc = sg_buf_append(out, s + run, n - run);
    if (rc == 0)
        rc = sg_buf_append_byte(out, '"');
    return rc;
}

/* Binary / ext nodes → base64 string of their data. Returns 1 if handled, 0 if plain. */
static int write_tagged(const json_t *v, sg_buf *out, int *rc)
{
    uint8_t *p = NULL;
    size_t n = 0;
    int8_t t;
    int r = sg__hub_tag_decode(v, SG__BIN_TAG, NULL, &p, &n);
    if (r == 0)
        r = sg__hub_tag_decode(v, SG__EXT_TAG, &t, &p, &n);
    if (r == 0)
        return 0;
    if (r < 0) {
        *rc = SG_ENOMEM;
        return 1;
    }
    size_t cap = SG_B64_ENC_LEN(n);
    char *s = sg_malloc(cap);
    if (!s) {
        sg_free(p);
        *rc = SG_ENOMEM;
        return 1;
    }
    long el = sg_b64_encode(p, n, s, cap);
    *rc = el < 0 ? SG_EINTERNAL : sg__json_append_string(out, s, (size_t)el);
    sg_free(s);
    sg_free(p);
    return 1;
}

static int write_value(const json_t *v, sg_buf *out, int depth)
{
    int rc = 0;
    if (depth > WRITE_MAX_DEPTH)
        return SG_EINVAL;
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        rc = sg_buf_append_byte(out, '{');
        int first = 1;
        for (void *it = json_object_iter((json_t *)v); it && rc == 0;
             it = json_object_iter_next((json_t *)v, it)) {
            if (!first)
                rc = sg_buf_append_byte(out, ',');
            first = 0;
            if (rc == 0)
                rc = sg__json_append_string(out, json_object_iter_key(it),
                                            json_object_iter_key_len(it));
            if (rc == 0)
                rc = sg_buf_append_byte(out, ':');
            if (rc == 0)
                rc = write_value(json_object_iter_value(it), out, depth + 1);
        }
        if (rc == 0)
            rc = sg_buf_append_byte(out, '}');
        return rc;
    }
    case JSON_ARRAY: {
        rc = sg_buf_append_byte(out, '[');
        size_t n = json_array_size(v);
        for (size_t i = 0; i < n && rc == 0; i++) {
            if (i)
                rc = sg_buf_append_byte(out, ',');
            if (rc == 0)
                rc = write_value(json_array_get(v, i), out, depth + 1);
        }
        if (rc == 0)
            rc = sg_buf_append_byte(out, ']');
        return rc;
    }
    case JSON_STRING:
        if (write_tagged(v, out, &rc))
            return rc;
        return sg__json_append_string(out, json_string_value(v), json_string_length(v));
    case JSON_INTEGER:
        return sg_buf_appendf(out, "%lld", (long long)json_integer_value(v));
    case JSON_REAL: {
        double d = json_real_value(v);
        if (!isfinite(d))
            return sg_buf_append(out, "null", 4);
        char tmp[40];
        int n = snprintf(tmp, sizeof(tmp), "%.17g", d);
        if (n <= 0 || (size_t)n >= sizeof(tmp))
            return SG_EINTERNAL;
        rc = sg_buf_append(out, tmp, (size_t)n);
        if (rc == 0 && !strpbrk(tmp, ".eE"))
            rc = sg_buf_append(out, ".0", 2);
        return rc;
    }
    case JSON_TRUE:
        return sg_buf_append(out, "true", 4);
    case JSON_FALSE:
        return sg_buf_append(out, "false", 5);
    case JSON_NULL:
        return sg_buf_append(out, "null", 4);
    }
    return SG_EINVAL;
}

int sg_hub_json_write_value(const json_t *v, sg_buf *out)
{
    if (!v)
        return SG_EINVAL;
    size_t before = out->len;
    int rc = write_value(v, out, 0);
    if (rc) {
        out->len = before;
        if (out->data)
            out->data[before] = 0;
    }
    return rc;
}

static int put_key(sg_buf *out, const char *k)
{
    return sg_buf_appendf(out, ",\"%s\":", k);
}

static int put_str_field(sg_buf *out, const char *k, const char *v)
{
    int rc = put_key(out, k);
    return rc ? rc : sg__json_append_string(out, v, strlen(v));
}

static int write_headers(const sg_hub_msg *m, sg_buf *out)
{
    if (!m->headers || json_object_size(m->headers) == 0)
        return 0;
    if (!json_is_object(m->headers))
        return SG_EINVAL;
    int rc = put_key(out, "headers");
    return rc ? rc : write_value(m->headers, out, 1);
}

static int write_msg(const sg_hub_msg *m, sg_buf *out)
{
    int rc = sg_buf_appendf(out, "{\"type\":%d", (int)m->type);
    if (rc)
        return rc;
    switch (m->type) {
    case SG_HUB_INVOCATION:
    case SG_HUB_STREAM_INVOCATION:
        if (!m->target || !json_is_array(m->arguments))
            return SG_EINVAL;
        if (m->type == SG_HUB_STREAM_INVOCATION && !m->invocation_id)
            return SG_EINVAL;
        rc = write_headers(m, out);
        if (rc == 0 && m->invocation_id)
            rc = put_str_field(out, "invocationId", m->invocation_id);
        if (rc == 0)
            rc = put_str_field(out, "target", m->target);
        if (rc == 0)
            rc = put_key(out, "arguments");
        if (rc == 0)
            rc = write_value(m->arguments, out, 1);
        if (rc == 0 && m->n_stream_ids) {
            rc = put_key(out, "streamIds");
            if (rc == 0)
                rc = sg_buf_append_byte(out, '[');
            for (size_t i = 0; i < m->n_stream_ids && rc == 0; i++) {
                if (i)
                    rc = sg_buf_append_byte(out, ',');
                if (rc == 0)
                    rc = sg__json_append_string(out, m->stream_ids[i], strlen(m->stream_ids[i]));
            }
            if (rc == 0)
                rc = sg_buf_append_byte(out, ']');
        }
        break;
    case SG_HUB_STREAM_ITEM:
        if (!m->invocation_id)
            return SG_EINVAL;
        rc = write_headers(m, out);
        if (rc == 0)
            rc = put_str_field(out, "invocationId", m->invocation_id);
        if (rc == 0)
            rc = put_key(out, "item");
        if (rc == 0)
            rc = m->item ? write_value(m->item, out, 1) : sg_buf_append(out, "null", 4);
        break;
    case SG_HUB_COMPLETION:
        if (!m->invocation_id)
            return SG_EINVAL;
        rc = write_headers(m, out);
        if (rc == 0)
            rc = put_str_field(out, "invocationId", m->invocation_id);
        if (rc)
            break;
        if (m->completion == SG_HUB_COMPLETION_ERROR) {
            if (!m->error)
                return SG_EINVAL;
            rc = put_str_field(out, "error", m->error);
        } else if (m->completion == SG_HUB_COMPLETION_RESULT) {
            rc = put_key(out, "result");
            if (rc == 0)
                rc = m->result ? write_value(m->result, out, 1) : sg_buf_append(out, "null", 4);
        } else if (m->completion != SG_HUB_COMPLETION_VOID) {
            return SG_EINVAL;
        }
        break;
    case SG_HUB_CANCEL_INVOCATION:
        if (!m->invocation_id)
            return SG_EINVAL;
        rc = write_headers(m, out);
        if (rc == 0)
            rc = put_str_field(out, "invocationId", m->invocation_id);
        break;
    case SG_HUB_PING:
        break;
    case SG_HUB_CLOSE:
        if (m->error)
            rc = put_str_field(out, "error", m->error);
        if (rc == 0 && m->allow_reconnect)
            rc = sg_buf_append_str(out, ",\"allowReconnect\":true");
        break;
    case SG_HUB_ACK:
    case SG_HUB_SEQUENCE:
        rc = sg_buf_appendf(out, ",\"sequenceId\":%llu", (unsigned long long)m->sequence_id);
        break;
    default:
        return SG_EINVAL;
    }
    if (rc == 0)
        rc = sg_buf_append(out, "}\x1e", 2);
    return rc;
}

int sg_hub_json_write(const sg_hub_msg *m, sg_buf *out)
{
    size_t before = out->len;
    int rc = write_msg(m, out);
    if (rc) {
        out->len = before;
        if (out->data)
            out->data[before] = 0;
    }
    return rc;
}

/* ---------------------------------------------------------------- parser */

typedef struct walk {
    const sg_hub_limits *lim;
    size_t elems;
} walk;

/* Enforces depth / element / string caps on a parsed tree. */
static int check_tree(const json_t *v, walk *w, unsigned depth, const char **why)
{
    if (depth > w->lim->max_depth) {
        *why = "nesting too deep";
        return SG_ELIMIT;
    }
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        for (void *it = json_object_iter((json_t *)v); it;
             it = json_object_iter_next((json_t *)v, it)) {
            if (++w->elems > w->lim->max_elements) {
                *why = "too many elements";
                return SG_ELIMIT;
            }
            if (json_object_iter_key_len(it) > w->lim->max_string) {
                *why = "string too long";
                return SG_ETOOBIG;
            }
            int rc = check_tree(json_object_iter_value(it), w, depth + 1, why);
            if (rc)
                return rc;
        }
        return 0;
    case JSON_ARRAY:
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (++w->elems > w->lim->max_elements) {
                *why = "too many elements";
                return SG_ELIMIT;
            }
            int rc = check_tree(json_array_get(v, i), w, depth + 1, why);
            if (rc)
                return rc;
        }
        return 0;
    case JSON_STRING:
        if (json_string_length(v) > w->lim->max_string) {
            *why = "string too long";
            return SG_ETOOBIG;
        }
        return 0;
    default:
        return 0;
    }
}

static int dup_str(const json_t *v, char **out)
{
    *out = sg_strndup(json_string_value(v), json_string_length(v));
    return *out ? 0 : SG_ENOMEM;
}

/* Field helpers: return 0 if absent (optional), 1 if present+ok, negative on error. */
static int get_string(json_t *o, const char *k, int required, char **out, const char **why,
                      const char *missing, const char *mistyped)
{
    json_t *v = json_object_get(o, k);
    if (!v) {
        if (required) {
            *why = missing;
            return SG_EPROTO;
        }
        return 0;
    }
    if (!json_is_string(v)) {
        *why = mistyped;
        return SG_EPROTO;
    }
    int rc = dup_str(v, out);
    return rc ? rc : 1;
}

static int parse_fields(json_t *o, sg_hub_msg *m, const char **why)
{
    json_t *t = json_object_get(o, "type");
    if (!t) {
        *why = "missing required property 'type'";
        return SG_EPROTO;
    }
    if (!json_is_integer(t)) {
        *why = "'type' is not an integer";
        return SG_EPROTO;
    }
    json_int_t type = json_integer_value(t);
    if (type < 1 || type > 9) {
        *why = "unknown message type";
        return SG_EPROTO;
    }
    m->type = (sg_hub_type)type;
    int rc;

    json_t *h = json_object_get(o, "headers");
    if (h && type != SG_HUB_PING) {
        if (!json_is_object(h)) {
            *why = "'headers' is not an object";
            return SG_EPROTO;
        }
        const char *k;
        json_t *hv;
        json_object_foreach(h, k, hv)
        {
            if (!json_is_string(hv)) {
                *why = "header value is not a string";
                return SG_EPROTO;
            }
        }
        if (json_object_size(h))
            m->headers = json_incref(h);
    }

    const int id_required = type == SG_HUB_STREAM_ITEM || type == SG_HUB_COMPLETION ||
                            type == SG_HUB_STREAM_INVOCATION || type == SG_HUB_CANCEL_INVOCATION;
    if (type <= SG_HUB_CANCEL_INVOCATION) {
        rc = get_string(o, "invocationId", id_required, &m->invocation_id, why,
                        "missing required property 'invocationId'",
                        "'invocationId' is not a string");
        if (rc < 0)
            return rc;
    }

    switch (type) {
    case SG_HUB_INVOCATION:
    case SG_HUB_STREAM_INVOCATION: {
        rc = get_string(o, "target", 1, &m->target, why, "missing required property 'target'",
                        "'target' is not a string");
        if (rc < 0)
            return rc;
        json_t *a = json_object_get(o, "arguments");
        if (!a) {
            *why = "missing required property 'arguments'";
            return SG_EPROTO;
        }
        if (!json_is_array(a)) {
            *why = "'arguments' is not an array";
            return SG_EPROTO;
        }
        m->arguments = json_incref(a);
        json_t *s = json_object_get(o, "streamIds");
        if (s && !json_is_null(s)) {
            if (!json_is_array(s)) {
                *why = "'streamIds' is not an array";
                return SG_EPROTO;
            }
            size_t n = json_array_size(s);
            if (n) {
                m->stream_ids = sg_calloc(n, sizeof(char *));
                if (!m->stream_ids)
                    return SG_ENOMEM;
                for (size_t i = 0; i < n; i++) {
                    json_t *e = json_array_get(s, i);
                    if (!json_is_string(e)) {
                        *why = "stream id is not a string";
                        return SG_EPROTO;
                    }
                    rc = dup_str(e, &m->stream_ids[i]);
                    if (rc)
                        return rc;
                    m->n_stream_ids = i + 1;
                }
            }
        }
        return 0;
    }
    case SG_HUB_STREAM_ITEM: {
        json_t *it = json_object_get(o, "item");
        if (!it) {
            *why = "missing required property 'item'";
            return SG_EPROTO;
        }
        m->item = json_incref(it);
        return 0;
    }
    case SG_HUB_COMPLETION: {
        json_t *r = json_object_get(o, "result");
        json_t *e = json_object_get(o, "error");
        if (r && e) {
            *why = "the 'error' and 'result' properties are mutually exclusive";
            return SG_EPROTO;
        }
        if (e) {
            if (!json_is_string(e)) {
                *why = "'error' is not a string";
                return SG_EPROTO;
            }
            m->completion = SG_HUB_COMPLETION_ERROR;
            return dup_str(e, &m->error);
        }
        if (r) {
            m->completion = SG_HUB_COMPLETION_RESULT;
            m->result = json_incref(r);
            return 0;
        }
        m->completion = SG_HUB_COMPLETION_VOID;
        return 0;
    }
    case SG_HUB_CANCEL_INVOCATION:
    case SG_HUB_PING:
        return 0;
    case SG_HUB_CLOSE: {
        json_t *e = json_object_get(o, "error");
        if (e && !json_is_null(e)) {
            if (!json_is_string(e)) {
                *why = "'error' is not a string";
                return SG_EPROTO;
            }
            rc = dup_str(e, &m->error);
            if (rc)
                return rc;
        }
        json_t *ar = json_object_get(o, "allowReconnect");
        if (ar) {
            if (!json_is_boolean(ar)) {
                *why = "'allowReconnect' is not a boolean";
                return SG_EPROTO;
            }
            m->has_allow_reconnect = 1;
            m->allow_reconnect = json_is_true(ar);
        }
        return 0;
    }
    case SG_HUB_ACK:
    case SG_HUB_SEQUENCE: {
        json_t *s = json_object_get(o, "sequenceId");
        if (!s) {
            *why = "missing required property 'sequenceId'";
            return SG_EPROTO;
        }
        if (!json_is_integer(s) || json_integer_value(s) < 0) {
            *why = "'sequenceId' is not a non-negative integer";
            return SG_EPROTO;
        }
        m->sequence_id = (uint64_t)json_integer_value(s);
        return 0;
    }
    }
    return SG_EPROTO;
}

int sg_hub_json_parse(const void *buf, size_t len, const sg_hub_limits *limits, sg_hub_msg *m,
                      size_t *consumed, const char **why)
{
    const char *dummy;
    if (!why)
        why = &dummy;
    *why = NULL;
    sg_hub_msg_init(m);
    sg_hub_limits lim;
    sg__hub_limits_resolve(limits, &lim);

    size_t scan = len < lim.max_message ? len : lim.max_message;
    const char *rs = memchr(buf, 0x1e, scan);
    if (!rs) {
        if (len >= lim.max_message) {
            *why = "message too large";
            return SG_ETOOBIG;
        }
        return SG_EAGAIN;
    }
    size_t n = (size_t)(rs - (const char *)buf);
    json_error_t jerr;
    json_t *o = json_loadb(buf, n, JSON_ALLOW_NUL, &jerr);
    if (!o) {
        *why = "invalid JSON";
        return SG_EPROTO;
    }
    int rc;
    if (!json_is_object(o)) {
        *why = "message is not a JSON object";
        rc = SG_EPROTO;
        goto cleanup;
    }
    walk w = {&lim, 0};
    rc = check_tree(o, &w, 1, why);
    if (rc)
        goto cleanup;
    rc = parse_fields(o, m, why);
    if (rc)
        goto cleanup;
    m->raw = buf;
    m->raw_len = n + 1;
    *consumed = n + 1;
cleanup:
    if (rc) {
        sg_hub_msg_clear(m);
        if (rc == SG_ENOMEM)
            *why = "out of memory";
    }
    json_decref(o);
    return rc;
}
