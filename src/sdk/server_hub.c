/* server_hub.c — one client's hub protocol on the app-server side (pure, no I/O): the hub
 * handshake, invocations -> completions, pings and closes in json or messagepack; plus small
 * pure helpers of the runtime (user id from claims, negotiate URL, refusal text, backoff). */
#include "server_internal.h"

#include "proto/hub_json.h"
#include "proto/hubmsg.h"
#include "sdk_internal.h"
#include "sg_alloc.h"
#include "sg_err.h"
#include "sg_id.h"
#include "sg_str.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define NAMEID_URI "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier"

const char *sg__user_from_claims(const json_t *claims)
{
    static const char *const keys[] = {"asrs.s.uid", "nameid", NAMEID_URI, "sub"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const char *v = json_string_value(json_object_get(claims, keys[i]));
        if (v && *v)
            return v;
    }
    return NULL;
}

sg__client *sg__client_new(const sg_svc_msg *open)
{
    if (!open || !open->connection_id)
        return NULL;
    sg__client *c = sg_calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    sg_buf_init(&c->in, SG__CLIENT_MAX_MESSAGE + 16);
    c->id = sg_strdup(open->connection_id);
    c->query = sg_strdup(open->query_string ? open->query_string : "");
    c->claims = json_object();
    if (!c->id || !c->query || !c->claims)
        goto oom;
    for (size_t i = 0; i < open->n_claims; i++) {
        const sg_svc_claim *cl = &open->claims[i];
        if (!cl->type || !cl->value || json_object_get(c->claims, cl->type))
            continue;
        if (json_object_set_new(c->claims, cl->type, json_string(cl->value)))
            continue; /* invalid UTF-8 claims are dropped */
    }
    const char *u = sg__user_from_claims(c->claims);
    if (u) {
        c->user_id = sg_strdup(u);
        if (!c->user_id)
            goto oom;
    }
    c->protocol =
        open->ext.protocol ? sg_hub_protocol_from_name(open->ext.protocol) : SG_HUB_PROTO_UNKNOWN;
    return c;
oom:
    sg__client_free(c);
    return NULL;
}

void sg__client_free(sg__client *c)
{
    if (!c)
        return;
    sg_free(c->id);
    sg_free(c->user_id);
    sg_free(c->query);
    json_decref(c->claims);
    sg_buf_free(&c->in);
    sg_free(c);
}

void sg__hub_result_clear(sg_hub_result *res)
{
    if (!res)
        return;
    sg_free(res->json);
    sg_free(res->error);
    res->json = res->error = NULL;
}

/* ---- public ctx / result accessors ---------------------------------------------------------- */

int sg_hub_result_set_json(sg_hub_result *res, const char *json)
{
    if (!res || !json)
        return SG_EINVAL;
    json_error_t je;
    json_t *v = json_loads(json, JSON_DECODE_ANY, &je);
    if (!v)
        return SG_EINVAL;
    json_decref(v);
    char *d = sg_strdup(json);
    if (!d)
        return SG_ENOMEM;
    sg_free(res->json);
    res->json = d;
    return SG_OK;
}

int sg_hub_result_set_error(sg_hub_result *res, const char *message)
{
    if (!res || !message)
        return SG_EINVAL;
    char *d = sg_strdup(message);
    if (!d)
        return SG_ENOMEM;
    sg_free(res->error);
    res->error = d;
    return SG_OK;
}

const char *sg_hub_ctx_connection_id(const sg_hub_ctx *ctx)
{
    return ctx ? ctx->id : NULL;
}

const char *sg_hub_ctx_user_id(const sg_hub_ctx *ctx)
{
    return ctx ? ctx->user_id : NULL;
}

const char *sg_hub_ctx_claim(const sg_hub_ctx *ctx, const char *type)
{
    return ctx && type ? json_string_value(json_object_get(ctx->claims, type)) : NULL;
}

const char *sg_hub_ctx_query(const sg_hub_ctx *ctx)
{
    return ctx ? ctx->query : NULL;
}

const char *sg_hub_ctx_protocol(const sg_hub_ctx *ctx)
{
    return ctx ? sg_hub_protocol_name(ctx->protocol) : NULL;
}

sg_server *sg_hub_ctx_server(const sg_hub_ctx *ctx)
{
    return ctx ? ctx->server : NULL;
}

/* ---- the session ---------------------------------------------------------------------------- */

int sg__client_write_close(const sg__client *c, const char *error, sg_buf *out)
{
    sg_hub_msg m;
    sg_hub_msg_init(&m);
    m.type = SG_HUB_CLOSE;
    m.error = (char *)error;
    int rc = sg_hub_write(c->protocol, &m, out);
    m.error = NULL;
    sg_hub_msg_clear(&m);
    return rc;
}

int sg__client_write_ping(const sg__client *c, sg_buf *out)
{
    if (c->protocol == SG_HUB_PROTO_MSGPACK)
        return sg_buf_append(out, sg_hub_msgpack_ping, sizeof sg_hub_msgpack_ping);
    return sg_buf_append_str(out, sg_hub_json_ping);
}

static int write_completion(const sg__client *c, const char *invocation_id,
                            const sg_hub_result *res, sg_buf *out)
{
    sg_hub_msg m;
    sg_hub_msg_init(&m);
    m.type = SG_HUB_COMPLETION;
    m.invocation_id = (char *)invocation_id;
    json_t *v = NULL;
    if (res->error) {
        m.completion = SG_HUB_COMPLETION_ERROR;
        m.error = res->error;
    } else if (res->json) {
        json_error_t je;
        v = json_loads(res->json, JSON_DECODE_ANY, &je);
        if (!v) {
            m.completion = SG_HUB_COMPLETION_ERROR;
            m.error = "The hub method returned invalid JSON.";
        } else {
            m.completion = SG_HUB_COMPLETION_RESULT;
            m.result = v;
        }
    } else {
        m.completion = SG_HUB_COMPLETION_VOID;
    }
    int rc = sg_hub_write(c->protocol, &m, out);
    m.invocation_id = NULL;
    m.error = NULL;
    m.result = NULL;
    json_decref(v);
    sg_hub_msg_clear(&m);
    return rc;
}

static int on_invocation(sg__client *c, const sg_hub_msg *m, sg__dispatch_fn fn, void *ud,
                         sg_buf *out)
{
    sg_hub_result res = {NULL, NULL};
    sg_buf args;
    sg_buf_init(&args, 0);
    int rc = sg_hub_json_write_value(m->arguments, &args);
    if (rc) {
        sg_buf_free(&args);
        return rc;
    }
    char err[300];
    if (m->n_stream_ids > 0) {
        sg_hub_result_set_error(&res, "Client streaming is not supported by this server.");
    } else {
        int r = fn ? fn(ud, c, m->target, args.data, &res) : SG_ENOTFOUND;
        if (r == SG_ENOTFOUND && !res.error) {
            snprintf(err, sizeof err, "Unknown hub method '%.200s'", m->target); /* lint-ok */
            sg_hub_result_set_error(&res, err);
        } else if (r != SG_OK && !res.error) {
            snprintf(err, sizeof err, /* lint-ok: bounded */
                     "An unexpected error occurred invoking '%.200s' on the server.", m->target);
            sg_hub_result_set_error(&res, err);
        }
    }
    sg_buf_free(&args);
    if (m->invocation_id && !c->closed)
        rc = write_completion(c, m->invocation_id, &res, out);
    sg__hub_result_clear(&res);
    return rc;
}

int sg__client_feed(sg__client *c, const uint8_t *p, size_t n, sg__dispatch_fn fn, void *ud,
                    sg_buf *out, int *handshake_done, const char **close_error)
{
    *close_error = NULL;
    if (handshake_done)
        *handshake_done = 0;
    if (c->closed)
        return SG_OK;
    if (n && sg_buf_append(&c->in, p, n)) {
        *close_error = "The maximum message size was exceeded.";
        c->closed = 1;
        return SG_ETOOBIG;
    }
    size_t off = 0;
    int rc = SG_OK;
    if (!c->handshaken) {
        sg_handshake_req req;
        size_t used = 0;
        const char *why = NULL;
        rc = sg_handshake_parse_request(c->in.data, c->in.len, 0, &req, &used, &why);
        if (rc == SG_EAGAIN) {
            return SG_OK;
        }
        if (rc) {
            c->closed = 1;
            *close_error = why ? why : "Invalid handshake request.";
            sg_handshake_write_error(out, *close_error);
            return SG_EPROTO;
        }
        static char err[200]; /* loop thread only */
        if (sg_handshake_check(&req, err, sizeof err) != SG_OK) {
            c->closed = 1;
            *close_error = err;
            sg_handshake_write_error(out, err);
            return SG_EPROTO;
        }
        c->protocol = req.protocol;
        c->handshaken = 1;
        if (handshake_done)
            *handshake_done = 1;
        rc = sg_handshake_write_ok(out);
        if (rc)
            return rc;
        off = used;
    }
    sg_hub_limits lim;
    sg_hub_limits_default(&lim);
    lim.max_message = SG__CLIENT_MAX_MESSAGE;
    while (off < c->in.len && !c->closed) {
        sg_hub_msg m;
        sg_hub_msg_init(&m);
        size_t used = 0;
        const char *why = NULL;
        rc = sg_hub_parse(c->protocol, c->in.data + off, c->in.len - off, &lim, &m, &used, &why);
        if (rc == SG_EAGAIN) {
            rc = SG_OK;
            break;
        }
        if (rc) {
            c->closed = 1;
            *close_error = rc == SG_ETOOBIG ? "The maximum message size was exceeded."
                                            : "Connection closed with an error (invalid message).";
            sg_hub_msg_clear(&m);
            break;
        }
        off += used;
        switch (m.type) {
        case SG_HUB_INVOCATION:
            rc = on_invocation(c, &m, fn, ud, out);
            break;
        case SG_HUB_STREAM_INVOCATION: {
            sg_hub_result res = {NULL, NULL};
            sg_hub_result_set_error(&res,
                                    "Streaming hub methods are not supported by this server.");
            rc = write_completion(c, m.invocation_id, &res, out);
            sg__hub_result_clear(&res);
            break;
        }
        case SG_HUB_CLOSE:
            c->closed = 1;
            break;
        default: /* Ping, Completion, StreamItem, Cancel, Ack, Sequence: nothing to do */
            break;
        }
        sg_hub_msg_clear(&m);
        if (rc)
            break;
    }
    sg_buf_consume(&c->in, off <= c->in.len ? off : c->in.len);
    return rc;
}

/* ---- helpers -------------------------------------------------------------------------------- */

int sg__negotiate_url(const char *base, const char *hub, const char *client_query, sg_buf *out)
{
    int rc = sg_buf_append_str(out, base);
    if (rc == SG_OK)
        rc = sg_buf_append_str(out, strchr(base, '?') ? "&asrs.op=%2F" : "?asrs.op=%2F");
    if (rc == SG_OK)
        rc = sg_url_encode_append(out, hub, strlen(hub));
    if (rc == SG_OK && client_query) {
        if (*client_query == '?')
            client_query++;
        if (*client_query)
            rc = sg_buf_appendf(out, "&%s", client_query);
    }
    return rc;
}

void sg__refusal_text(const char *body, char *out, size_t outlen)
{
    if (!outlen)
        return;
    out[0] = 0;
    if (!body || !*body)
        return;
    json_error_t je;
    json_t *j = json_loads(body, 0, &je);
    if (json_is_object(j)) {
        sg_buf b;
        sg_buf_init(&b, 0);
        static const char *const keys[] = {"code", "message", "requiredAction", "hint"};
        for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
            const char *v = json_string_value(json_object_get(j, keys[i]));
            if (v)
                sg_buf_appendf(&b, "%s%s=\"%s\"", b.len ? " " : "", keys[i], v);
        }
        if (!b.len) {
            const json_t *e = json_object_get(j, "error");
            const char *v = json_is_string(e) ? json_string_value(e)
                                              : json_string_value(json_object_get(e, "message"));
            if (v)
                sg_buf_appendf(&b, "message=\"%s\"", v);
        }
        if (b.len)
            snprintf(out, outlen, "%s", b.data); /* lint-ok: bounded */
        sg_buf_free(&b);
    }
    json_decref(j);
    if (!out[0]) {
        size_t n = strlen(body);
        if (n > 200)
            n = 200;
        snprintf(out, outlen, "body=\"%.*s\"", (int)n, body); /* lint-ok: bounded */
        for (char *q = out; *q; q++)
            if (*q == '\n' || *q == '\r')
                *q = ' ';
    }
}

unsigned sg__backoff_ms(unsigned attempt, unsigned cap_ms, int jitter_pct)
{
    uint64_t d = 1000;
    for (unsigned i = 0; i < attempt && d < cap_ms; i++)
        d *= 2;
    if (d > cap_ms)
        d = cap_ms;
    if (jitter_pct > 0) {
        uint32_t r = 0;
        sg_random_bytes(&r, sizeof r);
        int64_t span = (int64_t)d * jitter_pct / 100;
        if (span > 0)
            d = (uint64_t)((int64_t)d - span + (int64_t)(r % (uint64_t)(2 * span + 1)));
    }
    return (unsigned)d;
}
