/* sr_util.c — JSON error responses, message frame builders. */
#include "sr_internal.h"

#include "sg_alloc.h"
#include "sg_err.h"
#include "sg_log.h"

#include <ctype.h>
#include <jansson.h>
#include <string.h>

/* CORS like Azure SignalR's default (any origin, with credentials): browsers call negotiate,
 * SSE, long polling and REST cross-origin. WebSockets need none. */
static size_t cors_headers(const sg_http_req *r, sg_http_header *out)
{
    const sg_slice *o = sg_http_req_header(r, "Origin");
    if (!o || o->n == 0)
        return 0;
    out[0] = (sg_http_header){SG_SLICE_LIT("Access-Control-Allow-Origin"), *o};
    out[1] =
        (sg_http_header){SG_SLICE_LIT("Access-Control-Allow-Credentials"), SG_SLICE_LIT("true")};
    out[2] = (sg_http_header){SG_SLICE_LIT("Access-Control-Expose-Headers"),
                              SG_SLICE_LIT("x-ms-error-code")};
    out[3] = (sg_http_header){SG_SLICE_LIT("Vary"), SG_SLICE_LIT("Origin")};
    return 4;
}

#define SR_MAX_HDRS 12

int sr_respond_ex(sg_http_req *r, int status, const char *ctype, const sg_http_header *h, size_t nh,
                  const void *body, size_t n)
{
    sg_http_header all[SR_MAX_HDRS];
    size_t k = cors_headers(r, all);
    for (size_t i = 0; i < nh && k < SR_MAX_HDRS; i++)
        all[k++] = h[i];
    return sg_http_respond_ex(r, status, ctype, all, k, body, n);
}

int sr_respond(sg_http_req *r, int status, const char *ctype, const void *body, size_t n)
{
    return sr_respond_ex(r, status, ctype, NULL, 0, body, n);
}

int sr_stream_start(sg_http_req *r, int status, const char *ctype, const sg_http_header *h,
                    size_t nh)
{
    sg_http_header all[SR_MAX_HDRS];
    size_t k = cors_headers(r, all);
    for (size_t i = 0; i < nh && k < SR_MAX_HDRS; i++)
        all[k++] = h[i];
    return sg_http_stream_start(r, status, ctype, all, k);
}

void sr_respond_preflight(sg_http_req *r)
{
    sg_http_header h[3];
    size_t k = 0;
    h[k++] = (sg_http_header){SG_SLICE_LIT("Access-Control-Allow-Methods"),
                              SG_SLICE_LIT("GET, POST, PUT, DELETE, HEAD, OPTIONS")};
    const sg_slice *rh = sg_http_req_header(r, "Access-Control-Request-Headers");
    if (rh && rh->n)
        h[k++] = (sg_http_header){SG_SLICE_LIT("Access-Control-Allow-Headers"), *rh};
    h[k++] = (sg_http_header){SG_SLICE_LIT("Access-Control-Max-Age"), SG_SLICE_LIT("86400")};
    sr_respond_ex(r, 204, NULL, h, k, NULL, 0);
}

void sr_respond_error(sg_http_req *r, int status, const char *code, const char *message,
                      const char *target)
{
    json_t *o = json_object();
    char *body = NULL;
    if (o) {
        json_object_set_new(o, "code", json_string(code ? code : "Error"));
        json_object_set_new(o, "message", json_string(message ? message : ""));
        if (target)
            json_object_set_new(o, "target", json_string(target));
        body = json_dumps(o, JSON_COMPACT);
        json_decref(o);
    }
    sg_http_header h[1] = {{SG_SLICE_LIT("x-ms-error-code"), sg_slice_cstr(code ? code : "Error")}};
    sr_respond_ex(r, status, "application/json", h, 1, body ? body : "{}", body ? strlen(body) : 2);
    free(body); /* lint-ok: json_dumps memory (jansson uses malloc) */
}

void sr_respond_text(sg_http_req *r, int status, const char *text)
{
    sr_respond(r, status, "text/plain; charset=utf-8", text, strlen(text));
}

/* ---- messages --------------------------------------------------------------------------- */

void sr_msg_release(sr_msg *m)
{
    for (int i = 0; i < SR_PROTO_N; i++) {
        sg_rcbuf_unref(m->payload[i]);
        sg_rcbuf_unref(m->ws[i]);
        m->payload[i] = m->ws[i] = NULL;
    }
    sg_rcbuf_unref(m->sse);
    m->sse = NULL;
}

sg_rcbuf *sr_msg_ws(sr_msg *m, int proto)
{
    if (proto <= SR_PROTO_NONE || proto >= SR_PROTO_N || !m->payload[proto])
        return NULL;
    if (!m->ws[proto])
        m->ws[proto] = sg_ws_frame_rc(proto == SR_PROTO_MSGPACK, m->payload[proto]->data,
                                      m->payload[proto]->len);
    return m->ws[proto];
}

sg_rcbuf *sr_msg_sse(sr_msg *m)
{
    if (m->sse)
        return m->sse;
    sg_rcbuf *p = m->payload[SR_PROTO_JSON];
    if (!p)
        return NULL;
    /* One event; every line of the payload gets its own "data: " prefix (EventSource joins
     * them with \n again). JSON we produce has no raw newlines; forwarded bytes might. */
    size_t lines = 1;
    for (uint32_t i = 0; i < p->len; i++)
        lines += p->data[i] == '\n';
    size_t len = p->len + lines * 6 + 2;
    sg_rcbuf *b = sg_rcbuf_new(len);
    if (!b)
        return NULL;
    char *o = b->data;
    memcpy(o, "data: ", 6);
    o += 6;
    for (uint32_t i = 0; i < p->len; i++) {
        char ch = p->data[i];
        if (ch == '\r')
            ch = ' ';
        *o++ = ch;
        if (ch == '\n') {
            memcpy(o, "data: ", 6);
            o += 6;
        }
    }
    *o++ = '\n';
    *o++ = '\n';
    b->len = (uint32_t)(o - b->data);
    b->data[b->len] = 0;
    m->sse = b;
    return b;
}
