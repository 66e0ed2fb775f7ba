/* handshake.c — SignalR hub handshake (see handshake.h). */
#include "proto/handshake.h"

#include "proto_internal.h"
#include "sg_alloc.h"
#include "sg_err.h"
#include "sg_str.h"

#include <jansson.h>
#include <string.h>

const char *sg_hub_protocol_name(sg_hub_protocol p)
{
    switch (p) {
    case SG_HUB_PROTO_JSON:
        return "json";
    case SG_HUB_PROTO_MSGPACK:
        return "messagepack";
    default:
        return "";
    }
}

sg_hub_protocol sg_hub_protocol_from_name(const char *name)
{
    if (!name)
        return SG_HUB_PROTO_UNKNOWN;
    if (strcmp(name, "json") == 0)
        return SG_HUB_PROTO_JSON;
    if (strcmp(name, "messagepack") == 0)
        return SG_HUB_PROTO_MSGPACK;
    return SG_HUB_PROTO_UNKNOWN;
}

/* Finds the 0x1E terminator and loads the JSON object before it. */
static int load_record(const void *buf, size_t len, size_t max, json_t **out, size_t *consumed,
                       const char **why)
{
    if (max == 0)
        max = SG_HANDSHAKE_MAX;
    size_t scan = len < max ? len : max;
    const char *rs = memchr(buf, SG_HANDSHAKE_RS, scan);
    if (!rs) {
        if (len >= max) {
            *why = "handshake too large";
            return SG_ETOOBIG;
        }
        return SG_EAGAIN;
    }
    size_t n = (size_t)(rs - (const char *)buf);
    json_error_t jerr;
    json_t *j = json_loadb(buf, n, JSON_REJECT_DUPLICATES, &jerr);
    if (!j) {
        *why = "handshake is not valid JSON";
        return SG_EPROTO;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        *why = "handshake is not a JSON object";
        return SG_EPROTO;
    }
    *out = j;
    *consumed = n + 1;
    return SG_OK;
}

int sg_handshake_parse_request(const void *buf, size_t len, size_t max, sg_handshake_req *req,
                               size_t *consumed, const char **why)
{
    const char *dummy;
    if (!why)
        why = &dummy;
    *why = NULL;
    json_t *j = NULL;
    size_t used = 0;
    int rc = load_record(buf, len, max, &j, &used, why);
    if (rc)
        return rc;
    json_t *proto = json_object_get(j, "protocol");
    json_t *ver = json_object_get(j, "version");
    if (!json_is_string(proto)) {
        *why = proto ? "handshake 'protocol' is not a string" : "handshake missing 'protocol'";
        rc = SG_EPROTO;
        goto cleanup;
    }
    if (!json_is_integer(ver)) {
        *why = ver ? "handshake 'version' is not an integer" : "handshake missing 'version'";
        rc = SG_EPROTO;
        goto cleanup;
    }
    size_t plen = json_string_length(proto);
    if (plen > SG_HANDSHAKE_PROTOCOL_MAX || memchr(json_string_value(proto), 0, plen)) {
        *why = "handshake 'protocol' too long";
        rc = SG_EPROTO;
        goto cleanup;
    }
    memset(req, 0, sizeof(*req));
    memcpy(req->protocol_name, json_string_value(proto), plen);
    req->protocol_name[plen] = 0;
    req->protocol = sg_hub_protocol_from_name(req->protocol_name);
    req->version = json_integer_value(ver);
    *consumed = used;
    rc = SG_OK;
cleanup:
    json_decref(j);
    return rc;
}

int sg_handshake_check(const sg_handshake_req *req, char *err, size_t errlen)
{
    if (req->protocol == SG_HUB_PROTO_UNKNOWN) {
        if (err && errlen)
            sg_snprintf(err, errlen, "Requested protocol '%s' is not available.",
                        req->protocol_name);
        return SG_EUNSUPPORTED;
    }
    if (req->version < 1 || req->version > SG_HANDSHAKE_MAX_VERSION) {
        if (err && errlen)
            sg_snprintf(err, errlen,
                        "The server does not support version %lld of the '%s' protocol.",
                        (long long)req->version, req->protocol_name);
        return SG_EUNSUPPORTED;
    }
    return SG_OK;
}

int sg_handshake_write_request(sg_buf *out, sg_hub_protocol p, int version)
{
    if (p == SG_HUB_PROTO_UNKNOWN)
        return SG_EINVAL;
    return sg_buf_appendf(out, "{\"protocol\":\"%s\",\"version\":%d}\x1e", sg_hub_protocol_name(p),
                          version);
}

int sg_handshake_write_ok(sg_buf *out)
{
    return sg_buf_append(out, "{}\x1e", 3);
}

int sg_handshake_write_error(sg_buf *out, const char *msg)
{
    if (!msg || !sg_utf8_valid((const unsigned char *)msg, strlen(msg)))
        return SG_EINVAL;
    size_t before = out->len;
    int rc = sg_buf_append_str(out, "{\"error\":");
    if (rc == 0)
        rc = sg__json_append_string(out, msg, strlen(msg));
    if (rc == 0)
        rc = sg_buf_append(out, "}\x1e", 2);
    if (rc) {
        out->len = before;
        if (out->data)
            out->data[before] = 0;
    }
    return rc;
}

int sg_handshake_parse_response(const void *buf, size_t len, size_t max, char **error_out,
                                size_t *consumed, const char **why)
{
    const char *dummy;
    if (!why)
        why = &dummy;
    *why = NULL;
    *error_out = NULL;
    json_t *j = NULL;
    size_t used = 0;
    int rc = load_record(buf, len, max, &j, &used, why);
    if (rc)
        return rc;
    json_t *e = json_object_get(j, "error");
    if (e && !json_is_null(e)) {
        if (!json_is_string(e)) {
            *why = "handshake response 'error' is not a string";
            rc = SG_EPROTO;
            goto cleanup;
        }
        *error_out = sg_strndup(json_string_value(e), json_string_length(e));
        if (!*error_out) {
            rc = SG_ENOMEM;
            goto cleanup;
        }
    }
    *consumed = used;
    rc = SG_OK;
cleanup:
    json_decref(j);
    return rc;
}
